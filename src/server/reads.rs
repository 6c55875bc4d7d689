//! Reads that outlive a PostgreSQL restart. A restart (`pg_ctlcluster … restart -m fast`)
//! ends every pooled connection; a read that meets one of them is retried on a fresh
//! connection — the pool waits for PostgreSQL to accept connections again — until the
//! read's deadline (`database.acquire_timeout_ms`, 2 s by default) has passed. Reads are
//! idempotent, so a retry can never apply anything twice; only when PostgreSQL is still
//! gone at the deadline does the client see 503 (with `Retry-After`). Writes are not
//! retried here: a connection lost during `COMMIT` leaves their outcome unknown.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use sqlx::PgConnection;

use super::error::ApiResult;
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

impl AppState {
    /// Runs the read `query` on a pooled connection, again on a fresh one each time the
    /// connection is lost, until the deadline. `query` is called once per attempt, so it
    /// owns (clones) what it needs.
    pub async fn read<T, F>(&self, mut query: F) -> ApiResult<T>
    where
        F: for<'c> FnMut(&'c mut PgConnection) -> BoxFuture<'c, Result<T, sqlx::Error>>,
    {
        let deadline = Instant::now() + self.settings.acquire_timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            let attempt = match self.acquire().await {
                Ok(mut conn) => {
                    let got = query(&mut conn).await;
                    if got.as_ref().is_err_and(connection_lost) {
                        // Never back into the pool: it is dead.
                        conn.close_on_drop();
                    }
                    got
                }
                Err(e) => Err(e),
            };
            match attempt {
                Ok(v) => return Ok(v),
                Err(e) if connection_lost(&e) && Instant::now() + pause < deadline => {
                    self.metrics.read_retries.inc();
                    tracing::debug!(error = %e, "read lost its connection; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
