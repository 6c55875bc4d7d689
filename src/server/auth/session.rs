//! Login sessions: a random cookie value (`ld_session`), stored by its sha256 in Redis
//! with a 12 h expiry — or in PostgreSQL's `sessions` table while Redis is down, so login
//! keeps working through an outage.

use std::time::Duration;

use rand::distributions::Alphanumeric;
use rand::Rng;

use super::sha256_hex;
use crate::server::error::ApiResult;
use crate::server::state::AppState;

pub const COOKIE: &str = "ld_session";
pub const TTL: Duration = Duration::from_secs(12 * 3600);

/// Creates a session for `user_id` and returns the cookie value.
pub async fn create(state: &AppState, user_id: i64) -> ApiResult<String> {
    let value: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    let id = sha256_hex(&value);
    if !state.cache.put_session(&id, user_id, TTL).await {
        let mut conn = state.conn().await?;
        sqlx::query(
            "WITH gone AS (DELETE FROM sessions WHERE expires_at < now()) \
             INSERT INTO sessions (id, user_id, expires_at) \
             VALUES ($1, $2, now() + make_interval(secs => $3))",
        )
        .bind(&id)
        .bind(user_id)
        .bind(TTL.as_secs() as f64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(value)
}

/// Ends the session whose cookie value is `value`, wherever it is stored.
pub async fn destroy(state: &AppState, value: &str) -> ApiResult<()> {
    let id = sha256_hex(value);
    state.cache.drop_session(&id).await;
    let mut conn = state.conn().await?;
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The `Set-Cookie` value; `secure` when the client reached us over TLS (nginx says so).
pub fn set_cookie(value: &str, secure: bool) -> String {
    let mut c = format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        TTL.as_secs()
    );
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(secure: bool) -> String {
    let mut c = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The `ld_session` value from a `Cookie` header, if any.
pub fn from_cookie_header(header: &str) -> Option<&str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == COOKIE && !v.is_empty()).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes() {
        let c = set_cookie("abc", false);
        assert!(c.starts_with("ld_session=abc;"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && !c.contains("Secure"));
        assert!(set_cookie("abc", true).ends_with("; Secure"));
        assert_eq!(from_cookie_header("a=1; ld_session=xyz; b=2"), Some("xyz"));
        assert_eq!(from_cookie_header("a=1"), None);
    }
}
