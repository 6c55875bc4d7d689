//! Runs: the keyset-paged list, one run, creating a run, finishing a run.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::QueryBuilder;

use super::{json, local};
use crate::server::auth::token::TokenUser;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::{self, JsonBody, Query};
use crate::server::local_cache::Scope;
use crate::server::model::{fetch_run, run_exists, Page, Run, FINAL_RUN_STATUSES, RUN_STATUSES};
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
    let compute = async {
        let limit = page.limit;
        let mut items: Vec<Run> = state
            .read(|conn| {
                let page = page.clone();
                Box::pin(async move {
                    let mut qb = QueryBuilder::new("");
                    page.push_select(&mut qb);
                    qb.build_query_as().fetch_all(conn).await
                })
            })
            .await?;
        let next_before = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|r| r.id)
        } else {
            None
        };
        // A write to a run between the page's smallest id (the bottom of the table when
        // the page is the last) and its `before` may change it.
        let scope = Scope::Runs {
            low: next_before.unwrap_or(i64::MIN),
            high: page.before.unwrap_or(i64::MAX),
        };
        let page = Page {
            items: &items,
            next_before: Some(next_before),
            next_after: None,
        };
        Ok((serde_json::to_string(&page).expect("runs serialize"), scope))
    };
    local::answer(&state, "/api/runs", &uri, &headers, compute).await
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
        ))
    };
    local::answer(&state, "/api/runs/{id}", &uri, &headers, compute).await
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
    let run = state.commit_write(tx, "run_created", id).await?;
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
