//! The day-2 commands, one file each: status, logs, restart, backup and restore, rollback,
//! uninstall. Each loads the deployed stack (a host never initialised gets exit 2 and what
//! to do) and renders what `crate::ops` returns.

mod backup;
mod backup_hosts;
mod logs;
mod restart;
mod restart_hosts;
mod rollback;
mod status;
mod status_hosts;
mod uninstall;

pub use backup::{backup, restore};
pub use logs::logs;
pub use restart::restart;
pub use rollback::rollback;
pub use status::status;
pub use uninstall::uninstall;

use super::{runtime, CommandError, ExitStatus};
use crate::cli::GlobalArgs;
use crate::ops::stack::{Stack, StackError};

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
