//! What `init` decides for a host: names, ports, instances, TLS and the generated secrets.
//! Defaults are docs/architecture.md's conventions; init saves them in the config file so a re-run
//! asks nothing and changes nothing.

use crate::settings::Secret;

/// How nginx serves TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    Off,
    /// A certificate and key init makes (openssl), kept under the config directory.
    SelfSigned,
    /// Files the user gives.
    Files {
        cert: String,
        key: String,
    },
}

/// What one client address may cost the site (`nginx.*` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteLimits {
    /// nginx rates: `N r/s` or `N r/m`, written `100r/m`.
    pub api_rate: String,
    pub api_burst: u32,
    pub auth_rate: String,
    pub auth_burst: u32,
    pub ws_per_address: u32,
    /// Loopback is exempt from the API's rate (so verify can load-test from the host).
    pub exempt_loopback: bool,
    /// The largest request body, in KiB: nginx's client_max_body_size and the server's.
    pub max_body_kb: u32,
}

impl Default for SiteLimits {
    /// The nginx site's own defaults (`render::nginx_defaults`), one source for both.
    fn default() -> Self {
        let d = crate::render::nginx_defaults();
        let number = |k: &str| d[k].parse().expect("nginx_defaults holds numbers here");
        SiteLimits {
            api_rate: d["api_rate"].clone(),
            api_burst: number("api_burst"),
            auth_rate: d["auth_rate"].clone(),
            auth_burst: number("auth_burst"),
            ws_per_address: number("ws_per_address"),
            exempt_loopback: d["exempt_loopback"] == "true",
            max_body_kb: number("max_body_kb"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Answers {
    pub db_name: String,
    pub db_user: String,
    pub db_password: Secret,
    pub redis_password: Secret,
    pub instances: u32,
    pub base_port: u16,
    /// nginx's `server_name`; `_` for any.
    pub domain: String,
    pub tls: Tls,
    pub http_port: u16,
    pub https_port: u16,
    pub redis_persistence: bool,
    /// The instances' log files under supervisord: rotated at this size (MB), this many
    /// kept (journald keeps them under systemd).
    pub log_max_mb: u32,
    pub log_keep: u32,
    pub limits: SiteLimits,
    /// Streaming replicas the instances read from (`database.replica_urls`), and how far
    /// behind the primary one may be (`database.max_replica_lag_ms`).
    pub replica_urls: Vec<Secret>,
    pub max_replica_lag_ms: u64,
}

/// A generated password: 40 alphanumeric characters (safe in URLs and EnvironmentFile=).
pub fn generate_password() -> Secret {
    use rand::distributions::{Alphanumeric, DistString};
    Secret::new(Alphanumeric.sample_string(&mut rand::rngs::OsRng, 40))
}

impl Answers {
    /// The conventions' defaults, with fresh passwords.
    pub fn defaults() -> Self {
        Answers {
            db_name: "live_validation_dashboard".into(),
            db_user: "dashboard_user".into(),
            db_password: generate_password(),
            redis_password: generate_password(),
            instances: 2,
            base_port: 8000,
            domain: "_".into(),
            tls: Tls::Off,
            http_port: 80,
            https_port: 443,
            redis_persistence: false,
            // supervisord's own defaults.
            log_max_mb: 50,
            log_keep: 10,
            limits: SiteLimits::default(),
            replica_urls: Vec::new(),
            max_replica_lag_ms: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_alphanumeric_and_fresh() {
        let a = generate_password();
        assert_eq!(a.expose().len(), 40);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.expose(), generate_password().expose());
    }
}
