//! The load phase of a verification: the route mix (with real run ids, and a run of its
//! own to write to when a token is given), each of its pages read once per instance to
//! warm the caches, the servers' counters read after the warm-up and after the run, then
//! the targets judged and suggestions drawn.

use std::sync::Arc;
use std::time::Duration;

use super::error::VerifyError;
use super::report::Report;
use super::{load, metrics, mix, runs, targets};
use crate::settings::VerifySettings;

pub async fn run_load(
    s: &VerifySettings,
    l: &crate::settings::LoadSettings,
    client: &reqwest::Client,
    tls_config: &Arc<rustls::ClientConfig>,
    report: &mut Report,
) -> Result<(), VerifyError> {
    let token = s.token.as_ref().map(|t| t.expose());
    let mut write_run = None;
    let targets = match &l.mix {
        Some(entries) => mix::configured_mix(entries, token).map_err(VerifyError::Mix)?,
        None => {
            let ids = recent_runs(client, &s.url).await;
            if let Some(token) = token {
                write_run = runs::create(client, &s.url, token, "provision verify load")
                    .await
                    .ok();
            }
            mix::default_mix(&ids, write_run.zip(token))
        }
    };
    let spec = load::LoadSpec {
        base: s.url.clone(),
        rate: l.rate,
        duration: l.duration,
        warmup: l.warmup,
        concurrency: l.concurrency,
        targets,
        timeout: Duration::from_secs(10),
        connect_to: s.resolve.as_ref().map(|r| r.1),
        tls: Some(Arc::clone(tls_config)),
    };
    let addrs: Vec<String> = s.instances.iter().map(|i| i.addr()).collect();
    prime(client, &s.url, &spec.targets, addrs.len()).await;
    let before = async {
        tokio::time::sleep(l.warmup).await;
        metrics::scrape(client, &addrs).await
    };
    let (result, before) = tokio::join!(load::run(&spec), async {
        if s.remote {
            Err("the instances' /metrics are on-host only".to_string())
        } else {
            before.await
        }
    });
    let result = result.map_err(VerifyError::Load)?;
    let counters = match before {
        Ok(b) => metrics::scrape(client, &addrs).await.map(|a| a.since(&b)),
        Err(e) => Err(e),
    };
    if let (Some(run), Some(token)) = (write_run, token) {
        runs::finish(client, &s.url, token, run).await;
    }
    let t = targets::Targets::from(&s.targets);
    report.targets = targets::evaluate(&t, &result, &counters);
    report.suggestions = targets::suggestions(&result, &counters, &report.targets);
    report.server_metrics = Some(counters);
    report.load = Some(result);
    Ok(())
}

async fn recent_runs(client: &reqwest::Client, base: &str) -> Vec<i64> {
    let Ok(resp) = client.get(format!("{base}/api/runs?limit=10")).send().await else {
        return Vec::new();
    };
    let page: serde_json::Value = resp.json().await.unwrap_or_default();
    page["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|r| r["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// Reads each GET of the mix once per instance (through the site, one after another)
/// before the warm-up, so the caches are warm and a short load measures steady answers,
/// not each instance's first read of each page.
async fn prime(client: &reqwest::Client, base: &str, targets: &[load::Target], instances: usize) {
    let mut seen = std::collections::HashSet::new();
    for t in targets.iter().filter(|t| t.method == hyper::Method::GET) {
        if !seen.insert(t.path.as_str()) {
            continue;
        }
        for _ in 0..instances.max(1) {
            if let Ok(resp) = client.get(format!("{base}{}", t.path)).send().await {
                let _ = resp.bytes().await;
            }
        }
    }
}
