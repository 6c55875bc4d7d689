//! The router: every route of docs/api.md, the fallbacks, and the layers around them
//! (request ids, per-request timeout, metrics, JSON error bodies, panic catching).

mod auth;
mod local;
mod page;
mod probes;
mod results;
mod runs;
mod suites;
mod summary;
mod ws;

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use super::error::{error_body, ApiError};
use super::metrics::HttpLabels;
use super::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(probes::health))
        .route("/ready", get(probes::ready))
        .route("/metrics", get(probes::metrics))
        .route("/api/suites", get(suites::list))
        .route("/api/runs", get(runs::list).post(runs::create))
        .route("/api/runs/{id}", get(runs::get_one).patch(runs::finish))
        .route(
            "/api/runs/{id}/results",
            get(results::list).post(results::add),
        )
        .route("/api/summary", get(summary::summary))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/ws", get(ws::upgrade))
        .route("/", get(page::index))
        .route("/static/{file}", get(page::asset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", id, method = %req.method(), path = req.uri().path())
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The method as a metrics label: the standard ones by name, any other `OTHER`, so odd
/// methods cannot add time series without end.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

/// Times the request out, records metrics, and turns any non-JSON error (a framework
/// rejection, a layer's answer) into docs/api.md's error shape.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method()).to_owned();
    // A writer's reads, and reads asking for a fresh answer, use the primary.
    let primary_only = req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION)
        || req
            .headers()
            .get(axum::http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("no-cache"));
    let next = |req| crate::server::read_route::routed(primary_only, next.run(req));
    let resp = if route == "/ws" {
        next(req).await
    } else {
        match tokio::time::timeout(state.settings.request_timeout, next(req)).await {
            Ok(resp) => resp,
            Err(_) => {
                tracing::warn!(route, "request timed out");
                ApiError::unavailable(
                    "request_timeout",
                    "the request took longer than the server's limit; retry shortly",
                )
                .into_response()
            }
        }
    };
    let resp = json_errors(resp);
    state.metrics.observe(
        HttpLabels {
            method,
            route,
            status: resp.status().as_u16(),
        },
        start.elapsed().as_secs_f64(),
    );
    resp
}

fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if status.as_u16() < 400 || status == StatusCode::SWITCHING_PROTOCOLS {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return resp;
    }
    let (code, message) = match status.as_u16() {
        400 => ("bad_request", "the request could not be parsed"),
        404 => ("not_found", "no such route"),
        405 => ("method_not_allowed", "method not allowed on this route"),
        408 => ("request_timeout", "the request took too long"),
        413 => (
            "body_too_large",
            "the request body is over the server's limit (nginx.max_body_kb)",
        ),
        415 => (
            "unsupported_media_type",
            "send the body as application/json",
        ),
        422 => ("invalid_body", "the request body breaks a rule"),
        429 => ("rate_limited", "too many requests; slow down"),
        503 => ("unavailable", "the service is unavailable; retry shortly"),
        s if s < 500 => ("bad_request", "the request was refused"),
        _ => ("internal_error", "internal error"),
    };
    let (mut parts, _) = resp.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(error_body(code, message)))
}

/// A JSON response with the given status.
pub(crate) fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// `METHOD /path` for every route registered in this file's `router`.
    fn served() -> BTreeSet<String> {
        let src = include_str!("mod.rs");
        let router = &src[..src.find("\n}\n").expect("router's end")];
        let mut out = BTreeSet::new();
        for (i, _) in router.match_indices(".route(") {
            let rest = &router[i + ".route(".len()..];
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(j, _)| j)
                .expect("a closed .route(");
            let call = &rest[..end];
            let path = call.split('"').nth(1).expect("a path literal");
            for m in ["get", "post", "patch", "put", "delete"] {
                let calls = call.match_indices(&format!("{m}(")).any(|(k, _)| {
                    k == 0 || !call[..k].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if calls {
                    out.insert(format!("{} {path}", m.to_uppercase()));
                }
            }
        }
        out
    }

    /// `METHOD /path` for every route docs/api.md documents (its routes table).
    fn documented() -> BTreeSet<String> {
        include_str!("../../../docs/api.md")
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .filter(|r| r.contains(" /"))
            .map(|r| r.split('?').next().unwrap_or(r).to_string())
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_served() {
        let (served, documented) = (served(), documented());
        assert!(served.len() >= 15, "{served:?}");
        assert_eq!(
            served, documented,
            "the router (left) and docs/api.md's routes table (right) differ"
        );
    }
}
