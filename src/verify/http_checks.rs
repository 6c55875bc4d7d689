//! The checks made over HTTP through the public URL (nginx): health and readiness, the
//! security headers, gzip, `/metrics` refused to non-loopback clients, the auth rate
//! limit, and a WebSocket that sees an event after a write. They run from anywhere.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::HeaderMap;

use super::check::{Passed, Verdict};
use super::http::{get, send, unreachable};

/// `GET base+path` answers 200; the message carries the body's first bytes.
pub async fn status_ok(client: &reqwest::Client, url: String) -> Verdict {
    let resp = get(client, &url).await?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let body = body.chars().take(160).collect::<String>();
    if status.is_success() {
        Ok(Passed::Saw(format!("{url}: {status} {body}")))
    } else {
        Err(format!("{url} answered {status}: {body}"))
    }
}

/// The headers every nginx answer must carry; HSTS too under TLS.
fn missing_headers(h: &HeaderMap, https: bool) -> Vec<String> {
    let mut missing = Vec::new();
    let has = |name: &str, ok: &dyn Fn(&str) -> bool| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| ok(&v.to_ascii_lowercase()))
    };
    if !has("x-content-type-options", &|v| v == "nosniff") {
        missing.push("X-Content-Type-Options: nosniff".to_string());
    }
    if !has("x-frame-options", &|v| v == "deny" || v == "sameorigin") {
        missing.push("X-Frame-Options: DENY".to_string());
    }
    if !has("referrer-policy", &|v| !v.is_empty()) {
        missing.push("Referrer-Policy".to_string());
    }
    if !has("content-security-policy", &|v| v.contains("default-src")) {
        missing.push("Content-Security-Policy (with default-src)".to_string());
    }
    if https && !has("strict-transport-security", &|v| v.contains("max-age")) {
        missing.push("Strict-Transport-Security".to_string());
    }
    missing
}

/// The security headers on the page and on an error answer (nginx's `always`).
pub async fn security_headers(client: &reqwest::Client, base: &str) -> Verdict {
    let https = base.starts_with("https:");
    let mut problems = Vec::new();
    for path in ["/", "/api/no-such-route"] {
        let url = format!("{base}{path}");
        let resp = get(client, &url).await?;
        let missing = missing_headers(resp.headers(), https);
        if !missing.is_empty() {
            problems.push(format!(
                "{url} ({}) lacks {}",
                resp.status(),
                missing.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(Passed::Saw(format!(
            "X-Content-Type-Options, X-Frame-Options, Referrer-Policy, Content-Security-Policy{} on the page and on a 404",
            if https { ", Strict-Transport-Security" } else { "" }
        )))
    } else {
        Err(format!(
            "{}; add them with add_header … always in the nginx site (and no add_header in locations, which drops the inherited ones)",
            problems.join("; ")
        ))
    }
}

/// Text answers are gzip-compressed for clients that accept it.
pub async fn gzip(client: &reqwest::Client, base: &str) -> Verdict {
    let mut seen = Vec::new();
    for path in ["/static/app.js", "/"] {
        let url = format!("{base}{path}");
        let resp = send(client.get(&url).header("accept-encoding", "gzip"), &url).await?;
        let enc = resp
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        if !resp.status().is_success() || enc != "gzip" {
            return Err(format!(
                "{url} answered {} with Content-Encoding {enc}; turn on gzip (gzip_types application/javascript text/css application/json) in the nginx site",
                resp.status()
            ));
        }
        seen.push(format!("{path}: gzip"));
    }
    Ok(Passed::Saw(seen.join(", ")))
}

/// `/metrics` through `base` (a non-loopback address) is refused.
pub async fn metrics_refused(client: &reqwest::Client, base: &str) -> Verdict {
    let url = format!("{base}/metrics");
    let resp = get(client, &url).await?;
    let status = resp.status();
    if status.as_u16() == 403 || status.as_u16() == 404 {
        Ok(Passed::Saw(format!("{url}: {status}")))
    } else {
        Err(format!(
            "{url} answered {status} to a non-loopback client: restrict location = /metrics to loopback (allow 127.0.0.0/8; allow ::1; deny all)"
        ))
    }
}

/// A burst of logins sees 429 in the API's JSON error shape. The probes are not JSON, so
/// those nginx lets through are refused by the server at once (415) — no password is
/// hashed and no failed login is counted against this address by the server's own throttle.
pub async fn auth_rate_limit(client: &reqwest::Client, base: &str, burst: usize) -> Verdict {
    let url = format!("{base}/auth/login");
    let sends = (0..burst).map(|_| {
        client
            .post(&url)
            .header("content-type", "text/plain")
            .body("provision verify: auth rate limit probe")
            .send()
    });
    let answers = futures_util::stream::iter(sends)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let mut limited = 0;
    let mut other = std::collections::BTreeMap::<u16, usize>::new();
    let mut shape_ok = true;
    for a in answers {
        let resp = a.map_err(|e| unreachable(&url, &e))?;
        let status = resp.status().as_u16();
        if status == 429 {
            limited += 1;
            let text = resp.text().await.unwrap_or_default();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            shape_ok &= json["error"]["code"].is_string();
        } else {
            *other.entry(status).or_default() += 1;
        }
    }
    if limited == 0 {
        return Err(format!(
            "{burst} logins in a burst got no 429 (answers: {other:?}): the auth rate limit is missing or too high; nginx needs limit_req zone=ld_auth on location = /auth/login, loopback included"
        ));
    }
    if !shape_ok {
        return Err(format!(
            "{limited} of {burst} got 429, but not in the JSON error shape {{\"error\":{{\"code\",\"message\"}}}}: add error_page 429 to the nginx site"
        ));
    }
    Ok(Passed::Saw(format!(
        "{limited} of {burst} burst logins answered 429 (JSON); others {other:?}"
    )))
}

/// Connects to `/ws`; with a token, creates and finishes a run through `base` and waits for
/// the `run_created` event of that run.
pub async fn websocket(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    tls: Option<tokio_tungstenite::Connector>,
    connect_to: Option<std::net::SocketAddr>,
) -> Verdict {
    let ws_url = format!(
        "{}/ws",
        base.replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1)
    );
    let parsed = url::Url::parse(&ws_url).map_err(|e| format!("{ws_url}: {e}"))?;
    let tcp = match connect_to {
        Some(addr) => tokio::net::TcpStream::connect(addr).await,
        None => {
            let host = parsed
                .host_str()
                .unwrap_or_default()
                .trim_matches(|c| c == '[' || c == ']')
                .to_string();
            tokio::net::TcpStream::connect((host, parsed.port_or_known_default().unwrap_or(80)))
                .await
        }
    }
    .map_err(|e| format!("{ws_url}: {e}"))?;
    let (mut socket, resp) =
        tokio_tungstenite::client_async_tls_with_config(ws_url.as_str(), tcp, None, tls)
            .await
            .map_err(|e| {
                format!(
                    "{ws_url}: {e}: nginx must pass Upgrade/Connection headers on location = /ws"
                )
            })?;
    let Some(token) = token else {
        return Ok(Passed::Saw(format!(
            "{ws_url}: upgraded ({}); no verify token, so no event was checked",
            resp.status()
        )));
    };
    let id = super::runs::create(client, base, token, "provision verify").await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let seen = loop {
        let next = tokio::time::timeout_at(deadline, socket.next()).await;
        match next {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                let ev: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                if ev["type"] == "run_created" && ev["run"]["id"].as_i64() == Some(id) {
                    break true;
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => break false,
        }
    };
    super::runs::finish(client, base, token, id).await;
    if seen {
        Ok(Passed::Saw(format!(
            "{ws_url}: the run_created event of run {id} arrived after the write"
        )))
    } else {
        Err(format!(
            "{ws_url}: no run_created event for run {id} within 5 s of the write: check the instances' LISTEN/NOTIFY and nginx's proxy_read_timeout on /ws"
        ))
    }
}

/// Plain http answers with a permanent redirect to https.
pub async fn redirects_to_https(client: &reqwest::Client, from: &str) -> Verdict {
    let url = format!("{from}/health");
    let resp = get(client, &url).await?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if matches!(status, 301 | 308) && location.starts_with("https://") {
        Ok(Passed::Saw(format!("{url}: {status} → {location}")))
    } else {
        Err(format!(
            "{url} answered {status} (Location {location:?}) instead of a redirect to https: add the port-80 server that returns 301 https://$host$request_uri"
        ))
    }
}
