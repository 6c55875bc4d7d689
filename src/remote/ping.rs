//! `provision ping`: every host of the inventory reached over ssh, provision's binary put
//! there (or found already there), and that binary asked for the host's facts — what a
//! deployment needs, proven before one starts.

use std::path::Path;

use super::ssh::{Input, Transport};
use super::{each, push, RemoteError};
use crate::inventory::{Connection, Host, Inventory};

/// One host's answer.
#[derive(Debug, serde::Serialize)]
pub struct Pong {
    pub host: String,
    pub address: String,
    pub roles: Vec<String>,
    /// What it said, or (`error`) why it did not.
    #[serde(flatten)]
    pub reached: Option<Reached>,
    pub error: Option<String>,
}

/// What a reachable host said.
#[derive(Debug, serde::Serialize)]
pub struct Reached {
    pub arch: String,
    /// Whether provision's binary was copied (false: the same one was there).
    pub copied: bool,
    /// The host's `provision facts`, as JSON.
    pub facts: serde_json::Value,
}

/// Pings every host, `forks` at a time; `local` is this binary, `remote` where it goes.
pub fn ping(
    transport: &Transport,
    inventory: &Inventory,
    local: &Path,
    remote: &str,
    forks: usize,
) -> Vec<Pong> {
    each::each(&inventory.hosts, forks, |h| {
        let (reached, error) = match reach(transport, h, local, remote) {
            Ok(r) => (Some(r), None),
            // Every error but a local one already starts with the host's name.
            Err(e) if e.host().is_some() => (None, Some(crate::causes::line(&e))),
            Err(e) => (
                None,
                Some(format!("{}: {}", h.name, crate::causes::line(&e))),
            ),
        };
        Pong {
            host: h.name.clone(),
            address: h.address.clone(),
            roles: h.roles.iter().map(|r| r.name().to_string()).collect(),
            reached,
            error,
        }
    })
}

fn reach(
    transport: &Transport,
    host: &Host,
    local: &Path,
    remote: &str,
) -> Result<Reached, RemoteError> {
    if host.connection == Connection::Local {
        let facts = std::process::Command::new(local)
            .args(["--json", "facts"])
            .output()
            .map_err(|source| RemoteError::Local {
                path: local.to_path_buf(),
                source,
            })?;
        return Ok(Reached {
            arch: std::env::consts::ARCH.to_string(),
            copied: false,
            facts: serde_json::from_slice(&facts.stdout).unwrap_or_default(),
        });
    }
    let pushed = push(transport, host, local, remote)?;
    let out = transport.run(host, &[remote, "--json", "facts"], Input::Nothing)?;
    Ok(Reached {
        arch: pushed.arch,
        copied: pushed.copied,
        facts: serde_json::from_str(&out.stdout).unwrap_or_default(),
    })
}
