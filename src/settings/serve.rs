//! `provision serve`'s settings.

use std::time::Duration;

use super::{redact_url, Secret, SettingsError, Sources};

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
