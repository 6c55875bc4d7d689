//! The load's route mix: by default the dashboard's own reads (runs pages, one run and its
//! results, the summary, suites, the page and its script), weighted like a team watching
//! it, plus result writes to a run of verify's own when a token is given. Never
//! `/auth/login`, whose rate limit applies to loopback too.

use super::load::Target;
use crate::settings::MixEntry;

fn get(path: impl Into<String>, weight: u32) -> Target {
    Target {
        method: hyper::Method::GET,
        path: path.into(),
        body: None,
        headers: Vec::new(),
        weight,
    }
}

/// The default mix. `run_ids` are existing runs (read from the first page of
/// `/api/runs`); `write_run` is verify's own run, written to with `token`.
pub fn default_mix(run_ids: &[i64], write: Option<(i64, &str)>) -> Vec<Target> {
    let mut mix = vec![
        get("/api/runs?limit=50", 30),
        get("/api/summary?window=24h", 20),
        get("/api/suites", 10),
        get("/api/runs?status=failed&limit=50", 5),
        get("/", 3),
        get("/static/app.js", 2),
    ];
    // One run and its results, spread over the newest runs.
    for id in run_ids.iter().take(10) {
        mix.push(get(format!("/api/runs/{id}"), 2));
        mix.push(get(format!("/api/runs/{id}/results?limit=100"), 1));
    }
    if let Some((run, token)) = write {
        let results: Vec<_> = (0..5)
            .map(|i| {
                serde_json::json!({"check_name": format!("verify-load-{i}"), "status": "pass",
                                   "duration_ms": 1.0})
            })
            .collect();
        mix.push(Target {
            method: hyper::Method::POST,
            path: format!("/api/runs/{run}/results"),
            body: Some(serde_json::json!({ "results": results }).to_string()),
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            weight: 1,
        });
    }
    mix
}

/// A configured mix; entries with a body are sent with the token.
pub fn configured_mix(entries: &[MixEntry], token: Option<&str>) -> Result<Vec<Target>, String> {
    entries
        .iter()
        .map(|e| {
            let method: hyper::Method = e
                .method
                .to_ascii_uppercase()
                .parse()
                .map_err(|_| format!("{:?} is not an HTTP method", e.method))?;
            if e.path.starts_with("/auth/login") {
                return Err("/auth/login is rate limited for every address (10/min); leave it out of the load".into());
            }
            if !e.path.starts_with('/') {
                return Err(format!("path {:?} must start with /", e.path));
            }
            let mut headers = Vec::new();
            if method != hyper::Method::GET {
                let token = token.ok_or_else(|| {
                    format!("{} {} writes and needs the verify token (verify.token or PROVISION_VERIFY_TOKEN)", e.method, e.path)
                })?;
                headers.push(("authorization".to_string(), format!("Bearer {token}")));
            }
            Ok(Target {
                method,
                path: e.path.clone(),
                body: e.body.clone(),
                headers,
                weight: e.weight,
            })
        })
        .collect()
}
