//! The ledger in the target: whether this source was migrated before (a no-op), whether
//! the target holds data this run must not replace, and recording a finished migration
//! with its quarantine.

use super::dashboard::Table;
use super::report::Quarantined;
use super::MigrateError;

/// Decides from the ledger and the tables' contents: `Some(id)` when this source was
/// already migrated (a no-op), `None` to go ahead, or a refusal.
pub async fn decide(
    conn: &mut sqlx::PgConnection,
    sha: &str,
    replace: bool,
    dashboard: &[Table],
    inferred: &[&'static str],
    target: &str,
) -> Result<Option<i64>, MigrateError> {
    let err = |source| MigrateError::Target {
        target: target.to_string(),
        what: "reading the migration ledger".into(),
        source,
    };
    let same: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM provision_migrations WHERE source_sha256 = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(sha)
    .fetch_optional(&mut *conn)
    .await
    .map_err(err)?;
    if same.is_some() && !replace {
        return Ok(same);
    }
    let previous: Option<(i64, String)> =
        sqlx::query_as("SELECT id, source_path FROM provision_migrations ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(err)?;
    // What this migration would replace, and what of it no migration created.
    let mut occupied = Vec::new();
    let mut foreign = Vec::new();
    for t in dashboard {
        let any: bool =
            sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM public.{})", t.name))
                .fetch_one(&mut *conn)
                .await
                .map_err(err)?;
        if any {
            occupied.push(t.name.to_string());
            if previous.is_none() {
                foreign.push(t.name.to_string());
            }
        }
    }
    for name in inferred {
        let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(format!("public.\"{}\"", name.replace('"', "\"\"")))
            .fetch_one(&mut *conn)
            .await
            .map_err(err)?;
        if exists.is_none() {
            continue;
        }
        occupied.push(name.to_string());
        let ours: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM provision_migrations m, \
             jsonb_array_elements(m.report -> 'tables') e WHERE e ->> 'table' = $1)",
        )
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .map_err(err)?;
        if !ours {
            foreign.push(name.to_string());
        }
    }
    if occupied.is_empty() {
        return Ok(None);
    }
    if !foreign.is_empty() {
        return Err(MigrateError::Refused(format!(
            "{target} already has table(s) with data that no migration created ({}); migrate \
             never replaces them — back them up and empty or drop them first, or migrate into \
             another database",
            foreign.join(", ")
        )));
    }
    if replace {
        return Ok(None);
    }
    let (id, path) = previous.unwrap_or((0, "?".into()));
    Err(MigrateError::Refused(format!(
        "{target} already holds the data of migration #{id} (from {path}), a different source, \
         in {}; pass --replace to replace it (those tables are swapped whole)",
        occupied.join(", ")
    )))
}

/// Records the migration and its quarantine inside the swap's transaction; returns its id.
pub async fn record(
    tx: &mut sqlx::PgConnection,
    sha: &str,
    source_path: &str,
    started_at: chrono::DateTime<chrono::Utc>,
    report: &super::Report,
    quarantine: &[Quarantined],
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO provision_migrations (source_sha256, source_path, started_at, report) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(sha)
    .bind(source_path)
    .bind(started_at)
    .bind(sqlx::types::Json(report))
    .fetch_one(&mut *tx)
    .await?;
    if !quarantine.is_empty() {
        let q = quarantine;
        sqlx::query(
            "INSERT INTO provision_quarantine (migration_id, table_name, row_key, column_name, original, reason) \
             SELECT $1, t, k, c, o::jsonb, r FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
             AS u(t, k, c, o, r)",
        )
        .bind(id)
        .bind(q.iter().map(|x| x.table.clone()).collect::<Vec<_>>())
        .bind(q.iter().map(|x| x.key.clone()).collect::<Vec<_>>())
        .bind(q.iter().map(|x| x.column.clone()).collect::<Vec<_>>())
        .bind(q.iter().map(|x| x.original.to_string()).collect::<Vec<_>>())
        .bind(q.iter().map(|x| x.reason.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    Ok(id)
}
