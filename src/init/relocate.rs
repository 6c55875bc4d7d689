//! Moving an earlier install's root state out of the service user's reach. Installs made
//! before `/var/lib/provision` kept provision's run state (history manifests, pending
//! handlers, run logs, the rolling restart's saved site), the demo database and the backups
//! under `/var/lib/live-dashboard`, owned by the service user, who could therefore plant a
//! manifest that a later `rollback` (as root) would act on; and supervisord (as root) wrote
//! the instances' logs into a directory the service user owned, where a planted symbolic
//! link would redirect root's writes. The next `init` takes those directories back:
//! ownership first (so nothing new can be planted meanwhile), then the state and backups
//! moved to root's own 0700 directories, then anything in them another user could have put
//! there (links, files not root's, hard links) removed. Run again, it finds nothing to do.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::host::fs::{euid, private_dir, remove_foreign};
use crate::init::vars::{
    BACKUP_DIR, LEGACY_BACKUP_DIR, LEGACY_STATE_DIR, LOG_DIR, PROVISION_STATE_DIR, SERVICE_HOME,
};

#[derive(Debug, thiserror::Error)]
#[error("moving provision's state out of the service user's reach: {path}: {message}")]
pub struct RelocateError {
    path: String,
    message: String,
}

fn err(path: &Path) -> impl FnOnce(std::io::Error) -> RelocateError + '_ {
    move |e| RelocateError {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Takes `dir` back from another owner: root's, with `mode`. In check mode only says so.
fn take_back(
    dir: &Path,
    mode: u32,
    check: bool,
    notes: &mut Vec<String>,
) -> Result<(), RelocateError> {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return Ok(());
    };
    if !meta.is_dir() || meta.uid() == euid() && meta.permissions().mode() & 0o7777 == mode {
        return Ok(());
    }
    notes.push(format!(
        "{} taken back from uid {} (root's, mode {mode:04o})",
        dir.display(),
        meta.uid()
    ));
    if !check {
        std::os::unix::fs::lchown(dir, Some(euid()), Some(0)).map_err(err(dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(err(dir))?;
    }
    Ok(())
}

/// Moves the entries of `old` into the private directory `new` (an entry `new` already has
/// is dropped), removes `old`, and clears `new` of what another user planted.
fn move_into(
    old: &Path,
    new: &Path,
    check: bool,
    notes: &mut Vec<String>,
) -> Result<(), RelocateError> {
    let Ok(meta) = std::fs::symlink_metadata(old) else {
        return Ok(());
    };
    if !meta.is_dir() || meta.uid() != euid() {
        // Not what provision made: a link or a file planted in its place.
        notes.push(format!(
            "{} removed (not a directory of root's: planted)",
            old.display()
        ));
        if !check {
            let gone = if meta.is_dir() {
                std::fs::remove_dir_all(old)
            } else {
                std::fs::remove_file(old)
            };
            gone.map_err(err(old))?;
        }
        return Ok(());
    }
    notes.push(format!("{} moved to {}", old.display(), new.display()));
    if check {
        return Ok(());
    }
    private_dir(new).map_err(err(new))?;
    for e in std::fs::read_dir(old).map_err(err(old))?.flatten() {
        let to = new.join(e.file_name());
        if std::fs::symlink_metadata(&to).is_err() {
            std::fs::rename(e.path(), &to).map_err(err(&e.path()))?;
        }
    }
    std::fs::remove_dir_all(old).map_err(err(old))?;
    for p in remove_foreign(new, euid()) {
        notes.push(format!("{} removed (planted by another user)", p.display()));
    }
    Ok(())
}

/// Does what is needed (or, with `check`, says what would be done); returns one line per
/// change, empty when the host is already as it should be.
pub fn relocate(check: bool) -> Result<Vec<String>, RelocateError> {
    let mut notes = Vec::new();
    let home = Path::new(SERVICE_HOME);
    // Ownership first: once the directories are root's, nothing new appears in them.
    take_back(home, 0o755, check, &mut notes)?;
    take_back(Path::new(LOG_DIR), 0o750, check, &mut notes)?;
    move_into(
        Path::new(LEGACY_STATE_DIR),
        Path::new(PROVISION_STATE_DIR),
        check,
        &mut notes,
    )?;
    move_into(
        Path::new(LEGACY_BACKUP_DIR),
        Path::new(BACKUP_DIR),
        check,
        &mut notes,
    )?;
    let demo = home.join("demo-legacy.db");
    if let Ok(meta) = std::fs::symlink_metadata(&demo) {
        let to = Path::new(PROVISION_STATE_DIR).join("demo-legacy.db");
        let ours = meta.is_file() && meta.uid() == euid() && meta.nlink() == 1;
        notes.push(if ours {
            format!("{} moved to {}", demo.display(), to.display())
        } else {
            format!("{} removed (not root's: planted)", demo.display())
        });
        if !check {
            if ours && std::fs::symlink_metadata(&to).is_err() {
                private_dir(Path::new(PROVISION_STATE_DIR)).map_err(err(&to))?;
                std::fs::rename(&demo, &to).map_err(err(&demo))?;
            } else {
                std::fs::remove_file(&demo).map_err(err(&demo))?;
            }
        }
    }
    // supervisord (root) appends to the files here: none may lead elsewhere.
    if !check {
        for p in remove_foreign(Path::new(LOG_DIR), euid()) {
            notes.push(format!("{} removed (planted by another user)", p.display()));
        }
    }
    Ok(notes)
}
