//! `/health` (alive, touches nothing), `/ready` (PostgreSQL and Redis), `/metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::json;
use crate::server::metrics::ReplicaLabels;
use crate::server::state::AppState;

pub async fn health() -> Response {
    json(
        StatusCode::OK,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}).to_string(),
    )
}

pub async fn ready(State(state): State<AppState>) -> Response {
    let pg = async {
        let check = async {
            let mut conn = state.pool.acquire().await?;
            sqlx::query("SELECT 1").execute(&mut *conn).await
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), check).await,
            Ok(Ok(_))
        )
    };
    let (pg_ok, redis_ok) = tokio::join!(pg, state.cache.ping());
    let draining = state.is_draining();
    let status = if draining || !pg_ok {
        "down"
    } else if redis_ok {
        "ok"
    } else {
        "degraded"
    };
    let mut body = json!({
        "status": status,
        "checks": {
            "postgres": if pg_ok { "ok" } else { "down" },
            "redis": if redis_ok { "ok" } else { "down" },
        }
    });
    if draining {
        body["draining"] = json!(true);
    }
    if !state.replicas.is_empty() {
        // A replica down or lagging is not an outage: the primary answers its reads.
        body["replicas"] = json!(state.replicas.states());
    }
    let code = if status == "down" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    json(code, body.to_string())
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.pool_size.set(state.pool.size() as i64);
    state.metrics.pool_idle.set(state.pool.num_idle() as i64);
    for r in state.replicas.states() {
        let labels = ReplicaLabels { replica: r.name };
        state
            .metrics
            .replica_lag
            .get_or_create(&labels)
            .set(r.lag_ms.map_or(-1.0, |ms| ms as f64 / 1000.0));
        state
            .metrics
            .replica_serving
            .get_or_create(&labels)
            .set(i64::from(r.state == "ok"));
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}
