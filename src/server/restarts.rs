//! Using PostgreSQL across its restarts. A restart (`pg_ctlcluster … restart -m fast`)
//! ends every pooled connection. A read that meets one of them is retried on a fresh
//! connection — the pool waits for PostgreSQL to accept connections again — until the
//! read's deadline (`database.acquire_timeout_ms`, 2 s by default) has passed: reads are
//! idempotent, so a retry can never apply anything twice. A write's transaction is begun
//! the same way (nothing has run when `BEGIN` fails); once its statements have run, a
//! lost connection is not retried — during `COMMIT` the outcome is unknown — and the
//! client sees 503 with `Retry-After`, as every request does when PostgreSQL is still
//! gone at the deadline.
//!
//! Reads are also where streaming replicas come in (`replicas.rs`): a read goes to a
//! replica fresh within `database.max_replica_lag_ms`, and to the primary when there is
//! none, when the replica fails (within the same request), and always for a request that
//! carries a bearer token or `Cache-Control: no-cache` (`read_route.rs`) and for work
//! outside a request.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use sqlx::{PgConnection, Postgres};

use super::error::ApiResult;
use super::read_route;
use super::state::AppState;

/// Whether `e` says the connection (not the statement) failed: PostgreSQL went away, is
/// shutting down or is not accepting connections yet.
pub fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // admin_shutdown, crash_shutdown, cannot_connect_now, connection_exception (08…).
            matches!(code.as_ref(), "57P01" | "57P02" | "57P03") || code.starts_with("08")
        }),
        _ => false,
    }
}

/// When to try again: while the error is a lost connection and the deadline is not near.
struct Backoff {
    deadline: Instant,
    pause: Duration,
}

impl Backoff {
    fn new(bound: Duration) -> Self {
        Backoff {
            deadline: Instant::now() + bound,
            pause: Duration::from_millis(20),
        }
    }

    /// Waits before the next attempt after `e`; false when there is none.
    async fn again(&mut self, e: &sqlx::Error, state: &AppState) -> bool {
        if !connection_lost(e) || Instant::now() + self.pause >= self.deadline {
            return false;
        }
        state.metrics.db_retries.inc();
        tracing::debug!(error = %e, "the database connection was lost; retrying");
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(Duration::from_millis(250));
        true
    }
}

impl AppState {
    /// A transaction for a write (counted as a use of PostgreSQL), begun again on a fresh
    /// connection each time the connection is lost before `BEGIN` completes, until the
    /// deadline. (A connection that failed is never pooled again: sqlx tests each one
    /// it gets back.)
    pub async fn begin(&self) -> ApiResult<sqlx::Transaction<'static, Postgres>> {
        let mut backoff = Backoff::new(self.settings.acquire_timeout);
        loop {
            self.metrics.db_uses.inc();
            match self.pool.begin().await {
                Ok(tx) => return Ok(tx),
                Err(e) if backoff.again(&e, self).await => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Runs the read `query` on a pooled connection, again on a fresh one each time the
    /// connection is lost, until the deadline. `query` is called once per attempt, so it
    /// owns (clones) what it needs.
    pub async fn read<T, F>(&self, mut query: F) -> ApiResult<T>
    where
        F: for<'c> FnMut(&'c mut PgConnection) -> BoxFuture<'c, Result<T, sqlx::Error>>,
    {
        if let Some(v) = self.on_replica(&mut query).await {
            return Ok(v);
        }
        let mut backoff = Backoff::new(self.settings.acquire_timeout);
        loop {
            let attempt = match self.acquire().await {
                Ok(mut conn) => query(&mut conn).await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(v) => return Ok(v),
                Err(e) if backoff.again(&e, self).await => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `query` on a replica fresh within the bound, unless this request's reads must use
    /// the primary; None when there is none or it failed (the primary answers then).
    async fn on_replica<T, F>(&self, query: &mut F) -> Option<T>
    where
        F: for<'c> FnMut(&'c mut PgConnection) -> BoxFuture<'c, Result<T, sqlx::Error>>,
    {
        if read_route::primary_only() {
            return None;
        }
        let (replica, as_of) = self.replicas.pick()?;
        let attempt = match replica.pool.acquire().await {
            Ok(mut conn) => query(&mut conn).await,
            Err(e) => Err(e),
        };
        match attempt {
            Ok(v) => {
                self.metrics.replica_reads.inc();
                read_route::note_replica_read(as_of);
                Some(v)
            }
            Err(e) => {
                // Whatever it was (a lost connection, a query cancelled by recovery), the
                // primary answers this read.
                self.metrics.replica_fallbacks.inc();
                if connection_lost(&e) || matches!(e, sqlx::Error::PoolTimedOut) {
                    self.replicas.failed(replica);
                    tracing::warn!(replica = %replica.name, error = %e, "replica read failed; the primary answers");
                }
                None
            }
        }
    }
}
