//! The SQLite source: opened read-only and never written. A WAL-mode file is first copied
//! with SQLite's backup API into one consistent snapshot (pages still in `-wal`
//! included); its sha256 identifies the migration. Also what the file holds: tables,
//! columns, views, triggers, AUTOINCREMENT high-water marks.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};

/// Why a source cannot be used (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: no such file; pass the legacy SQLite database with --from", .0.display())]
    Missing(PathBuf),
    #[error("{}: not a SQLite database (its first bytes are not \"SQLite format 3\")", .0.display())]
    NotSqlite(PathBuf),
    #[error("{}: the database is corrupt: {}; restore it from a backup or run `sqlite3 FILE .recover`", .0.display(), .1)]
    Corrupt(PathBuf, String),
    #[error("{}: {}", .0.display(), .1)]
    Other(PathBuf, String),
}

pub struct Source {
    /// What the user named.
    pub path: PathBuf,
    /// What is read: the file itself, or the snapshot of a WAL-mode file.
    pub read_path: PathBuf,
    _snapshot: Option<tempfile::TempDir>,
    pub wal: bool,
}

fn other(path: &Path, e: impl std::fmt::Display) -> SourceError {
    let msg = e.to_string();
    if msg.contains("malformed") || msg.contains("corrupt") {
        SourceError::Corrupt(path.to_path_buf(), msg)
    } else if msg.contains("not a database") {
        SourceError::NotSqlite(path.to_path_buf())
    } else {
        SourceError::Other(path.to_path_buf(), msg)
    }
}

/// Opens a read-only connection to `path` (no locks taken that could block the legacy app
/// for long, nothing written).
pub fn connect(path: &Path) -> Result<Connection, SourceError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| other(path, e))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| other(path, e))?;
    Ok(conn)
}

impl Source {
    pub fn open(path: &Path) -> Result<Source, SourceError> {
        let mut f = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::Missing(path.to_path_buf()),
            _ => SourceError::Other(path.to_path_buf(), e.to_string()),
        })?;
        let mut magic = [0u8; 16];
        if f.read_exact(&mut magic).is_err() || &magic != b"SQLite format 3\0" {
            return Err(SourceError::NotSqlite(path.to_path_buf()));
        }
        let conn = connect(path)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| other(path, e))?;
        let wal = mode.eq_ignore_ascii_case("wal");
        if !wal {
            return Ok(Source {
                path: path.to_path_buf(),
                read_path: path.to_path_buf(),
                _snapshot: None,
                wal,
            });
        }
        let dir = tempfile::Builder::new()
            .prefix("provision-migrate-")
            .tempdir()
            .map_err(|e| other(path, format!("cannot create a snapshot directory: {e}")))?;
        let snap = dir.path().join("snapshot.db");
        {
            let mut dst = Connection::open(&snap).map_err(|e| other(path, e))?;
            let backup =
                rusqlite::backup::Backup::new(&conn, &mut dst).map_err(|e| other(path, e))?;
            backup
                .run_to_completion(4096, std::time::Duration::ZERO, None)
                .map_err(|e| other(path, e))?;
        }
        Ok(Source {
            path: path.to_path_buf(),
            read_path: snap,
            _snapshot: Some(dir),
            wal,
        })
    }

    /// sha256 hex of what is read.
    pub fn sha256(&self) -> Result<String, SourceError> {
        let mut f = std::fs::File::open(&self.read_path).map_err(|e| other(&self.path, e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(|e| other(&self.path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(hex::encode(h.finalize()))
    }

    /// `PRAGMA quick_check`: Ok, or the first problems it reports.
    pub fn quick_check(&self) -> Result<(), SourceError> {
        let conn = connect(&self.read_path)?;
        let mut stmt = conn
            .prepare("PRAGMA quick_check(5)")
            .map_err(|e| other(&self.path, e))?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| other(&self.path, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| other(&self.path, e))?;
        if lines.len() == 1 && lines[0] == "ok" {
            Ok(())
        } else {
            Err(SourceError::Corrupt(self.path.clone(), lines.join("; ")))
        }
    }

    pub fn connect(&self) -> Result<Connection, SourceError> {
        connect(&self.read_path)
    }

    pub fn describe(&self) -> Result<Schema, SourceError> {
        let conn = self.connect()?;
        describe(&conn).map_err(|e| other(&self.path, e))
    }
}

/// One object of the source's `sqlite_schema`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Object {
    pub kind: String,
    pub name: String,
    pub table: String,
}

#[derive(Debug, Clone)]
pub struct SourceTable {
    pub name: String,
    pub columns: Vec<String>,
    pub virtual_table: bool,
    /// A virtual table's module (`fts5`, `rtree`, …), lowercase.
    pub module: Option<String>,
}

impl SourceTable {
    /// A virtual table whose rows this migration reads as a plain table: full-text
    /// (FTS3/4/5) and R*Tree, whose modules every SQLite build here has.
    pub fn readable_virtual(&self) -> bool {
        matches!(
            self.module.as_deref(),
            Some("fts3" | "fts4" | "fts5" | "rtree" | "rtree_i32")
        )
    }
}

/// `CREATE VIRTUAL TABLE x USING fts5(…)` → `fts5`.
fn module_of(sql: &str) -> Option<String> {
    let upper = sql.to_ascii_uppercase();
    let at = upper.find(" USING ")? + " USING ".len();
    let module: String = sql[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!module.is_empty()).then(|| module.to_ascii_lowercase())
}

#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub tables: Vec<SourceTable>,
    /// Views, triggers and indexes.
    pub others: Vec<Object>,
    /// AUTOINCREMENT high-water marks (`sqlite_sequence`).
    pub sequences: Vec<(String, i64)>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&SourceTable> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn sequence(&self, table: &str) -> i64 {
        self.sequences
            .iter()
            .find(|(t, _)| t == table)
            .map_or(0, |(_, v)| *v)
    }
}

fn describe(conn: &Connection) -> rusqlite::Result<Schema> {
    let mut schema = Schema::default();
    let mut stmt = conn.prepare(
        "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema \
         WHERE name NOT LIKE 'sqlite_%' ORDER BY rowid",
    )?;
    let rows: Vec<(String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    // A virtual table's shadow tables (its storage) are not tables of their own.
    let shadows: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (kind, name, table, sql) in rows {
        if kind == "table" && shadows.contains(&name) {
            schema.others.push(Object {
                kind: "shadow table".into(),
                name,
                table,
            });
        } else if kind == "table" {
            let virtual_table = sql
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("CREATE VIRTUAL");
            let module = if virtual_table { module_of(&sql) } else { None };
            // A virtual table's hidden columns (FTS5's rank, …) are not data.
            let mut cols =
                conn.prepare("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden <> 1")?;
            let columns = cols
                .query_map([&name], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            schema.tables.push(SourceTable {
                name,
                columns,
                virtual_table,
                module,
            });
        } else {
            schema.others.push(Object { kind, name, table });
        }
    }
    let has_seq: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_schema WHERE name = 'sqlite_sequence'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_seq.is_some() {
        let mut stmt = conn.prepare("SELECT name, seq FROM sqlite_sequence")?;
        schema.sequences = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
    }
    Ok(schema)
}
