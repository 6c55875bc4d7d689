//! Reads answered from the instance's own cache (`LocalCache`): the runs pages, one run
//! and a run's result pages. `X-Cache` says how: `local`, `miss` (computed and kept) or
//! `bypass` (a writer's read, `Cache-Control: no-cache`, or memory not confirmed fresh
//! within the bound).

use std::future::Future;

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::server::error::ApiResult;
use crate::server::local_cache::Scope;
use crate::server::state::AppState;

/// The answer to the read at `uri` of `route`: from memory when it is there and may
/// serve (`serves`: `LocalCache::serves` of the request, asked once by the caller),
/// else `compute`'s body (200) and the writes it depends on, kept for the next reader
/// when allowed.
pub async fn answer<F>(
    state: &AppState,
    route: &'static str,
    uri: &Uri,
    serves: bool,
    compute: F,
) -> ApiResult<Response>
where
    F: Future<Output = ApiResult<(String, Scope)>>,
{
    if !serves {
        state.metrics.cache_lookup(route, "bypass");
        let (body, _) = compute.await?;
        return Ok(respond(Bytes::from(body), "bypass"));
    }
    let key = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    match state.local.get(key) {
        Ok(body) => {
            state.metrics.cache_lookup(route, "local");
            Ok(respond(body, "local"))
        }
        Err(ticket) => {
            state.metrics.cache_lookup(route, "miss");
            let (body, scope) = compute.await?;
            let body = Bytes::from(body);
            state
                .local
                .put(key.to_string(), body.clone(), scope, ticket);
            Ok(respond(body, "miss"))
        }
    }
}

fn respond(body: Bytes, how: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::HeaderName::from_static("x-cache"),
                HeaderValue::from_static(how),
            ),
        ],
        body,
    )
        .into_response()
}
