//! The YAML config file (`/etc/live-dashboard/provision.yaml` by default): the source of
//! truth that `init` writes and every command reads. Unknown keys are errors with a line.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Secret, SettingsError};

/// The parts of the config file the commands read so far.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub redis: RedisSection,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub nginx: NginxSection,
    #[serde(default)]
    pub service: ServiceSection,
    #[serde(default)]
    pub verify: VerifySection,
    #[serde(default)]
    pub init: InitSection,
    #[serde(default)]
    pub backups: BackupsSection,
    /// Prometheus and its exporters: `monitoring: true`, or a section.
    pub monitoring: Option<MonitoringSetting>,
    /// The inventory file (several hosts); relative to this file's directory.
    pub inventory: Option<PathBuf>,
    /// On a host of a deployment of several: which one it is and what it holds.
    pub deployment: Option<DeploymentSection>,
}

/// This host's place in a deployment of several hosts (init writes it there).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSection {
    pub host: String,
    /// postgres, redis, app, nginx.
    pub roles: Vec<String>,
    /// Whether Prometheus runs here (monitoring across hosts: the first nginx host).
    #[serde(default)]
    pub prometheus: bool,
}

/// What `init` decided and generated, kept so a re-run asks nothing and changes nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitSection {
    pub db_name: Option<String>,
    pub db_user: Option<String>,
    pub db_password: Option<Secret>,
    pub redis_password: Option<Secret>,
    /// `off`, `self-signed`, or `files` (nginx.tls_cert and nginx.tls_key).
    pub tls: Option<String>,
    pub redis_persistence: Option<bool>,
    pub admin_user: Option<String>,
    pub admin_password: Option<Secret>,
    /// The Redis user Prometheus' Redis exporter logs in as (monitoring).
    pub monitor_password: Option<Secret>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    pub url: Option<Secret>,
    pub pool_size: Option<u32>,
    pub acquire_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    /// Streaming replicas' URLs: reads go to them while they are fresh (`restarts.rs`).
    pub replica_urls: Option<Vec<Secret>>,
    pub max_replica_lag_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSection {
    pub url: Option<Secret>,
    pub timeout_ms: Option<u64>,
    pub prefix: Option<String>,
    pub cache_ttl_s: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub listen: Option<String>,
    pub request_timeout_ms: Option<u64>,
    pub local_cache_bound_ms: Option<u64>,
    pub local_cache_max_age_s: Option<u64>,
    pub workers: Option<usize>,
    /// How many instances run (instance i listens on HOST:base_port+i).
    pub instances: Option<u16>,
    pub base_port: Option<u16>,
    /// The address the instances listen on: 127.0.0.1, or an app host's private address
    /// when the stack spans several hosts.
    pub host: Option<String>,
}

/// The nginx site in front of the instances.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NginxSection {
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    pub server_name: Option<String>,
    /// Certificate and key files; TLS is on when both are set.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// What one client address may cost: nginx's request rates (`100r/m`, `5r/s`) and
    /// bursts for the API and for logins, WebSockets at once, whether loopback is exempt
    /// from the API's rate, and the largest request body (nginx and the server alike).
    pub api_rate: Option<String>,
    pub api_burst: Option<u32>,
    pub auth_rate: Option<String>,
    pub auth_burst: Option<u32>,
    pub ws_per_address: Option<u32>,
    pub exempt_loopback: Option<bool>,
    pub max_body_kb: Option<u32>,
    /// `init.tls: acme`: the account's e-mail, the ACME directory (Let's Encrypt's by
    /// default) and a CA to trust for a private ACME server.
    pub acme_email: Option<String>,
    pub acme_directory: Option<String>,
    pub acme_ca_cert: Option<PathBuf>,
}

/// The scheduled backups on the database's host (a systemd timer, or cron where no init
/// system runs): when, and how many of them are kept.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupsSection {
    /// Whether a backup is taken every day.
    pub scheduled: Option<bool>,
    /// When, in the host's local time: `HH:MM`.
    pub at: Option<String>,
    /// The newest scheduled backup of each of this many days (that have one) is kept...
    pub keep_daily: Option<u32>,
    /// ...and of each of this many weeks; every other scheduled backup is pruned.
    pub keep_weekly: Option<u32>,
}

/// `monitoring: true` (or false), or the section with its intervals.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MonitoringSetting {
    On(bool),
    Section(MonitoringSection),
}

/// Prometheus on this host, with the node, PostgreSQL, Redis and nginx exporters, all on
/// loopback, and the dashboard's alert rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSection {
    pub enabled: Option<bool>,
    /// How often Prometheus scrapes and evaluates the rules.
    pub scrape_interval_s: Option<u32>,
    /// How long a condition holds before its alert fires.
    pub alert_after_s: Option<u32>,
}

/// How the instances are supervised.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    /// `systemd`, `openrc`, `supervisor`, or absent to detect.
    pub manager: Option<String>,
    /// supervisord's configuration, when the manager is supervisor.
    pub supervisor_config: Option<PathBuf>,
    /// Where supervisord writes the instances' logs: each file rotates at this size (MB),
    /// and this many rotated files are kept.
    pub log_max_mb: Option<u32>,
    pub log_keep: Option<u32>,
}

/// `provision verify`: where to look, its token, the load and the targets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySection {
    /// The public URL (through nginx); derived from the nginx section when absent.
    pub url: Option<String>,
    /// A bearer token for the write checks (init creates a dedicated one).
    pub token: Option<Secret>,
    #[serde(default)]
    pub load: LoadSection,
    #[serde(default)]
    pub targets: TargetsSection,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSection {
    /// Requests per second, `N/min`, or `max`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// The route mix; the default is the dashboard's reads (plus writes with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mix: Option<Vec<MixEntry>>,
}

impl LoadSection {
    pub fn is_empty(&self) -> bool {
        *self == LoadSection::default()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MixEntry {
    #[serde(default = "get")]
    pub method: String,
    pub path: String,
    #[serde(default = "one")]
    pub weight: u32,
    /// A JSON body (sent with the verify token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

fn get() -> String {
    "GET".into()
}
fn one() -> u32 {
    1
}

/// Load targets; each absent one keeps its default (the original plan's).
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_requests_per_minute: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_hit_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pool_waits: Option<u64>,
}

impl TargetsSection {
    pub fn is_empty(&self) -> bool {
        *self == TargetsSection::default()
    }
}

impl ConfigFile {
    /// Reads `path`; a missing file is an error only when `required` (the user named it).
    pub fn load(path: &Path, required: bool) -> Result<(Self, Option<PathBuf>), SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok((ConfigFile::default(), None))
            }
            // The default file is root's (0600, it holds init's secrets); the service user
            // reads the .env instead. Not being allowed to read a file nobody named is not
            // an error.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && !required => {
                tracing::debug!(
                    "{} is not readable by this user; not using it",
                    path.display()
                );
                return Ok((ConfigFile::default(), None));
            }
            Err(e) => {
                return Err(SettingsError::Io {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })
            }
        };
        let file = Self::parse(&text).map_err(|(line, message)| SettingsError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        })?;
        Ok((file, Some(path.to_path_buf())))
    }

    /// Parses YAML text; on error returns the 1-based line and serde's message.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        if text.trim().is_empty() {
            return Ok(ConfigFile::default());
        }
        serde_yaml_ng::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            (line, e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections() {
        let c = ConfigFile::parse("server:\n  listen: 127.0.0.1:9000\ndatabase:\n  pool_size: 7\n")
            .unwrap();
        assert_eq!(c.server.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(c.database.pool_size, Some(7));
    }

    #[test]
    fn monitoring_is_a_switch_or_a_section() {
        let c = ConfigFile::parse("monitoring: true\n").unwrap();
        assert!(matches!(c.monitoring, Some(MonitoringSetting::On(true))));
        let c =
            ConfigFile::parse("monitoring:\n  enabled: true\n  scrape_interval_s: 1\n").unwrap();
        let Some(MonitoringSetting::Section(m)) = c.monitoring else {
            panic!("a section")
        };
        assert_eq!((m.enabled, m.scrape_interval_s), (Some(true), Some(1)));
        assert!(ConfigFile::parse("monitoring:\n  enabld: true\n").is_err());
    }

    #[test]
    fn unknown_key_names_its_line() {
        let (line, msg) = ConfigFile::parse("server:\n  listen: x\n  lisen: y\n").unwrap_err();
        assert_eq!(line, 3);
        assert!(msg.contains("lisen"), "{msg}");
    }
}
