//! `GET /api/summary?window=24h`: pass rates and p95 durations per suite and environment,
//! and the most failing checks, over runs started in (now − window, now]; cached.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};

use super::json;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::Query;
use crate::server::state::AppState;

/// Parses `[1-9][0-9]*[mhd]` within 1h..=30d into seconds.
pub fn parse_window(w: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "bad_query",
            format!("window={w:?} must look like 30m, 24h or 7d, from 1h to 30d"),
        )
    };
    let (digits, unit) = w.split_at(w.len().saturating_sub(1));
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let unit_s = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(unit_s).ok_or_else(bad)?;
    if !(3600..=30 * 86_400).contains(&secs) {
        return Err(bad());
    }
    Ok(secs)
}

const SUMMARY_SQL: &str = "\
WITH w AS (
    SELECT id, suite_id, environment, status, started_at, finished_at
    FROM validation_runs WHERE started_at > $1 AND started_at <= $2
), g AS (
    SELECT w.suite_id, s.name AS suite, w.environment, count(*) AS runs,
           count(*) FILTER (WHERE w.status = 'passed') AS passed_runs,
           percentile_cont(0.95) WITHIN GROUP (
               ORDER BY (extract(epoch FROM w.finished_at - w.started_at) * 1000)::float8)
               FILTER (WHERE w.finished_at IS NOT NULL) AS p95
    FROM w JOIN validation_suites s ON s.id = w.suite_id
    GROUP BY w.suite_id, s.name, w.environment
), f AS (
    SELECT res.check_name, count(*) AS failures, count(DISTINCT res.run_id) AS runs
    FROM w JOIN validation_results res ON res.run_id = w.id
    WHERE res.status IN ('fail', 'error')
    GROUP BY res.check_name
    ORDER BY failures DESC, res.check_name
    LIMIT 10
)
SELECT
    coalesce((SELECT json_agg(json_build_object(
        'suite_id', suite_id, 'suite', suite, 'environment', environment, 'runs', runs,
        'passed_runs', passed_runs, 'pass_rate', passed_runs::float8 / runs,
        'p95_duration_ms', p95) ORDER BY suite, environment) FROM g), '[]'::json)::text,
    coalesce((SELECT json_agg(json_build_object(
        'check_name', check_name, 'failures', failures, 'runs', runs)
        ORDER BY failures DESC, check_name) FROM f), '[]'::json)::text";

pub async fn summary(State(state): State<AppState>, q: Query) -> ApiResult<Response> {
    let window = q.get("window").unwrap_or("24h").to_string();
    let secs = parse_window(&window)?;
    let compute = async {
        let end: DateTime<Utc> = Utc::now();
        let start = end - chrono::Duration::seconds(secs);
        let (groups, failing): (String, String) = state
            .read(|conn| {
                Box::pin(
                    sqlx::query_as(SUMMARY_SQL)
                        .bind(start)
                        .bind(end)
                        .fetch_one(conn),
                )
            })
            .await?;
        Ok(format!(
            r#"{{"window":"{window}","window_end":"{}","groups":{groups},"failing_checks":{failing}}}"#,
            end.to_rfc3339_opts(SecondsFormat::Micros, true)
        ))
    };
    let (body, status) = state
        .cache
        .get_or_compute(&format!("summary:{window}"), compute)
        .await?;
    state.metrics.cache_lookup("/api/summary", status.as_str());
    let mut resp = json(StatusCode::OK, body);
    resp.headers_mut()
        .insert("x-cache", HeaderValue::from_static(status.as_str()));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(parse_window("24h").unwrap(), 86_400);
        assert_eq!(parse_window("60m").unwrap(), 3600);
        assert_eq!(parse_window("30d").unwrap(), 30 * 86_400);
        for bad in [
            "",
            "h",
            "0h",
            "01h",
            "59m",
            "31d",
            "1w",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
