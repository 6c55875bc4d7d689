//! `GET /api/suites`: every suite with its newest run, ordered by name; cached.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::json;
use crate::server::error::ApiResult;
use crate::server::state::AppState;

pub async fn list(State(state): State<AppState>) -> ApiResult<Response> {
    let compute = state.read(|conn| {
        Box::pin(
            sqlx::query_scalar(
                "SELECT json_build_object('items', coalesce(json_agg(json_build_object( \
                 'id', s.id, 'name', s.name, 'description', s.description, \
                 'config', s.config, \
                 'created_at', to_char(s.created_at AT TIME ZONE 'UTC', \
                                       'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
                 'last_run', CASE WHEN lr.id IS NULL THEN NULL ELSE json_build_object( \
                     'id', lr.id, 'status', lr.status, \
                     'started_at', to_char(lr.started_at AT TIME ZONE 'UTC', \
                                           'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) END) \
                 ORDER BY s.name), '[]'::json))::text \
             FROM validation_suites s \
             LEFT JOIN LATERAL ( \
                 SELECT r.id, r.status, r.started_at FROM validation_runs r \
                 WHERE r.suite_id = s.id ORDER BY r.id DESC LIMIT 1) lr ON true",
            )
            .fetch_one(conn),
        )
    });
    let (body, status) = state.cache.get_or_compute("suites", compute).await?;
    state.metrics.cache_lookup("/api/suites", status.as_str());
    let mut resp = json(StatusCode::OK, body);
    resp.headers_mut()
        .insert("x-cache", HeaderValue::from_static(status.as_str()));
    Ok(resp)
}
