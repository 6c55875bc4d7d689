//! `Cache`: Redis cache-aside shared by every instance, plus the Redis half of sessions.
//!
//! Cached bodies live under `PREFIX c:GEN:NAME`, where `GEN` is a generation counter that
//! every committed write bumps (`INCR PREFIX gen`) before it answers. A reader fetches
//! the generation and the entry in one script call, so after a write through any instance
//! the next read on any instance is a miss that sees the write; a reader that computed
//! from older data can only store under an older generation nobody reads again.
//!
//! Every Redis call is bounded by a short timeout and guarded by [`Breaker`]: while Redis
//! is down requests go straight to PostgreSQL (`X-Cache: bypass`) and one background probe
//! waits for Redis to return.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;

use super::breaker::Breaker;
use super::metrics::Metrics;
use super::single_flight::SingleFlight;
use crate::settings::{redact_url, ServeSettings};

/// How a cached route was answered (the `X-Cache` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Bypass,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
        }
    }
}

const READ_SCRIPT: &str = r#"
local g = redis.call('GET', KEYS[1]) or '0'
return {g, redis.call('GET', ARGV[1] .. g .. ':' .. ARGV[2])}
"#;

/// One more failure under KEYS[1]; the first starts its window of ARGV[1] seconds.
const COUNT_SCRIPT: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"#;

pub struct Cache {
    client: Option<redis::Client>,
    conn: RwLock<Option<ConnectionManager>>,
    breaker: Breaker,
    prefix: String,
    timeout: Duration,
    ttl: Duration,
    script: redis::Script,
    count_script: redis::Script,
    metrics: Arc<Metrics>,
    redacted_url: String,
    flights: SingleFlight,
}

impl Cache {
    /// Connects to Redis if it answers within the timeout; otherwise starts with the
    /// breaker open and a probe waiting for Redis. Never fails: Redis is optional.
    pub async fn start(settings: &ServeSettings, metrics: Arc<Metrics>) -> Arc<Cache> {
        let redacted_url = redact_url(settings.redis_url.expose());
        let client = match redis::Client::open(settings.redis_url.expose()) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(redis = %redacted_url, error = %e, "invalid REDIS_URL; caching is off");
                None
            }
        };
        let cache = Arc::new(Cache {
            client,
            conn: RwLock::new(None),
            breaker: Breaker::default(),
            prefix: settings.cache_prefix.clone(),
            timeout: settings.redis_timeout,
            ttl: settings.cache_ttl,
            script: redis::Script::new(READ_SCRIPT),
            count_script: redis::Script::new(COUNT_SCRIPT),
            metrics,
            redacted_url,
            flights: SingleFlight::default(),
        });
        match cache.connect().await {
            Ok(()) => tracing::info!(redis = %cache.redacted_url, "redis connected"),
            Err(e) => cache.fail(&e),
        }
        cache
    }

    async fn connect(&self) -> Result<(), String> {
        let client = self.client.clone().ok_or("invalid REDIS_URL")?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout * 10)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            self.timeout * 10,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
        *self.conn.write().expect("cache lock") = Some(conn);
        Ok(())
    }

    fn conn(&self) -> Option<ConnectionManager> {
        if self.breaker.is_open() {
            return None;
        }
        self.conn.read().expect("cache lock").clone()
    }

    /// Runs one Redis call with the timeout; a failure opens the breaker.
    async fn call<T, F>(self: &Arc<Self>, f: F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                self.fail(&e.to_string());
                None
            }
            Err(_) => {
                self.fail("no answer within the timeout");
                None
            }
        }
    }

    /// Opens the breaker; the caller that opened it logs once and starts the probe.
    fn fail(self: &Arc<Self>, why: &str) {
        if self.breaker.trip() {
            tracing::warn!(redis = %self.redacted_url, error = why,
                "redis unavailable: serving from PostgreSQL without cache until it returns");
            let me = Arc::clone(self);
            tokio::spawn(async move { me.probe().await });
        }
    }

    async fn probe(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let existing = self.conn.read().expect("cache lock").clone();
            let mut conn = match existing {
                Some(c) => c,
                None => {
                    if self.connect().await.is_err() {
                        continue;
                    }
                    match self.conn.read().expect("cache lock").clone() {
                        Some(c) => c,
                        None => continue,
                    }
                }
            };
            let ping = tokio::time::timeout(
                self.timeout,
                redis::cmd("PING").query_async::<String>(&mut conn),
            )
            .await;
            if let Ok(Ok(_)) = ping {
                // Anything cached before the outage may miss writes made during it.
                let bump =
                    tokio::time::timeout(self.timeout, conn.incr::<_, _, i64>(self.gen_key(), 1))
                        .await;
                if let Ok(Ok(_)) = bump {
                    self.breaker.close();
                    tracing::info!(redis = %self.redacted_url, "redis is back: caching resumed");
                    return;
                }
            }
        }
    }

    fn gen_key(&self) -> String {
        format!("{}gen", self.prefix)
    }

    /// Whether Redis answers a PING now (for `/ready`); false at once while the breaker is open.
    pub async fn ping(self: &Arc<Self>) -> bool {
        let Some(mut conn) = self.conn() else {
            return false;
        };
        self.call(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .is_some()
    }

    /// The cached body named `name`, or `compute`'s, stored for the next reader.
    pub async fn get_or_compute<F>(
        self: &Arc<Self>,
        name: &str,
        compute: F,
    ) -> Result<(String, CacheStatus), super::error::ApiError>
    where
        F: std::future::Future<Output = Result<String, super::error::ApiError>>,
    {
        let Some(mut conn) = self.conn() else {
            self.metrics.cache_bypass.inc();
            return compute.await.map(|b| (b, CacheStatus::Bypass));
        };
        let entry_prefix = format!("{}c:", self.prefix);
        let Some((gen, cached)) = self.read(&mut conn, &entry_prefix, name).await else {
            self.metrics.cache_bypass.inc();
            return compute.await.map(|b| (b, CacheStatus::Bypass));
        };
        if let Some(body) = cached {
            self.metrics.cache_hits.inc();
            return Ok((body, CacheStatus::Hit));
        }
        let key = format!("{entry_prefix}{gen}:{name}");
        let (_flight, waited) = self.flights.enter(&key).await;
        if waited {
            // Another request of this instance computed it while this one waited.
            if let Some((g, Some(body))) = self.read(&mut conn, &entry_prefix, name).await {
                if g == gen {
                    self.metrics.cache_hits.inc();
                    return Ok((body, CacheStatus::Hit));
                }
            }
        }
        self.metrics.cache_misses.inc();
        let body = compute.await?;
        let ttl = self.ttl.as_secs().max(1);
        // Stored before answering, so the next reader after this one is a hit.
        self.call(conn.set_ex::<_, _, ()>(key, &body, ttl)).await;
        Ok((body, CacheStatus::Miss))
    }

    /// The current generation and the entry `name` under it, in one round trip.
    async fn read(
        self: &Arc<Self>,
        conn: &mut ConnectionManager,
        entry_prefix: &str,
        name: &str,
    ) -> Option<(String, Option<String>)> {
        let mut invocation = self.script.key(self.gen_key());
        invocation.arg(entry_prefix).arg(name);
        self.call(invocation.invoke_async::<(String, Option<String>)>(conn))
            .await
    }

    /// Invalidates every cached body after a committed write. Returns once Redis has
    /// counted it (or is known to be down), so the writer's answer follows the bump.
    pub async fn invalidate(self: &Arc<Self>) {
        if let Some(mut conn) = self.conn() {
            self.call(conn.incr::<_, _, i64>(self.gen_key(), 1)).await;
        }
    }

    /// Stores a session (keyed by the sha256 hex of the cookie); false when Redis is unavailable.
    pub async fn put_session(self: &Arc<Self>, id_hash: &str, user_id: i64, ttl: Duration) -> bool {
        let Some(mut conn) = self.conn() else {
            return false;
        };
        let key = format!("{}session:{id_hash}", self.prefix);
        self.call(conn.set_ex::<_, _, ()>(key, user_id, ttl.as_secs()))
            .await
            .is_some()
    }

    /// Removes a session from Redis (best effort).
    pub async fn drop_session(self: &Arc<Self>, id_hash: &str) {
        if let Some(mut conn) = self.conn() {
            let key = format!("{}session:{id_hash}", self.prefix);
            self.call(conn.del::<_, ()>(key)).await;
        }
    }

    /// The key of a counter named `name`, under the server's prefix.
    pub fn counter_key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Counts one more event under `key` in a window of `window` (the first event starts
    /// it); the count, or None when Redis is unavailable.
    pub async fn count(self: &Arc<Self>, key: &str, window: Duration) -> Option<u64> {
        let mut conn = self.conn()?;
        let mut invocation = self.count_script.key(key);
        invocation.arg(window.as_secs().max(1));
        self.call(invocation.invoke_async::<u64>(&mut conn)).await
    }

    /// The count under `key` (0 when none), or None when Redis is unavailable.
    pub async fn counted(self: &Arc<Self>, key: &str) -> Option<u64> {
        let mut conn = self.conn()?;
        self.call(conn.get::<_, Option<u64>>(key))
            .await
            .map(Option::unwrap_or_default)
    }

    /// Forgets the count under `key` (best effort).
    pub async fn forget(self: &Arc<Self>, key: &str) {
        if let Some(mut conn) = self.conn() {
            self.call(conn.del::<_, ()>(key)).await;
        }
    }
}
