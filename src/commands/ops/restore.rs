//! `provision restore FILE`: this host's stack restored (across the inventory's hosts:
//! `restore_hosts`; one phase of that, run on a host: `restore_phase`).

use super::restore_phase::restore_failed;
use super::{fail, load_stack, runtime, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, RestoreArgs};

pub fn restore(global: &GlobalArgs, args: RestoreArgs) -> Result<ExitStatus, CommandError> {
    if let Some(phase) = args.phase {
        return super::restore_phase::run(global, &args, phase);
    }
    if let Some(inv) =
        crate::commands::hosts::several_hosts(global, args.hosts.inventory.as_deref())?
    {
        return super::restore_hosts::restore(global, &args, &inv);
    }
    if args.push {
        return Err(fail(
            ExitStatus::Usage,
            "--push copies a backup to the postgres host of an inventory: give --inventory",
        ));
    }
    let file = args
        .file
        .clone()
        .expect("clap requires FILE without --phase");
    let stack = load_stack(global)?;
    let quiet = global.quiet;
    let mut progress = |l: &str| {
        if !quiet {
            println!("{l}");
        }
    };
    let r = runtime()?.block_on(crate::ops::restore::restore(
        &stack,
        &file,
        args.no_checksum,
        &mut progress,
    ));
    match r {
        Ok(r) => {
            crate::commands::output(global, &r, || {
                println!(
                    "restored {} from {} ({} tables, {} rows) in {:.1} s; the database it replaced is kept as {} (DROP DATABASE it when no longer needed)",
                    r.database,
                    file.display(),
                    r.tables,
                    r.rows,
                    r.seconds,
                    r.kept_as
                );
            });
            Ok(ExitStatus::Success)
        }
        Err(e) => Err(restore_failed(e)),
    }
}
