//! `MigrateError`: how a migration failed and, for database errors, what to do about
//! them.

use super::source::SourceError;
use super::stage::StageError;

/// How a migration failed (`commands::migrate` decides the exit code of each kind).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Refused(String),
    #[error("--strict: {count} value(s) cannot be migrated exactly; nothing was written. First: {first}")]
    Strict { count: usize, first: String },
    #[error("verification failed, nothing was swapped in: {0}")]
    Verify(String),
    #[error(
        "{table}: {key} — values SQLite kept apart (1 and '1', say) are equal once converted, \
         and {index} must hold them once: rows {rows}; nothing was migrated (make them \
         distinct in the source, or drop the uniqueness there)"
    )]
    Collision {
        table: String,
        index: String,
        /// PostgreSQL's `Key (…)=(…) is duplicated.`
        key: String,
        /// The colliding rows as JSON, when they could be read.
        rows: String,
    },
    #[error("PostgreSQL at {target}: {what}: {source}{}", hint(source))]
    Target {
        target: String,
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error("reading the source failed: {0}")]
    Read(String),
}

/// What to do about a database error, when there is something to say.
fn hint(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Database(d) => match d.code().as_deref() {
            Some("53100") => " (the PostgreSQL server's disk is full: free space there and run again; the target was left as it was)",
            Some("28P01") => " (check the password in DATABASE_URL, the .env or --to)",
            Some("42501") => " (the role needs CREATE on the database and ownership of the dashboard tables)",
            Some("3D000") => " (create the database first, or check its name in the URL)",
            _ => "",
        },
        sqlx::Error::Io(_) => " (is PostgreSQL running and reachable at that host and port?)",
        _ => "",
    }
}

impl MigrateError {
    /// The error of `what` failing on the target shown as `target` (its URL, redacted).
    pub(super) fn at(
        target: &str,
        what: impl Into<String>,
    ) -> impl FnOnce(sqlx::Error) -> MigrateError {
        let (target, what) = (target.to_string(), what.into());
        move |source| MigrateError::Target {
            target,
            what,
            source,
        }
    }

    /// A SQLite error while reading `table`: corruption is the source's fault (exit 3).
    pub(super) fn reading(src: &std::path::Path, table: &str, e: rusqlite::Error) -> Self {
        let msg = e.to_string();
        if msg.contains("malformed") || msg.contains("corrupt") {
            MigrateError::Source(SourceError::Corrupt(
                src.to_path_buf(),
                format!("{table}: {msg}"),
            ))
        } else {
            MigrateError::Read(format!("{table}: {msg}"))
        }
    }
}
