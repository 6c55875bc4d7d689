//! Reading an inventory file: the YAML as written (unknown keys are errors), then each
//! host resolved against the inventory's SSH defaults, with every problem found named by
//! its line. The rules across hosts are `validate`'s.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::lines::Lines;
use super::model::{Connection, Host, Role, Ssh};
use super::Problem;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    #[serde(default)]
    ssh: RawSsh,
    #[serde(default)]
    hosts: serde_yaml_ng::Mapping,
    /// Addresses or networks (CIDR) exempt from nginx's per-address API limit.
    #[serde(default)]
    rate_limit_exempt: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSsh {
    user: Option<String>,
    port: Option<u16>,
    identity_file: Option<PathBuf>,
    known_hosts: Option<PathBuf>,
}

impl RawSsh {
    /// This host's settings over the inventory's.
    fn over(&self, base: &RawSsh) -> RawSsh {
        RawSsh {
            user: self.user.clone().or_else(|| base.user.clone()),
            port: self.port.or(base.port),
            identity_file: self
                .identity_file
                .clone()
                .or_else(|| base.identity_file.clone()),
            known_hosts: self
                .known_hosts
                .clone()
                .or_else(|| base.known_hosts.clone()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    address: Option<String>,
    private_address: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    instances: Option<u32>,
    connection: Option<String>,
    #[serde(default)]
    ssh: RawSsh,
}

/// The most server instances one app host may run.
pub const MAX_INSTANCES: u32 = 64;
/// Instances on an app host that does not say.
pub const DEFAULT_INSTANCES: u16 = 2;

/// Parses `text` (the file at `path`) into hosts and the rate-limit exemptions, or every
/// problem found with its line.
pub fn parse(path: &Path, text: &str) -> Result<(Vec<Host>, Vec<String>), Vec<Problem>> {
    let raw: RawInventory = serde_yaml_ng::from_str(text).map_err(|e| {
        vec![Problem {
            line: e.location().map_or(0, |l| l.line()),
            message: e.to_string(),
        }]
    })?;
    let lines = Lines::new(text);
    // Files named relative to the inventory are found beside it, and kept as absolute
    // paths: the deployment's record must find them again from any directory.
    let base = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let base = base.as_path();
    let mut problems = Vec::new();
    let mut hosts = Vec::new();
    for (key, value) in raw.hosts {
        let Some(name) = key.as_str().map(str::to_string) else {
            problems.push(Problem::at(
                lines.top("hosts").unwrap_or(0),
                format!("a host's name must be text, not {key:?}"),
            ));
            continue;
        };
        let line = lines.host(&name);
        match serde_yaml_ng::from_value::<RawHost>(value) {
            Ok(h) => {
                let found = Found {
                    name: &name,
                    line,
                    lines: &lines,
                    base,
                };
                match found.host(h, &raw.ssh) {
                    Ok(h) => hosts.push(h),
                    Err(mut p) => problems.append(&mut p),
                }
            }
            Err(e) => problems.push(Problem::at(line, format!("host {name}: {e}"))),
        }
    }
    for net in &raw.rate_limit_exempt {
        if !valid_network(net) {
            problems.push(Problem::at(
                lines.top("rate_limit_exempt").unwrap_or(0),
                format!(
                    "rate_limit_exempt: {net:?} is not an IP address or network (192.0.2.1, \
                     192.0.2.0/24, 2001:db8::/64)"
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok((hosts, raw.rate_limit_exempt))
    } else {
        Err(problems)
    }
}

/// An IP address, or one with a prefix length that fits it.
fn valid_network(net: &str) -> bool {
    let (ip, bits) = match net.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (net, None),
    };
    match (ip.parse::<IpAddr>(), bits.map(str::parse::<u8>)) {
        (Ok(_), None) => true,
        (Ok(IpAddr::V4(_)), Some(Ok(b))) => b <= 32,
        (Ok(IpAddr::V6(_)), Some(Ok(b))) => b <= 128,
        _ => false,
    }
}

/// One host as found in the file: its name, where it is, and where relative paths start.
struct Found<'a> {
    name: &'a str,
    line: usize,
    lines: &'a Lines<'a>,
    base: &'a Path,
}

impl Found<'_> {
    fn problem(&self, field: &str, message: String) -> Problem {
        Problem::at(
            self.lines.field(self.line, field),
            format!("host {}: {message}", self.name),
        )
    }

    fn host(&self, raw: RawHost, defaults: &RawSsh) -> Result<Host, Vec<Problem>> {
        let mut problems = Vec::new();
        if !valid_name(self.name) {
            problems.push(Problem::at(
                self.line,
                format!(
                    "host name {:?}: use lowercase letters, digits and '-' (up to 63), \
                     starting with a letter or digit; it names files and log lines",
                    self.name
                ),
            ));
        }
        let roles = self.roles(&raw.roles, &mut problems);
        let connection = match raw.connection.as_deref() {
            None | Some("ssh") => Connection::Ssh,
            Some("local") => Connection::Local,
            Some(other) => {
                problems.push(self.problem(
                    "connection",
                    format!("connection {other:?}: use ssh (the default) or local (this machine)"),
                ));
                Connection::Ssh
            }
        };
        let address = match (raw.address, &connection) {
            (Some(a), _) if !a.trim().is_empty() => a.trim().to_string(),
            (_, Connection::Local) => "localhost".to_string(),
            _ => {
                problems.push(self.problem(
                    "address",
                    "no address: give the IP or name ssh connects to".into(),
                ));
                String::new()
            }
        };
        let private_address = self.private_address(&address, raw.private_address.as_deref());
        let private_address = private_address.unwrap_or_else(|p| {
            problems.push(p);
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        });
        let instances = self.instances(raw.instances, &roles, &mut problems);
        let ssh = self.ssh(&raw.ssh.over(defaults), &mut problems);
        if problems.is_empty() {
            Ok(Host {
                name: self.name.to_string(),
                address,
                private_address,
                roles,
                instances,
                connection,
                ssh,
                line: self.line,
            })
        } else {
            Err(problems)
        }
    }

    fn roles(&self, raw: &[String], problems: &mut Vec<Problem>) -> Vec<Role> {
        let mut roles = Vec::new();
        if raw.is_empty() {
            problems.push(self.problem(
                "roles",
                "no roles: give one or more of postgres, redis, app, nginx".into(),
            ));
        }
        for r in raw {
            match Role::parse(r) {
                Some(role) if roles.contains(&role) => {
                    problems.push(self.problem("roles", format!("role {r} is listed twice")))
                }
                Some(role) => roles.push(role),
                None => problems.push(self.problem(
                    "roles",
                    format!("unknown role {r:?}: the roles are postgres, redis, app, nginx"),
                )),
            }
        }
        roles.sort();
        roles
    }

    /// The address peers use: `private_address`, else `address` when it is an IP.
    fn private_address(&self, address: &str, private: Option<&str>) -> Result<IpAddr, Problem> {
        if let Some(p) = private {
            return p.trim().parse().map_err(|_| {
                self.problem(
                    "private_address",
                    format!("private_address {p:?} is not an IP address"),
                )
            });
        }
        if address == "localhost" {
            return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let bare = address.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>().or_else(|_| {
            if bare == "ip6-localhost" {
                Ok(IpAddr::V6(Ipv6Addr::LOCALHOST))
            } else {
                Err(self.problem(
                    "address",
                    format!(
                        "address {address} is a name: give private_address, the IP the other \
                         hosts reach it at (the firewall rules and pg_hba need an IP)"
                    ),
                ))
            }
        })
    }

    fn instances(&self, raw: Option<u32>, roles: &[Role], problems: &mut Vec<Problem>) -> u16 {
        match raw {
            None => DEFAULT_INSTANCES,
            Some(_) if !roles.contains(&Role::App) && !roles.is_empty() => {
                problems.push(self.problem(
                    "instances",
                    "instances is for app hosts, and this host has no app role".into(),
                ));
                0
            }
            Some(n @ 1..=MAX_INSTANCES) => n as u16,
            Some(n) => {
                problems.push(self.problem(
                    "instances",
                    format!("instances {n}: give 1 to {MAX_INSTANCES}"),
                ));
                0
            }
        }
    }

    fn ssh(&self, raw: &RawSsh, problems: &mut Vec<Problem>) -> Ssh {
        let user = raw.user.clone().unwrap_or_else(|| "root".into());
        if !valid_user(&user) {
            problems
                .push(self.problem("ssh", format!("ssh user {user:?} is not a valid user name")));
        }
        let port = raw.port.unwrap_or(22);
        if port == 0 {
            problems.push(self.problem("ssh", "ssh port 0: give the port sshd listens on".into()));
        }
        // `~/` is the controller user's home, as in ssh; other relative paths start beside
        // the inventory.
        let relative = |p: &Path| match (p.strip_prefix("~"), std::env::var_os("HOME")) {
            (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
            _ if p.is_absolute() => p.to_path_buf(),
            _ => self.base.join(p),
        };
        let identity_file = raw.identity_file.as_deref().map(relative);
        if let Some(id) = &identity_file {
            if let Err(e) = std::fs::File::open(id) {
                problems.push(self.problem("ssh", format!("identity_file {}: {e}", id.display())));
            }
        }
        Ssh {
            user,
            port,
            identity_file,
            known_hosts: relative(
                raw.known_hosts
                    .as_deref()
                    .unwrap_or(Path::new("known_hosts")),
            ),
        }
    }
}

fn valid_name(n: &str) -> bool {
    (1..=63).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !n.starts_with('-')
}

fn valid_user(u: &str) -> bool {
    (1..=32).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !u.starts_with('-')
}
