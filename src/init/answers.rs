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
    /// A certificate from an ACME server (Let's Encrypt by default) that certbot obtains
    /// through nginx (webroot) and renews; kept where the self-signed one would be.
    Acme(Acme),
}

/// Where and how the ACME certificate is asked for (`nginx.acme_*` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acme {
    /// The account's e-mail for expiry notices; none: registered without one.
    pub email: Option<String>,
    /// The ACME directory URL.
    pub directory: String,
    /// A CA to trust for the ACME server itself (a private one: step-ca, pebble).
    pub ca_cert: Option<String>,
}

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

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

/// The scheduled backups (`backups.*` in the config): a daily `provision backup
/// --scheduled` at `at` (the host's local time), pruned to the newest of each of the last
/// `keep_daily` days and `keep_weekly` weeks that have one (restic's `--keep-daily` and
/// `--keep-weekly`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPolicy {
    pub scheduled: bool,
    /// `HH:MM`.
    pub at: String,
    pub keep_daily: u32,
    pub keep_weekly: u32,
}

impl Default for BackupPolicy {
    fn default() -> Self {
        BackupPolicy {
            scheduled: true,
            at: "03:30".into(),
            keep_daily: 7,
            keep_weekly: 4,
        }
    }
}

impl BackupPolicy {
    /// The config file's `backups` section, each absent key at its default.
    pub fn from_config(c: &crate::settings::ConfigFile) -> Self {
        let d = BackupPolicy::default();
        let b = &c.backups;
        BackupPolicy {
            scheduled: b.scheduled.unwrap_or(d.scheduled),
            at: b.at.clone().unwrap_or(d.at),
            keep_daily: b.keep_daily.unwrap_or(d.keep_daily),
            keep_weekly: b.keep_weekly.unwrap_or(d.keep_weekly),
        }
    }

    /// `at` as (hour, minute) when it is a valid `HH:MM`.
    pub fn hour_minute(&self) -> Option<(u32, u32)> {
        let (h, m) = self.at.split_once(':')?;
        let ok = |s: &str, max: u32| {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
                .filter(|n| *n <= max)
        };
        Some((ok(h, 23)?, ok(m, 59)?))
    }
}

/// Prometheus and its exporters on this host (`monitoring` in the config, `--monitoring`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    pub enabled: bool,
    pub scrape_interval_s: u32,
    pub alert_after_s: u32,
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            enabled: false,
            scrape_interval_s: 15,
            alert_after_s: 60,
        }
    }
}

impl Monitoring {
    /// The config file's `monitoring` (a switch or a section), absent keys at their defaults.
    pub fn from_config(c: &crate::settings::ConfigFile) -> Self {
        use crate::settings::MonitoringSetting;
        let d = Monitoring::default();
        match &c.monitoring {
            None => d,
            Some(MonitoringSetting::On(on)) => Monitoring { enabled: *on, ..d },
            Some(MonitoringSetting::Section(s)) => Monitoring {
                enabled: s.enabled.unwrap_or(true),
                scrape_interval_s: s.scrape_interval_s.unwrap_or(d.scrape_interval_s),
                alert_after_s: s.alert_after_s.unwrap_or(d.alert_after_s),
            },
        }
    }
}

/// What the config file says for verify beyond its token (kept as it is).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyKept {
    pub url: Option<String>,
    pub load: crate::settings::LoadSection,
    pub targets: crate::settings::TargetsSection,
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
    pub backups: BackupPolicy,
    pub monitoring: Monitoring,
    /// verify's own settings (`verify.url`, `verify.load`, `verify.targets`): init does not
    /// use them but keeps them, as given, when it writes the config back.
    pub verify: VerifyKept,
    /// The Redis exporter's password (its own Redis user, allowed INFO and little else).
    pub monitor_password: Secret,
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
            backups: BackupPolicy::default(),
            monitoring: Monitoring::default(),
            verify: VerifyKept::default(),
            monitor_password: generate_password(),
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

    #[test]
    fn a_backup_time_is_hh_mm() {
        let at = |s: &str| {
            BackupPolicy {
                at: s.into(),
                ..BackupPolicy::default()
            }
            .hour_minute()
        };
        assert_eq!(at("03:30"), Some((3, 30)));
        assert_eq!(at("23:59"), Some((23, 59)));
        for bad in [
            "24:00", "3:30", "03:60", "03:3", "0330", "03:30\n", "+3:30", "",
        ] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
    }
}
