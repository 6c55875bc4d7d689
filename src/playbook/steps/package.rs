//! `package: {names: [...]}`: installed when missing.

use super::{Ctx, Plan, StepError};
use crate::host::packages;
use crate::playbook::model::PackageStep;

pub fn query(p: &PackageStep, ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let mut missing = Vec::new();
    for n in &p.names {
        if !packages::is_installed(ctx.packages, n)? {
            missing.push(n.as_str());
        }
    }
    Ok(if missing.is_empty() {
        Plan::Matched
    } else {
        Plan::Create(format!("install {}", missing.join(", ")))
    })
}

pub fn apply(p: &PackageStep, ctx: &Ctx<'_>) -> Result<(), StepError> {
    let names: Vec<&str> = p.names.iter().map(String::as_str).collect();
    packages::ensure(ctx.packages, &names).map_err(|e| StepError::Other(e.to_string()))?;
    Ok(())
}
