//! The first credentials in the dashboard's database: the admin user (created once; a
//! password changed later is left alone) and verify's token (a row labelled
//! `provision verify`, kept equal to the config's token). Idempotent.

use sha2::{Digest, Sha256};
use sqlx::Connection;

use super::saved::Credentials;
use crate::settings::{redact_url, Secret};

pub const TOKEN_LABEL: &str = "provision verify";

/// Makes sure both exist; returns what changed ("admin user", "verify token").
pub async fn ensure(database_url: &Secret, c: &Credentials) -> Result<Vec<&'static str>, String> {
    let shown = redact_url(database_url.expose());
    let mut conn = sqlx::PgConnection::connect(database_url.expose())
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
    let mut changed = Vec::new();
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(&c.admin_user)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| format!("{shown}: reading users: {e}"))?;
    let admin = match existing {
        Some(id) => id,
        None => {
            changed.push("admin user");
            let hash = crate::passwords::hash(c.admin_password.expose());
            sqlx::query_scalar(
                "INSERT INTO users (username, password_hash, role, is_active) VALUES ($1, $2, 'admin', true) RETURNING id",
            )
            .bind(&c.admin_user)
            .bind(hash)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| format!("{shown}: creating the admin user: {e}"))?
        }
    };
    let want = hex::encode(Sha256::digest(c.verify_token.expose().as_bytes()));
    let have: Option<String> = sqlx::query_scalar(
        "SELECT token_hash FROM api_tokens WHERE label = $1 AND revoked_at IS NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(TOKEN_LABEL)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| format!("{shown}: reading api_tokens: {e}"))?;
    if have.as_deref() != Some(want.as_str()) {
        changed.push("verify token");
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = now() WHERE label = $1 AND revoked_at IS NULL",
        )
        .bind(TOKEN_LABEL)
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
        sqlx::query("INSERT INTO api_tokens (user_id, token_hash, label) VALUES ($1, $2, $3)")
            .bind(admin)
            .bind(want)
            .bind(TOKEN_LABEL)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("{shown}: storing the verify token: {e}"))?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(changed)
}
