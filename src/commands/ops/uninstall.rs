//! `provision uninstall [--purge-data]`: asks before purging on a terminal; says what went,
//! what came back and what stayed.

use std::io::IsTerminal;

use super::{fail, load_stack, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, UninstallArgs};

pub fn uninstall(global: &GlobalArgs, args: UninstallArgs) -> Result<ExitStatus, CommandError> {
    let stack = load_stack(global)?;
    if args.purge_data && !args.yes {
        let db = stack.database_name().unwrap_or_default();
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
    let managed = stack.managed().map_err(|e| fail(ExitStatus::Failure, e))?;
    let u = crate::ops::uninstall::uninstall(&stack, &managed, args.purge_data);
    crate::commands::output(global, &u, || {
        for r in &u.removed {
            println!("removed   {r}");
        }
        for r in &u.restored {
            println!("restored  {r}");
        }
        for k in &u.kept {
            println!("kept      {k}");
        }
        for p in &u.problems {
            println!("FAILED    {p}");
        }
    });
    Ok(if u.problems.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
