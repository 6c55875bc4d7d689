//! `provision verify`'s settings: where the stack is (public URL, instances, database,
//! Redis, the `.env`, the service manager), the verify token, the load and its targets.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::config_file::{MixEntry, TargetsSection};
use super::Rate;
use super::{Secret, SettingsError, Sources};

/// One server instance (docs/architecture.md: instance i listens on 127.0.0.1:8000+i).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The address it listens on (127.0.0.1 unless the stack spans several hosts).
    pub host: String,
    pub port: u16,
}

impl Instance {
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
    /// The service name under systemd: the template unit's instance.
    pub fn unit(&self) -> String {
        format!("live-dashboard@{}.service", self.port)
    }
    /// The program name under supervisord (which does not allow `@`-style templates).
    pub fn program(&self) -> String {
        format!("live-dashboard-{}", self.port)
    }
}

/// Who keeps the instances running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceManager {
    Systemd,
    OpenRc,
    Supervisor(PathBuf),
    /// Not known from the config: detected from the host when the check runs.
    Detect,
}

/// The flags of `verify` that can override the other sources.
#[derive(Debug, Default, Clone)]
pub struct VerifyFlags {
    pub url: Option<String>,
    pub remote_only: bool,
    pub wait: Option<Duration>,
    pub no_load: bool,
    pub rate: Option<Rate>,
    pub duration: Option<Duration>,
    pub warmup: Option<Duration>,
    pub concurrency: Option<usize>,
    pub public_address: Option<IpAddr>,
    pub ca_cert: Option<PathBuf>,
    /// Only this host's own checks (a host of several, asked by the controller).
    pub host_only: bool,
}

#[derive(Debug, Clone)]
pub struct LoadSettings {
    pub rate: Rate,
    pub duration: Duration,
    pub warmup: Duration,
    pub concurrency: usize,
    /// The configured mix; `None` for the default dashboard mix.
    pub mix: Option<Vec<MixEntry>>,
}

#[derive(Debug, Clone)]
pub struct VerifySettings {
    /// Run from elsewhere (`--url`): on-host checks are not run.
    pub remote: bool,
    pub remote_only: bool,
    /// The public URL, through nginx, without a trailing slash.
    pub url: String,
    pub instances: Vec<Instance>,
    pub database_url: Option<Secret>,
    pub redis_url: Option<Secret>,
    /// The `.env` the server reads (checked: root's, not world-readable).
    pub env_file: Option<PathBuf>,
    pub token: Option<Secret>,
    pub service: ServiceManager,
    pub wait: Option<Duration>,
    pub load: Option<LoadSettings>,
    pub targets: TargetsSection,
    pub check_timeout: Duration,
    /// nginx's login burst (`nginx.auth_burst`): the rate-limit check sends more than it.
    pub auth_burst: u32,
    /// A non-loopback address of this host, for "refused through the public address".
    pub public_address: Option<IpAddr>,
    /// Certificates to trust besides the system's (`--ca-cert`, or on the host the site's
    /// own `nginx.tls_cert`).
    pub ca_cert: Option<PathBuf>,
    /// On the host under TLS: the site's name and the loopback address to reach it at.
    pub resolve: Option<(String, std::net::SocketAddr)>,
    /// On the host under TLS: nginx's plain-http address, which must redirect to https.
    pub https_redirect_from: Option<String>,
    /// On a host of several: the roles it holds (its checks are those of its parts).
    pub roles: Option<Vec<String>>,
    /// Only the on-host checks: no remote checks, no load.
    pub host_only: bool,
}

impl VerifySettings {
    /// Whether this host holds `role` (a single host holds every one).
    pub fn holds(&self, role: &str) -> bool {
        self.roles
            .as_ref()
            .map_or(true, |roles| roles.iter().any(|r| r == role))
    }
}

impl VerifySettings {
    pub fn resolve(flags: VerifyFlags, src: &Sources) -> Result<Self, SettingsError> {
        let c = &src.config;
        let instances = instances(src)?;
        let site = Site::of(c);
        let remote = flags.url.is_some();
        let on_host_tls = site.tls && !remote && c.verify.url.is_none();
        let url = flags
            .url
            .clone()
            .or_else(|| c.verify.url.clone())
            .unwrap_or_else(|| site.url());
        check_url(&url)?;
        let service = service_manager(src)?;
        let load = load_settings(&flags, src)?;
        let Site {
            tls_name,
            https_port,
            http_port,
            ..
        } = site;
        Ok(VerifySettings {
            remote,
            remote_only: flags.remote_only,
            url: url.trim_end_matches('/').to_string(),
            instances,
            database_url: src.pick_opt(None, "DATABASE_URL", c.database.url.clone())?,
            redis_url: src.pick_opt(None, "REDIS_URL", c.redis.url.clone())?,
            env_file: src.env_file.path.clone(),
            token: src.pick_opt(None, "PROVISION_VERIFY_TOKEN", c.verify.token.clone())?,
            service,
            wait: flags.wait,
            load: (!flags.no_load).then_some(load),
            targets: c.verify.targets.clone(),
            check_timeout: Duration::from_secs(10),
            // The nginx site's default burst when the config names none.
            auth_burst: c.nginx.auth_burst.unwrap_or(5),
            public_address: flags.public_address,
            // On the host, the site's own certificate — where the host holds nginx.
            ca_cert: flags.ca_cert.clone().or_else(|| {
                let site_here = c
                    .deployment
                    .as_ref()
                    .map_or(true, |d| d.roles.iter().any(|r| r == "nginx"));
                (!remote && site_here)
                    .then(|| c.nginx.tls_cert.clone())
                    .flatten()
            }),
            resolve: on_host_tls.then(|| {
                (
                    tls_name,
                    std::net::SocketAddr::from(([127, 0, 0, 1], https_port)),
                )
            }),
            https_redirect_from: on_host_tls.then(|| format!("http://127.0.0.1:{http_port}")),
            roles: c.deployment.as_ref().map(|d| d.roles.clone()),
            host_only: flags.host_only,
        })
    }
}

/// The instances on this host: ports base_port + 1 ..= base_port + instances.
fn instances(src: &Sources) -> Result<Vec<Instance>, SettingsError> {
    let c = &src.config;
    let instances = src.pick(None, "PROVISION_INSTANCES", c.server.instances, 2u16)?;
    let base_port = src.pick(None, "PROVISION_BASE_PORT", c.server.base_port, 8000u16)?;
    if instances == 0 || u32::from(base_port) + u32::from(instances) > 65535 {
        return Err(SettingsError::Invalid {
            source_name: format!(
                "server.instances / server.base_port in {}",
                src.config_name()
            ),
            message: format!("{instances} instances from port {base_port} do not fit in 1..65535"),
        });
    }
    let host = c
        .server
        .host
        .as_deref()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or("127.0.0.1");
    if host.parse::<std::net::IpAddr>().is_err() {
        return Err(SettingsError::Invalid {
            source_name: format!("server.host in {}", src.config_name()),
            message: format!("{host:?} is not an IP address"),
        });
    }
    Ok((1..=instances)
        .map(|i| Instance {
            host: host.to_string(),
            port: base_port + i,
        })
        .collect())
}

/// The site as nginx serves it on this host, from the config.
struct Site {
    tls: bool,
    /// Under TLS the certificate names the site, not 127.0.0.1: on the host, verify speaks
    /// to the site's name and connects to loopback.
    tls_name: String,
    https_port: u16,
    http_port: u16,
}

impl Site {
    fn of(c: &super::ConfigFile) -> Site {
        let tls_name = match c.nginx.server_name.as_deref() {
            Some(n) if n != "_" && !n.is_empty() => {
                n.split_whitespace().next().unwrap_or(n).to_string()
            }
            _ => "localhost".to_string(),
        };
        Site {
            tls: c.nginx.tls_cert.is_some() && c.nginx.tls_key.is_some(),
            tls_name,
            https_port: c.nginx.https_port.unwrap_or(443),
            http_port: c.nginx.http_port.unwrap_or(80),
        }
    }

    /// The URL verify uses when none is given.
    fn url(&self) -> String {
        if self.tls {
            match self.https_port {
                443 => format!("https://{}", self.tls_name),
                p => format!("https://{}:{p}", self.tls_name),
            }
        } else {
            match self.http_port {
                80 => "http://127.0.0.1".to_string(),
                p => format!("http://127.0.0.1:{p}"),
            }
        }
    }
}

/// `--url` / `verify.url`: http or https, a host, no credentials.
fn check_url(url: &str) -> Result<(), SettingsError> {
    let parsed = url::Url::parse(url).map_err(|e| SettingsError::Invalid {
        source_name: "--url / verify.url".into(),
        message: format!("{url:?} is not a URL: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(SettingsError::Invalid {
            source_name: "--url / verify.url".into(),
            message: format!("{url:?}: give http://HOST[:PORT] or https://HOST[:PORT]"),
        });
    }
    if parsed.password().is_some() || !parsed.username().is_empty() {
        return Err(SettingsError::Invalid {
            source_name: "--url / verify.url".into(),
            message: "credentials do not belong in the URL; the verify token comes from the \
                      config (verify.token) or PROVISION_VERIFY_TOKEN"
                .into(),
        });
    }
    Ok(())
}

/// `service.manager` in the config.
fn service_manager(src: &Sources) -> Result<ServiceManager, SettingsError> {
    let c = &src.config;
    Ok(match c.service.manager.as_deref() {
        None | Some("auto") => ServiceManager::Detect,
        Some("systemd") => ServiceManager::Systemd,
        Some("openrc") => ServiceManager::OpenRc,
        Some("supervisor") => ServiceManager::Supervisor(
            c.service
                .supervisor_config
                .clone()
                .unwrap_or_else(|| PathBuf::from("/etc/supervisor/supervisord.conf")),
        ),
        Some(other) => {
            return Err(SettingsError::Invalid {
                source_name: format!("service.manager in {}", src.config_name()),
                message: format!("{other:?}: use systemd, openrc, supervisor or auto"),
            })
        }
    })
}

/// The load: flags, then the environment, then `verify.load` in the config.
fn load_settings(flags: &VerifyFlags, src: &Sources) -> Result<LoadSettings, SettingsError> {
    let c = &src.config;
    let l = &c.verify.load;
    let rate = match flags.rate {
        Some(r) => r,
        None => match std::env::var("PROVISION_VERIFY_RATE")
            .ok()
            .or(l.rate.clone())
        {
            Some(r) => r.parse().map_err(|e: String| SettingsError::Invalid {
                source_name: "verify.load.rate / PROVISION_VERIFY_RATE".into(),
                message: e,
            })?,
            None => Rate::PerSecond(100.0),
        },
    };
    let secs = |flag: Option<Duration>, env: &str, file: Option<u64>, default: u64| {
        Ok::<_, SettingsError>(match flag {
            Some(d) => d,
            None => Duration::from_secs(src.pick(None, env, file, default)?),
        })
    };
    let load = LoadSettings {
        rate,
        duration: secs(
            flags.duration,
            "PROVISION_VERIFY_DURATION_S",
            l.duration_s,
            10,
        )?,
        warmup: secs(flags.warmup, "PROVISION_VERIFY_WARMUP_S", l.warmup_s, 2)?,
        concurrency: src.pick(
            flags.concurrency,
            "PROVISION_VERIFY_CONCURRENCY",
            l.concurrency,
            32,
        )?,
        mix: l.mix.clone(),
    };
    if load.concurrency == 0 || load.duration.is_zero() {
        return Err(SettingsError::Invalid {
            source_name: "the load (--concurrency, --duration)".into(),
            message: "both must be above 0".into(),
        });
    }
    Ok(load)
}
