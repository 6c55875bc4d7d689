//! The dashboard's schema: the sqlx migrations in `migrations/`, embedded in the binary and
//! applied under a PostgreSQL advisory lock (sqlx's migrator takes `pg_advisory_lock`
//! for the whole run), so several `serve` instances and `migrate` starting together apply
//! them exactly once. Shared by `server` and `migrate`.

use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// The embedded migrations (add-only).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies every pending migration. Safe to call from many processes at once.
pub async fn apply(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// The newest migration version this binary knows (what `verify` compares against).
pub fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}
