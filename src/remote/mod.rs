//! Reaching the inventory's hosts: the system's OpenSSH client (ssh: multiplexed,
//! `BatchMode`, host keys checked against the inventory's known_hosts), and provision's
//! own binary copied to each host (binary: architecture checked, skipped when the
//! checksum matches), so every host runs its part with the same engine; each (many hosts
//! at once, bounded by `--forks`); ping (every host reached and asked for its facts).

mod binary;
mod each;
mod ping;
mod ssh;

use std::path::PathBuf;

pub use binary::{copy, push, sha256_file, Pushed};
pub use each::each;
pub use ping::{ping, Pong, Reached};
pub use ssh::{Input, Transport};

use crate::host::exec::ExecError;

/// Why a host could not be reached or did not do what it was asked; names the host.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{host} ({address}): ssh could not connect or log in: {hint}; ssh said:\n{stderr}")]
    Unreachable {
        host: String,
        address: String,
        stderr: String,
        hint: String,
    },
    #[error("{host}")]
    Command {
        host: String,
        #[source]
        source: ExecError,
    },
    #[error(
        "{host}: its architecture is {remote}, and this provision binary is built for {local}: \
         run provision from a controller of the same architecture, or build it for {remote}"
    )]
    Architecture {
        host: String,
        remote: String,
        local: String,
    },
    #[error("{host}: `{command}` answered no report ({why}; exit {code:?}): {stderr}")]
    NoReport {
        host: String,
        command: String,
        why: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("cannot use {}", path.display())]
    Local {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RemoteError {
    /// The host this error is about, if it is about one.
    pub fn host(&self) -> Option<&str> {
        match self {
            RemoteError::Unreachable { host, .. }
            | RemoteError::Command { host, .. }
            | RemoteError::Architecture { host, .. }
            | RemoteError::NoReport { host, .. } => Some(host),
            RemoteError::Local { .. } => None,
        }
    }
}

/// The JSON report a provision command run on `host` printed (from its first `{`), read
/// as `T`; what it said on stderr otherwise.
pub fn report<T: serde::de::DeserializeOwned>(
    host: &crate::inventory::Host,
    argv: &[&str],
    out: &crate::host::exec::Output,
) -> Result<T, RemoteError> {
    let start = out.stdout.find('{').unwrap_or(0);
    serde_json::from_str(&out.stdout[start..]).map_err(|e| RemoteError::NoReport {
        host: host.name.clone(),
        command: argv.join(" "),
        why: e.to_string(),
        code: out.code,
        stderr: crate::host::exec::tail(&out.stderr, 5),
    })
}
