//! A run's results: the keyset-paged list and the batch insert that updates the counters.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::QueryBuilder;

use super::json;
use super::local::{self, Source};
use crate::server::auth::token::TokenUser;
use crate::server::error::{ApiError, ApiResult};
use crate::server::events;
use crate::server::extract::{self, JsonBody, Query};
use crate::server::local_cache::Scope;
use crate::server::model::{run_exists, CheckResult, Page, Run, RESULT_STATUSES, RUN_COLUMNS};
use crate::server::pages::ResultsPage;
use crate::server::state::AppState;

pub const CHECK_NAME_MAX: usize = 500;
pub const MESSAGE_MAX: usize = 65_536;
pub const MAX_RESULTS: usize = 1000;

pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    q: Query,
) -> ApiResult<Response> {
    let run_id = extract::run_id(&id)?;
    let page = ResultsPage {
        run_id,
        status: q.one_of("status", &RESULT_STATUSES)?,
        after: q.int("after", 0, i64::MAX)?,
        limit: q.int("limit", 1, MAX_RESULTS as i64)?.unwrap_or(100),
    };
    let compute = async {
        let limit = page.limit;
        let (mut items, exists): (Vec<CheckResult>, bool) = state
            .read(|conn| {
                let page = page.clone();
                Box::pin(async move {
                    let mut qb = QueryBuilder::new("");
                    page.push_select(&mut qb);
                    let items: Vec<CheckResult> = qb.build_query_as().fetch_all(&mut *conn).await?;
                    // An empty page is a 404 only when the run itself does not exist.
                    let exists = !items.is_empty() || run_exists(conn, run_id).await?;
                    Ok((items, exists))
                })
            })
            .await?;
        if !exists {
            return Err(ApiError::not_found(format!("no run with id {run_id}")));
        }
        let next_after = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|r| r.id)
        } else {
            None
        };
        let page = Page {
            items: &items,
            next_before: None,
            next_after: Some(next_after),
        };
        Ok((
            serde_json::to_string(&page).expect("results serialize"),
            Scope::Run(run_id),
            Source::Database,
        ))
    };
    let serves = state.local.serves(&headers);
    local::answer(&state, "/api/runs/{id}/results", &uri, serves, compute).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewResults {
    results: Vec<NewResult>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewResult {
    check_name: String,
    status: String,
    #[serde(default)]
    duration_ms: Option<f64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<Box<RawValue>>,
}

/// Checks every result; the error names the first bad one by its index.
fn validate(results: &[NewResult]) -> ApiResult<()> {
    if results.is_empty() || results.len() > MAX_RESULTS {
        return Err(ApiError::unprocessable(format!(
            "results must hold 1 to {MAX_RESULTS} items (got {})",
            results.len()
        )));
    }
    for (i, r) in results.iter().enumerate() {
        let at = |field: &str| format!("results[{i}].{field}");
        extract::text_field(&at("check_name"), &r.check_name, CHECK_NAME_MAX)?;
        if !RESULT_STATUSES.contains(&r.status.as_str()) {
            return Err(ApiError::unprocessable(format!(
                "{} must be one of {}",
                at("status"),
                RESULT_STATUSES.join(", ")
            )));
        }
        if r.duration_ms.is_some_and(|d| !(d.is_finite() && d >= 0.0)) {
            return Err(ApiError::unprocessable(format!(
                "{} must be a non-negative number",
                at("duration_ms")
            )));
        }
        extract::optional_text_field(&at("message"), r.message.as_deref(), MESSAGE_MAX)?;
        if let Some(d) = &r.details {
            extract::json_field(&at("details"), d)?;
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Inserted<'a> {
    inserted: usize,
    run: &'a crate::server::model::Run,
}

/// The event a batch of results announces.
const RESULTS_ADDED: &str = "results_added";

/// A batch's one statement (see `add`), built once.
static ADD_RESULTS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH r AS ( \
             UPDATE validation_runs SET \
                 total_checks = coalesce(total_checks, 0) + $7, \
                 passed_checks = coalesce(passed_checks, 0) + $8, \
                 failed_checks = coalesce(failed_checks, 0) + $9 \
             WHERE id = $1 RETURNING *), \
         added AS ( \
             INSERT INTO validation_results \
                 (run_id, check_name, status, duration_ms, message, details) \
             SELECT r.id, u.name, u.status, u.duration, u.message, u.details::jsonb \
             FROM r, UNNEST($2::text[], $3::text[], $4::float8[], $5::text[], $6::text[]) \
                  AS u(name, status, duration, message, details)) \
         SELECT {RUN_COLUMNS}, pg_notify($10, $11) \
         FROM r JOIN validation_suites s ON s.id = r.suite_id"
    )
});

pub async fn add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _user: TokenUser,
    JsonBody(body): JsonBody<NewResults>,
) -> ApiResult<Response> {
    let run_id = extract::run_id(&id)?;
    validate(&body.results)?;
    let n = body.results.len();
    let mut names = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut durations = Vec::with_capacity(n);
    let mut messages = Vec::with_capacity(n);
    let mut details = Vec::with_capacity(n);
    let (mut passed, mut failed) = (0i64, 0i64);
    for r in body.results {
        match r.status.as_str() {
            "pass" => passed += 1,
            "fail" | "error" => failed += 1,
            _ => {}
        }
        names.push(r.check_name);
        statuses.push(r.status);
        durations.push(r.duration_ms);
        messages.push(r.message);
        details.push(
            r.details
                .filter(|d| d.get() != "null")
                .map(|d| d.get().to_string()),
        );
    }

    // One statement: the counters (the UPDATE's row lock makes concurrent batches to the
    // run add up one after the other), the results, the event (delivered on commit) and
    // the run as committed — BEGIN, it and COMMIT, where a statement each took six round
    // trips. Not autocommit: a request abandoned at its deadline (503) while the statement
    // waits on a lock must not commit later, and an open transaction rolls back when its
    // connection goes.
    let mut tx = state.begin().await?;
    let run: Option<Run> = sqlx::query_as(&ADD_RESULTS)
        .bind(run_id)
        .bind(&names)
        .bind(&statuses)
        .bind(&durations)
        .bind(&messages)
        .bind(&details)
        .bind(n as i64)
        .bind(passed)
        .bind(failed)
        .bind(events::CHANNEL)
        .bind(events::payload(RESULTS_ADDED, run_id))
        .fetch_optional(&mut *tx)
        .await?;
    let Some(run) = run else {
        return Err(ApiError::not_found(format!("no run with id {run_id}")));
    };
    tx.commit().await?;
    state.written(RESULTS_ADDED, run_id).await;
    Ok(json(
        StatusCode::CREATED,
        serde_json::to_string(&Inserted {
            inserted: n,
            run: &run,
        })
        .expect("run serializes"),
    ))
}
