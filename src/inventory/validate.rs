//! The rules across hosts, checked before anything runs: one database host, one cache
//! host, at least one app and one nginx host, no address twice, and in an inventory of
//! several hosts every host reachable by the others (no loopback address).

use super::model::{Connection, Host, Role};
use super::Problem;

/// Every broken rule, with the line of the host it concerns (0: the file as a whole).
pub fn check(hosts: &[Host]) -> Vec<Problem> {
    let mut problems = Vec::new();
    if hosts.is_empty() {
        problems.push(Problem::at(
            0,
            "no hosts: list them under `hosts:`, each with an address and roles".into(),
        ));
        return problems;
    }
    for role in Role::ALL {
        let holders: Vec<&Host> = hosts.iter().filter(|h| h.has(role)).collect();
        match (role, holders.len()) {
            (_, 0) => problems.push(Problem::at(
                0,
                format!(
                    "no {} host: give one host the role {} ({})",
                    role.name(),
                    role.name(),
                    role_purpose(role)
                ),
            )),
            (Role::Postgres | Role::Redis, n) if n > 1 => {
                for h in &holders[1..] {
                    problems.push(Problem::at(
                        h.line,
                        format!(
                            "host {}: a second {} host ({} already holds it); one host holds \
                             {}",
                            h.name,
                            role.name(),
                            holders[0].name,
                            role_purpose(role)
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    for (i, h) in hosts.iter().enumerate() {
        for earlier in &hosts[..i] {
            if h.address == earlier.address && h.ssh.port == earlier.ssh.port {
                problems.push(Problem::at(
                    h.line,
                    format!(
                        "host {}: address {} is also host {}'s (line {}): one machine is one \
                         host, with all its roles",
                        h.name, h.address, earlier.name, earlier.line
                    ),
                ));
            } else if h.private_address == earlier.private_address {
                problems.push(Problem::at(
                    h.line,
                    format!(
                        "host {}: private address {} is also host {}'s (line {})",
                        h.name, h.private_address, earlier.name, earlier.line
                    ),
                ));
            }
        }
    }
    if hosts.len() > 1 {
        problems.extend(unreachable(hosts));
    }
    problems
}

/// In an inventory of several hosts, peers reach each other at their private addresses:
/// a loopback or unspecified one reaches nobody, and only one host can be this machine.
fn unreachable(hosts: &[Host]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for h in hosts {
        let ip = h.private_address;
        if ip.is_loopback() || ip.is_unspecified() {
            let needs = if h.has(Role::App) {
                "nginx and the app's peers must reach it"
            } else {
                "the other hosts must reach it"
            };
            problems.push(Problem::at(
                h.line,
                format!(
                    "host {}: its address {ip} is not one the other hosts can reach ({needs}); \
                     give private_address, the address it has on the network they share",
                    h.name
                ),
            ));
        }
    }
    let local: Vec<&Host> = hosts
        .iter()
        .filter(|h| h.connection == Connection::Local)
        .collect();
    for h in local.iter().skip(1) {
        problems.push(Problem::at(
            h.line,
            format!(
                "host {}: connection local, like host {}; only one host can be this machine",
                h.name, local[0].name
            ),
        ));
    }
    problems
}

fn role_purpose(role: Role) -> &'static str {
    match role {
        Role::Postgres => "the database",
        Role::Redis => "the cache",
        Role::App => "runs the dashboard's server instances",
        Role::Nginx => "the load balancer in front of the app hosts",
    }
}
