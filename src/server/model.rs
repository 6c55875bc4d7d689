//! The API's objects (run, result, suite) as read from PostgreSQL and written as JSON.
//! JSON documents (`metadata`, `details`, `config`) pass through as raw JSON, unparsed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{FromRow, Row};

pub use crate::schema::{FINAL_RUN_STATUSES, RESULT_STATUSES, RUN_STATUSES};

/// The columns of a run, joined with its suite's name; callers add FROM/WHERE.
pub const RUN_COLUMNS: &str = "r.id, r.suite_id, s.name AS suite, r.environment, r.status, \
     r.triggered_by, r.started_at, r.finished_at, r.total_checks, r.passed_checks, \
     r.failed_checks, r.metadata";
/// The columns of a result, in the order [`CheckResult`] decodes them.
pub const RESULT_COLUMNS: &str =
    "id, run_id, check_name, status, duration_ms, message, details, created_at";
pub const RUN_FROM: &str = "validation_runs r JOIN validation_suites s ON s.id = r.suite_id";

fn raw(row: &PgRow, col: usize) -> Result<Option<Box<RawValue>>, sqlx::Error> {
    Ok(row
        .try_get::<Option<Json<Box<RawValue>>>, _>(col)?
        .map(|j| j.0))
}

/// Serializes a timestamp as RFC 3339 in UTC with microseconds and a `Z`
/// (`2026-11-29T17:00:00.123456Z`): PostgreSQL's precision, one fixed width, and no
/// `fmt` machinery on the hot path of a 50-run page.
pub mod rfc3339 {
    use chrono::{DateTime, Datelike, Timelike, Utc};
    use serde::Serializer;

    pub fn format(t: &DateTime<Utc>) -> String {
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        let year = t.year();
        if !(0..=9999).contains(&year) {
            return t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        }
        put(0, 4, year as u32);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        put(20, 6, t.nanosecond() % 1_000_000_000 / 1000);
        String::from_utf8(b.to_vec()).expect("ASCII")
    }

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_none(),
        }
    }

    #[cfg(test)]
    mod tests {
        use chrono::TimeZone;

        #[test]
        fn fixed_width_utc() {
            let t = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
                + chrono::Duration::microseconds(7);
            assert_eq!(super::format(&t), "2026-01-02T03:04:05.000007Z");
            assert_eq!(
                super::format(&t),
                t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Run {
    pub id: i64,
    pub suite_id: i64,
    pub suite: String,
    pub environment: String,
    pub status: String,
    pub triggered_by: Option<i64>,
    #[serde(with = "rfc3339")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339")]
    pub finished_at: Option<DateTime<Utc>>,
    pub total_checks: Option<i64>,
    pub passed_checks: Option<i64>,
    pub failed_checks: Option<i64>,
    pub metadata: Option<Box<RawValue>>,
}

impl FromRow<'_, PgRow> for Run {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        // By position: RUN_COLUMNS fixes the order, and a name lookup per cell is
        // measurable on a 50-run page.
        Ok(Run {
            id: row.try_get(0)?,
            suite_id: row.try_get(1)?,
            suite: row.try_get(2)?,
            environment: row.try_get(3)?,
            status: row.try_get(4)?,
            triggered_by: row.try_get(5)?,
            started_at: row.try_get(6)?,
            finished_at: row.try_get(7)?,
            total_checks: row.try_get(8)?,
            passed_checks: row.try_get(9)?,
            failed_checks: row.try_get(10)?,
            metadata: raw(row, 11)?,
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
    #[serde(with = "rfc3339")]
    pub created_at: Option<DateTime<Utc>>,
}

impl FromRow<'_, PgRow> for CheckResult {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        // By position, in RESULT_COLUMNS order.
        Ok(CheckResult {
            id: row.try_get(0)?,
            run_id: row.try_get(1)?,
            check_name: row.try_get(2)?,
            status: row.try_get(3)?,
            duration_ms: row.try_get(4)?,
            message: row.try_get(5)?,
            details: raw(row, 6)?,
            created_at: row.try_get(7)?,
        })
    }
}

/// A keyset page as docs/api.md shapes it: `{"items": [...], "<cursor>": id|null}`.
#[derive(Serialize)]
pub struct Page<'a, T> {
    pub items: &'a [T],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<Option<i64>>,
}

/// The runs of `ids` that exist, in no particular order.
pub async fn fetch_runs(
    conn: &mut sqlx::PgConnection,
    ids: Vec<i64>,
) -> Result<Vec<Run>, sqlx::Error> {
    sqlx::query_as::<_, Run>(&format!(
        "SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Whether a run with this id exists.
pub async fn run_exists(conn: &mut sqlx::PgConnection, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM validation_runs WHERE id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
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
