//! `provision restart [--rolling]`: prints each step as it happens.

use super::{fail, load_stack, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, RestartArgs};
use crate::ops::rolling::{self, RestartError};

pub fn restart(global: &GlobalArgs, args: RestartArgs) -> Result<ExitStatus, CommandError> {
    let stack = load_stack(global)?;
    let started = std::time::Instant::now();
    let quiet = global.quiet;
    let mut progress = |line: &str| {
        if !quiet {
            println!("{line}");
        }
    };
    match rolling::restart(&stack, args.rolling, &mut progress) {
        Ok(()) => {
            println!(
                "restarted {} instance(s){} in {:.1} s",
                stack.instances().len(),
                if args.rolling { ", one at a time" } else { "" },
                started.elapsed().as_secs_f64()
            );
            Ok(ExitStatus::Success)
        }
        Err(e @ RestartError::Refused(_)) => Err(fail(ExitStatus::Usage, e)),
        Err(e) => Err(fail(ExitStatus::Failure, e)),
    }
}
