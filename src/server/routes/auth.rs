//! `POST /auth/login` (JSON only) and `POST /auth/logout`: cookie sessions.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sqlx::Row;

use super::json;
use crate::server::auth::{password, session};
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

pub async fn login(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the login as Content-Type: application/json",
        ));
    }
    let secure = behind_tls(req.headers());
    let bytes = extract::read_body(req.into_body()).await?;
    let body: Login = extract::parse_json(&bytes)?;
    let failed = || ApiError::unauthorized("unknown user, wrong password or inactive account");
    // PostgreSQL text cannot hold NUL: such a name cannot exist.
    if body.username.contains('\0') || body.username.len() > 1000 || body.password.len() > 4096 {
        return Err(failed());
    }
    let mut conn = state.conn().await?;
    let row = sqlx::query(
        "SELECT id, username, role, password_hash, is_active FROM users WHERE username = $1",
    )
    .bind(&body.username)
    .fetch_optional(&mut *conn)
    .await?;
    drop(conn);
    let Some(row) = row else {
        return Err(failed());
    };
    let stored: String = row.try_get("password_hash")?;
    let pw = body.password;
    let ok = tokio::task::spawn_blocking(move || password::verify(&stored, &pw))
        .await
        .map_err(|_| ApiError::internal())?;
    if !ok || !row.try_get::<bool, _>("is_active")? {
        return Err(failed());
    }
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
