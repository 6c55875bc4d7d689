//! The variables of `playbooks/init.yml` and its templates, from the answers, the host's
//! size and the conventions' paths. Secrets are among them; [`SECRET_VARS`] names them so
//! the engine masks them in diffs, logs and output.

use std::collections::BTreeMap;

use super::answers::{Answers, Tls};
use super::deployment::Deployment;
use super::tuning::tune;
use crate::inventory::Role;

/// Variables whose values are secrets.
pub const SECRET_VARS: [&str; 3] = ["db_password", "redis_password", "monitor_password"];

/// Paths and names from docs/architecture.md's conventions. Nothing root later reads, writes into or
/// executes lives where the service user can write: the service user owns no directory.
pub const CONFIG_DIR: &str = "/etc/live-dashboard";
/// The service user's home: root's, 0755, empty (the server writes no files).
pub const SERVICE_HOME: &str = "/var/lib/live-dashboard";
/// provision's own state (run lock, pending handlers, run logs, file history, the rolling
/// restart's saved site, the demo database): root's, 0700.
pub const PROVISION_STATE_DIR: &str = "/var/lib/provision";
/// Backups: root's, 0700.
pub const BACKUP_DIR: &str = "/var/backups/live-dashboard";
/// The instances' logs under supervisord (written by supervisord, as root): root's, 0750.
pub const LOG_DIR: &str = "/var/log/live-dashboard";
/// Where an install made before these paths kept provision's state and backups (inside
/// the service user's home); the next init moves them (`init::relocate`).
pub const LEGACY_STATE_DIR: &str = "/var/lib/live-dashboard/provision";
pub const LEGACY_BACKUP_DIR: &str = "/var/lib/live-dashboard/backups";
pub const SERVICE_USER: &str = "live-dashboard";
pub const BINARY: &str = "/usr/local/bin/provision";
/// Several hosts: the copy of provision the controller keeps on each host (root's state
/// directory) and runs there; the playbook's `provision binary` step installs [`BINARY`].
pub const AGENT_BINARY: &str = "/var/lib/provision/bin/provision";
/// The host firewall (several hosts): its rules and the unit that loads them at boot.
pub const FIREWALL_RULES: &str = "/etc/live-dashboard/firewall.nft";
pub const FIREWALL_UNIT: &str = "live-dashboard-firewall.service";
/// Where certbot puts the ACME challenges nginx serves (`--tls acme`): root's, 0755.
pub const ACME_WEBROOT: &str = "/var/www/live-dashboard-acme";
/// The dashboard's Redis user (the default user is off).
pub const REDIS_USER: &str = "live-dashboard";
/// Monitoring's ports (all on loopback on the single host).
pub use super::monitoring_wiring::{
    BLACKBOX_EXPORTER_PORT, NGINX_EXPORTER_PORT, NGINX_STATUS_PORT, NODE_EXPORTER_PORT,
    POSTGRES_EXPORTER_PORT, PROMETHEUS_PORT, REDIS_EXPORTER_PORT,
};
/// The Redis user the Redis exporter logs in as (INFO and little else).
pub const MONITOR_REDIS_USER: &str = "live-dashboard-monitor";
/// The PostgreSQL role the exporter logs in as over the socket (peer: the OS user of
/// Debian's exporter), a member of `pg_monitor`.
pub const MONITOR_PG_ROLE: &str = "prometheus";
/// The node exporter's textfile collector directory (Debian's default): the backups'
/// figures go there.
pub const TEXTFILE_DIR: &str = "/var/lib/prometheus/node-exporter";

/// Every variable init's playbook and templates use, for the single host.
pub fn vars(a: &Answers, cpus: usize, memory_mb: u64, init: &str) -> BTreeMap<String, String> {
    vars_for(a, cpus, memory_mb, init, None)
}

/// Every variable init's playbook and templates use, for this host's place in
/// `deployment` (None: the single host).
pub fn vars_for(
    a: &Answers,
    cpus: usize,
    memory_mb: u64,
    init: &str,
    deployment: Option<&Deployment>,
) -> BTreeMap<String, String> {
    let mut t = tune(cpus, memory_mb, a.instances);
    if let Some(d) = deployment {
        // The app hosts size their pools by their own CPUs: room for the largest pool,
        // for the instances rounded up to a step, so that adding or removing an app host
        // within a step does not change max_connections (a PostgreSQL restart).
        t.max_connections = super::tuning::max_connections_for(
            d.total_instances().div_ceil(super::tuning::INSTANCE_STEP)
                * super::tuning::INSTANCE_STEP,
        );
    }
    let (tls, cert, key) = match &a.tls {
        Tls::Off => ("false", String::new(), String::new()),
        Tls::SelfSigned => (
            "true",
            format!("{CONFIG_DIR}/tls/cert.pem"),
            format!("{CONFIG_DIR}/tls/key.pem"),
        ),
        Tls::Files { cert, key } => ("true", cert.clone(), key.clone()),
        Tls::Acme(_) => (
            "true",
            format!("{CONFIG_DIR}/tls/cert.pem"),
            format!("{CONFIG_DIR}/tls/key.pem"),
        ),
    };
    let acme = match &a.tls {
        Tls::Acme(acme) => Some(acme.clone()),
        _ => None,
    };
    // (Validated before anything is rendered; 03:30 for a value that is not HH:MM.)
    let (hour, minute) = a.backups.hour_minute().unwrap_or((3, 30));
    let mut v: BTreeMap<String, String> = [
        ("db_name", a.db_name.clone()),
        ("db_user", a.db_user.clone()),
        ("db_password", a.db_password.expose().to_string()),
        ("redis_password", a.redis_password.expose().to_string()),
        ("redis_port", "6379".into()),
        // The app's Redis user and the prefix of its keys (the server's default; its ACL
        // reaches nothing else).
        ("redis_user", REDIS_USER.into()),
        ("redis_prefix", "ld:".into()),
        ("redis_persistence", a.redis_persistence.to_string()),
        // Under systemd (Type=notify with --daemonize no on its command line) and under
        // supervision alike, redis must stay in the foreground of whoever started it;
        // Debian's SysV script is the one launcher that expects it to fork.
        (
            "redis_daemonize",
            if init == "systemd" { "no" } else { "yes" }.into(),
        ),
        ("redis_maxmemory_mb", t.redis_maxmemory_mb.to_string()),
        ("log_max_mb", a.log_max_mb.to_string()),
        (
            "replica_urls",
            a.replica_urls
                .iter()
                .map(|u| u.expose())
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("max_replica_lag_ms", a.max_replica_lag_ms.to_string()),
        ("api_rate", a.limits.api_rate.clone()),
        ("api_burst", a.limits.api_burst.to_string()),
        ("auth_rate", a.limits.auth_rate.clone()),
        ("auth_burst", a.limits.auth_burst.to_string()),
        ("ws_per_address", a.limits.ws_per_address.to_string()),
        ("exempt_loopback", a.limits.exempt_loopback.to_string()),
        ("max_body_kb", a.limits.max_body_kb.to_string()),
        ("log_keep", a.log_keep.to_string()),
        ("pg_port", "5432".into()),
        ("pg_max_connections", t.max_connections.to_string()),
        ("pg_shared_buffers_mb", t.shared_buffers_mb.to_string()),
        (
            "pg_effective_cache_size_mb",
            t.effective_cache_size_mb.to_string(),
        ),
        ("pg_work_mem_mb", t.work_mem_mb.to_string()),
        (
            "pg_maintenance_work_mem_mb",
            t.maintenance_work_mem_mb.to_string(),
        ),
        (
            "pg_max_worker_processes",
            t.max_worker_processes.to_string(),
        ),
        (
            "pg_max_parallel_workers_per_gather",
            t.max_parallel_workers_per_gather.to_string(),
        ),
        ("cpus", cpus.to_string()),
        ("memory_mb", memory_mb.to_string()),
        ("instances", a.instances.to_string()),
        ("base_port", a.base_port.to_string()),
        ("pool_size", t.pool_size.to_string()),
        (
            "instance_memory_max_mb",
            t.instance_memory_max_mb.to_string(),
        ),
        ("server_name", a.domain.clone()),
        ("http_port", a.http_port.to_string()),
        ("https_port", a.https_port.to_string()),
        ("tls", tls.into()),
        ("tls_acme", acme.is_some().to_string()),
        ("acme_webroot", ACME_WEBROOT.into()),
        (
            "acme_directory",
            acme.as_ref()
                .map(|x| x.directory.clone())
                .unwrap_or_default(),
        ),
        (
            "acme_email",
            acme.as_ref()
                .and_then(|x| x.email.clone())
                .unwrap_or_default(),
        ),
        (
            "acme_ca_cert",
            acme.as_ref()
                .and_then(|x| x.ca_cert.clone())
                .unwrap_or_default(),
        ),
        ("tls_cert", cert),
        ("tls_key", key),
        ("config_dir", CONFIG_DIR.into()),
        ("service_home", SERVICE_HOME.into()),
        ("provision_state_dir", PROVISION_STATE_DIR.into()),
        ("backup_dir", BACKUP_DIR.into()),
        ("log_dir", LOG_DIR.into()),
        ("service_user", SERVICE_USER.into()),
        ("binary", BINARY.into()),
        ("config_file", crate::settings::DEFAULT_CONFIG.into()),
        ("backup_scheduled", a.backups.scheduled.to_string()),
        ("backup_hour", format!("{hour:02}")),
        ("backup_minute", format!("{minute:02}")),
        ("monitoring", a.monitoring.enabled.to_string()),
        ("init_system", init.to_string()),
        ("monitor_password", a.monitor_password.expose().to_string()),
        (
            "scrape_interval_s",
            a.monitoring.scrape_interval_s.to_string(),
        ),
        ("alert_after_s", a.monitoring.alert_after_s.to_string()),
        // The alerts' bounds: verify's targets (its defaults unless the config sets them).
        (
            "alert_p99_ms",
            a.verify.targets.p99_ms.unwrap_or(500.0).to_string(),
        ),
        (
            "alert_cache_hit_ratio",
            a.verify.targets.cache_hit_ratio.unwrap_or(0.7).to_string(),
        ),
        ("prometheus_port", PROMETHEUS_PORT.to_string()),
        ("node_exporter_port", NODE_EXPORTER_PORT.to_string()),
        ("postgres_exporter_port", POSTGRES_EXPORTER_PORT.to_string()),
        ("redis_exporter_port", REDIS_EXPORTER_PORT.to_string()),
        ("nginx_exporter_port", NGINX_EXPORTER_PORT.to_string()),
        ("nginx_status_port", NGINX_STATUS_PORT.to_string()),
        ("blackbox_exporter_port", BLACKBOX_EXPORTER_PORT.to_string()),
        ("monitor_redis_user", MONITOR_REDIS_USER.into()),
        ("monitor_pg_role", MONITOR_PG_ROLE.into()),
        ("textfile_dir", TEXTFILE_DIR.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The nginx site's own defaults (rates, bursts, access log, IPv6) where init has no
    // answer of its own.
    for (k, val) in crate::render::nginx_defaults() {
        v.entry(k).or_insert(val);
    }
    v.extend(super::deployment::wiring(
        deployment,
        a.instances,
        a.base_port,
    ));
    v.extend(
        super::monitoring_wiring::wiring(deployment, a.instances, a.base_port)
            .into_iter()
            .map(|(k, val)| (k.to_string(), val)),
    );
    // Several hosts with monitoring: the firewall admits Prometheus to the exporters too.
    if let (Some(d), true) = (deployment, a.monitoring.enabled) {
        let mut rules = d.firewall.clone();
        rules.extend(super::monitoring_wiring::firewall(d, a.base_port));
        v.insert("nft_rules".into(), super::deployment::nft_rules(&rules));
    }
    v
}

/// [`vars`] plus what the playbook needs from the host: package and service names and
/// paths for its distribution, the instances' service names under its init system, and
/// the handler names to notify.
pub fn playbook_vars(
    a: &Answers,
    facts: &crate::host::facts::Facts,
    distro: &crate::host::distro::DistroData,
    deployment: Option<&Deployment>,
) -> BTreeMap<String, String> {
    let init = format!("{:?}", facts.init).to_lowercase();
    let memory_mb = facts.memory_bytes / (1024 * 1024);
    let mut v = vars_for(a, facts.cpus, memory_mb, &init, deployment);
    // Each role's packages; openssl for certificates; nftables where a firewall is kept.
    let holds = |r: Role| deployment.map_or(true, |d| d.has(r));
    let mut packages: Vec<String> = [
        ("postgresql", Role::Postgres),
        ("redis", Role::Redis),
        ("nginx", Role::Nginx),
    ]
    .iter()
    .filter(|(_, r)| holds(*r))
    .flat_map(|(k, _)| distro.packages.get(*k).cloned().unwrap_or_default())
    .collect();
    packages.push("openssl".into());
    if matches!(a.tls, Tls::Acme(_)) && holds(Role::Nginx) {
        packages.push("certbot".into());
        if init != "systemd" {
            // certbot's package renews from cron where systemd does not run its timer.
            packages.extend(distro.packages.get("cron").cloned().unwrap_or_default());
        }
    }
    if deployment.is_some() {
        packages.push("nftables".into());
    }
    // Where no init system runs, cron starts the scheduled backup.
    if init != "systemd" && holds(Role::Postgres) {
        packages.extend(distro.packages.get("cron").cloned().unwrap_or_default());
    }
    if init != "systemd" && holds(Role::App) {
        packages.extend(
            distro
                .packages
                .get("supervisor")
                .cloned()
                .unwrap_or_default(),
        );
    }
    let ports: Vec<String> = (1..=a.instances)
        .map(|i| (u32::from(a.base_port) + i).to_string())
        .collect();
    let (prefix, suffix) = if init == "systemd" {
        ("live-dashboard@", ".service")
    } else {
        ("live-dashboard-", "")
    };
    let service = |k: &str| {
        distro
            .services
            .get(k)
            .cloned()
            .unwrap_or_else(|| k.to_string())
    };
    let common_name = if a.domain == "_" {
        "localhost".to_string()
    } else {
        a.domain.clone()
    };
    for (k, val) in [
        ("init", init.clone()),
        ("packages", packages.join(", ")),
        ("pg_conf_dir", distro.postgresql.conf_dir.clone()),
        ("pg_socket_dir", distro.postgresql.socket_dir.clone()),
        ("pg_service", service("postgresql")),
        ("redis_conf", distro.redis_conf.clone()),
        ("redis_service", service("redis")),
        ("nginx_service", service("nginx")),
        ("nginx_sites", distro.nginx_sites.clone()),
        ("supervisor_conf_dir", distro.supervisor_conf_dir.clone()),
        (
            "supervisor_config",
            "/etc/supervisor/supervisord.conf".to_string(),
        ),
        ("instance_ports", ports.join(" ")),
        ("instance_service_prefix", prefix.to_string()),
        ("instance_service_suffix", suffix.to_string()),
        (
            "restart_instances",
            ports
                .iter()
                .map(|p| format!("\"restart instance {p}\""))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        // With ACME, a self-signed placeholder lets nginx start before the first certificate.
        (
            "tls_self_signed",
            matches!(a.tls, Tls::SelfSigned | Tls::Acme(_)).to_string(),
        ),
        ("tls_common_name", common_name),
        ("cron_service", service("cron")),
    ] {
        v.insert(k.to_string(), val);
    }
    v
}
