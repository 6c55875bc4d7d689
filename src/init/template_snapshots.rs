//! Snapshot tests of every shipped template, rendered for a few host shapes: 1 vs 8 CPUs,
//! 2 vs 64 GB, 2 vs 4 instances, TLS off / self-signed, monitoring off / on, systemd vs no
//! init system. A
//! change to a template or to the sizing shows up as a reviewed snapshot diff
//! (`cargo insta review`).

use super::answers::{Answers, Tls};
use super::vars::vars;
use crate::inventory::Role;
use crate::render::{Templates, EMBEDDED};
use crate::settings::Secret;

fn answers(instances: u32, tls: Tls) -> Answers {
    Answers {
        db_password: Secret::new("DbPasswordForSnapshots0000000000000000000"),
        redis_password: Secret::new("RedisPasswordForSnapshots00000000000000000"),
        monitor_password: Secret::new("MonitorPasswordForSnapshots000000000000000"),
        instances,
        tls,
        ..Answers::defaults()
    }
}

fn render_all(shape: &str, a: &Answers, cpus: usize, memory_mb: u64, init: &str) {
    render_vars(shape, &vars(a, cpus, memory_mb, init));
}

/// Every template; monitoring's only where it is on.
fn render_vars(shape: &str, v: &std::collections::BTreeMap<String, String>) {
    render_some(shape, v, &|name| {
        !name.starts_with("prometheus/") || v["monitoring"] == "true"
    });
}

fn render_some(
    shape: &str,
    v: &std::collections::BTreeMap<String, String>,
    wanted: &dyn Fn(&str) -> bool,
) {
    let t = Templates::default();
    // The one playbook variable a template needs beyond init's (the distribution's).
    let mut v = v.clone();
    v.entry("pg_socket_dir".into())
        .or_insert_with(|| "/var/run/postgresql".into());
    for (name, _) in EMBEDDED.iter().filter(|(n, _)| wanted(n)) {
        let text = t
            .render(name, &v)
            .unwrap_or_else(|e| panic!("{shape}: {e}"));
        let snap = format!("{shape}__{}", name.replace(['/', '@', '.'], "_"));
        insta::assert_snapshot!(snap, text);
    }
}

#[test]
fn a_small_host_under_systemd_without_tls() {
    render_all("small", &answers(2, Tls::Off), 1, 2 * 1024, "systemd");
}

#[test]
fn a_large_host_under_systemd_with_self_signed_tls() {
    // With monitoring (a short scrape interval) and its TLS probe.
    let mut a = answers(4, Tls::SelfSigned);
    a.monitoring.enabled = true;
    a.monitoring.scrape_interval_s = 5;
    render_all("large", &a, 8, 64 * 1024, "systemd");
}

#[test]
fn a_container_without_an_init_system() {
    render_all("container", &answers(2, Tls::Off), 2, 4 * 1024, "none");
}

/// Four hosts (the database, the cache, two app hosts, the load balancer): each host's
/// files, wired to its peers — listen addresses, pg_hba, the .env, upstreams, firewall.
#[test]
fn four_hosts_each_wired_to_its_peers() {
    let inv = crate::inventory::Inventory::parse(
        std::path::Path::new("/srv/hosts.yaml"),
        "hosts:\n  db1: {address: 192.0.2.10, roles: [postgres]}\n  \
         cache1: {address: 192.0.2.11, roles: [redis]}\n  \
         app1: {address: 192.0.2.21, roles: [app], instances: 3}\n  \
         app2: {address: 192.0.2.22, roles: [app]}\n  \
         lb1: {address: 192.0.2.30, roles: [nginx]}\n",
    )
    .unwrap();
    for host in &inv.hosts {
        let d = super::deployment::Deployment::of(&inv, host, 8000);
        let a = Answers {
            instances: u32::from(host.instances),
            ..answers(2, Tls::Off)
        };
        let v = super::vars::vars_for(&a, 2, 4096, "systemd", Some(&d));
        // Only the files of this host's roles (and the firewall every host has).
        let wanted = |name: &str| {
            let role = match name.split('/').next().unwrap_or("") {
                "postgresql" => Role::Postgres,
                "redis" => Role::Redis,
                "nginx" => Role::Nginx,
                "nftables" => return true,
                "prometheus" => return false,
                _ if name.contains("backup") => Role::Postgres,
                _ if name.contains("firewall") => return true,
                _ => Role::App,
            };
            host.has(role)
        };
        render_some(&format!("four_{}", host.name), &v, &wanted);
    }
}
