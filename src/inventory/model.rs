//! What an inventory names: hosts, their addresses and roles, and how to reach them over
//! SSH. Pure data; reading and checking it is `load`'s and `validate`'s job.

use std::net::IpAddr;
use std::path::PathBuf;

/// A part of the stack a host holds. A host may hold several.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Postgres,
    Redis,
    App,
    Nginx,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Postgres, Role::Redis, Role::App, Role::Nginx];

    pub fn name(self) -> &'static str {
        match self {
            Role::Postgres => "postgres",
            Role::Redis => "redis",
            Role::App => "app",
            Role::Nginx => "nginx",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// How the controller reaches a host: the system's `ssh`, or nothing at all for the
/// machine provision runs on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Connection {
    Local,
    Ssh,
}

/// SSH settings: the inventory's, overridable per host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ssh {
    pub user: String,
    pub port: u16,
    /// The private key (`ssh -i`); absent: ssh's own defaults.
    pub identity_file: Option<PathBuf>,
    /// The only host keys trusted (`UserKnownHostsFile`); `--accept-new-host-keys`
    /// adds a host that is not in it yet.
    pub known_hosts: PathBuf,
}

/// An address as a URL's host: IPv6 in brackets.
pub fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// One host of the inventory.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Host {
    pub name: String,
    /// What ssh connects to (an IP or a DNS name).
    pub address: String,
    /// The address the other hosts reach it at: firewall rules, `pg_hba` and the
    /// upstreams use it. Defaults to `address` when that is an IP.
    pub private_address: IpAddr,
    pub roles: Vec<Role>,
    /// Server instances on an app host.
    pub instances: u16,
    pub connection: Connection,
    pub ssh: Ssh,
    /// The inventory line the host starts on (for later errors that name it).
    #[serde(skip)]
    pub line: usize,
}

impl Host {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The private address as a URL's (or an upstream's) host: IPv6 in brackets.
    pub fn url_address(&self) -> String {
        url_host(self.private_address)
    }

    /// Its instances as a load balancer's upstream names them (`address:port`).
    pub fn upstreams(&self, base_port: u16) -> Vec<String> {
        let address = self.url_address();
        (1..=self.instances)
            .map(|i| format!("{address}:{}", u32::from(base_port) + u32::from(i)))
            .collect()
    }
}

/// A checked inventory: every rule of `validate` holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inventory {
    pub path: PathBuf,
    pub hosts: Vec<Host>,
    /// Addresses or networks nginx's per-address API limit does not apply to (the
    /// controller, so verify can load-test through the load balancer from it).
    pub rate_limit_exempt: Vec<String>,
}

impl Inventory {
    /// The hosts holding `role`, in file order.
    pub fn with(&self, role: Role) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(move |h| h.has(role))
    }

    /// The database's host (a validated inventory has exactly one).
    pub fn postgres_host(&self) -> &Host {
        self.with(Role::Postgres)
            .next()
            .expect("a validated inventory has a postgres host")
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The one local host holding every role: today's single-host stack.
    pub fn is_single_local(&self) -> bool {
        self.hosts.len() == 1 && self.hosts[0].connection == Connection::Local
    }
}
