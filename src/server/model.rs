//! The API's objects (run, result, suite) as read from PostgreSQL and written as JSON.
//! JSON documents (`metadata`, `details`, `config`) pass through as raw JSON, unparsed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{FromRow, Row};

pub const RUN_STATUSES: [&str; 5] = ["queued", "running", "passed", "failed", "error"];
pub const FINAL_RUN_STATUSES: [&str; 3] = ["passed", "failed", "error"];
pub const RESULT_STATUSES: [&str; 4] = ["pass", "fail", "skip", "error"];

/// The columns of a run, joined with its suite's name; callers add FROM/WHERE.
pub const RUN_COLUMNS: &str = "r.id, r.suite_id, s.name AS suite, r.environment, r.status, \
     r.triggered_by, r.started_at, r.finished_at, r.total_checks, r.passed_checks, \
     r.failed_checks, r.metadata";
pub const RUN_FROM: &str = "validation_runs r JOIN validation_suites s ON s.id = r.suite_id";

fn raw(row: &PgRow, col: &str) -> Result<Option<Box<RawValue>>, sqlx::Error> {
    Ok(row
        .try_get::<Option<Json<Box<RawValue>>>, _>(col)?
        .map(|j| j.0))
}

#[derive(Debug, Serialize)]
pub struct Run {
    pub id: i64,
    pub suite_id: i64,
    pub suite: String,
    pub environment: String,
    pub status: String,
    pub triggered_by: Option<i64>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub total_checks: Option<i64>,
    pub passed_checks: Option<i64>,
    pub failed_checks: Option<i64>,
    pub metadata: Option<Box<RawValue>>,
}

impl FromRow<'_, PgRow> for Run {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Run {
            id: row.try_get("id")?,
            suite_id: row.try_get("suite_id")?,
            suite: row.try_get("suite")?,
            environment: row.try_get("environment")?,
            status: row.try_get("status")?,
            triggered_by: row.try_get("triggered_by")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            total_checks: row.try_get("total_checks")?,
            passed_checks: row.try_get("passed_checks")?,
            failed_checks: row.try_get("failed_checks")?,
            metadata: raw(row, "metadata")?,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct CheckResult {
    pub id: i64,
    pub run_id: i64,
    pub check_name: String,
    pub status: String,
    pub duration_ms: Option<f64>,
    pub message: Option<String>,
    pub details: Option<Box<RawValue>>,
    pub created_at: Option<DateTime<Utc>>,
}

impl FromRow<'_, PgRow> for CheckResult {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(CheckResult {
            id: row.try_get("id")?,
            run_id: row.try_get("run_id")?,
            check_name: row.try_get("check_name")?,
            status: row.try_get("status")?,
            duration_ms: row.try_get("duration_ms")?,
            message: row.try_get("message")?,
            details: raw(row, "details")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// Fetches one run by id.
pub async fn fetch_run(conn: &mut sqlx::PgConnection, id: i64) -> Result<Option<Run>, sqlx::Error> {
    sqlx::query_as::<_, Run>(&format!(
        "SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}
