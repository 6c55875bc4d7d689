//! The dashboard's schema: the sqlx migrations in `migrations/`, embedded in the binary and
//! applied under a PostgreSQL advisory lock (sqlx's migrator takes `pg_advisory_lock`
//! for the whole run), so several `serve` instances and `migrate` starting together apply
//! them exactly once. Shared by `server` and `migrate`, with the vocabularies its CHECK
//! constraints hold (a test in `migrate` compares them with the catalog).

use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// A run's `status` values (the CHECK on `validation_runs.status`).
pub const RUN_STATUSES: [&str; 5] = ["queued", "running", "passed", "failed", "error"];
/// The statuses a run can be finished with (`PATCH /api/runs/{id}`).
pub const FINAL_RUN_STATUSES: [&str; 3] = ["passed", "failed", "error"];
/// A result's `status` values (the CHECK on `validation_results.status`).
pub const RESULT_STATUSES: [&str; 4] = ["pass", "fail", "skip", "error"];
/// A user's `role` values (the CHECK on `users.role`).
pub const ROLES: [&str; 3] = ["viewer", "engineer", "admin"];

/// The embedded migrations (add-only).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies every pending migration. Safe to call from many processes at once.
pub async fn apply(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Only the migration ledger and quarantine (`provision migrate` of a database that is not
/// the dashboard's, into a target without the dashboard schema): the ledger migration's
/// tables, created where missing.
pub async fn apply_ledger(pool: &PgPool) -> Result<(), sqlx::Error> {
    let sql = include_str!("../migrations/20261129000002_migrate_ledger.sql")
        .replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ")
        .replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ");
    sqlx::raw_sql(&sql).execute(pool).await.map(|_| ())
}

/// The newest migration version this binary knows (what `verify` compares against).
pub fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}
