//! Who is deployed when, and who may reach what. Hosts go in stages (the database first,
//! then the cache, the app hosts side by side, the load balancer last), each host once,
//! at the stage of its first role. A host's firewall admits SSH and, for each of its
//! roles, that role's ports from only the peers that need them.

use std::net::IpAddr;

use super::model::{Host, Inventory, Role};

/// One stage of a deployment: hosts that may be deployed side by side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stage {
    pub role: Role,
    pub hosts: Vec<String>,
}

/// One rule of a host's firewall: a port range, and who may open it (empty: anyone).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    pub ports: (u16, u16),
    pub what: &'static str,
    pub from: Vec<IpAddr>,
}

impl Inventory {
    /// postgres → redis → app (side by side) → nginx; a host appears once.
    pub fn stages(&self) -> Vec<Stage> {
        let mut done: Vec<&str> = Vec::new();
        let mut stages = Vec::new();
        for role in Role::ALL {
            let hosts: Vec<String> = self
                .with(role)
                .filter(|h| !done.contains(&h.name.as_str()))
                .map(|h| h.name.clone())
                .collect();
            done.extend(self.with(role).map(|h| h.name.as_str()));
            if !hosts.is_empty() {
                stages.push(Stage { role, hosts });
            }
        }
        stages
    }

    fn addresses(&self, role: Role) -> Vec<IpAddr> {
        self.with(role).map(|h| h.private_address).collect()
    }

    /// `host`'s firewall: SSH from anywhere, then its roles' ports from their peers only.
    /// App instances listen on `base_port + 1 ..= base_port + instances`.
    pub fn access(&self, host: &Host, base_port: u16) -> Vec<Access> {
        let mut rules = vec![Access {
            ports: (host.ssh.port, host.ssh.port),
            what: "ssh",
            from: Vec::new(),
        }];
        if host.has(Role::Postgres) {
            rules.push(Access {
                ports: (5432, 5432),
                what: "postgresql",
                from: self.addresses(Role::App),
            });
        }
        if host.has(Role::Redis) {
            rules.push(Access {
                ports: (6379, 6379),
                what: "redis",
                from: self.addresses(Role::App),
            });
        }
        if host.has(Role::App) {
            rules.push(Access {
                ports: (
                    base_port.saturating_add(1),
                    base_port.saturating_add(host.instances),
                ),
                what: "dashboard instances",
                from: self.addresses(Role::Nginx),
            });
        }
        if host.has(Role::Nginx) {
            rules.push(Access {
                ports: (80, 80),
                what: "http",
                from: Vec::new(),
            });
            rules.push(Access {
                ports: (443, 443),
                what: "https",
                from: Vec::new(),
            });
        }
        rules
    }
}
