//! `provision serve`: resolves settings, builds the runtime, binds, and runs the server
//! until SIGTERM or SIGINT.

use anyhow::Context;

use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, ServeArgs};
use crate::settings::{url_has_password, ServeFlags, ServeSettings, Sources};

pub fn run(global: &GlobalArgs, args: ServeArgs) -> Result<ExitStatus, CommandError> {
    for (flag, url) in [
        ("--database-url", &args.database_url),
        ("--redis-url", &args.redis_url),
    ] {
        if url.as_ref().is_some_and(|u| url_has_password(u.expose())) {
            tracing::warn!(
                "{flag} carries a password, and argv is visible to every user of this host: \
                 prefer the environment or the .env file"
            );
        }
    }
    let sources = Sources::load(global.config.as_deref(), global.env_file.as_deref())?;
    let settings = ServeSettings::resolve(
        ServeFlags {
            listen: args.listen,
            database_url: args.database_url,
            redis_url: args.redis_url,
            pool_size: args.pool_size,
            workers: args.workers,
        },
        &sources,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.workers)
        .enable_all()
        .thread_name("serve")
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}: is another process using it? (--listen / PROVISION_LISTEN)",
                    settings.listen
                )
            })?;
        crate::server::launch(settings, listener, shutdown_signal()).await
    });
    // Background tasks (the cache's probe, Redis's connection manager) end with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result?;
    Ok(ExitStatus::Success)
}

/// Resolves on SIGTERM (systemd, supervisors) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
