//! Files on the host: atomic writes (a temporary file in the same directory, synced, given
//! its mode and owner, then renamed over the old one), so a reader never sees half a file
//! and a crash leaves either the old or the new one; private directories (this user's
//! alone), and clearing a directory of what another user planted in it.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// This process's effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Makes `path` a directory of this user's alone (mode 0700), creating it (and missing
/// parents) when absent. An existing one must be a real directory (not a link) owned by
/// this user; its mode is then set to 0700.
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)?;
    }
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() || meta.uid() != euid() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory of uid {}'s own ({}, owner uid {}): move it away and run again",
                path.display(),
                euid(),
                if meta.file_type().is_symlink() {
                    "a symbolic link"
                } else if meta.is_dir() {
                    "a directory"
                } else {
                    "a file"
                },
                meta.uid()
            ),
        ));
    }
    if meta.permissions().mode() & 0o7777 != 0o700 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Removes from the tree under `dir` (not `dir` itself) every entry another user could
/// have planted: symbolic links, anything not owned by `uid`, and regular files with more
/// than one name (a hard link to a file elsewhere). `dir` must already be unwritable by
/// others, or new entries could appear meanwhile. Returns what it removed.
pub fn remove_foreign(dir: &Path, uid: u32) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let foreign = meta.file_type().is_symlink()
            || meta.uid() != uid
            || (meta.is_file() && meta.nlink() > 1);
        if foreign {
            let gone = if meta.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if gone.is_ok() {
                removed.push(path);
            }
        } else if meta.is_dir() {
            removed.extend(remove_foreign(&path, uid));
        }
    }
    removed
}

/// The running provision binary, readable even when its file was replaced or deleted since
/// it started (provision upgraded during a run): `/proc/self/exe` where there is one.
pub fn own_binary() -> std::io::Result<PathBuf> {
    let proc = Path::new("/proc/self/exe");
    if proc.exists() {
        return Ok(proc.to_path_buf());
    }
    std::env::current_exe()
}

/// Writes `content` to `path` atomically with `mode` and, when given, `(uid, gid)`.
pub fn write_atomic(
    path: &Path,
    content: &[u8],
    mode: u32,
    owner: Option<(u32, Option<u32>)>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, content)?;
    tmp.as_file().sync_all()?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(tmp.path(), Some(uid), gid)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Replaces `path`'s content atomically, keeping its mode and owner (0644 and the
/// caller's when it does not exist yet).
pub fn write_keeping_mode(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let (mode, owner) = match std::fs::metadata(path) {
        Ok(m) => (
            m.permissions().mode() & 0o7777,
            Some((m.uid(), Some(m.gid()))),
        ),
        Err(_) => (0o644, None),
    };
    write_atomic(path, content, mode, owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dirs_are_made_0700_and_links_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b");
        private_dir(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700, "an existing one is made private again");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        let e = private_dir(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link") && e.contains("link"), "{e}");
    }

    #[test]
    fn planted_links_and_hard_links_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "precious").unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("sub")).unwrap();
        std::fs::write(tree.join("sub/kept"), "mine").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("sub/app.log")).unwrap();
        std::fs::hard_link(&outside, tree.join("linked.log")).unwrap();
        let removed = remove_foreign(&tree, euid());
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(tree.join("sub/kept").exists());
        assert!(!tree.join("linked.log").exists());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        // Anything of another owner goes too.
        assert_eq!(remove_foreign(&tree, euid() + 1).len(), 1, "the sub tree");
    }

    #[test]
    fn keeps_mode_and_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("site");
        write_atomic(&p, b"one", 0o640, None).unwrap();
        write_keeping_mode(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
