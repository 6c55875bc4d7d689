//! The dashboard's schema: the sqlx migrations in `migrations/`, embedded in the binary and
//! applied under a PostgreSQL advisory lock, so several `serve` instances and `migrate`
//! starting together apply them exactly once. Shared by `server` and `migrate`.

use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// The embedded migrations (add-only).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Advisory lock key held while migrating ("ld-schema" as a number).
const LOCK_KEY: i64 = 0x6c64_2d73_6368_656d;

/// Applies every pending migration. Safe to call from many processes at once.
pub async fn apply(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let result = MIGRATOR.run(&mut *conn).await;
    let unlock = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await;
    result.map_err(|e| match e {
        sqlx::migrate::MigrateError::Execute(e) => e,
        other => sqlx::Error::Migrate(Box::new(other)),
    })?;
    unlock?;
    Ok(())
}

/// The newest migration version this binary knows (what `verify` compares against).
pub fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}
