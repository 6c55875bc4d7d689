//! `provision restore FILE` on this host's stack: the checked backup is loaded beside the
//! live database (see `backup::stage`); only when its rows match does the swap happen —
//! the instances stopped, the new database renamed in, the old one kept under another
//! name, the cache's generation bumped so no instance answers from the old data, and the
//! instances started and ready again.

use std::path::Path;
use std::time::Instant;

use super::backup::{self, Admin, BackupError, Restored};
use super::stack::Stack;
use crate::host::services::Action;

pub async fn restore(
    stack: &Stack,
    file: &Path,
    unchecked: bool,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Restored, BackupError> {
    let started = Instant::now();
    let url = stack.database_url().ok_or_else(|| {
        BackupError::Database("DATABASE_URL is in neither the .env nor the config".into())
    })?;
    let admin = Admin {
        socket_dir: stack.distro.postgresql.socket_dir.clone(),
        port: url::Url::parse(url.expose())
            .ok()
            .and_then(|u| u.port())
            .unwrap_or(5432),
    };
    let (staging, counts) =
        backup::stage(url, &admin, file, &stack.backup_dir(), unchecked).await?;
    let rows: i64 = counts.values().sum();
    progress(&format!(
        "loaded into {staging}: {} tables, {rows} rows, matching the backup",
        counts.len()
    ));
    let svc = stack.services();
    for i in stack.instances() {
        let name = stack.instance_service(i);
        svc.action(Action::Stop, &name)
            .run()
            .map_err(|e| BackupError::Failed(e.to_string()))?;
    }
    progress("instances stopped");
    let swapped = backup::swap(url, &admin, &staging);
    let bumped = bump_cache(stack).await;
    for i in stack.instances() {
        let _ = svc.action(Action::Start, &stack.instance_service(i)).run();
    }
    let kept_as = swapped?;
    match bumped {
        Ok(()) => progress("cache invalidated"),
        Err(e) => progress(&format!(
            "the cache could not be invalidated ({e}); its entries expire with their TTL"
        )),
    }
    for i in stack.instances() {
        crate::playbook::steps::wait_for::apply(&crate::playbook::model::WaitForStep {
            port: None,
            url: Some(format!("http://{}/ready", i.addr())),
            timeout_s: 60,
        })
        .map_err(|e| BackupError::Failed(format!("after the restore: {e}")))?;
    }
    progress("instances started and ready");
    Ok(Restored {
        database: stack.database_name().unwrap_or_default(),
        kept_as,
        tables: counts.len(),
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Bumps the cache generation (`PREFIX gen`): every cached body becomes unreachable.
async fn bump_cache(stack: &Stack) -> Result<(), String> {
    let url = stack.redis_url().ok_or("no REDIS_URL")?;
    let client = redis::Client::open(url.expose()).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    redis::cmd("INCR")
        .arg(format!("{}gen", stack.cache_prefix()))
        .query_async::<i64>(&mut conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
