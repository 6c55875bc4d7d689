//! `provision fixture`: writes a legacy dashboard database (see `crate::fixture`).

use super::{CommandError, ExitStatus};
use crate::cli::{FixtureArgs, GlobalArgs};
use crate::fixture::{self, FixtureSpec};

pub fn run(global: &GlobalArgs, args: FixtureArgs) -> Result<ExitStatus, CommandError> {
    let spec = FixtureSpec {
        runs: args.runs,
        results_per_run: args.results,
        suites: args.suites.max(1),
        users: args.users.max(1),
        loose: args.loose,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let counts = fixture::write(&args.out, &spec)?;
    if !global.quiet {
        println!(
            "{}: {} users, {} tokens, {} suites, {} runs, {} results, {} loose values ({:.1} s)",
            args.out.display(),
            counts.users,
            counts.tokens,
            counts.suites,
            counts.runs,
            counts.results,
            counts.loose_values,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitStatus::Success)
}
