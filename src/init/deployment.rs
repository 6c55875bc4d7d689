//! Where one host stands in a deployment of several: its roles and address, and its
//! peers' addresses. The controller derives it from the inventory and sends it with the
//! host's config; on the host it becomes the playbook's wiring variables — which parts to
//! install, what PostgreSQL and Redis listen on and admit, where the app's `.env` points,
//! nginx's upstreams, and the firewall. Without one (the single host), the wiring is
//! today's: every role, loopback only, no firewall.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::inventory::{url_host, Access, Inventory, Role};

/// One host's place in a deployment of several hosts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub host: String,
    pub roles: Vec<String>,
    /// This host's private address.
    pub address: IpAddr,
    /// Server instances here (app hosts).
    pub instances: u16,
    pub postgres: IpAddr,
    pub redis: IpAddr,
    /// Every app host: address and instances.
    pub apps: Vec<(IpAddr, u16)>,
    pub nginx: Vec<IpAddr>,
    /// Every host's private address (monitoring scrapes each one's node exporter).
    #[serde(default)]
    pub hosts: Vec<IpAddr>,
    /// This host's firewall: (first port, last port, what, allowed sources; none = any).
    pub firewall: Vec<(u16, u16, String, Vec<IpAddr>)>,
    /// Addresses or networks exempt from nginx's per-address API limit.
    #[serde(default)]
    pub rate_limit_exempt: Vec<String>,
}

impl Deployment {
    /// `host`'s place in `inv` (the inventory has been validated: one postgres, one redis).
    pub fn of(inv: &Inventory, host: &crate::inventory::Host, base_port: u16) -> Deployment {
        let first = |r: Role| {
            inv.with(r)
                .next()
                .map(|h| h.private_address)
                .expect("a validated inventory has one")
        };
        Deployment {
            host: host.name.clone(),
            roles: host.roles.iter().map(|r| r.name().to_string()).collect(),
            address: host.private_address,
            instances: host.instances,
            postgres: first(Role::Postgres),
            redis: first(Role::Redis),
            apps: inv
                .with(Role::App)
                .map(|h| (h.private_address, h.instances))
                .collect(),
            nginx: inv.with(Role::Nginx).map(|h| h.private_address).collect(),
            hosts: inv.hosts.iter().map(|h| h.private_address).collect(),
            firewall: inv
                .access(host, base_port)
                .into_iter()
                .map(|a: Access| (a.ports.0, a.ports.1, a.what.to_string(), a.from))
                .collect(),
            rate_limit_exempt: inv.rate_limit_exempt.clone(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.iter().any(|r| r == role.name())
    }

    /// Every app host's instances together (PostgreSQL's connections are sized for them).
    pub fn total_instances(&self) -> u32 {
        self.apps.iter().map(|(_, n)| u32::from(*n)).sum()
    }
}

/// The nftables rules of a firewall, one per line.
pub(super) fn nft_rules(firewall: &[(u16, u16, String, Vec<IpAddr>)]) -> String {
    let mut lines = Vec::new();
    for (first, last, what, from) in firewall {
        let ports = if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        };
        let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = from.iter().partition(|ip| ip.is_ipv4());
        if from.is_empty() {
            lines.push(format!("tcp dport {ports} accept comment \"{what}\""));
        }
        for (family, ips) in [("ip", v4), ("ip6", v6)] {
            if !ips.is_empty() {
                let set: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
                lines.push(format!(
                    "{family} saddr {{ {} }} tcp dport {ports} accept comment \"{what}\"",
                    set.join(", ")
                ));
            }
        }
    }
    lines.join(";")
}

/// The site's URL through the inventory's first nginx host (its private address), as the
/// controller reaches it.
pub fn site_url(inv: &Inventory, answers: &super::answers::Answers) -> String {
    use super::answers::Tls;
    let lb = inv
        .with(Role::Nginx)
        .next()
        .expect("a validated inventory has an nginx host");
    let host = lb.url_address();
    match answers.tls {
        Tls::Off if answers.http_port == 80 => format!("http://{host}"),
        Tls::Off => format!("http://{host}:{}", answers.http_port),
        _ if answers.https_port == 443 => format!("https://{host}"),
        _ => format!("https://{host}:{}", answers.https_port),
    }
}

/// The playbook's wiring variables for this host: `deployment`, or the single host with
/// `instances` instances from `base_port + 1`.
pub fn wiring(
    deployment: Option<&Deployment>,
    instances: u32,
    base_port: u16,
) -> BTreeMap<String, String> {
    let v = match deployment {
        None => single(instances, base_port),
        Some(d) => several(d, base_port),
    };
    v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// One host with every role: loopback only, no firewall.
fn single(instances: u32, base_port: u16) -> Vec<(&'static str, String)> {
    let flag = |b: bool| b.to_string();
    vec![
        ("role_postgres", flag(true)),
        ("role_redis", flag(true)),
        ("role_app", flag(true)),
        ("role_nginx", flag(true)),
        ("pg_listen_addresses", "localhost".into()),
        ("pg_app_clients", String::new()),
        ("redis_bind", "127.0.0.1 -::1".into()),
        ("db_host", "127.0.0.1".into()),
        ("redis_host", "127.0.0.1".into()),
        ("instance_listen", "127.0.0.1".into()),
        ("instance_peers", String::new()),
        (
            "upstreams",
            (1..=instances)
                .map(|i| format!("127.0.0.1:{}", u32::from(base_port) + i))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("firewall", flag(false)),
        ("nft_rules", String::new()),
        ("deployment_host", String::new()),
        ("api_exempt", String::new()),
        ("trusted_proxies", String::new()),
    ]
}

/// A host of several: its roles, its private address, its peers, its firewall.
fn several(d: &Deployment, base_port: u16) -> Vec<(&'static str, String)> {
    let flag = |b: bool| b.to_string();
    // The database and cache hosts reach their own service over loopback (their pg_hba
    // and firewall admit the app hosts only, not themselves).
    let own_or = |r: Role, peer: IpAddr| {
        if d.has(r) {
            "127.0.0.1".to_string()
        } else {
            url_host(peer)
        }
    };
    let join = |items: Vec<String>| items.join(" ");
    vec![
        ("role_postgres", flag(d.has(Role::Postgres))),
        ("role_redis", flag(d.has(Role::Redis))),
        ("role_app", flag(d.has(Role::App))),
        ("role_nginx", flag(d.has(Role::Nginx))),
        ("pg_listen_addresses", format!("localhost,{}", d.address)),
        (
            "pg_app_clients",
            join(
                d.apps
                    .iter()
                    .map(|(ip, _)| match ip {
                        IpAddr::V4(_) => format!("{ip}/32"),
                        IpAddr::V6(_) => format!("{ip}/128"),
                    })
                    .collect(),
            ),
        ),
        ("redis_bind", format!("127.0.0.1 -::1 {}", d.address)),
        ("db_host", own_or(Role::Postgres, d.postgres)),
        ("redis_host", own_or(Role::Redis, d.redis)),
        ("instance_listen", url_host(d.address)),
        // Its own address too: the host's own probes (readiness, status) come from it.
        (
            "instance_peers",
            join(
                [d.address, d.postgres, d.redis]
                    .iter()
                    .chain(&d.nginx)
                    .map(|ip| ip.to_string())
                    .collect(),
            ),
        ),
        (
            "upstreams",
            join(
                d.apps
                    .iter()
                    .flat_map(|(ip, n)| {
                        (1..=u32::from(*n))
                            .map(move |i| format!("{}:{}", url_host(*ip), u32::from(base_port) + i))
                    })
                    .collect(),
            ),
        ),
        ("firewall", flag(true)),
        ("nft_rules", nft_rules(&d.firewall)),
        ("deployment_host", d.host.clone()),
        ("api_exempt", d.rate_limit_exempt.join(" ")),
        // The instances believe X-Real-IP from the load balancers (loopback is always).
        (
            "trusted_proxies",
            join(d.nginx.iter().map(|ip| ip.to_string()).collect()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_single_host_is_wired_to_loopback() {
        let v = wiring(None, 3, 8000);
        assert_eq!(
            v["upstreams"],
            "127.0.0.1:8001 127.0.0.1:8002 127.0.0.1:8003"
        );
        assert_eq!(v["pg_listen_addresses"], "localhost");
        assert_eq!(v["firewall"], "false");
        assert!(["role_postgres", "role_redis", "role_app", "role_nginx"]
            .iter()
            .all(|r| v[*r] == "true"));
    }

    #[test]
    fn the_database_and_cache_hosts_reach_their_own_service_over_loopback() {
        let inv = Inventory::parse(
            std::path::Path::new("/srv/hosts.yaml"),
            "hosts:\n  db1: {address: 192.0.2.10, roles: [postgres]}\n  \
             cache1: {address: 192.0.2.11, roles: [redis]}\n  \
             web1: {address: 192.0.2.20, roles: [app, nginx]}\n",
        )
        .unwrap();
        let v = |h: &str| {
            wiring(
                Some(&Deployment::of(&inv, inv.host(h).unwrap(), 8000)),
                2,
                8000,
            )
        };
        assert_eq!(v("db1")["db_host"], "127.0.0.1");
        assert_eq!(v("db1")["redis_host"], "192.0.2.11");
        assert_eq!(v("cache1")["redis_host"], "127.0.0.1");
        assert_eq!(v("web1")["db_host"], "192.0.2.10");
        assert_eq!(v("web1")["upstreams"], "192.0.2.20:8001 192.0.2.20:8002");
    }

    #[test]
    fn ipv6_peers_are_bracketed_in_urls_and_upstreams() {
        let v6: IpAddr = "2001:db8::21".parse().unwrap();
        let d = Deployment {
            host: "app1".into(),
            roles: vec!["app".into()],
            address: v6,
            instances: 2,
            postgres: "2001:db8::10".parse().unwrap(),
            redis: "2001:db8::11".parse().unwrap(),
            apps: vec![(v6, 2)],
            nginx: vec!["2001:db8::30".parse().unwrap()],
            hosts: Vec::new(),
            firewall: vec![(8001, 8002, "dashboard instances".into(), vec![v6])],
            rate_limit_exempt: vec!["2001:db8::1".into()],
        };
        let v = wiring(Some(&d), 2, 8000);
        assert_eq!(v["db_host"], "[2001:db8::10]");
        assert_eq!(v["upstreams"], "[2001:db8::21]:8001 [2001:db8::21]:8002");
        assert_eq!(v["pg_app_clients"], "2001:db8::21/128");
        assert_eq!(
            v["nft_rules"],
            "ip6 saddr { 2001:db8::21 } tcp dport 8001-8002 accept comment \"dashboard instances\""
        );
        assert_eq!(v["role_postgres"], "false");
    }
}
