//! `AppState`: what every handler shares — the pool, the cache, live events, metrics,
//! the resolved settings and the drain flag.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::sync::watch;

use super::cache::Cache;
use super::error::ApiResult;
use super::events::Events;
use super::local_cache::LocalCache;
use super::metrics::Metrics;
use crate::settings::ServeSettings;

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub pool: PgPool,
    pub cache: Arc<Cache>,
    /// Runs pages, runs and result pages, in this instance's memory.
    pub local: Arc<LocalCache>,
    pub events: Events,
    /// Streaming replicas for reads (none unless `database.replica_urls`).
    pub replicas: Arc<super::replicas::Replicas>,
    pub metrics: Arc<Metrics>,
    pub settings: ServeSettings,
    pub draining: AtomicBool,
    /// Flips to true when the instance starts draining; WebSockets close on it.
    pub shutdown: watch::Receiver<bool>,
    /// Password hashes computed at once (`limits.hash_concurrency`).
    pub hash_permits: Arc<tokio::sync::Semaphore>,
    /// Failed logins per username and per address.
    pub throttle: super::auth::throttle::Throttle,
    /// WebSocket clients connected now (`limits.ws_max_clients` at most).
    pub ws_connected: std::sync::atomic::AtomicUsize,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// A pooled connection; `ld_db_pool_waiting` counts requests waiting now, and
    /// `ld_db_pool_waits` every request that found the pool exhausted.
    pub async fn conn(&self) -> ApiResult<PoolConnection<Postgres>> {
        Ok(self.acquire().await?)
    }

    /// [`conn`](Self::conn) with the pool's own error (to tell a lost connection apart).
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        // Waiting for a connection means the pool is at its size limit with none idle
        // (below the limit, acquire opens a new connection instead).
        if self.pool.num_idle() == 0
            && self.pool.size() >= self.pool.options().get_max_connections()
        {
            self.metrics.pool_waits.inc();
        }
        self.metrics.pool_waiting.inc();
        self.metrics.db_uses.inc();
        let conn = self.pool.acquire().await;
        self.metrics.pool_waiting.dec();
        conn
    }

    /// Ends every write the same way: announces `kind` for the run (delivered on commit),
    /// reads the run back inside the transaction, commits, then invalidates the cache before
    /// the writer answers. Returns the run as it was committed.
    pub async fn commit_write(
        &self,
        mut tx: sqlx::Transaction<'static, Postgres>,
        kind: &str,
        run_id: i64,
    ) -> ApiResult<super::model::Run> {
        super::events::notify(&mut tx, kind, run_id).await?;
        let run = super::model::fetch_run(&mut tx, run_id)
            .await?
            .ok_or_else(super::error::ApiError::internal)?;
        tx.commit().await?;
        self.written(kind, run_id).await;
        Ok(run)
    }

    /// After a committed write to `run_id` that announced `kind` (a write of one
    /// statement sends it with `pg_notify` and `events::payload` itself): the caches drop
    /// what it changed before the writer answers.
    pub async fn written(&self, kind: &str, run_id: i64) {
        self.local.invalidate(run_id);
        if kind == super::events::RUN_CREATED {
            self.local.created(run_id);
        }
        self.cache.invalidate().await;
        self.metrics.events_published.inc();
    }

    /// Whether an answer just computed may be kept in the local cache as far as replicas
    /// go: read from the primary only, or from replicas that had replayed every write the
    /// cache has dropped (an invalidation after a replica's as-of may be a write that
    /// replica did not show yet).
    pub fn replica_reads_current(&self) -> bool {
        super::read_route::replica_as_of()
            .map_or(true, |as_of| as_of >= self.local.invalidated_at())
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}
