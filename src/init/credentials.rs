//! The first credentials in the dashboard's database: the admin user (created once; a
//! password changed later is left alone) and verify's token (a row labelled
//! `provision verify`, kept equal to the config's token). Idempotent.

use anyhow::Context;
use sha2::{Digest, Sha256};
use sqlx::Connection;

use super::saved::Credentials;
use crate::settings::{redact_url, Secret};

pub const TOKEN_LABEL: &str = "provision verify";

/// Makes sure both exist; returns what changed ("admin user", "verify token").
pub async fn ensure(database_url: &Secret, c: &Credentials) -> anyhow::Result<Vec<&'static str>> {
    let shown = redact_url(database_url.expose());
    let mut conn = sqlx::PgConnection::connect(database_url.expose())
        .await
        .with_context(|| format!("connecting to {shown}"))?;
    let mut tx = conn
        .begin()
        .await
        .with_context(|| format!("{shown}: starting a transaction"))?;
    let mut changed = Vec::new();
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(&c.admin_user)
        .fetch_optional(&mut *tx)
        .await
        .with_context(|| format!("{shown}: reading users"))?;
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
            .with_context(|| format!("{shown}: creating the admin user"))?
        }
    };
    let want = hex::encode(Sha256::digest(c.verify_token.expose().as_bytes()));
    let have: Option<String> = sqlx::query_scalar(
        "SELECT token_hash FROM api_tokens WHERE label = $1 AND revoked_at IS NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(TOKEN_LABEL)
    .fetch_optional(&mut *tx)
    .await
    .with_context(|| format!("{shown}: reading api_tokens"))?;
    if have.as_deref() != Some(want.as_str()) {
        changed.push("verify token");
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = now() WHERE label = $1 AND revoked_at IS NULL",
        )
        .bind(TOKEN_LABEL)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("{shown}: revoking the old verify token"))?;
        sqlx::query("INSERT INTO api_tokens (user_id, token_hash, label) VALUES ($1, $2, $3)")
            .bind(admin)
            .bind(want)
            .bind(TOKEN_LABEL)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("{shown}: storing the verify token"))?;
    }
    tx.commit()
        .await
        .with_context(|| format!("{shown}: committing the credentials"))?;
    Ok(changed)
}
