//! The dashboard server (`provision serve`): an axum app over PostgreSQL and Redis that
//! speaks docs/api.md. It uses none of the provisioning layers; `launch` takes a bound
//! listener and a shutdown future, so tests run instances on port 0 in-process.

pub mod auth;
mod breaker;
pub mod cache;
pub mod clock;
pub mod error;
pub mod events;
pub mod extract;
pub mod local_cache;
pub mod metrics;
pub mod model;
pub mod pages;
pub mod read_route;
pub mod replicas;
mod restarts;
mod routes;
pub mod run_index;
mod single_flight;
pub mod state;

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::settings::{redact_url, ServeSettings};
use state::{AppState, Inner};

/// The connection options for `url` (the primary or a replica): every session runs in UTC
/// with the configured `statement_timeout`.
/// `what` names the setting in errors.
fn session_options(
    settings: &ServeSettings,
    what: &str,
    url: &str,
) -> anyhow::Result<PgConnectOptions> {
    let shown = redact_url(url);
    Ok(PgConnectOptions::from_str(url)
        .with_context(|| format!("{what} {shown} is not a valid PostgreSQL URL"))?
        .application_name("live-dashboard")
        .options([
            (
                "statement_timeout",
                settings.statement_timeout.as_millis().to_string(),
            ),
            ("TimeZone", "UTC".to_string()),
            // Every statement is prepared once per connection and its parameters never
            // change the best plan (keyset ranges over indexes); without this PostgreSQL
            // re-plans each execution, which profiled as its biggest cost on a runs page.
            ("plan_cache_mode", "force_generic_plan".to_string()),
        ]))
}

/// Opens the pool, waiting up to `settings.db_wait` for PostgreSQL to accept connections.
/// Every connection runs in UTC with the configured `statement_timeout`.
pub async fn connect_pool(settings: &ServeSettings) -> anyhow::Result<PgPool> {
    let shown = redact_url(settings.database_url.expose());
    let options = session_options(settings, "DATABASE_URL", settings.database_url.expose())?;
    let deadline = Instant::now() + settings.db_wait;
    loop {
        let attempt = PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            // No ping before every acquire (a round trip per request), but one for a
            // connection idle for a second or more: after PostgreSQL restarts, the stale
            // connections are found and replaced here instead of failing a request each.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for < Duration::from_secs(1) {
                        return Ok(true);
                    }
                    use sqlx::Connection;
                    Ok(conn.ping().await.is_ok())
                })
            })
            .connect_with(options.clone())
            .await;
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(e) if Instant::now() < deadline && is_transient(&e) => {
                tracing::warn!(database = %shown, error = %e, "PostgreSQL not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(anyhow::anyhow!(e)).with_context(|| {
                    format!(
                        "cannot connect to PostgreSQL at {shown}: check that it runs and that the \
                         URL's host, port, database, user and password are right"
                    )
                })
            }
        }
    }
}

/// Answers an instance keeps in memory at most (a runs page is about 14 KB: ~60 MB).
const LOCAL_CACHE_ENTRIES: usize = 4096;

fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P03")),
        _ => false,
    }
}

/// Runs the server on `listener` until `shutdown` resolves, then drains: stops accepting,
/// closes WebSockets with a close frame, and finishes in-flight requests.
pub async fn launch(
    settings: ServeSettings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = connect_pool(&settings).await?;
    crate::schema::apply(&pool)
        .await
        .context("applying the dashboard schema (migrations/) failed")?;
    let metrics = Arc::new(metrics::Metrics::new());
    let cache = cache::Cache::start(&settings, Arc::clone(&metrics)).await;
    let events = events::Events::new();
    let local = Arc::new(local_cache::LocalCache::new(
        settings.local_cache_bound,
        settings.local_cache_max_age,
        LOCAL_CACHE_ENTRIES,
    ));
    let replicas = Arc::new(replicas::Replicas::open(&settings, |url| {
        session_options(&settings, "database.replica_urls:", url)
    })?);
    let monitor_task = Arc::clone(&replicas).spawn_monitor(pool.clone());
    let listener_task =
        events.spawn_listener(pool.clone(), Arc::clone(&metrics), Arc::clone(&local));
    let heartbeat_task = events::spawn_heartbeat(pool.clone(), Arc::clone(&local));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let settings_limits = settings.limits.clone();
    let state = AppState(Arc::new(Inner {
        pool: pool.clone(),
        cache,
        local,
        events,
        replicas,
        metrics,
        settings,
        draining: AtomicBool::new(false),
        shutdown: shutdown_rx,
        hash_permits: Arc::new(tokio::sync::Semaphore::new(
            settings_limits.hash_concurrency,
        )),
        throttle: Default::default(),
        ws_connected: Default::default(),
    }));
    let app = routes::router(state.clone());
    let addr = listener.local_addr()?;
    tracing::info!(%addr, version = env!("CARGO_PKG_VERSION"), "serving");
    let drain_state = state.clone();
    // The peer's address reaches handlers (the login throttle counts by it).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("draining: no new connections; finishing in-flight requests");
            drain_state
                .draining
                .store(true, std::sync::atomic::Ordering::Release);
            let _ = shutdown_tx.send(true);
        })
        .await
        .context("the HTTP server failed")?;
    // The event listener and the heartbeat hold pooled connections until they stop; then
    // the pool closes.
    for task in [listener_task, heartbeat_task]
        .into_iter()
        .chain(monitor_task)
    {
        task.abort();
        let _ = task.await;
    }
    if tokio::time::timeout(std::time::Duration::from_secs(5), pool.close())
        .await
        .is_err()
    {
        tracing::warn!(
            "PostgreSQL connections were still in use 5 s after the drain; exiting anyway"
        );
    }
    tracing::info!("stopped");
    Ok(())
}
