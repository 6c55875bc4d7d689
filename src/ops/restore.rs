//! `provision restore FILE` on this host's stack: the checked backup is loaded beside the
//! live database (see `backup::stage`); only when its rows match does the swap happen —
//! the instances stopped, the new database renamed in, the old one kept under another
//! name, the cache's generation bumped so no instance answers from the old data, and the
//! instances started and ready again.

use std::path::Path;
use std::time::Instant;

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Connection;

use super::backup::{
    archive_tables, checksum, conn_of, count_tables, failed, sidecar, BackupError, Conn, Manifest,
};
use super::stack::Stack;
use crate::host::psql::{ident, literal};
use crate::host::services::Action;
use crate::settings::Secret;

pub async fn restore(
    stack: &Stack,
    file: &Path,
    unchecked: bool,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Restored, BackupError> {
    let started = Instant::now();
    let (staging, counts) = stage_file(stack, file, unchecked).await?;
    let rows: i64 = counts.values().sum();
    progress(&format!(
        "loaded into {staging}: {} tables, {rows} rows, matching the backup",
        counts.len()
    ));
    stop_instances(stack)?;
    progress("instances stopped");
    let swapped = swap_in(stack, &staging);
    let bumped = invalidate_cache(stack).await;
    let started_again = start_instances(stack);
    let kept_as = swapped?;
    match bumped {
        Ok(()) => progress("cache invalidated"),
        Err(e) => progress(&format!(
            "the cache could not be invalidated ({e}); its entries expire with their TTL"
        )),
    }
    started_again?;
    progress("instances started and ready");
    Ok(Restored {
        database: stack.database_name().unwrap_or_default(),
        kept_as,
        tables: counts.len(),
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

pub(super) fn app_url(stack: &Stack) -> Result<&Secret, BackupError> {
    stack.database_url().ok_or_else(|| {
        BackupError::Database("the config file has no database.url (run `provision init`)".into())
    })
}

pub(super) fn admin(stack: &Stack) -> Admin {
    Admin {
        socket_dir: stack.distro.postgresql.socket_dir.clone(),
        port: stack.postgres_port(),
    }
}

/// The first phase, on the database's host: `file` checked and loaded into a new database
/// beside the live one (see [`stage`]). Returns its name and its row counts.
pub async fn stage_file(
    stack: &Stack,
    file: &Path,
    unchecked: bool,
) -> Result<(String, BTreeMap<String, i64>), BackupError> {
    stage(
        app_url(stack)?,
        &admin(stack),
        file,
        &stack.backup_dir(),
        unchecked,
        "restore",
    )
    .await
}

/// The staged database swapped in (see [`swap`]); the old one's new name.
pub fn swap_in(stack: &Stack, staging: &str) -> Result<String, BackupError> {
    swap(app_url(stack)?, &admin(stack), staging)
}

/// A staged database that will not be swapped in, dropped.
pub fn discard(stack: &Stack, staging: &str) -> Result<(), BackupError> {
    admin(stack)
        .run(format!("DROP DATABASE IF EXISTS {};", ident(staging)))
        .map(|_| ())
}

/// Every instance of this host stopped (no one may be connected during the swap).
pub fn stop_instances(stack: &Stack) -> Result<(), BackupError> {
    let svc = stack.services();
    for i in stack.instances() {
        svc.action(Action::Stop, &stack.instance_service(i))
            .run()
            .map_err(|e| BackupError::Failed(e.to_string()))?;
    }
    Ok(())
}

/// Every instance of this host started (each one tried), then each waited for.
pub fn start_instances(stack: &Stack) -> Result<(), BackupError> {
    let svc = stack.services();
    let started: Vec<_> = stack
        .instances()
        .iter()
        .map(|i| svc.action(Action::Start, &stack.instance_service(i)).run())
        .collect();
    for r in started {
        r.map_err(|e| BackupError::Failed(format!("after the restore: {e}")))?;
    }
    for i in stack.instances() {
        super::rolling::wait_ready(i)
            .map_err(|e| BackupError::Failed(format!("after the restore: {e}")))?;
    }
    Ok(())
}

/// Bumps the cache generation (`PREFIX gen`): every cached body becomes unreachable.
pub async fn invalidate_cache(stack: &Stack) -> Result<(), String> {
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

/// How a restore reaches PostgreSQL as its superuser (to create and rename databases).
pub struct Admin {
    pub socket_dir: String,
    pub port: u16,
}

impl Admin {
    fn run(&self, sql: String) -> Result<String, BackupError> {
        crate::host::psql::admin(&self.socket_dir, self.port, sql)
            .run()
            .map(|o| o.stdout)
            .map_err(|e| BackupError::Database(e.to_string()))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub database: String,
    /// The database it replaced, kept under this name.
    pub kept_as: String,
    pub tables: usize,
    pub rows: i64,
    pub seconds: f64,
}

/// Checks `file` (checksum unless `unchecked`, archive, manifest) and loads it into a new
/// database, `DB_LABEL_TIMESTAMP`, compared with the manifest. Returns the new database's
/// name.
pub async fn stage(
    url: &Secret,
    admin: &Admin,
    file: &Path,
    dir: &Path,
    unchecked: bool,
    label: &str,
) -> Result<(String, BTreeMap<String, i64>), BackupError> {
    if !file.is_file() {
        return Err(BackupError::Missing {
            file: file.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    if !unchecked {
        checksum(file)?;
    }
    let listed = archive_tables(file)?;
    let manifest: Option<Manifest> = std::fs::read_to_string(sidecar(file, "json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let c = conn_of(url)?;
    let role = crate::settings::ServiceUrl::parse(url)
        .ok()
        .and_then(|u| u.user())
        .ok_or_else(|| BackupError::Database("database.url names no role".into()))?;
    let staging = format!(
        "{}_{label}_{}",
        c.database,
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    );
    admin.run(format!(
        "CREATE DATABASE {} OWNER {};",
        ident(&staging),
        ident(&role)
    ))?;
    // Anything wrong from here on leaves no half-restored database behind.
    match fill(url, &c, &staging, file, &listed, manifest.as_ref()).await {
        Ok(counts) => Ok((staging, counts)),
        Err(e) => {
            let _ = admin.run(format!("DROP DATABASE IF EXISTS {};", ident(&staging)));
            Err(e)
        }
    }
}

/// Restores `file` into the new database `staging` and checks its row counts against the
/// manifest (or, without one, that every table the archive lists is there).
async fn fill(
    url: &Secret,
    c: &Conn,
    staging: &str,
    file: &Path,
    listed: &[String],
    manifest: Option<&Manifest>,
) -> Result<BTreeMap<String, i64>, BackupError> {
    let restore = c
        .cmd("pg_restore", staging)
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg("--exit-on-error")
        .arg("--single-transaction")
        .arg(file.display().to_string());
    if let Err(e) = tokio::task::spawn_blocking(move || restore.run())
        .await
        .map_err(failed)?
    {
        return Err(BackupError::Corrupt {
            file: file.to_path_buf(),
            why: format!("pg_restore failed part-way, so nothing was swapped in: {e}"),
        });
    }
    let mut staged_url = url::Url::parse(url.expose()).map_err(failed)?;
    staged_url.set_path(&format!("/{staging}"));
    let counts = async {
        let mut db = sqlx::PgConnection::connect(staged_url.as_str())
            .await
            .map_err(|e| e.to_string())?;
        let counts = count_tables(&mut db).await;
        let _ = db.close().await;
        counts
    }
    .await
    .map_err(|e| BackupError::Database(format!("counting the restored rows: {e}")))?;
    let expected: BTreeMap<String, i64> = match manifest {
        Some(m) => m.tables.clone(),
        None => listed.iter().map(|t| (t.clone(), -1)).collect(),
    };
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(t, n)| match counts.get(*t) {
            Some(got) => **n >= 0 && got != *n,
            None => true,
        })
        .map(|(t, n)| format!("{t}: {n} in the backup, {:?} restored", counts.get(t)))
        .collect();
    if !wrong.is_empty() {
        return Err(BackupError::Corrupt {
            file: file.to_path_buf(),
            why: format!(
                "the restored rows differ from its manifest: {}",
                wrong.join("; ")
            ),
        });
    }
    Ok(counts)
}

/// Swaps `staging` in under the app database's name (no one may be connected: the
/// instances are stopped by the caller); the old database is kept as `DB_before_restore_TS`.
/// Both renames are one transaction: either both happen or neither.
pub fn swap(url: &Secret, admin: &Admin, staging: &str) -> Result<String, BackupError> {
    let c = conn_of(url)?;
    let kept = format!(
        "{}_before_restore_{}",
        c.database,
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    );
    admin.run(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid();\n\
         BEGIN;\n\
         ALTER DATABASE {} RENAME TO {};\n\
         ALTER DATABASE {} RENAME TO {};\n\
         COMMIT;",
        literal(&c.database),
        ident(&c.database),
        ident(&kept),
        ident(staging),
        ident(&c.database),
    ))?;
    Ok(kept)
}
