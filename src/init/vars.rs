//! The variables of `playbooks/init.yml` and its templates, from the answers, the host's
//! size and the conventions' paths. Secrets are among them; [`SECRET_VARS`] names them so
//! the engine masks them in diffs, logs and output.

use std::collections::BTreeMap;

use super::answers::{Answers, Tls};
use super::tuning::tune;

/// Variables whose values are secrets.
pub const SECRET_VARS: [&str; 2] = ["db_password", "redis_password"];

/// Paths and names from DESIGN.md's conventions.
pub const CONFIG_DIR: &str = "/etc/live-dashboard";
pub const STATE_DIR: &str = "/var/lib/live-dashboard";
pub const LOG_DIR: &str = "/var/log/live-dashboard";
pub const SERVICE_USER: &str = "live-dashboard";
pub const BINARY: &str = "/usr/local/bin/provision";

/// Every variable init's playbook and templates use.
pub fn vars(a: &Answers, cpus: usize, memory_mb: u64, init: &str) -> BTreeMap<String, String> {
    let t = tune(cpus, memory_mb, a.instances);
    let (tls, cert, key) = match &a.tls {
        Tls::Off => ("false", String::new(), String::new()),
        Tls::SelfSigned => (
            "true",
            format!("{CONFIG_DIR}/tls/cert.pem"),
            format!("{CONFIG_DIR}/tls/key.pem"),
        ),
        Tls::Files { cert, key } => ("true", cert.clone(), key.clone()),
    };
    let mut v: BTreeMap<String, String> = [
        ("db_name", a.db_name.clone()),
        ("db_user", a.db_user.clone()),
        ("db_password", a.db_password.expose().to_string()),
        ("redis_password", a.redis_password.expose().to_string()),
        ("redis_port", "6379".into()),
        ("redis_persistence", a.redis_persistence.to_string()),
        // Under systemd (Type=notify with --daemonize no on its command line) and under
        // supervision alike, redis must stay in the foreground of whoever started it;
        // Debian's SysV script is the one launcher that expects it to fork.
        (
            "redis_daemonize",
            if init == "systemd" { "no" } else { "yes" }.into(),
        ),
        ("redis_maxmemory_mb", t.redis_maxmemory_mb.to_string()),
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
        ("tls_cert", cert),
        ("tls_key", key),
        ("config_dir", CONFIG_DIR.into()),
        ("state_dir", STATE_DIR.into()),
        ("log_dir", LOG_DIR.into()),
        ("service_user", SERVICE_USER.into()),
        ("binary", BINARY.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The nginx site's own defaults (rates, bursts, access log, IPv6) where init has no
    // answer of its own.
    for (k, val) in crate::render::nginx_defaults() {
        v.entry(k).or_insert(val);
    }
    v
}
