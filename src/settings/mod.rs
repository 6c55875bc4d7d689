//! Settings: flags, environment, the `.env` file and the config file resolved into one
//! typed value per command. Precedence is owned here and only here:
//! flag > environment variable > `.env` file > config file > default.

mod config_file;
mod env_file;
mod secret;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use config_file::ConfigFile;
pub use env_file::EnvFile;
pub use secret::{mask_all, redact_url, url_has_password, Secret};

/// Default location of the config file (DESIGN.md conventions).
pub const DEFAULT_CONFIG: &str = "/etc/live-dashboard/provision.yaml";
/// Default location of the server environment file.
pub const DEFAULT_ENV_FILE: &str = "/etc/live-dashboard/.env";

/// What is wrong with the settings; every variant names where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("invalid value for {source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
}

/// The two files every command may read, and where they came from.
#[derive(Debug, Default)]
pub struct Sources {
    pub config: ConfigFile,
    pub config_path: Option<PathBuf>,
    pub env_file: EnvFile,
}

impl Sources {
    /// Loads the config file and `.env`. Paths come from the flag, then
    /// `PROVISION_CONFIG` / `PROVISION_ENV_FILE`, then the defaults; a file the user named
    /// must exist, a default one may be absent.
    pub fn load(config: Option<&Path>, env_file: Option<&Path>) -> Result<Self, SettingsError> {
        let (config_path, config_required) =
            explicit_or_default(config, "PROVISION_CONFIG", DEFAULT_CONFIG);
        let (env_path, env_required) =
            explicit_or_default(env_file, "PROVISION_ENV_FILE", DEFAULT_ENV_FILE);
        let (config, config_path) = ConfigFile::load(&config_path, config_required)?;
        let env_file = EnvFile::load(&env_path, env_required)?;
        Ok(Sources {
            config,
            config_path,
            env_file,
        })
    }

    /// Resolves one value: `flag`, else the environment variable `env`, else the `.env`
    /// file's `env`, else `file` (the config file's value, already typed and checked with
    /// its line by the YAML parser), else `default`.
    pub fn pick<T: FromStr>(
        &self,
        flag: Option<T>,
        env: &str,
        file: Option<T>,
        default: T,
    ) -> Result<T, SettingsError>
    where
        T::Err: std::fmt::Display,
    {
        Ok(self.pick_opt(flag, env, file)?.unwrap_or(default))
    }

    /// Like [`Sources::pick`] without a default.
    pub fn pick_opt<T: FromStr>(
        &self,
        flag: Option<T>,
        env: &str,
        file: Option<T>,
    ) -> Result<Option<T>, SettingsError>
    where
        T::Err: std::fmt::Display,
    {
        if flag.is_some() {
            return Ok(flag);
        }
        if let Ok(value) = std::env::var(env) {
            return parse_named(&value, &format!("environment variable {env}")).map(Some);
        }
        if let Some((value, line)) = self.env_file.get(env) {
            let path = self.env_file.path.as_deref().unwrap_or(Path::new(".env"));
            return parse_named(value, &format!("{env} at {}:{line}", path.display())).map(Some);
        }
        Ok(file)
    }

    /// Where the config file's values came from, for messages.
    pub fn config_name(&self) -> String {
        self.config_path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(no config file)".into())
    }
}

fn explicit_or_default(flag: Option<&Path>, env: &str, default: &str) -> (PathBuf, bool) {
    if let Some(p) = flag {
        return (p.to_path_buf(), true);
    }
    if let Ok(p) = std::env::var(env) {
        return (PathBuf::from(p), true);
    }
    (PathBuf::from(default), false)
}

fn parse_named<T: FromStr>(value: &str, name: &str) -> Result<T, SettingsError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| SettingsError::Invalid {
            source_name: name.to_string(),
            message: format!("{e} (got {:?})", mask_if_url(value)),
        })
}

fn mask_if_url(value: &str) -> String {
    if value.contains("://") {
        redact_url(value)
    } else {
        value.to_string()
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

/// Pool size default: a few connections per core. More only queue inside PostgreSQL: on
/// 2 cores the benchmark's mix had a lower p99 with 4–8 connections than with 16.
pub fn default_pool_size(cores: usize) -> u32 {
    (4 * cores).clamp(4, 32) as u32
}

/// Everything `provision serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen: std::net::SocketAddr,
    pub database_url: Secret,
    pub redis_url: Secret,
    pub pool_size: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
    pub request_timeout: Duration,
    pub redis_timeout: Duration,
    pub cache_prefix: String,
    pub cache_ttl: Duration,
    pub workers: usize,
    /// How long start-up waits for PostgreSQL before giving up.
    pub db_wait: Duration,
}

/// The flags of `serve` that can override the other sources.
#[derive(Debug, Default, Clone)]
pub struct ServeFlags {
    pub listen: Option<std::net::SocketAddr>,
    pub database_url: Option<Secret>,
    pub redis_url: Option<Secret>,
    pub pool_size: Option<u32>,
    pub workers: Option<usize>,
}

impl ServeSettings {
    pub fn resolve(flags: ServeFlags, src: &Sources) -> Result<Self, SettingsError> {
        let c = &src.config;
        let listen = src.pick(
            flags.listen,
            "PROVISION_LISTEN",
            c.server
                .listen
                .as_deref()
                .map(|s| {
                    s.parse().map_err(|e| SettingsError::Invalid {
                        source_name: format!("server.listen in {}", src.config_name()),
                        message: format!("{e}"),
                    })
                })
                .transpose()?,
            "127.0.0.1:8000".parse().expect("valid default"),
        )?;
        let database_url = src
            .pick_opt(flags.database_url, "DATABASE_URL", c.database.url.clone())?
            .ok_or_else(|| SettingsError::Invalid {
                source_name: "DATABASE_URL".into(),
                message: "not set: pass --database-url, set DATABASE_URL, or put it in the .env \
                          (--env-file) or the config file (database.url)"
                    .into(),
            })?;
        let redis_url = src.pick(
            flags.redis_url,
            "REDIS_URL",
            c.redis.url.clone(),
            Secret::new("redis://127.0.0.1:6379/0"),
        )?;
        let ms = |v: u64| Duration::from_millis(v);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let settings = ServeSettings {
            listen,
            database_url,
            redis_url,
            pool_size: src.pick(
                flags.pool_size,
                "PROVISION_DB_POOL_SIZE",
                c.database.pool_size,
                default_pool_size(cores),
            )?,
            acquire_timeout: ms(src.pick(
                None,
                "PROVISION_DB_ACQUIRE_TIMEOUT_MS",
                c.database.acquire_timeout_ms,
                2_000,
            )?),
            statement_timeout: ms(src.pick(
                None,
                "PROVISION_DB_STATEMENT_TIMEOUT_MS",
                c.database.statement_timeout_ms,
                5_000,
            )?),
            request_timeout: ms(src.pick(
                None,
                "PROVISION_REQUEST_TIMEOUT_MS",
                c.server.request_timeout_ms,
                10_000,
            )?),
            redis_timeout: ms(src.pick(
                None,
                "PROVISION_REDIS_TIMEOUT_MS",
                c.redis.timeout_ms,
                100,
            )?),
            cache_prefix: src.pick(
                None,
                "PROVISION_CACHE_PREFIX",
                c.redis.prefix.clone(),
                "ld:".to_string(),
            )?,
            cache_ttl: Duration::from_secs(src.pick(
                None,
                "PROVISION_CACHE_TTL_S",
                c.redis.cache_ttl_s,
                10,
            )?),
            workers: src.pick(flags.workers, "PROVISION_WORKERS", c.server.workers, cores)?,
            db_wait: Duration::from_secs(src.pick(None, "PROVISION_DB_WAIT_S", None, 30)?),
        };
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        let bad = |name: &str, message: &str| {
            Err(SettingsError::Invalid {
                source_name: name.into(),
                message: message.into(),
            })
        };
        if self.pool_size == 0 {
            return bad("pool size (PROVISION_DB_POOL_SIZE)", "must be at least 1");
        }
        if self.workers == 0 {
            return bad("workers (PROVISION_WORKERS)", "must be at least 1");
        }
        if !self.database_url.expose().starts_with("postgres") {
            return bad(
                "DATABASE_URL",
                &format!(
                    "{} is not a postgres:// or postgresql:// URL",
                    redact_url(self.database_url.expose())
                ),
            );
        }
        if !self.redis_url.expose().starts_with("redis") {
            return bad(
                "REDIS_URL",
                &format!(
                    "{} is not a redis:// URL",
                    redact_url(self.redis_url.expose())
                ),
            );
        }
        Ok(())
    }
}
