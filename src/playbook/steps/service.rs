//! `service: {name, state, enabled}` and handlers (a service action or a command, run once
//! at the end or at a flush).

use super::{Ctx, Plan, StepError};
use crate::host::services::{self, Action, Services};
use crate::playbook::model::{Handler, ServiceState, ServiceStep};

pub fn query(s: &ServiceStep, ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let mut todo = Vec::new();
    if s.enabled == Some(true) && !services::is_enabled(ctx.services, &s.name)? {
        todo.push("enable");
    }
    if s.enabled == Some(false) && services::is_enabled(ctx.services, &s.name)? {
        todo.push("disable");
    }
    match s.state {
        Some(ServiceState::Started) if !services::is_active(ctx.services, &s.name)? => {
            todo.push("start")
        }
        Some(ServiceState::Stopped) if services::is_active(ctx.services, &s.name)? => {
            todo.push("stop")
        }
        Some(ServiceState::Restarted) => return Ok(Plan::Run(format!("restart {}", s.name))),
        Some(ServiceState::Reloaded) => return Ok(Plan::Run(format!("reload {}", s.name))),
        _ => {}
    }
    Ok(if todo.is_empty() {
        Plan::Matched
    } else {
        Plan::Modify(format!("{} {}", todo.join(" and "), s.name))
    })
}

pub fn apply(s: &ServiceStep, ctx: &Ctx<'_>) -> Result<(), StepError> {
    if let Some(reload) = ctx.services.reload_definitions() {
        reload.run()?;
    }
    if s.enabled == Some(true) && !services::is_enabled(ctx.services, &s.name)? {
        ctx.services.action(Action::Enable, &s.name).run()?;
    }
    if s.enabled == Some(false) && services::is_enabled(ctx.services, &s.name)? {
        ctx.services.action(Action::Disable, &s.name).run()?;
    }
    match s.state {
        Some(ServiceState::Started) if !services::is_active(ctx.services, &s.name)? => {
            ctx.services.action(Action::Start, &s.name).run()?;
        }
        Some(ServiceState::Stopped) if services::is_active(ctx.services, &s.name)? => {
            ctx.services.action(Action::Stop, &s.name).run()?;
        }
        Some(ServiceState::Restarted) => {
            ctx.services.action(Action::Restart, &s.name).run()?;
        }
        Some(ServiceState::Reloaded) => {
            ctx.services.action(Action::Reload, &s.name).run()?;
        }
        _ => {}
    }
    Ok(())
}

/// A handler: its service action, after the service manager re-read its definitions.
pub fn run_handler(h: &Handler, services: &dyn Services) -> Result<(), StepError> {
    let Some(s) = &h.service else {
        let c = h
            .command
            .as_ref()
            .expect("a handler has a service or a command");
        return super::command::apply(c);
    };
    if let Some(reload) = services.reload_definitions() {
        reload.run()?;
    }
    let action = match s.state {
        Some(ServiceState::Reloaded) => Action::Reload,
        Some(ServiceState::Stopped) => Action::Stop,
        Some(ServiceState::Started) => Action::Start,
        _ => Action::Restart,
    };
    services.action(action, &s.name).run()?;
    Ok(())
}
