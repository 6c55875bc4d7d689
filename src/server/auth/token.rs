//! Bearer tokens: `Authorization: Bearer <token>`, stored as sha256 hex, compared in
//! constant time; unknown, revoked and inactive users' tokens are refused alike.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use sqlx::Row;
use subtle::ConstantTimeEq;

use super::sha256_hex;
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// The user behind a valid bearer token.
#[derive(Debug, Clone, Copy)]
pub struct TokenUser {
    pub user_id: i64,
}

impl FromRequestParts<AppState> for TokenUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check(state, &parts.headers).await
    }
}

/// The user behind the request's bearer token. The check is a read, retried across a
/// PostgreSQL restart.
async fn check(state: &AppState, headers: &HeaderMap) -> Result<TokenUser, ApiError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token> header"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header is not 'Bearer <token>'")
        })?;
    let hash = sha256_hex(token);
    let row = state
        .read(|conn| {
            let hash = hash.clone();
            Box::pin(async move {
                sqlx::query(
                    "SELECT t.id, t.token_hash, t.user_id, u.is_active, \
                            (t.last_used IS NULL OR t.last_used < now() - interval '1 minute') AS stale \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id \
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                )
                .bind(hash)
                .fetch_optional(conn)
                .await
            })
        })
        .await?;
    let refused = || ApiError::unauthorized("unknown, revoked or inactive token");
    let row = row.ok_or_else(refused)?;
    let stored: String = row.try_get("token_hash")?;
    if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
        return Err(refused());
    }
    let active: bool = row.try_get("is_active")?;
    if !active {
        return Err(refused());
    }
    let token_id: i64 = row.try_get("id")?;
    if row.try_get::<bool, _>("stale")? {
        // last_used at minute resolution, off the request path.
        let pool = state.pool.clone();
        tokio::spawn(async move {
            let _ = sqlx::query("UPDATE api_tokens SET last_used = now() WHERE id = $1")
                .bind(token_id)
                .execute(&pool)
                .await;
        });
    }
    Ok(TokenUser {
        user_id: row.try_get("user_id")?,
    })
}
