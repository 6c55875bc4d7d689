//! `POST /auth/login` (JSON only) and `POST /auth/logout`: cookie sessions.
//!
//! A login costs the same whether or not the user exists (an unknown one is checked
//! against a dummy hash of the server's own cost); hashes run a few at a time
//! (`limits.hash_concurrency`), and a request that times out stops waiting for one;
//! failures are throttled per username and per address (`auth::throttle`); a stored hash
//! of absurd cost is refused at once, with a warning naming the user.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sqlx::Row;

use std::sync::Arc;

use super::json;
use crate::server::auth::{password, session, throttle};
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract;
use crate::server::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

/// Whether the client reached nginx over TLS (nginx sets `X-Forwarded-Proto`).
fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The login takes JSON only (a form post from another site cannot log anyone in).
fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("application/json")
        });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the login as Content-Type: application/json",
        ))
    }
}

/// 429 with Retry-After: too many failed logins for this user name or this client.
fn too_many_failures(which: impl std::fmt::Display, window: std::time::Duration) -> Response {
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failed_logins",
        format!(
            "too many failed logins for this {which}; wait up to {} s and retry",
            window.as_secs()
        ),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(window.as_secs()));
    resp
}

/// Checks a password off the async threads, a few hashes at a time; when the request
/// times out, this stops waiting (the permit travels with the hash, so one that started
/// still counts until it ends).
async fn verify_password(state: &AppState, stored: String, password: String) -> ApiResult<bool> {
    let permit = Arc::clone(&state.hash_permits)
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal())?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        password::verify(&stored, &password)
    })
    .await
    .map_err(|_| ApiError::internal())
}

pub async fn login(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    require_json(req.headers())?;
    let secure = behind_tls(req.headers());
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let proxies = &state.settings.limits.trusted_proxies.0;
    let client = throttle::client_address(peer, req.headers(), proxies);
    let bytes = extract::read_body(req.into_body(), state.settings.limits.max_body).await?;
    let body: Login = extract::parse_json(&bytes)?;
    let failed = || ApiError::unauthorized("unknown user, wrong password or inactive account");
    // PostgreSQL text cannot hold NUL: such a name cannot exist.
    if body.username.contains('\0') || body.username.len() > 1000 || body.password.len() > 4096 {
        return Err(failed());
    }
    let limits = &state.settings.limits;
    let keys = throttle::Keys::new(&body.username, client);
    if let Some(which) = state.throttle.refused(&state.cache, &keys, limits).await {
        return Ok(too_many_failures(which, limits.login_window));
    }
    let mut conn = state.conn().await?;
    let row = sqlx::query(
        "SELECT id, username, role, password_hash, is_active FROM users WHERE username = $1",
    )
    .bind(&body.username)
    .fetch_optional(&mut *conn)
    .await?;
    drop(conn);
    let stored: String = match &row {
        Some(r) => r.try_get("password_hash")?,
        None => password::dummy().to_string(),
    };
    if let (Some(why), Some(r)) = (password::absurd_cost(&stored), &row) {
        let user_id: i64 = r.try_get("id")?;
        tracing::warn!(user_id, cost = %why, "a stored password hash has an absurd cost; treated as invalid (set a new password for this user)");
        state.throttle.failed(&state.cache, &keys, limits).await;
        return Err(failed());
    }
    let matched = verify_password(&state, stored, body.password).await?;
    let row = match row {
        Some(r) if matched && r.try_get::<bool, _>("is_active")? => r,
        _ => {
            state.throttle.failed(&state.cache, &keys, limits).await;
            return Err(failed());
        }
    };
    state.throttle.succeeded(&state.cache, &keys).await;
    let user_id: i64 = row.try_get("id")?;
    let value = session::create(&state, user_id).await?;
    let body = serde_json::json!({"user": {
        "id": user_id,
        "username": row.try_get::<String, _>("username")?,
        "role": row.try_get::<String, _>("role")?,
    }});
    let mut resp = json(StatusCode::OK, body.to_string());
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session::set_cookie(&value, secure)).expect("cookie is ASCII"),
    );
    Ok(resp)
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(session::from_cookie_header);
    if let Some(value) = cookie {
        session::destroy(&state, value).await?;
    }
    let clear = session::clear_cookie(behind_tls(&headers));
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            HeaderValue::from_str(&clear).expect("ASCII"),
        )],
    )
        .into_response())
}
