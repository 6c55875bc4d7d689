//! `command: {argv, creates, unless}`: runs unless `creates` exists or `unless` succeeds.

use super::{Plan, StepError};
use crate::host::exec::Cmd;
use crate::playbook::model::CommandStep;

fn cmd(argv: &[String]) -> Result<Cmd, StepError> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| StepError::Other("argv is empty".into()))?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(Cmd::new(program, &args))
}

pub fn query(c: &CommandStep) -> Result<Plan, StepError> {
    if c.creates.as_ref().is_some_and(|p| p.exists()) {
        return Ok(Plan::Matched);
    }
    if let Some(unless) = &c.unless {
        if cmd(unless)?.run_checked(true)?.code == Some(0) {
            return Ok(Plan::Matched);
        }
    }
    Ok(Plan::Run(format!("run {}", cmd(&c.argv)?.display())))
}

pub fn apply(c: &CommandStep) -> Result<(), StepError> {
    cmd(&c.argv)?.run()?;
    Ok(())
}
