//! Runs: the keyset-paged list, one run, creating a run, finishing a run.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::QueryBuilder;

use super::json;
use super::local::{self, Source};
use crate::server::auth::token::TokenUser;
use crate::server::error::{ApiError, ApiResult};
use crate::server::events::RUN_CREATED;
use crate::server::extract::{self, JsonBody, Query};
use crate::server::local_cache::Scope;
use crate::server::model::{
    fetch_run, fetch_runs, run_exists, Run, FINAL_RUN_STATUSES, RUN_STATUSES,
};
use crate::server::pages::RunsPage;
use crate::server::state::AppState;

pub const SUITE_NAME_MAX: usize = 200;
pub const ENVIRONMENT_MAX: usize = 100;

pub async fn list(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    q: Query,
) -> ApiResult<Response> {
    let page = RunsPage {
        suite: q.int("suite", 1, i64::MAX)?,
        status: q.one_of("status", &RUN_STATUSES)?,
        env: q.text("env", ENVIRONMENT_MAX)?,
        before: q.int("before", 1, i64::MAX)?,
        limit: q.int("limit", 1, 200)?.unwrap_or(50),
    };
    let serves = state.local.serves(&headers);
    let compute = async {
        let (items, next_before, source) = if serves {
            assembled(&state, &page).await?
        } else {
            let (items, next_before) = read_whole(&state, &page).await?;
            (items, next_before, Source::Database)
        };
        // A write to a run between the page's smallest id (the bottom of the table when
        // the page is the last) and its `before` may change it.
        let scope = Scope::Runs {
            low: next_before.unwrap_or(i64::MIN),
            high: page.before.unwrap_or(i64::MAX),
        };
        let mut body = Vec::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 40);
        body.extend_from_slice(b"{\"items\":[");
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(item);
        }
        body.extend_from_slice(b"],\"next_before\":");
        match next_before {
            Some(id) => body.extend_from_slice(id.to_string().as_bytes()),
            None => body.extend_from_slice(b"null"),
        }
        body.push(b'}');
        Ok((
            String::from_utf8(body).expect("JSON is UTF-8"),
            scope,
            source,
        ))
    };
    local::answer(&state, "/api/runs", &uri, serves, compute).await
}

/// The page read whole from PostgreSQL: each run's JSON, and the next page's cursor.
async fn read_whole(state: &AppState, page: &RunsPage) -> ApiResult<(Vec<Bytes>, Option<i64>)> {
    let mut runs: Vec<Run> = state
        .read(|conn| {
            let page = page.clone();
            Box::pin(async move {
                let mut qb = QueryBuilder::new("");
                page.push_select(&mut qb);
                qb.build_query_as().fetch_all(conn).await
            })
        })
        .await?;
    let next_before = cut(&mut runs, page.limit, |r| r.id);
    Ok((runs.iter().map(run_json).collect(), next_before))
}

/// The page's ids from the run index when the page is unfiltered and the index is loaded,
/// else from PostgreSQL (an index-only scan); its runs from the instance's memory, the
/// ones it does not hold read in one query and kept.
async fn assembled(
    state: &AppState,
    page: &RunsPage,
) -> ApiResult<(Vec<Bytes>, Option<i64>, Source)> {
    let indexed = if page.is_unfiltered() {
        load_index(state);
        state.local.index.page(page.before, page.limit as usize + 1)
    } else {
        None
    };
    let mut source = Source::Memory;
    let mut ids = match indexed {
        Some(ids) => ids,
        None => {
            source = Source::Database;
            state
                .read(|conn| {
                    let page = page.clone();
                    Box::pin(async move {
                        let mut qb = QueryBuilder::new("");
                        page.push_ids(&mut qb);
                        qb.build_query_scalar().fetch_all(conn).await
                    })
                })
                .await?
        }
    };
    let next_before = cut(&mut ids, page.limit, |id| *id);
    let (mut found, ticket) = state.local.runs(&ids);
    let missing: Vec<i64> = ids
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(id, _)| *id)
        .collect();
    if !missing.is_empty() {
        source = Source::Database;
        let runs: Vec<Run> = state
            .read(|conn| Box::pin(fetch_runs(conn, missing.clone())))
            .await?;
        let read: Vec<(i64, Bytes)> = runs.iter().map(|r| (r.id, run_json(r))).collect();
        for (id, json) in &read {
            if let Some(i) = ids.iter().position(|x| x == id) {
                found[i] = Some(json.clone());
            }
        }
        if state.replica_reads_current() {
            state.local.put_runs(read, ticket);
        }
    }
    // A run deleted between the two steps is left out.
    Ok((found.into_iter().flatten().collect(), next_before, source))
}

/// Starts loading the run index in the background when it is due (not loaded, or aging;
/// see `RunIndex::begin_load`) and no load is in flight.
fn load_index(state: &AppState) {
    let Some(load) = state.local.index.begin_load() else {
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        let limit = state.local.index.read_limit();
        let read = state
            .read(|conn| {
                Box::pin(
                    sqlx::query_scalar("SELECT id FROM validation_runs ORDER BY id LIMIT $1")
                        .bind(limit)
                        .fetch_all(conn),
                )
            })
            .await;
        match read {
            Ok(ids) => state.local.index.finish_load(load, ids),
            Err(e) => {
                tracing::warn!(error = %e.message, "the run index was not loaded; runs pages read their ids from PostgreSQL");
                state.local.index.fail_load(load);
            }
        }
    });
}

/// Keeps the first `limit` of `rows` (read one more than that); the next page's cursor
/// when there was more.
fn cut<T>(rows: &mut Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Option<i64> {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(id)
    } else {
        None
    }
}

fn run_json(run: &Run) -> Bytes {
    Bytes::from(serde_json::to_vec(run).expect("run serializes"))
}

pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = extract::run_id(&id)?;
    let compute = async {
        let run = state
            .read(|conn| Box::pin(fetch_run(conn, id)))
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no run with id {id}")))?;
        Ok((
            serde_json::to_string(&run).expect("run serializes"),
            Scope::Run(id),
            Source::Database,
        ))
    };
    let serves = state.local.serves(&headers);
    local::answer(&state, "/api/runs/{id}", &uri, serves, compute).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    suite: String,
    environment: String,
    #[serde(default)]
    metadata: Option<Box<RawValue>>,
}

pub async fn create(
    State(state): State<AppState>,
    user: TokenUser,
    JsonBody(body): JsonBody<NewRun>,
) -> ApiResult<Response> {
    extract::text_field("suite", &body.suite, SUITE_NAME_MAX)?;
    extract::text_field("environment", &body.environment, ENVIRONMENT_MAX)?;
    let metadata = body.metadata.filter(|m| m.get() != "null");
    if let Some(m) = &metadata {
        extract::json_field("metadata", m)?;
        if !m.get().trim_start().starts_with('{') {
            return Err(ApiError::unprocessable(
                "metadata must be a JSON object or null",
            ));
        }
    }
    let metadata = metadata.map(|m| m.get().to_string());

    let mut tx = state.begin().await?;
    let mut id: Option<i64> = None;
    // Two attempts: a suite created concurrently by another request may be invisible to
    // this statement's snapshot the first time.
    for _ in 0..2 {
        id = sqlx::query_scalar(
            "WITH new_suite AS ( \
                 INSERT INTO validation_suites (name) VALUES ($1) \
                 ON CONFLICT (name) DO NOTHING RETURNING id), \
             suite AS ( \
                 SELECT id FROM new_suite \
                 UNION ALL SELECT id FROM validation_suites WHERE name = $1 LIMIT 1) \
             INSERT INTO validation_runs \
                 (suite_id, environment, status, triggered_by, started_at, metadata, \
                  total_checks, passed_checks, failed_checks) \
             SELECT id, $2, 'running', $3, now(), $4::jsonb, 0, 0, 0 FROM suite \
             RETURNING id",
        )
        .bind(&body.suite)
        .bind(&body.environment)
        .bind(user.user_id)
        .bind(metadata.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
        if id.is_some() {
            break;
        }
    }
    let id = id.ok_or_else(|| {
        ApiError::unavailable(
            "conflict_retry",
            "the suite was being created concurrently; retry",
        )
    })?;
    let run = state.commit_write(tx, RUN_CREATED, id).await?;
    Ok(json(
        StatusCode::CREATED,
        serde_json::to_string(&run).expect("run serializes"),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishRun {
    status: String,
}

pub async fn finish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _user: TokenUser,
    JsonBody(body): JsonBody<FinishRun>,
) -> ApiResult<Response> {
    let id = extract::run_id(&id)?;
    if !FINAL_RUN_STATUSES.contains(&body.status.as_str()) {
        return Err(ApiError::unprocessable(format!(
            "status must be one of {}",
            FINAL_RUN_STATUSES.join(", ")
        )));
    }
    let mut tx = state.begin().await?;
    let updated: Option<i64> = sqlx::query_scalar(
        "UPDATE validation_runs SET status = $2, finished_at = now() \
         WHERE id = $1 AND finished_at IS NULL AND status IN ('queued', 'running') \
         RETURNING id",
    )
    .bind(id)
    .bind(&body.status)
    .fetch_optional(&mut *tx)
    .await?;
    if updated.is_none() {
        return Err(if run_exists(&mut tx, id).await? {
            ApiError::new(
                StatusCode::CONFLICT,
                "run_finished",
                format!("run {id} has already finished"),
            )
        } else {
            ApiError::not_found(format!("no run with id {id}"))
        });
    }
    let run = state.commit_write(tx, "run_finished", id).await?;
    Ok(json(
        StatusCode::OK,
        serde_json::to_string(&run).expect("run serializes"),
    ))
}
