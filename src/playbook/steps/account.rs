//! `user:` and `group:`: system accounts, read from /etc/passwd and /etc/group, created
//! with useradd/groupadd (shadow-utils: Debian, RHEL, SUSE, Arch).

use super::{Plan, StepError};
use crate::host::exec::Cmd;
use crate::playbook::model::{GroupStep, UserStep};

/// The numeric id of `name` in an /etc/passwd- or /etc/group-style file.
pub fn lookup_id(file: &str, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.next()?;
        f.next()?.parse().ok()
    })
}

pub fn query_user(u: &UserStep) -> Result<Plan, StepError> {
    Ok(match lookup_id("/etc/passwd", &u.name) {
        Some(_) => Plan::Matched,
        None => Plan::Create(format!("create user {}", u.name)),
    })
}

pub fn apply_user(u: &UserStep) -> Result<(), StepError> {
    let mut c = Cmd::new("useradd", &[]);
    if u.system {
        c = c.arg("--system");
    }
    if let Some(h) = &u.home {
        c = c
            .arg("--home-dir")
            .arg(h.display().to_string())
            .arg("--no-create-home");
    }
    c = c.arg("--shell").arg(
        u.shell
            .clone()
            .unwrap_or_else(|| "/usr/sbin/nologin".into()),
    );
    if lookup_id("/etc/group", &u.name).is_some() {
        c = c.arg("--gid").arg(u.name.clone());
    } else {
        c = c.arg("--user-group");
    }
    c.arg(u.name.clone()).run()?;
    Ok(())
}

pub fn query_group(g: &GroupStep) -> Result<Plan, StepError> {
    Ok(match lookup_id("/etc/group", &g.name) {
        Some(_) => Plan::Matched,
        None => Plan::Create(format!("create group {}", g.name)),
    })
}

pub fn apply_group(g: &GroupStep) -> Result<(), StepError> {
    let mut c = Cmd::new("groupadd", &[]);
    if g.system {
        c = c.arg("--system");
    }
    c.arg(g.name.clone()).run()?;
    Ok(())
}
