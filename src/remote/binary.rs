//! provision copies its own binary to each host, so the host runs its part of the
//! playbook with the same engine and the same version: the architecture is checked
//! first, the copy is skipped when the checksum already matches, and a copy is written
//! beside the target and renamed into place only after its checksum is checked there.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::ssh::{Input, Transport};
use super::RemoteError;
use crate::inventory::Host;

/// What pushing the binary did on one host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pushed {
    /// `uname -m` there.
    pub arch: String,
    /// False when the host already had this very binary.
    pub copied: bool,
}

/// The sha256 of the file at `path`, in hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// `uname -m` for the architecture this binary was built for.
fn local_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "arm" => "armv7l",
        other => other,
    }
}

/// Copies `local` (this provision binary) to `remote` on `host`, unless the same bytes
/// are already there.
pub fn push(
    transport: &Transport,
    host: &Host,
    local: &Path,
    remote: &str,
) -> Result<Pushed, RemoteError> {
    let want = sha256_file(local).map_err(|source| RemoteError::Local {
        path: local.to_path_buf(),
        source,
    })?;
    // One round trip: the architecture, and the checksum of what is there (if anything).
    let probe = format!(
        "uname -m; if [ -f {q} ]; then sha256sum {q}; fi",
        q = crate::host::exec::shell_quote(remote)
    );
    let out = transport.run(host, &["sh", "-c", &probe], Input::Nothing)?;
    let mut lines = out.stdout.lines();
    let arch = lines.next().unwrap_or("").trim().to_string();
    if arch != local_arch() {
        return Err(RemoteError::Architecture {
            host: host.name.clone(),
            remote: arch,
            local: local_arch().to_string(),
        });
    }
    let there = lines.next().and_then(|l| l.split_whitespace().next());
    if there == Some(want.as_str()) {
        return Ok(Pushed {
            arch,
            copied: false,
        });
    }
    copy_checked(transport, host, local, remote, &want, "755")?;
    Ok(Pushed { arch, copied: true })
}

/// Copies `local` to `remote` on `host` with `mode`, unless the same bytes are there;
/// whether it copied.
pub fn copy(
    transport: &Transport,
    host: &Host,
    local: &Path,
    remote: &str,
    mode: &str,
) -> Result<bool, RemoteError> {
    let want = sha256_file(local).map_err(|source| RemoteError::Local {
        path: local.to_path_buf(),
        source,
    })?;
    let q = crate::host::exec::shell_quote(remote);
    let probe = format!("if [ -f {q} ]; then sha256sum {q}; fi");
    let out = transport.run(host, &["sh", "-c", &probe], Input::Nothing)?;
    if out.stdout.split_whitespace().next() == Some(want.as_str()) {
        return Ok(false);
    }
    copy_checked(transport, host, local, remote, &want, mode)?;
    Ok(true)
}

/// Written beside the target, checked there, then renamed: a cut connection never leaves
/// a half file where it is used.
fn copy_checked(
    transport: &Transport,
    host: &Host,
    local: &Path,
    remote: &str,
    want: &str,
    mode: &str,
) -> Result<(), RemoteError> {
    let write = format!(
        "set -e; umask 077; d=$(dirname {q}); mkdir -p \"$d\"; t={q}.provision-new; \
         cat > \"$t\"; sum=$(sha256sum \"$t\" | cut -d' ' -f1); \
         if [ \"$sum\" != {want} ]; then rm -f \"$t\"; echo \"checksum $sum\" >&2; exit 3; fi; \
         chmod {mode} \"$t\"; mv -f \"$t\" {q}",
        q = crate::host::exec::shell_quote(remote),
        mode = crate::host::exec::shell_quote(mode),
    );
    transport.run(host, &["sh", "-c", &write], Input::File(local))?;
    Ok(())
}
