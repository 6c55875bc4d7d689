//! Live events: every committed write reaches every WebSocket client on every instance.
//!
//! A write calls [`notify`] inside its transaction: PostgreSQL delivers the NOTIFY to
//! every listening session only when that transaction commits. Each instance LISTENs on
//! one dedicated connection, reads the run back and fans the event out to its clients
//! through a broadcast channel. Redis is not involved, so events flow during its outages.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;

use super::local_cache::LocalCache;
use super::metrics::Metrics;
use super::model::{fetch_run, Run};

pub const CHANNEL: &str = "ld_events";

/// The kind of event a new run announces.
pub const RUN_CREATED: &str = "run_created";

/// What a write announces: the kind of event and the run's id. A heartbeat (kind
/// `heartbeat`) carries its instance's tag in `beat` and its stamp in `id`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Notice {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beat: Option<String>,
}

const HEARTBEAT: &str = "heartbeat";

/// The frame sent to WebSocket clients.
#[derive(Serialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    run: &'a Run,
}

/// Announces an event from inside the writing transaction (delivered on commit).
pub async fn notify(
    tx: &mut sqlx::PgConnection,
    kind: &str,
    run_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload(kind, run_id))
        .execute(tx)
        .await?;
    Ok(())
}

/// The NOTIFY payload announcing `kind` for run `run_id`, for a write that sends it with
/// `pg_notify` on [`CHANNEL`] in a statement of its own.
pub fn payload(kind: &str, run_id: i64) -> String {
    let notice = Notice {
        kind: kind.to_string(),
        id: run_id,
        beat: None,
    };
    serde_json::to_string(&notice).expect("notice serializes")
}

/// Sends `notice` on the channel through `db`.
async fn announce<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Postgres>,
    notice: &Notice,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(notice).expect("notice serializes");
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(db)
        .await?;
    Ok(())
}

/// The fan-out side: WebSocket handlers subscribe here.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Arc<str>>,
}

impl Events {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Events { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }

    /// Starts the LISTEN loop; it reconnects by itself when PostgreSQL goes away.
    /// Listens until the returned task is aborted (at shutdown: it holds a pooled
    /// connection, which the pool's close would otherwise wait for forever).
    pub fn spawn_listener(
        &self,
        pool: PgPool,
        metrics: Arc<Metrics>,
        local: Arc<LocalCache>,
    ) -> tokio::task::JoinHandle<()> {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let listened = listen(&pool, &tx, &metrics, &local).await;
                // Events may be missed until the listener is back: the local cache
                // serves nothing meanwhile.
                local.reset();
                match listened {
                    Ok(()) => return,
                    Err(_) if pool.is_closed() => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                }
            }
        })
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

async fn listen(
    pool: &PgPool,
    tx: &broadcast::Sender<Arc<str>>,
    metrics: &Metrics,
    local: &LocalCache,
) -> Result<(), sqlx::Error> {
    // A connection of its own, new on every (re)start: one taken from the shared pool after
    // PostgreSQL restarted could be one of its stale connections, and each retry would
    // find another.
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*pool.connect_options()).clone())
        .await?;
    let mut listener = PgListener::connect_with(&own).await?;
    // A lost connection is an error here, so the caller rebuilds the listener with backoff.
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    local.reset();
    if local.heartbeat_every().is_some() {
        // The first heartbeat the listener can hear: memory answers again once it is back.
        heartbeat(pool, local).await?;
    }
    tracing::info!(channel = CHANNEL, "listening for events");
    loop {
        let Some(note) = listener.try_recv().await? else {
            return Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "LISTEN connection closed",
            )));
        };
        let Ok(notice) = serde_json::from_str::<Notice>(note.payload()) else {
            tracing::warn!(payload = note.payload(), "ignoring a malformed event");
            continue;
        };
        if notice.kind == HEARTBEAT {
            if notice.beat.as_deref() == Some(local.tag.as_str()) {
                local.confirm(notice.id as u64);
            }
            continue;
        }
        local.invalidate(notice.id);
        if notice.kind == RUN_CREATED {
            local.created(notice.id);
        }
        if tx.receiver_count() == 0 {
            continue;
        }
        let mut conn = pool.acquire().await?;
        let Some(run) = fetch_run(&mut conn, notice.id).await? else {
            continue;
        };
        drop(conn);
        let frame = serde_json::to_string(&Frame {
            kind: &notice.kind,
            run: &run,
        })
        .expect("run serializes");
        metrics.events_delivered.inc();
        let _ = tx.send(Arc::from(frame));
    }
}

/// Sends this instance's heartbeats (see `local_cache.rs`) until the task is aborted; a
/// failed one is simply not confirmed. Nothing when the local cache is off.
pub fn spawn_heartbeat(pool: PgPool, local: Arc<LocalCache>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(every) = local.heartbeat_every() else {
            return;
        };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = heartbeat(&pool, &local).await {
                tracing::debug!(error = %e, "heartbeat not sent");
            }
        }
    })
}

/// One heartbeat, stamped now.
async fn heartbeat(pool: &PgPool, local: &LocalCache) -> Result<(), sqlx::Error> {
    let notice = Notice {
        kind: HEARTBEAT.to_string(),
        id: local.stamp() as i64,
        beat: Some(local.tag.clone()),
    };
    announce(pool, &notice).await
}
