//! `provision backup --verify-restore [FILE]`: the restore drill. The newest backup (or
//! FILE) is checked against its checksum, restored into a scratch database beside the
//! live one (`restore::stage`, as a real restore would), and each table's rows and
//! content digest are compared with what the backup's manifest recorded in pg_dump's own
//! snapshot; then the scratch database is dropped, whatever the outcome. The live
//! database and the instances are never touched.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use sqlx::Connection;

use super::backup::{failed, list, sidecar, BackupError, Manifest};
use super::backup_digest::{differences, digest_tables};
use super::restore::{admin, app_url, discard, stage};
use super::stack::Stack;

/// The reason a drill's outcome is recorded under.
pub const REASON: &str = "restore drill";

#[derive(Debug, Clone, Serialize)]
pub struct Drill {
    pub file: PathBuf,
    /// The scratch database it was restored into (dropped).
    pub scratch: String,
    pub tables: usize,
    pub rows: i64,
    /// Tables whose content digest was compared (a manifest made before digests were
    /// recorded has none: its rows are compared only).
    pub digests_compared: usize,
    pub seconds: f64,
}

/// The backup a drill checks: `given`, or the newest in `dir` (see `backup::directory`).
pub fn pick(dir: &Path, given: Option<&Path>) -> Result<PathBuf, BackupError> {
    if let Some(f) = given {
        return Ok(f.to_path_buf());
    }
    list(dir)
        .into_iter()
        .next()
        .map(|(f, _, _)| f)
        .ok_or_else(|| {
            failed(format!(
                "no backups in {} to verify; take one with `provision backup`",
                dir.display()
            ))
        })
}

/// Restores `file` (of the backups in `dir`) into a scratch database, compares it with its
/// manifest, drops it.
pub async fn drill(stack: &Stack, dir: &Path, file: &Path) -> Result<Drill, BackupError> {
    let started = Instant::now();
    let manifest: Manifest = std::fs::read_to_string(sidecar(file, "json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| BackupError::Corrupt {
            file: file.to_path_buf(),
            why: format!(
                "its manifest {} is missing or unreadable, so there is nothing to compare the restored copy with",
                sidecar(file, "json").display()
            ),
        })?;
    let url = app_url(stack)?;
    let admin = admin(stack);
    let (scratch, counts) = stage(url, &admin, file, dir, false, "drill").await?;
    let compared = compare(url, &scratch, &manifest).await;
    let dropped = discard(stack, &scratch);
    let wrong = compared?;
    dropped.map_err(|e| {
        failed(format!(
            "the restored copy matched, but the scratch database {scratch} could not be dropped ({e}); DROP DATABASE it by hand"
        ))
    })?;
    if !wrong.is_empty() {
        return Err(BackupError::Corrupt {
            file: file.to_path_buf(),
            why: format!(
                "restored into {scratch} (dropped), it differs from its manifest: {}",
                wrong.join("; ")
            ),
        });
    }
    Ok(Drill {
        file: file.to_path_buf(),
        scratch,
        tables: counts.len(),
        rows: counts.values().sum(),
        digests_compared: manifest.digests.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The differences between the scratch database and the manifest (none: it matches).
async fn compare(
    url: &crate::settings::Secret,
    scratch: &str,
    manifest: &Manifest,
) -> Result<Vec<String>, BackupError> {
    let mut u = url::Url::parse(url.expose()).map_err(failed)?;
    u.set_path(&format!("/{scratch}"));
    let mut db = sqlx::PgConnection::connect(u.as_str())
        .await
        .map_err(|e| BackupError::Database(format!("the scratch database {scratch}: {e}")))?;
    let got = digest_tables(&mut db).await;
    let _ = db.close().await;
    let got =
        got.map_err(|e| BackupError::Database(format!("the scratch database {scratch}: {e}")))?;
    Ok(differences(&manifest.tables, &manifest.digests, &got))
}
