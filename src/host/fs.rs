//! Files on the host: atomic writes (a temporary file in the same directory, synced, given
//! its mode and owner, then renamed over the old one), so a reader never sees half a file
//! and a crash leaves either the old or the new one.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

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
