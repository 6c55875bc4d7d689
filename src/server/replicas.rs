//! Streaming replicas for reads (`database.replica_urls`): each replica's pool, and a
//! monitor that knows how far behind the primary each one is.
//!
//! **Lag, measured end to end.** Every quarter of `database.max_replica_lag_ms` the monitor
//! reads the primary's WAL position (`pg_current_wal_lsn()`) and remembers when; then each
//! replica's replayed position (`pg_last_wal_replay_lsn()`). A replica that has replayed
//! the position the primary had at T holds every write committed before T: its *as-of*
//! is the latest such T, and its lag is now − as-of (an idle primary's position does not
//! move, so an idle replica's lag stays under one period). Reads go to a replica only
//! while its lag is under the bound; otherwise — or when it fails or is not a standby any
//! more (promoted) — to the primary, within the same request. Writes, and every read of a
//! request that carries a bearer token or `Cache-Control: no-cache` (see
//! `restarts.rs`), use the primary.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::clock;
use crate::settings::ServeSettings;

pub struct Replica {
    /// host:port, for `/ready`, `/metrics` and logs (never the URL: it holds a password).
    pub name: String,
    pub pool: PgPool,
    /// The latest primary sample this replica has replayed (a `clock` stamp; 0: none).
    as_of: AtomicU64,
    /// Whether its last check answered as a standby.
    standby: AtomicBool,
}

/// One replica as `/ready` and `/metrics` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaState {
    pub name: String,
    /// `ok` (serving reads), `lagging` (behind the bound: reads go to the primary),
    /// `down` (not answering, or not a standby).
    pub state: &'static str,
    /// Milliseconds behind the primary (None when unknown).
    pub lag_ms: Option<u64>,
}

pub struct Replicas {
    list: Vec<Replica>,
    max_lag: Duration,
    next: AtomicUsize,
    /// The primary's recent (stamp, WAL position) samples, oldest first.
    samples: Mutex<VecDeque<(u64, i64)>>,
}

impl Replicas {
    /// Pools for `settings.replica_urls`, opened lazily: a replica down at start is not
    /// an error, it is `down` until it answers. Their sessions are set up like the
    /// primary's (`session`: timeouts, UTC, plan mode).
    pub fn open(
        settings: &ServeSettings,
        session: impl Fn(&str) -> anyhow::Result<PgConnectOptions>,
    ) -> anyhow::Result<Self> {
        let mut list = Vec::new();
        for url in &settings.replica_urls {
            let options = session(url.expose())?;
            let name = format!("{}:{}", options.get_host(), options.get_port());
            let pool = PgPoolOptions::new()
                .max_connections(settings.pool_size)
                .acquire_timeout(settings.max_replica_lag.max(Duration::from_millis(200)))
                .idle_timeout(Some(Duration::from_secs(300)))
                .connect_lazy_with(options);
            list.push(Replica {
                name,
                pool,
                as_of: AtomicU64::new(0),
                standby: AtomicBool::new(false),
            });
        }
        Ok(Replicas {
            list,
            max_lag: settings.max_replica_lag,
            next: AtomicUsize::new(0),
            samples: Mutex::new(VecDeque::new()),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// A replica fresh within the bound (round robin among them), and its as-of stamp.
    pub fn pick(&self) -> Option<(&Replica, u64)> {
        if self.list.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = clock::now();
        (0..self.list.len())
            .map(|i| &self.list[(start + i) % self.list.len()])
            .find_map(|r| {
                let as_of = r.as_of.load(Ordering::Acquire);
                (r.standby.load(Ordering::Acquire)
                    && as_of > 0
                    && now.saturating_sub(as_of) < self.max_lag.as_nanos() as u64)
                    .then_some((r, as_of))
            })
    }

    /// A read on `replica` failed: it serves nothing until its next good check.
    pub fn failed(&self, replica: &Replica) {
        replica.standby.store(false, Ordering::Release);
    }

    /// Every replica's state now.
    pub fn states(&self) -> Vec<ReplicaState> {
        let now = clock::now();
        self.list
            .iter()
            .map(|r| {
                let as_of = r.as_of.load(Ordering::Acquire);
                let lag = (as_of > 0).then(|| Duration::from_nanos(now.saturating_sub(as_of)));
                let state = match (r.standby.load(Ordering::Acquire), lag) {
                    (false, _) | (true, None) => "down",
                    (true, Some(l)) if l >= self.max_lag => "lagging",
                    (true, Some(_)) => "ok",
                };
                ReplicaState {
                    name: r.name.clone(),
                    state,
                    lag_ms: lag.map(|l| l.as_millis() as u64),
                }
            })
            .collect()
    }

    /// Checks the replicas every quarter of the bound until the task is aborted.
    pub fn spawn_monitor(self: Arc<Self>, primary: PgPool) -> Option<tokio::task::JoinHandle<()>> {
        if self.list.is_empty() {
            return None;
        }
        Some(tokio::spawn(async move {
            let every = (self.max_lag / 4).max(Duration::from_millis(20));
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.check(&primary, every).await;
            }
        }))
    }

    /// One round: a primary sample, then each replica's replayed position.
    async fn check(&self, primary: &PgPool, timeout: Duration) {
        let at = clock::now();
        let position = tokio::time::timeout(
            timeout,
            sqlx::query_scalar::<_, i64>("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
                .fetch_one(primary),
        )
        .await;
        if let Ok(Ok(lsn)) = position {
            let mut samples = self.samples.lock().expect("replica samples lock");
            samples.push_back((at, lsn));
            // Samples older than four bounds cannot make a replica fresh any more.
            let oldest = at.saturating_sub(4 * self.max_lag.as_nanos() as u64);
            while samples.len() > 1 && samples.front().is_some_and(|(t, _)| *t < oldest) {
                samples.pop_front();
            }
        }
        for r in &self.list {
            let replayed = tokio::time::timeout(
                timeout,
                sqlx::query_as::<_, (Option<i64>, bool)>(
                    "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, pg_is_in_recovery()",
                )
                .fetch_one(&r.pool),
            )
            .await;
            match replayed {
                Ok(Ok((Some(replayed), true))) => {
                    let samples = self.samples.lock().expect("replica samples lock");
                    if let Some((t, _)) = samples.iter().rev().find(|(_, lsn)| *lsn <= replayed) {
                        r.as_of.fetch_max(*t, Ordering::AcqRel);
                    }
                    r.standby.store(true, Ordering::Release);
                }
                Ok(Ok(_)) => {
                    if r.standby.swap(false, Ordering::AcqRel) {
                        tracing::warn!(replica = %r.name, "not a standby (promoted?); reads go to the primary");
                    }
                }
                Ok(Err(e)) => {
                    if r.standby.swap(false, Ordering::AcqRel) {
                        tracing::warn!(replica = %r.name, error = %e, "replica not answering; reads go to the primary");
                    }
                }
                Err(_) => {
                    r.standby.store(false, Ordering::Release);
                }
            }
        }
    }
}
