//! `provision verify`: is this host serving the dashboard correctly, safely and fast
//! enough? First readiness (with `--wait`), then every check at once (each under its own
//! timeout), then an open-model load through nginx with the servers' own counters read
//! before and after, targets judged and suggestions drawn. Returns a [`Report`]; the
//! command renders it.

pub mod check;
mod error;
pub mod host_checks;
pub mod html;
pub mod http;
pub mod http_checks;
pub mod load;
mod load_phase;
pub mod metrics;
pub mod mix;
pub mod report;
mod runs;
mod suite;
pub mod targets;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::settings::VerifySettings;
use check::{CheckResult, Outcome, Scope};
use report::{Report, Verdict};

pub use error::VerifyError;
pub use suite::public_address;

/// Progress, for the command to show.
pub enum Progress<'a> {
    Waiting(&'a str),
    Checking,
    Loading(Duration),
}

/// The checks' HTTP client: the shared TLS configuration, and the site's name pinned to
/// `resolve`'s address when given.
pub(crate) fn client(
    timeout: Duration,
    tls: &Arc<rustls::ClientConfig>,
    resolve: Option<&(String, SocketAddr)>,
    follow_redirects: bool,
) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        // A fresh connection per check: a keep-alive connection to an nginx worker that a
        // reload (init's, just before) is retiring can close under the next request.
        .pool_max_idle_per_host(0)
        .use_preconfigured_tls((**tls).clone());
    if let Some((name, addr)) = resolve {
        b = b.resolve(name, *addr);
    }
    if !follow_redirects {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    b.build().expect("the HTTP client builds")
}

/// Polls `/ready` through nginx (and on each instance on the host) until all answer 200
/// or `wait` passes; returns the last problem when they did not.
async fn wait_ready(
    s: &VerifySettings,
    client: &reqwest::Client,
    wait: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut urls = vec![format!("{}/ready", s.url)];
    if !s.remote {
        urls.extend(
            s.instances
                .iter()
                .map(|i| format!("http://{}/ready", i.addr())),
        );
    }
    loop {
        let mut problem = None;
        for url in &urls {
            if let Err(e) = http_checks::status_ok(client, url.clone()).await {
                problem = Some(e);
                break;
            }
        }
        match problem {
            None => return Ok(()),
            Some(p) if tokio::time::Instant::now() >= deadline => return Err(p),
            Some(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Runs the verification.
pub async fn run(
    s: &VerifySettings,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<Report, VerifyError> {
    let tls_config = tls::client_config(s.ca_cert.as_deref())?;
    let client = client(s.check_timeout, &tls_config, s.resolve.as_ref(), true);
    let mut report = Report {
        schema: report::SCHEMA,
        url: s.url.clone(),
        remote: s.remote,
        remote_only: s.remote_only,
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        passed: false,
        verdict: Verdict::Passed,
        exit_code: 0,
        checks: Vec::new(),
        load: None,
        server_metrics: None,
        targets: Vec::new(),
        suggestions: Vec::new(),
    };
    if s.host_only {
        // A host of several, asked by the controller: its own checks only.
        progress(Progress::Checking);
        report.checks = suite::host_checks(s, &client).await;
        report.conclude(false);
        return Ok(report);
    }
    if let Some(wait) = s.wait {
        progress(Progress::Waiting(&s.url));
        let started = std::time::Instant::now();
        let result = wait_ready(s, &client, wait).await;
        let mut c = CheckResult::new(
            "ready within --wait",
            Scope::Remote,
            if result.is_ok() {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
            match &result {
                Ok(()) => format!("ready after {:.1} s", started.elapsed().as_secs_f64()),
                Err(e) => format!("not ready within {} s: {e}", wait.as_secs()),
            },
        );
        c.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        report.checks.push(c);
        if result.is_err() {
            report.conclude(true);
            return Ok(report);
        }
    }
    progress(Progress::Checking);
    let remote = suite::remote_checks(s, &client, &tls_config);
    let host = async {
        if s.remote {
            let (outcome, why) = if s.remote_only {
                (Outcome::Skipped, "not wanted (--remote-only)")
            } else {
                (
                    Outcome::NotRun,
                    "needs the host itself; run verify there, or pass --remote-only",
                )
            };
            suite::HOST_CHECKS
                .iter()
                .map(|n| CheckResult::new(*n, Scope::Host, outcome, why))
                .collect()
        } else {
            suite::host_checks(s, &client).await
        }
    };
    let (r, h) = tokio::join!(remote, host);
    report.checks.extend(r);
    report.checks.extend(h);
    if let Some(l) = &s.load {
        progress(Progress::Loading(l.warmup + l.duration));
        load_phase::run_load(s, l, &client, &tls_config, &mut report).await?;
    }
    report.conclude(false);
    Ok(report)
}
