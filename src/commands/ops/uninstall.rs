//! `provision uninstall [--purge-data]`: asks before purging on a terminal; says what went,
//! what came back and what stayed.

use super::{confirm_purge, fail, load_stack, print_lines, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, UninstallArgs};

pub fn uninstall(global: &GlobalArgs, args: UninstallArgs) -> Result<ExitStatus, CommandError> {
    if let Some(inv) =
        crate::commands::hosts::several_hosts(global, args.hosts.inventory.as_deref())?
    {
        return super::uninstall_hosts::uninstall(global, &args, &inv);
    }
    let stack = load_stack(global)?;
    confirm_purge(&args, &stack.database_name().unwrap_or_default())?;
    let managed = stack.managed().map_err(|e| fail(ExitStatus::Failure, e))?;
    let u = crate::ops::uninstall::uninstall(&stack, &managed, args.purge_data);
    crate::commands::output(global, &u, || print_lines(&u, ""));
    Ok(if u.problems.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
