//! What `status` asks each part: logins with the app's credentials (PostgreSQL's version
//! and connections, Redis's version and memory), HTTP probes, uptimes from the process
//! holding a port, free disk, and whether an init stopped part-way.

use std::time::Duration;

use super::stack::Stack;
use crate::settings::redact_url;

/// How long the oldest process listening on `port` has run.
pub(super) fn uptime(port: u16) -> Option<u64> {
    let pid = *crate::host::proc::listener_pids(port).first()?;
    crate::host::proc::age(pid).map(|d| d.as_secs())
}

pub(super) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(200).collect()
}

pub(super) async fn probe(client: &reqwest::Client, url: &str) -> Result<(u16, String), String> {
    let resp = crate::verify::http::get(client, url).await?;
    let code = resp.status().as_u16();
    Ok((code, resp.text().await.unwrap_or_default()))
}

/// Logs in with the app's credentials: (version, connections in use / max).
pub(super) async fn postgres_probe(stack: &Stack) -> Result<(String, String), String> {
    use sqlx::Connection;
    let url = stack
        .database_url()
        .ok_or("the config file has no database.url (run `provision init`)")?;
    let shown = redact_url(url.expose());
    let connect = sqlx::PgConnection::connect(url.expose());
    let mut conn = tokio::time::timeout(Duration::from_secs(3), connect)
        .await
        .map_err(|_| format!("{shown}: no answer within 3 s"))?
        .map_err(|e| format!("{shown}: {e}; see `provision logs postgres`"))?;
    let (version, used, max): (String, i64, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), \
                (SELECT count(*) FROM pg_stat_activity WHERE datname IS NOT NULL), \
                current_setting('max_connections')",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(|e| format!("{shown}: {e}"))?;
    let _ = conn.close().await;
    Ok((
        version,
        format!("login ok; {used} of {max} connections in use"),
    ))
}

/// Logs in with the app's credentials: (version, memory used and keys).
pub(super) async fn redis_probe(stack: &Stack) -> Result<(String, String), String> {
    let url = stack
        .redis_url()
        .ok_or("the config file has no redis.url (run `provision init`)")?;
    let shown = redact_url(url.expose());
    let client = redis::Client::open(url.expose()).map_err(|e| format!("{shown}: {e}"))?;
    let info: String = tokio::time::timeout(Duration::from_secs(3), async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("INFO").query_async::<String>(&mut conn).await
    })
    .await
    .map_err(|_| format!("{shown}: no answer within 3 s"))?
    .map_err(|e| format!("{shown}: {e}; the instances answer uncached until it is back (see `provision logs redis`)"))?;
    let field = |k: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .map(|v| v.trim().to_string())
    };
    Ok((
        field("redis_version").unwrap_or_default(),
        format!(
            "login ok; memory {} of {}",
            field("used_memory_human").unwrap_or_default(),
            field("maxmemory_human").unwrap_or_default()
        ),
    ))
}

/// Free space where a part of the stack keeps its data.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Disk {
    pub what: String,
    pub path: String,
    pub free_bytes: u64,
    pub total_bytes: u64,
}

pub(super) fn disks(stack: &Stack) -> Vec<Disk> {
    let mut out = Vec::new();
    for (what, path) in [
        ("postgresql data", stack.postgres_data_dir()),
        ("backups", stack.backup_dir()),
        ("logs", std::path::PathBuf::from("/var/log")),
    ] {
        if let Some((free, total)) = crate::host::proc::disk_space(&path) {
            out.push(Disk {
                what: what.into(),
                path: path.display().to_string(),
                free_bytes: free,
                total_bytes: total,
            });
        }
    }
    out
}

/// Handlers a failed init left owed, or an init running right now.
pub(super) fn unfinished_init(stack: &Stack) -> Option<String> {
    if let Some((pid, started)) = crate::playbook::state::Lock::holder(&stack.state_dir) {
        return Some(format!(
            "a provision run is in progress (pid {pid}, started {started})"
        ));
    }
    let pending = crate::playbook::state::Pending::load(&stack.state_dir).ok()?;
    (!pending.names.is_empty()).then(|| {
        format!(
            "the last init stopped part-way and still owes: {}; run `provision init` to finish it",
            pending.names.join(", ")
        )
    })
}
