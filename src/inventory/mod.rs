//! The inventory: the hosts the stack runs on, their roles (`postgres`, `redis`, `app`,
//! `nginx`; a host may hold several) and how to reach them over SSH. A YAML file
//! (`--inventory FILE`) read once, checked whole before anything runs, every problem
//! named by file and line. The single-host stack is the inventory of one local host with
//! every role ([`Inventory::local`]).
//!
//! model (the types), lines (where a key is in the text), load (the file, host by
//! host), validate (the rules across hosts), order (who is deployed when, and which peer
//! may reach which port).

mod lines;
mod load;
mod model;
mod order;
mod validate;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

pub use load::{DEFAULT_INSTANCES, MAX_INSTANCES};
pub use model::{url_host, Connection, Host, Inventory, Role, Ssh};
pub use order::{Access, Stage};

/// One broken rule: the line it is on (0 for the file as a whole) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

impl Problem {
    pub fn at(line: usize, message: String) -> Self {
        Problem { line, message }
    }
}

/// Why an inventory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read the inventory {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Every problem found, one per line of the message.
    #[error("{}", render(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn render(path: &Path, problems: &[Problem]) -> String {
    let shown = path.display();
    let lines: Vec<String> = problems
        .iter()
        .map(|p| match p.line {
            0 => format!("{shown}: {}", p.message),
            n => format!("{shown}:{n}: {}", p.message),
        })
        .collect();
    lines.join("\n")
}

impl Inventory {
    /// Reads and checks the inventory at `path`.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Inventory::parse(path, &text)
    }

    /// Checks `text`, the inventory at `path` (relative files are found beside it).
    pub fn parse(path: &Path, text: &str) -> Result<Inventory, InventoryError> {
        let invalid = |mut problems: Vec<Problem>| {
            problems.sort_by_key(|p| p.line);
            problems.dedup();
            InventoryError::Invalid {
                path: path.to_path_buf(),
                problems,
            }
        };
        let (hosts, rate_limit_exempt) = load::parse(path, text).map_err(invalid)?;
        let problems = validate::check(&hosts);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        Ok(Inventory {
            path: path.to_path_buf(),
            hosts,
            rate_limit_exempt,
        })
    }

    /// Today's single-host stack: this machine, every role, `instances` server instances.
    pub fn local(instances: u16) -> Inventory {
        Inventory {
            path: PathBuf::new(),
            hosts: vec![Host {
                name: "localhost".into(),
                address: "localhost".into(),
                private_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                roles: Role::ALL.to_vec(),
                instances,
                connection: Connection::Local,
                ssh: Ssh {
                    user: "root".into(),
                    port: 22,
                    identity_file: None,
                    known_hosts: PathBuf::from("known_hosts"),
                },
                line: 0,
            }],
            rate_limit_exempt: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
