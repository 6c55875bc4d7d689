//! Where a backup is read from: the primary (the app's `database.url`), or with
//! `--from-replica` a streaming replica of `database.replica_urls` — the first that is a
//! standby in recovery and within `database.max_replica_lag_ms` of the primary — so the
//! dump's reads land on the replica, not on the database taking the writes. pg_dump's
//! snapshot is exported on the standby itself (PostgreSQL 10 and later), so the row counts
//! and digests of the manifest are the dump's own there too.

use std::time::Duration;

use sqlx::Connection;

use super::backup::BackupError;
use crate::settings::{redact_url, Secret};

/// A replica chosen for a backup, and how far behind it was.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub url: Secret,
    pub lag: Duration,
}

/// The first of `replicas` that answers, is in recovery, and is within `max_lag`; each one
/// passed over is said in the error when none qualifies.
pub async fn replica(replicas: &[Secret], max_lag: Duration) -> Result<Chosen, BackupError> {
    if replicas.is_empty() {
        return Err(BackupError::Database(
            "--from-replica: the config names no replica (database.replica_urls)".into(),
        ));
    }
    let mut passed = Vec::new();
    for url in replicas {
        let shown = redact_url(url.expose());
        match lag_of(url).await {
            Ok(Some(lag)) if lag <= max_lag => {
                return Ok(Chosen {
                    url: url.clone(),
                    lag,
                })
            }
            Ok(Some(lag)) => passed.push(format!(
                "{shown}: {} ms behind the primary (the bound is {} ms, database.max_replica_lag_ms)",
                lag.as_millis(),
                max_lag.as_millis()
            )),
            Ok(None) => passed.push(format!(
                "{shown}: not a standby (pg_is_in_recovery() is false): a backup from it would load the primary"
            )),
            Err(e) => passed.push(format!("{shown}: {e}")),
        }
    }
    Err(BackupError::Database(format!(
        "--from-replica: no replica to back up from ({}); back up from the primary without --from-replica",
        passed.join("; ")
    )))
}

/// How far the standby at `url` is behind (None: it is not a standby). A standby with
/// nothing left to replay is not behind, however old its last transaction.
async fn lag_of(url: &Secret) -> Result<Option<Duration>, String> {
    let connect = sqlx::PgConnection::connect(url.expose());
    let mut c = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
        .map_err(|e| e.to_string())?;
    let row: (bool, Option<f64>) = sqlx::query_as(
        "SELECT pg_is_in_recovery(), \
                CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END",
    )
    .fetch_one(&mut c)
    .await
    .map_err(|e| e.to_string())?;
    let _ = c.close().await;
    Ok(match row {
        (false, _) => None,
        (true, lag) => Some(Duration::from_secs_f64(lag.unwrap_or(1e9).clamp(0.0, 1e9))),
    })
}
