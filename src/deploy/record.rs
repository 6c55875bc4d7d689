//! What the controller last deployed from an inventory: its hosts (how to reach each, its
//! roles and instances) and the instances' base port, kept beside the deployment's lock.
//! The next run compares it with the inventory to find the app hosts that left it.

use std::path::{Path, PathBuf};

use crate::inventory::{Host, Inventory, Role};

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub base_port: u16,
    pub hosts: Vec<Host>,
}

/// The controller's state directory of the deployment of the inventory at `inventory`
/// (its lock and record): one per inventory file.
pub fn deployment_dir(state_dir: &Path, inventory: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let path = std::fs::canonicalize(inventory).unwrap_or(inventory.to_path_buf());
    let key = format!("{:x}", Sha256::digest(path.display().to_string()));
    state_dir.join("deployments").join(&key[..16])
}

impl Record {
    /// The record in a deployment's state directory.
    pub fn path(deployment_dir: &Path) -> PathBuf {
        deployment_dir.join("hosts.json")
    }

    pub fn of(inventory: &Inventory, base_port: u16) -> Record {
        Record {
            base_port,
            hosts: inventory.hosts.clone(),
        }
    }

    /// The last deployment's record; none before the first one finished. An unreadable
    /// record is an error naming the file (deleting it forgets the hosts that left).
    pub fn load(path: &Path) -> Result<Option<Record>, String> {
        match std::fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                format!(
                    "{}: {e}; it records the hosts the last deployment reached (remove it \
                     to forget them: app hosts that left the inventory are then not drained)",
                    path.display()
                )
            }),
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a record serializes");
        crate::host::fs::write_atomic(path, text.as_bytes(), 0o600, None)
    }

    /// The app hosts of this record that are no app host of `now` (compared by the address
    /// the load balancers send them requests at).
    pub fn leaving_apps(&self, now: &Inventory) -> Vec<Host> {
        self.hosts
            .iter()
            .filter(|h| h.has(Role::App))
            .filter(|h| {
                !now.with(Role::App)
                    .any(|n| n.private_address == h.private_address)
            })
            .cloned()
            .collect()
    }

    /// The nginx hosts of `now` that were nginx hosts of this record too (a new one never
    /// sent anything to a leaving app host).
    pub fn kept_balancers<'a>(&self, now: &'a Inventory) -> Vec<&'a Host> {
        now.with(Role::Nginx)
            .filter(|n| {
                self.hosts
                    .iter()
                    .any(|h| h.has(Role::Nginx) && h.name == n.name)
            })
            .collect()
    }
}
