//! `provision rollback`: puts back the files of the newest change not yet rolled back
//! (kept by the run that wrote them, see `playbook::history`), checks nginx's
//! configuration before anything reloads — undoing the rollback if nginx refuses it — and
//! then runs the handlers that change had notified (reload nginx, restart PostgreSQL,
//! `supervisorctl update`, …), so what runs matches the files again.
//!
//! Whatever a manifest says, only the files init manages are put back, and a handler runs
//! only as init's own playbook defines it (`init::managed`): a forged manifest can neither
//! write elsewhere nor run a command of its own. What it asked beyond that is reported.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::host::exec::Cmd;
use crate::host::services::Services;
use crate::init::managed::Managed;
use crate::playbook::history::{self, Generation};

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("nothing to roll back: no earlier version of init's files is recorded in {}", .0.display())]
    Nothing(PathBuf),
    #[error("the newest change left is init's first run ({0}); rolling it back would take the deployment apart — `provision uninstall` does that properly")]
    FirstRun(String),
    #[error("{0}")]
    Failed(String),
}

fn failed(e: impl std::fmt::Display) -> RollbackError {
    RollbackError::Failed(e.to_string())
}

#[derive(Debug, Clone, Serialize)]
pub struct FileBack {
    pub path: PathBuf,
    /// `restored` (the previous version) or `removed` (it did not exist before).
    pub action: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct RolledBack {
    /// The change undone: its id, what made it and when.
    pub generation: String,
    pub command: String,
    pub started: String,
    pub files: Vec<FileBack>,
    pub handlers: Vec<String>,
    /// What the change's manifest asked for beyond what init manages (files outside init's
    /// set, handlers init does not define): left alone.
    pub refused: Vec<String>,
}

pub fn rollback(
    state_dir: &Path,
    config: &Path,
    services: &dyn Services,
    managed: &Managed,
) -> Result<RolledBack, RollbackError> {
    let _lock = crate::playbook::state::Lock::acquire(state_dir).map_err(failed)?;
    let (dir, target) = last_run(state_dir, config)?;
    let (entries, handler_defs, refused) = sift(&target, managed);
    let undo = Generation::begin(state_dir, &format!("rollback of {}", target.id));
    undo.mark_rollback_of(&target.id);
    let files = put_back(&dir, entries, &undo)?;
    if files.iter().any(|f| f.path.starts_with("/etc/nginx")) {
        nginx_accepts(state_dir, &undo)?;
    }
    undo.handlers(&handler_defs).map_err(failed)?;
    undo.finish().map_err(failed)?;
    history::mark_rolled_back(&dir, &undo.id()).map_err(failed)?;
    let handlers = run_handlers(&handler_defs, services)?;
    Ok(RolledBack {
        generation: target.id,
        command: target.command,
        started: target.started,
        files,
        handlers,
        refused,
    })
}

/// The newest run that is neither rolled back nor a rollback; refused when it was the
/// deployment's first (it created the config or the .env).
fn last_run(
    state_dir: &Path,
    config: &Path,
) -> Result<(PathBuf, history::Manifest), RollbackError> {
    let (dir, target) = history::list(state_dir)
        .into_iter()
        .rev()
        .find(|(_, m)| m.rolled_back.is_none() && m.rollback_of.is_none())
        .ok_or_else(|| RollbackError::Nothing(history::history_dir(state_dir)))?;
    let created = |e: &history::Entry| e.previous.is_none() && e.link.is_none();
    if target
        .files
        .iter()
        .any(|e| created(e) && (e.path == config || e.path == config.with_file_name(".env")))
    {
        return Err(RollbackError::FirstRun(format!(
            "{}, {}",
            target.id, target.started
        )));
    }
    Ok((dir, target))
}

/// What of the manifest may be acted on: files init manages and handlers init defines;
/// the rest is refused (and said).
fn sift<'a>(
    target: &'a history::Manifest,
    managed: &Managed,
) -> (
    Vec<&'a history::Entry>,
    Vec<crate::playbook::model::Handler>,
    Vec<String>,
) {
    let mut refused = Vec::new();
    let (entries, outside): (Vec<&history::Entry>, Vec<&history::Entry>) =
        target.files.iter().partition(|e| managed.has_path(&e.path));
    for e in outside {
        tracing::warn!(path = %e.path.display(), "a history manifest names a file init does not manage; left alone");
        refused.push(format!("file {} (not one init manages)", e.path.display()));
    }
    let mut handler_defs = Vec::new();
    for h in &target.handlers {
        match managed.handler(&h.name) {
            Some(def) => handler_defs.push(def.clone()),
            None => {
                tracing::warn!(handler = %h.name, "a history manifest names a handler init does not define; not run");
                refused.push(format!("handler {:?} (not one init defines)", h.name));
            }
        }
    }
    (entries, handler_defs, refused)
}

/// Each file as it was before the run (recording today's version in `undo` first), in
/// the order the run wrote them.
fn put_back(
    dir: &Path,
    entries: Vec<&history::Entry>,
    undo: &Generation,
) -> Result<Vec<FileBack>, RollbackError> {
    // The service user owns no file init writes (a version from before it stopped owning
    // the .env comes back as root's).
    let service_uid =
        crate::playbook::steps::lookup_id("/etc/passwd", crate::init::vars::SERVICE_USER);
    let mut files = Vec::new();
    for e in entries.into_iter().rev() {
        undo.record(&e.path, &e.notify).map_err(failed)?;
        let mut e = e.clone();
        if e.uid.is_some() && e.uid == service_uid {
            e.uid = Some(0);
        }
        history::put_back(dir, &e).map_err(failed)?;
        files.push(FileBack {
            path: e.path.clone(),
            action: if e.previous.is_some() || e.link.is_some() {
                "restored"
            } else {
                "removed"
            },
        });
    }
    files.reverse();
    Ok(files)
}

/// `nginx -t` on the files put back; when it refuses them, the files of before the
/// rollback go back (from `undo`) and nothing was reloaded.
fn nginx_accepts(state_dir: &Path, undo: &Generation) -> Result<(), RollbackError> {
    let out = Cmd::new("nginx", &["-t"])
        .run_checked(true)
        .map_err(failed)?;
    if out.code == Some(0) {
        return Ok(());
    }
    let newest = history::list(state_dir)
        .into_iter()
        .find(|(_, m)| m.id == undo.id());
    if let Some((undo_dir, m)) = newest {
        for e in &m.files {
            let _ = history::put_back(&undo_dir, e);
        }
        let _ = std::fs::remove_dir_all(undo_dir);
    }
    Err(RollbackError::Failed(format!(
        "nginx -t refuses the previous files (exit {:?}): {}; nothing was changed",
        out.code,
        crate::host::exec::tail(&out.stderr, 5).trim()
    )))
}

/// The handlers the rolled-back run notified; nginx's reload waits for its new workers.
fn run_handlers(
    handler_defs: &[crate::playbook::model::Handler],
    services: &dyn Services,
) -> Result<Vec<String>, RollbackError> {
    let mut handlers = Vec::new();
    for h in handler_defs {
        let since = crate::host::proc::now_ticks();
        crate::playbook::steps::run_handler(h, services).map_err(|e| {
            RollbackError::Failed(format!(
                "the files are rolled back, but the handler {:?} failed: {e}; fix it and run the handler's action by hand, or `provision init`",
                h.name
            ))
        })?;
        if h.name.contains("nginx") {
            if let Some(t) = since {
                crate::host::reload::wait_workers_since(
                    Path::new("/run/nginx.pid"),
                    t,
                    std::time::Duration::from_secs(15),
                );
            }
        }
        handlers.push(h.name.clone());
    }
    Ok(handlers)
}
