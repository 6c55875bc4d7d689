//! `provision rollback`: says which change it undid, file by file, and what it reloaded.

use super::{fail, load_stack, CommandError, ExitStatus};
use crate::cli::GlobalArgs;
use crate::ops::rollback::{self, RollbackError};

pub fn rollback(global: &GlobalArgs) -> Result<ExitStatus, CommandError> {
    let stack = load_stack(global)?;
    let svc = stack.services();
    let managed = stack.managed().map_err(|e| fail(ExitStatus::Usage, e))?;
    match rollback::rollback(&stack.state_dir, &stack.config_path, svc.as_ref(), &managed) {
        Ok(r) => {
            crate::commands::output(global, &r, || {
                println!(
                    "rolled back {} ({}, {}):",
                    r.generation, r.command, r.started
                );
                for f in &r.files {
                    println!("  {:<9} {}", f.action, f.path.display());
                }
                for r in &r.refused {
                    println!("  refused   {r}");
                }
                if r.handlers.is_empty() {
                    println!("nothing needed a reload");
                } else {
                    println!("then: {}", r.handlers.join(", "));
                }
                println!("`provision verify` checks the result; `provision rollback` again goes one change further back");
            });
            if r.refused.is_empty() {
                Ok(ExitStatus::Success)
            } else {
                eprintln!(
                    "error: the change's manifest asked for what init does not manage (refused above): someone may have written into {}",
                    stack.state_dir.display()
                );
                Ok(ExitStatus::Failure)
            }
        }
        Err(e @ (RollbackError::Nothing(_) | RollbackError::FirstRun(_))) => {
            Err(fail(ExitStatus::Usage, e))
        }
        Err(e) => Err(fail(ExitStatus::Failure, e)),
    }
}
