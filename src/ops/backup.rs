//! `provision backup` and `provision restore`: the app database in pg_dump's custom
//! format, in a dated file beside its checksum and a manifest of each table's rows.
//!
//! A backup counts and digests the rows in the very snapshot pg_dump reads
//! (`pg_export_snapshot` shared with `pg_dump --snapshot`), checks the archive lists every table's data, and only
//! then gives the file its name (`restore` reads what is written here). The app's role
//! logs in with its password from the environment of pg_dump and pg_restore, never their
//! argv.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Connection;

use crate::host::exec::Cmd;
use crate::host::psql::ident;
use crate::settings::{redact_url, Secret, ServiceUrl};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{}: no such backup; `provision backup --list` shows the backups in {}", .file.display(), .dir.display())]
    Missing { file: PathBuf, dir: PathBuf },
    #[error("{}: {why}; it cannot be restored. Pick another with `provision backup --list`", .file.display())]
    Corrupt { file: PathBuf, why: String },
    #[error("{0}")]
    Database(String),
    #[error("{0}")]
    Failed(String),
}

pub(super) fn failed(what: impl std::fmt::Display) -> BackupError {
    BackupError::Failed(what.to_string())
}

/// What `backup` writes beside the dump (`FILE.json`) and what `restore` checks against.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub database: String,
    pub created: String,
    /// Why it was taken: `manual`, `before migrate --replace`, …
    pub reason: String,
    pub sha256: String,
    pub bytes: u64,
    pub server_version: String,
    /// Rows per table (`schema.table`), counted in the dump's own snapshot.
    pub tables: BTreeMap<String, i64>,
    /// Each table's content digest in the same snapshot (`backup_digest`), which the
    /// restore drill compares with the restored copy. Absent in older manifests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digests: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    pub file: PathBuf,
    pub manifest: Manifest,
    pub seconds: f64,
}

/// How to reach the database as the app's role, for libpq programs.
pub(super) struct Conn {
    args: Vec<String>,
    password: Option<Secret>,
    pub(super) database: String,
}

pub(super) fn conn_of(url: &Secret) -> Result<Conn, BackupError> {
    let u = ServiceUrl::parse(url).map_err(BackupError::Database)?;
    let database = u.database().ok_or_else(|| {
        BackupError::Database(format!("{}: names no database", redact_url(url.expose())))
    })?;
    let mut args = Vec::new();
    if let Some(h) = u.host() {
        args.extend(["-h".to_string(), h]);
    }
    if let Some(p) = u.url().port() {
        args.extend(["-p".to_string(), p.to_string()]);
    }
    if let Some(user) = u.user() {
        args.extend(["-U".to_string(), user]);
    }
    Ok(Conn {
        args,
        password: u.password(),
        database,
    })
}

impl Conn {
    /// `program` with the connection's options, the password in its environment.
    pub(super) fn cmd(&self, program: &str, database: &str) -> Cmd {
        let mut c = Cmd::new(program, &[]);
        for a in &self.args {
            c = c.arg(a.as_str());
        }
        c = c.arg("-d").arg(database);
        if let Some(p) = &self.password {
            c = c.secret_env("PGPASSWORD", p.clone());
        }
        c
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// The `TABLE DATA` entries of an archive's table of contents (`schema.table`).
pub(super) fn archive_tables(file: &Path) -> Result<Vec<String>, BackupError> {
    let out = Cmd::new("pg_restore", &["--list", &file.display().to_string()])
        .run_checked(true)
        .map_err(failed)?;
    if out.code != Some(0) {
        return Err(BackupError::Corrupt {
            file: file.to_path_buf(),
            why: format!(
                "pg_restore --list cannot read it (exit {:?}: {}) — not a custom-format pg_dump archive, or damaged",
                out.code,
                crate::host::exec::tail(&out.stderr, 3).trim()
            ),
        });
    }
    // "215; 0 16390 TABLE DATA public runs dashboard_user"
    Ok(out
        .stdout
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let rest = l.split_once(" TABLE DATA ")?.1;
            let mut w = rest.split_whitespace();
            Some(format!("{}.{}", w.next()?, w.next()?))
        })
        .collect())
}

/// Rows per table, counted in `conn`'s current snapshot.
pub(super) async fn count_tables(
    conn: &mut sqlx::PgConnection,
) -> Result<BTreeMap<String, i64>, String> {
    let mut counts = BTreeMap::new();
    for (s, t) in super::backup_digest::user_tables(conn).await? {
        let n: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {}.{}", ident(&s), ident(&t)))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| format!("counting {s}.{t}: {e}"))?;
        counts.insert(format!("{s}.{t}"), n);
    }
    Ok(counts)
}

/// The name of the directory provision makes for itself inside a `--dir` given to it.
pub const SUBDIR: &str = "live-dashboard-backups";

/// Where backups go: root's own directory by default; under `--dir DIR`, a subdirectory
/// of DIR that provision makes private (DIR itself is never chmodded: it may be shared).
pub fn directory(given: Option<&Path>) -> PathBuf {
    given.map_or_else(
        || PathBuf::from(crate::init::vars::BACKUP_DIR),
        |d| d.join(SUBDIR),
    )
}

/// Sets the process's umask for as long as it lives (pg_dump inherits it).
struct Umask(libc::mode_t);

impl Umask {
    fn set(mask: libc::mode_t) -> Umask {
        // SAFETY: umask has no preconditions and cannot fail.
        Umask(unsafe { libc::umask(mask) })
    }
}

impl Drop for Umask {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::umask(self.0) };
    }
}

/// Dumps the database of `url` into `dir` (see [`directory`]; made private, 0700) as
/// `DB-YYYYMMDDTHHMMSSZ.dump` (0600), with `.sha256` and `.json` beside it.
pub async fn backup(url: &Secret, dir: &Path, reason: &str) -> Result<Backup, BackupError> {
    let started = Instant::now();
    let shown = redact_url(url.expose());
    let c = conn_of(url)?;
    if c.database.contains('/') || c.database.starts_with('.') {
        return Err(BackupError::Database(format!(
            "{shown}: the database name {:?} cannot name a backup file (a '/' or a leading '.'); rename the database",
            c.database
        )));
    }
    crate::host::fs::private_dir(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
    // Nothing pg_dump writes is readable by others, even for a moment.
    let _umask = Umask::set(0o077);
    let mut db = sqlx::PgConnection::connect(url.expose())
        .await
        .map_err(|e| BackupError::Database(format!("{shown}: {e}")))?;
    let db_err = |e: sqlx::Error| BackupError::Database(format!("{shown}: {e}"));
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut db)
        .await
        .map_err(db_err)?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut db)
        .await
        .map_err(db_err)?;
    let server_version: String = sqlx::query_scalar("SELECT current_setting('server_version')")
        .fetch_one(&mut db)
        .await
        .map_err(db_err)?;
    let sums = super::backup_digest::digest_tables(&mut db)
        .await
        .map_err(|e| BackupError::Database(format!("{shown}: {e}")))?;
    let tables: BTreeMap<String, i64> = sums.iter().map(|(t, s)| (t.clone(), s.rows)).collect();
    let digests = sums.into_iter().map(|(t, s)| (t, s.digest)).collect();
    let now = chrono::Utc::now();
    let name = format!("{}-{}.dump", c.database, now.format("%Y%m%dT%H%M%SZ"));
    let file = dir.join(&name);
    let partial = dir.join(format!(".{name}.partial"));
    let dump = c
        .cmd("pg_dump", &c.database)
        .arg("--format=custom")
        .arg(format!("--snapshot={snapshot}"))
        .arg(format!("--file={}", partial.display()));
    let dumped = tokio::task::spawn_blocking(move || dump.run())
        .await
        .map_err(failed)?;
    // The snapshot is needed until pg_dump has read everything.
    let _ = sqlx::query("COMMIT").execute(&mut db).await;
    let _ = db.close().await;
    if let Err(e) = dumped {
        let _ = std::fs::remove_file(&partial);
        return Err(failed(e));
    }
    let _ = std::fs::set_permissions(
        &partial,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    );
    let listed = archive_tables(&partial)?;
    let missing: Vec<&String> = tables.keys().filter(|t| !listed.contains(t)).collect();
    if !missing.is_empty() {
        let _ = std::fs::remove_file(&partial);
        return Err(failed(format!(
            "the dump lacks the data of {missing:?}; nothing was kept"
        )));
    }
    let sha256 = sha256_file(&partial).map_err(failed)?;
    let bytes = std::fs::metadata(&partial).map_err(failed)?.len();
    std::fs::rename(&partial, &file).map_err(failed)?;
    let manifest = Manifest {
        schema: "provision.backup/v1".into(),
        database: c.database.clone(),
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        reason: reason.into(),
        sha256: sha256.clone(),
        bytes,
        server_version,
        tables,
        digests,
    };
    std::fs::write(sidecar(&file, "sha256"), format!("{sha256}  {name}\n")).map_err(failed)?;
    std::fs::write(
        sidecar(&file, "json"),
        serde_json::to_string_pretty(&manifest).expect("a manifest serializes"),
    )
    .map_err(failed)?;
    Ok(Backup {
        file,
        manifest,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// `FILE.EXT` beside `file`.
pub fn sidecar(file: &Path, ext: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// The backups in `dir`, newest first, with whether each one's checksum still matches.
pub fn list(dir: &Path) -> Vec<(PathBuf, Option<Manifest>, bool)> {
    let mut out: Vec<(PathBuf, Option<Manifest>, bool)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "dump"))
                .map(|p| {
                    let m: Option<Manifest> = std::fs::read_to_string(sidecar(&p, "json"))
                        .ok()
                        .and_then(|t| serde_json::from_str(&t).ok());
                    let ok = checksum(&p).is_ok();
                    (p, m, ok)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| b.0.cmp(&a.0));
    out
}

/// Checks `file` against its `.sha256`.
pub fn checksum(file: &Path) -> Result<String, BackupError> {
    let corrupt = |why: String| BackupError::Corrupt {
        file: file.to_path_buf(),
        why,
    };
    let want = std::fs::read_to_string(sidecar(file, "sha256")).map_err(|e| {
        corrupt(format!(
            "its checksum file {} cannot be read ({e}); pass --no-checksum to restore it unchecked",
            sidecar(file, "sha256").display()
        ))
    })?;
    let want = want.split_whitespace().next().unwrap_or("").to_string();
    let got = sha256_file(file).map_err(|e| corrupt(e.to_string()))?;
    if got != want {
        return Err(corrupt(format!(
            "its sha256 is {got}, its checksum file says {want}: the file changed after the backup"
        )));
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_options_never_carry_the_password() {
        let c = conn_of(&Secret::new(
            "postgresql://dash%20user:s3cr%40t@127.0.0.1:5433/live_db",
        ))
        .unwrap();
        let cmd = c.cmd("pg_dump", "live_db");
        let shown = cmd.display();
        assert_eq!(
            shown,
            "PGPASSWORD=**** pg_dump -h 127.0.0.1 -p 5433 -U 'dash user' -d live_db"
        );
        assert!(!cmd.args.iter().any(|a| a.contains("s3cr")));
        let sock = conn_of(&Secret::new("postgresql:///live?host=/run/postgresql")).unwrap();
        assert_eq!(sock.args, ["-h", "/run/postgresql"]);
        assert!(sock.password.is_none());
        assert!(conn_of(&Secret::new("postgresql://h/")).is_err());
    }

    #[test]
    fn a_changed_file_fails_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("db-1.dump");
        std::fs::write(&f, b"archive").unwrap();
        let sum = sha256_file(&f).unwrap();
        std::fs::write(sidecar(&f, "sha256"), format!("{sum}  db-1.dump\n")).unwrap();
        assert_eq!(checksum(&f).unwrap(), sum);
        std::fs::write(&f, b"archivE").unwrap();
        let e = checksum(&f).unwrap_err().to_string();
        assert!(e.contains("changed after the backup"), "{e}");
        std::fs::remove_file(sidecar(&f, "sha256")).unwrap();
        assert!(checksum(&f)
            .unwrap_err()
            .to_string()
            .contains("--no-checksum"));
    }
}
