//! `provision serve`'s settings.

use std::time::Duration;

use super::{redact_url, Secret, SettingsError, Sources};

/// Pool size default: a few connections per core. More only queue inside PostgreSQL: on
/// 2 cores the benchmark's mix had a lower p99 with 4–8 connections than with 16.
pub fn default_pool_size(cores: usize) -> u32 {
    (4 * cores).clamp(4, MAX_POOL_SIZE as usize) as u32
}

/// The largest pool [`default_pool_size`] gives, whatever the host.
pub const MAX_POOL_SIZE: u32 = 32;

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
    /// The bound on how old an answer from an instance's own cache may be (zero: off).
    pub local_cache_bound: Duration,
    /// How long an instance keeps what it read at most: the safety net for writes made
    /// outside the server (psql, a migration), which announce nothing.
    pub local_cache_max_age: Duration,
    /// Streaming replicas for reads, and how far behind the primary one may be and
    /// still serve them.
    pub replica_urls: Vec<Secret>,
    pub max_replica_lag: Duration,
    pub workers: usize,
    /// How long start-up waits for PostgreSQL before giving up.
    pub db_wait: Duration,
    /// What one client may cost the server.
    pub limits: Limits,
}

/// Bounds on what anonymous clients can make the server do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Password hashes computed at once (each takes a core for a while).
    pub hash_concurrency: usize,
    /// Failed logins per username, and per client address (IPv6: per /64), within
    /// `login_window`, before further attempts are refused with 429 unchecked.
    pub login_failures_per_user: u64,
    pub login_failures_per_address: u64,
    pub login_window: Duration,
    /// WebSocket clients per instance (more are refused with 503).
    pub ws_max_clients: usize,
    /// Besides loopback, the peers whose `X-Real-IP` names the client: the load
    /// balancers of a deployment of several hosts (`PROVISION_TRUSTED_PROXIES`, addresses
    /// separated by spaces or commas).
    pub trusted_proxies: Proxies,
    /// How long one send to a WebSocket client may take before the client is dropped.
    pub ws_send_timeout: Duration,
    /// The largest request body, in bytes (`PROVISION_MAX_BODY_KB`: init renders
    /// `nginx.max_body_kb`, which nginx's client_max_body_size also follows).
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            login_failures_per_user: 10,
            login_failures_per_address: 50,
            login_window: Duration::from_secs(900),
            ws_max_clients: 4096,
            trusted_proxies: Proxies::default(),
            ws_send_timeout: Duration::from_secs(10),
            max_body: 1024 * 1024,
        }
    }
}

impl Limits {
    /// The defaults, each overridable by its `PROVISION_*` variable.
    fn resolve(src: &Sources) -> Result<Limits, SettingsError> {
        let d = Limits::default();
        Ok(Limits {
            hash_concurrency: src.pick(
                None,
                "PROVISION_HASH_CONCURRENCY",
                None,
                d.hash_concurrency,
            )?,
            login_failures_per_user: src.pick(
                None,
                "PROVISION_LOGIN_FAILURES_PER_USER",
                None,
                d.login_failures_per_user,
            )?,
            login_failures_per_address: src.pick(
                None,
                "PROVISION_LOGIN_FAILURES_PER_ADDRESS",
                None,
                d.login_failures_per_address,
            )?,
            login_window: Duration::from_secs(src.pick(
                None,
                "PROVISION_LOGIN_WINDOW_S",
                None,
                d.login_window.as_secs(),
            )?),
            ws_max_clients: src.pick(None, "PROVISION_WS_MAX_CLIENTS", None, d.ws_max_clients)?,
            trusted_proxies: src.pick(
                None,
                "PROVISION_TRUSTED_PROXIES",
                None,
                d.trusted_proxies,
            )?,
            ws_send_timeout: Duration::from_millis(src.pick(
                None,
                "PROVISION_WS_SEND_TIMEOUT_MS",
                None,
                d.ws_send_timeout.as_millis() as u64,
            )?),
            max_body: src.pick(None, "PROVISION_MAX_BODY_KB", None, d.max_body / 1024)? * 1024,
        })
    }
}

/// Addresses a list setting names (spaces or commas between them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies(pub Vec<std::net::IpAddr>);

impl std::str::FromStr for Proxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .map(|w| w.parse().map_err(|_| format!("{w:?} is not an IP address")))
            .collect::<Result<Vec<_>, _>>()
            .map(Proxies)
    }
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
            local_cache_bound: ms(src.pick(
                None,
                "PROVISION_LOCAL_CACHE_BOUND_MS",
                c.server.local_cache_bound_ms,
                1_000,
            )?),
            local_cache_max_age: Duration::from_secs(src.pick(
                None,
                "PROVISION_LOCAL_CACHE_MAX_AGE_S",
                c.server.local_cache_max_age_s,
                60,
            )?),
            replica_urls: match src.pick_opt::<Secret>(None, "PROVISION_DB_REPLICA_URLS", None)? {
                Some(list) => list
                    .expose()
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(Secret::new)
                    .collect(),
                None => c.database.replica_urls.clone().unwrap_or_default(),
            },
            max_replica_lag: ms(src.pick(
                None,
                "PROVISION_DB_MAX_REPLICA_LAG_MS",
                c.database.max_replica_lag_ms,
                1_000,
            )?),
            workers: src.pick(flags.workers, "PROVISION_WORKERS", c.server.workers, cores)?,
            db_wait: Duration::from_secs(src.pick(None, "PROVISION_DB_WAIT_S", None, 30)?),
            limits: Limits::resolve(src)?,
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
        if self.limits.hash_concurrency == 0 {
            return bad("PROVISION_HASH_CONCURRENCY", "must be at least 1");
        }
        // Deadlines are computed from these: past a day they are typos, and past about
        // 2^63 s they would overflow.
        let day = Duration::from_secs(86_400);
        for (name, d) in [
            (
                "PROVISION_DB_ACQUIRE_TIMEOUT_MS (database.acquire_timeout_ms)",
                self.acquire_timeout,
            ),
            (
                "PROVISION_DB_STATEMENT_TIMEOUT_MS (database.statement_timeout_ms)",
                self.statement_timeout,
            ),
            (
                "PROVISION_REQUEST_TIMEOUT_MS (server.request_timeout_ms)",
                self.request_timeout,
            ),
            (
                "PROVISION_REDIS_TIMEOUT_MS (redis.timeout_ms)",
                self.redis_timeout,
            ),
            ("PROVISION_CACHE_TTL_S (redis.cache_ttl_s)", self.cache_ttl),
            (
                "PROVISION_LOCAL_CACHE_BOUND_MS (server.local_cache_bound_ms)",
                self.local_cache_bound,
            ),
            (
                "PROVISION_LOCAL_CACHE_MAX_AGE_S (server.local_cache_max_age_s)",
                self.local_cache_max_age,
            ),
            (
                "PROVISION_DB_MAX_REPLICA_LAG_MS (database.max_replica_lag_ms)",
                self.max_replica_lag,
            ),
            ("PROVISION_DB_WAIT_S", self.db_wait),
            ("PROVISION_LOGIN_WINDOW_S", self.limits.login_window),
            ("PROVISION_WS_SEND_TIMEOUT_MS", self.limits.ws_send_timeout),
        ] {
            if d > day {
                return bad(name, &format!("{} s is more than a day", d.as_secs()));
            }
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
        for url in &self.replica_urls {
            if !url.expose().starts_with("postgres") {
                return bad(
                    "PROVISION_DB_REPLICA_URLS (database.replica_urls)",
                    &format!(
                        "{} is not a postgres:// or postgresql:// URL",
                        redact_url(url.expose())
                    ),
                );
            }
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

#[cfg(test)]
mod tests {
    use super::Proxies;

    #[test]
    fn trusted_proxies_are_addresses_separated_by_spaces_or_commas() {
        let p: Proxies = "192.0.2.30, 192.0.2.31 2001:db8::30".parse().unwrap();
        assert_eq!(p.0.len(), 3);
        assert_eq!(p.0[2].to_string(), "2001:db8::30");
        assert_eq!("".parse::<Proxies>().unwrap(), Proxies::default());
        let e = "192.0.2.30,lb1".parse::<Proxies>().unwrap_err();
        assert_eq!(e, "\"lb1\" is not an IP address");
    }
}
