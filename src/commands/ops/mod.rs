//! The day-2 commands, one file each: status, logs, the database and cache clients,
//! restart, backup, restore, rollback, uninstall; the same command across an inventory's hosts in its `*_hosts` file (and a
//! restore's phases, run on each host, in `restore_phase`). Each loads the deployed stack
//! (a host never initialised gets exit 2 and what to do) and renders what `crate::ops`
//! returns.

mod backup;
mod backup_drill;
mod backup_hosts;
mod clients;
mod logs;
mod restart;
mod restart_hosts;
mod restore;
mod restore_hosts;
mod restore_phase;
mod rollback;
mod status;
mod status_hosts;
mod uninstall;
mod uninstall_hosts;

pub use backup::backup;
pub use clients::{psql, redis_cli};
pub use logs::logs;
pub use restart::restart;
pub use restore::restore;
pub use rollback::rollback;
pub use status::status;
pub use uninstall::uninstall;

use super::{runtime, CommandError, ExitStatus};
use std::io::IsTerminal;

use crate::cli::{GlobalArgs, UninstallArgs};
use crate::ops::stack::{Stack, StackError};
use crate::ops::uninstall::Uninstalled;

/// The stack, or exit 2 with the reason.
fn load_stack(global: &GlobalArgs) -> Result<Stack, CommandError> {
    Stack::load(global.config.as_deref(), global.env_file.as_deref()).map_err(|e| CommandError {
        status: match e {
            StackError::NotInitialised(_) | StackError::Settings(_) => ExitStatus::Usage,
            StackError::Facts(_) | StackError::Playbook(_) => ExitStatus::Failure,
        },
        error: e.into(),
    })
}

fn fail(status: ExitStatus, e: impl std::fmt::Display) -> CommandError {
    CommandError {
        status,
        error: anyhow::anyhow!("{e}"),
    }
}

/// What went, came back and stayed, one line each (after `prefix`).
fn print_lines(u: &Uninstalled, prefix: &str) {
    for r in &u.removed {
        println!("{prefix}removed   {r}");
    }
    for r in &u.restored {
        println!("{prefix}restored  {r}");
    }
    for k in &u.kept {
        println!("{prefix}kept      {k}");
    }
    for p in &u.problems {
        println!("{prefix}FAILED    {p}");
    }
}

/// With --purge-data and no --yes: the database's name typed on a terminal, or a usage
/// error.
fn confirm_purge(args: &UninstallArgs, db: &str) -> Result<(), CommandError> {
    if args.purge_data && !args.yes {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(fail(
                ExitStatus::Usage,
                "--purge-data drops the database and removes the backups: confirm with --yes (no terminal to ask on)",
            ));
        }
        let typed: String = dialoguer::Input::new()
            .with_prompt(format!(
                "This drops the database {db} and removes every backup. Type its name to go on"
            ))
            .allow_empty(true)
            .interact_text()
            .map_err(|e| fail(ExitStatus::Usage, e))?;
        if typed.trim() != db {
            return Err(fail(
                ExitStatus::Usage,
                "not confirmed; nothing was changed",
            ));
        }
    }
    Ok(())
}
