//! verify's own runs in the dashboard (suite `provision-verify`, environment `verify`):
//! created with the verify token to write to, finished when verify is done with them.

use super::http::send;

/// Creates a run; its id, or what went wrong (naming the URL and the answer).
pub async fn create(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    by: &str,
) -> Result<i64, String> {
    let url = format!("{base}/api/runs");
    let req = client
        .post(&url)
        .bearer_auth(token)
        .json(&serde_json::json!({
            "suite": "provision-verify", "environment": "verify", "metadata": {"by": by}
        }));
    let created = send(req, &url).await?;
    let status = created.status();
    let run: serde_json::Value = created.json().await.unwrap_or_default();
    match run["id"].as_i64() {
        Some(id) if status.as_u16() == 201 => Ok(id),
        _ => Err(format!(
            "POST {url} with the verify token answered {status}: {run}"
        )),
    }
}

/// Marks the run passed (best effort: verify's verdict does not depend on it).
pub async fn finish(client: &reqwest::Client, base: &str, token: &str, id: i64) {
    let _ = client
        .patch(format!("{base}/api/runs/{id}"))
        .bearer_auth(token)
        .json(&serde_json::json!({"status": "passed"}))
        .send()
        .await;
}
