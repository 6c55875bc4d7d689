//! Where monitoring's parts listen and whom Prometheus scrapes, for the single host (all on
//! loopback) or for a host of several: every host runs the node exporter and its roles'
//! exporters on its private address, the firewall admits their ports (and the instances')
//! from the first nginx host only, which runs Prometheus, its rules and the certificate
//! probe, and scrapes them all.

use std::net::IpAddr;

use super::deployment::Deployment;
use crate::inventory::{url_host, Role};

/// Prometheus, its exporters and nginx's stub_status.
pub const PROMETHEUS_PORT: u16 = 9090;
pub const NODE_EXPORTER_PORT: u16 = 9100;
pub const POSTGRES_EXPORTER_PORT: u16 = 9187;
pub const REDIS_EXPORTER_PORT: u16 = 9121;
pub const NGINX_EXPORTER_PORT: u16 = 9113;
pub const NGINX_STATUS_PORT: u16 = 9180;
pub const BLACKBOX_EXPORTER_PORT: u16 = 9115;

/// The monitoring variables: `monitor_listen`, `prometheus_here` and each job's targets
/// (space-separated `host:port`).
pub fn wiring(
    d: Option<&Deployment>,
    instances: u32,
    base_port: u16,
) -> Vec<(&'static str, String)> {
    let at = |ip: String, port: u16| format!("{ip}:{port}");
    let Some(d) = d else {
        let lo = "127.0.0.1".to_string();
        return vec![
            ("monitor_listen", lo.clone()),
            ("prometheus_here", "true".into()),
            ("monitor_node_targets", at(lo.clone(), NODE_EXPORTER_PORT)),
            (
                "monitor_postgres_targets",
                at(lo.clone(), POSTGRES_EXPORTER_PORT),
            ),
            ("monitor_redis_targets", at(lo.clone(), REDIS_EXPORTER_PORT)),
            ("monitor_nginx_targets", at(lo.clone(), NGINX_EXPORTER_PORT)),
            (
                "monitor_app_targets",
                (1..=instances)
                    .map(|i| format!("127.0.0.1:{}", u32::from(base_port) + i))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ];
    };
    let each = |ips: &[IpAddr], port: u16| {
        ips.iter()
            .map(|ip| at(url_host(*ip), port))
            .collect::<Vec<_>>()
            .join(" ")
    };
    vec![
        ("monitor_listen", url_host(d.address)),
        (
            "prometheus_here",
            (d.nginx.first() == Some(&d.address)).to_string(),
        ),
        ("monitor_node_targets", each(&d.hosts, NODE_EXPORTER_PORT)),
        (
            "monitor_postgres_targets",
            each(&[d.postgres], POSTGRES_EXPORTER_PORT),
        ),
        (
            "monitor_redis_targets",
            each(&[d.redis], REDIS_EXPORTER_PORT),
        ),
        ("monitor_nginx_targets", each(&d.nginx, NGINX_EXPORTER_PORT)),
        (
            "monitor_app_targets",
            d.apps
                .iter()
                .flat_map(|(ip, n)| {
                    (1..=u32::from(*n))
                        .map(move |i| format!("{}:{}", url_host(*ip), u32::from(base_port) + i))
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ]
}

/// The firewall rules monitoring adds on a host of several: its exporters' ports and its
/// instances' from the Prometheus host (the first nginx host) only.
pub fn firewall(d: &Deployment, base_port: u16) -> Vec<(u16, u16, String, Vec<IpAddr>)> {
    let Some(prometheus) = d.nginx.first().copied() else {
        return Vec::new();
    };
    let from = vec![prometheus];
    let mut rules = vec![(
        NODE_EXPORTER_PORT,
        NODE_EXPORTER_PORT,
        "node exporter".to_string(),
        from.clone(),
    )];
    for (role, port, what) in [
        (Role::Postgres, POSTGRES_EXPORTER_PORT, "postgres exporter"),
        (Role::Redis, REDIS_EXPORTER_PORT, "redis exporter"),
        (Role::Nginx, NGINX_EXPORTER_PORT, "nginx exporter"),
    ] {
        if d.has(role) {
            rules.push((port, port, what.to_string(), from.clone()));
        }
    }
    if d.has(Role::App) && d.instances > 0 {
        rules.push((
            base_port.saturating_add(1),
            base_port.saturating_add(d.instances),
            "dashboard instances (Prometheus)".to_string(),
            from,
        ));
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    #[test]
    fn the_first_nginx_host_scrapes_every_host_through_its_firewall() {
        let inv = Inventory::parse(
            std::path::Path::new("/srv/hosts.yaml"),
            "hosts:\n  db1: {address: 192.0.2.10, roles: [postgres, redis]}\n  \
             app1: {address: 192.0.2.21, roles: [app], instances: 3}\n  \
             lb1: {address: 192.0.2.30, roles: [nginx]}\n  \
             lb2: {address: 192.0.2.31, roles: [nginx]}\n",
        )
        .unwrap();
        let d = |h: &str| Deployment::of(&inv, inv.host(h).unwrap(), 8000);
        let v = |h: &str| -> std::collections::BTreeMap<&str, String> {
            wiring(Some(&d(h)), 2, 8000).into_iter().collect()
        };
        assert_eq!(v("lb1")["prometheus_here"], "true");
        assert_eq!(v("lb2")["prometheus_here"], "false");
        assert_eq!(v("db1")["monitor_listen"], "192.0.2.10");
        assert_eq!(
            v("lb2")["monitor_node_targets"],
            "192.0.2.10:9100 192.0.2.21:9100 192.0.2.30:9100 192.0.2.31:9100"
        );
        assert_eq!(
            v("lb1")["monitor_app_targets"],
            "192.0.2.21:8001 192.0.2.21:8002 192.0.2.21:8003"
        );
        assert_eq!(
            v("lb1")["monitor_nginx_targets"],
            "192.0.2.30:9113 192.0.2.31:9113"
        );
        let lb1: IpAddr = "192.0.2.30".parse().unwrap();
        let db = firewall(&d("db1"), 8000);
        let ports: Vec<u16> = db.iter().map(|r| r.0).collect();
        assert_eq!(ports, [9100, 9187, 9121]);
        assert!(db.iter().all(|r| r.3 == [lb1]), "{db:?}");
        let app = firewall(&d("app1"), 8000);
        assert!(app.contains(&(
            8001,
            8003,
            "dashboard instances (Prometheus)".into(),
            vec![lb1]
        )));
        // The single host: loopback, Prometheus here.
        let single: std::collections::BTreeMap<&str, String> =
            wiring(None, 2, 8000).into_iter().collect();
        assert_eq!(single["monitor_listen"], "127.0.0.1");
        assert_eq!(
            single["monitor_app_targets"],
            "127.0.0.1:8001 127.0.0.1:8002"
        );
    }
}
