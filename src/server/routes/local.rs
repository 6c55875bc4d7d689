//! Reads answered from the instance's own cache (`LocalCache`): the runs pages, one run
//! and a run's result pages. `X-Cache` says how: `local`, `assembled` (not held whole, but
//! put together from memory without PostgreSQL: a runs page from the run index and the
//! runs' JSON), `miss` (computed from PostgreSQL and kept) or `bypass` (a writer's read,
//! `Cache-Control: no-cache`, or memory not confirmed fresh within the bound).

use std::future::Future;

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::server::error::ApiResult;
use crate::server::local_cache::Scope;
use crate::server::state::AppState;

/// Where a computed answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// At least one PostgreSQL query.
    Database,
    /// Only the instance's memory.
    Memory,
}

/// A computed answer: its body, the writes it depends on, where it came from.
pub type Computed = (String, Scope, Source);

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
    F: Future<Output = ApiResult<Computed>>,
{
    if !serves {
        state.metrics.cache_lookup(route, "bypass");
        let (body, _, _) = compute.await?;
        return Ok(respond(Bytes::from(body), "bypass"));
    }
    let key = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    match state.local.get(key) {
        Ok(body) => {
            state.metrics.cache_lookup(route, "local");
            Ok(respond(body, "local"))
        }
        Err(ticket) => {
            let (body, scope, source) = compute.await?;
            let how = match source {
                Source::Database => "miss",
                Source::Memory => "assembled",
            };
            state.metrics.cache_lookup(route, how);
            let body = Bytes::from(body);
            if state.replica_reads_current() {
                state
                    .local
                    .put(key.to_string(), body.clone(), scope, ticket);
            }
            Ok(respond(body, how))
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
