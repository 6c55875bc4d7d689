//! `provision verify`: is this host serving the dashboard correctly, safely and fast
//! enough? First readiness (with `--wait`), then every check at once (each under its own
//! timeout), then an open-model load through nginx with the servers' own counters read
//! before and after, targets judged and suggestions drawn. Returns a [`Report`]; the
//! command renders it.

pub mod check;
pub mod host_checks;
pub mod html;
pub mod http_checks;
pub mod load;
pub mod metrics;
pub mod mix;
pub mod report;
pub mod targets;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::settings::VerifySettings;
use check::{CheckResult, Outcome, Passed, Scope};
use report::{Report, Verdict};

/// How many logins the rate-limit check sends at once: well over nginx's burst of 5.
const LOGIN_BURST: usize = 20;

/// Progress, for the command to show.
pub enum Progress<'a> {
    Waiting(&'a str),
    Checking,
    Loading(Duration),
}

/// The checks' HTTP client: the shared TLS configuration, and the site's name pinned to
/// `resolve`'s address when given.
fn client(
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

/// A non-loopback address of this host: the source address of its default route.
pub fn public_address() -> Option<IpAddr> {
    for probe in ["192.0.2.1:9", "[2001:db8::1]:9"] {
        let bind = if probe.starts_with('[') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        };
        if let Ok(sock) = std::net::UdpSocket::bind(bind) {
            if sock.connect(probe).is_ok() {
                if let Ok(addr) = sock.local_addr() {
                    if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
                        return Some(addr.ip());
                    }
                }
            }
        }
    }
    None
}

/// The public URL with its host replaced by `ip`.
fn with_host(url: &str, ip: IpAddr) -> String {
    let mut u = url::Url::parse(url).expect("checked by settings");
    let _ = u.set_ip_host(ip);
    u.as_str().trim_end_matches('/').to_string()
}

async fn remote_checks(
    s: &VerifySettings,
    client: &reqwest::Client,
    tls_config: &Arc<rustls::ClientConfig>,
) -> Vec<CheckResult> {
    let t = s.check_timeout;
    let url = s.url.as_str();
    let https = url.starts_with("https:");
    // /metrics must be refused to a client that is not on loopback: from elsewhere that is
    // us; on the host, we come from its public address.
    let public = if s.remote {
        Ok((s.url.clone(), client.clone()))
    } else {
        s.public_address
            .or_else(public_address)
            .map(|ip| match &s.resolve {
                Some((name, addr)) => {
                    let to = (name.clone(), SocketAddr::new(ip, addr.port()));
                    (s.url.clone(), self::client(t, tls_config, Some(&to), true))
                }
                None => (with_host(url, ip), client.clone()),
            })
            .ok_or("this host has no non-loopback address to test from")
    };
    let token = s.token.as_ref().map(|t| t.expose());
    let connector = if https {
        Some(tokio_tungstenite::Connector::Rustls(Arc::clone(tls_config)))
    } else {
        None
    };
    let ws_connect = s.resolve.as_ref().map(|r| r.1);
    let tls_target = url::Url::parse(url).ok().and_then(|u| {
        let name = u.host_str()?.to_string();
        let connect = match &s.resolve {
            Some((_, addr)) => addr.to_string(),
            None => format!("{}:{}", name, u.port_or_known_default()?),
        };
        Some((name, connect))
    });
    let (health, ready, headers, gzip, metrics, limit, ws, tls, redirect) = tokio::join!(
        check::run(
            "health via nginx",
            Scope::Remote,
            t,
            http_checks::status_ok(client, format!("{url}/health"))
        ),
        check::run(
            "ready via nginx",
            Scope::Remote,
            t,
            http_checks::status_ok(client, format!("{url}/ready"))
        ),
        check::run(
            "security headers",
            Scope::Remote,
            t,
            http_checks::security_headers(client, url)
        ),
        check::run("gzip", Scope::Remote, t, http_checks::gzip(client, url)),
        check::run("/metrics refused publicly", Scope::Remote, t, async {
            match &public {
                Ok((base, c)) => http_checks::metrics_refused(c, base).await,
                Err(why) => Err(why.to_string()),
            }
        }),
        check::run(
            "auth rate limit",
            Scope::Remote,
            t,
            http_checks::auth_rate_limit(client, url, LOGIN_BURST)
        ),
        check::run(
            "websocket via nginx",
            Scope::Remote,
            t,
            http_checks::websocket(client, url, token, connector, ws_connect)
        ),
        check::run("tls", Scope::Remote, t, async {
            match (&tls_target, https) {
                (Some((name, connect)), true) => {
                    tls::check(name, connect, Arc::clone(tls_config)).await
                }
                _ => Ok(Passed::NothingToCheck(
                    "plain http: no TLS configured".into(),
                )),
            }
        }),
        check::run("http redirects to https", Scope::Remote, t, async {
            let from = match (&s.https_redirect_from, https) {
                (Some(from), _) => from.clone(),
                (None, true) => match &tls_target {
                    Some((name, _)) => format!("http://{name}"),
                    None => return Err("no host in the URL".to_string()),
                },
                (None, false) => {
                    return Ok(Passed::NothingToCheck(
                        "plain http: no TLS configured".into(),
                    ))
                }
            };
            let plain = self::client(t, tls_config, None, false);
            http_checks::redirects_to_https(&plain, &from).await
        }),
    );
    vec![
        health, ready, headers, gzip, metrics, limit, ws, tls, redirect,
    ]
}

async fn host_checks(s: &VerifySettings, client: &reqwest::Client) -> Vec<CheckResult> {
    let t = s.check_timeout;
    let mut ports = Vec::new();
    for i in &s.instances {
        ports.push(("instance".to_string(), "127.0.0.1".to_string(), i.port));
    }
    if let Some((h, p)) =
        host_checks::host_port(&s.url, if s.url.starts_with("https") { 443 } else { 80 })
    {
        ports.push(("nginx".into(), h, p));
    }
    let pg = s
        .database_url
        .as_ref()
        .and_then(|u| host_checks::host_port(u.expose(), 5432));
    let redis = s
        .redis_url
        .as_ref()
        .and_then(|u| host_checks::host_port(u.expose(), 6379));
    for (what, hp) in [("postgres", &pg), ("redis", &redis)] {
        if let Some((h, p)) = hp {
            ports.push((what.into(), h.clone(), *p));
        }
    }
    let direct = async {
        let mut seen = Vec::new();
        for i in &s.instances {
            for path in ["/health", "/ready"] {
                http_checks::status_ok(client, format!("http://{}{path}", i.addr())).await?;
            }
            seen.push(format!("{}: /health 200, /ready 200", i.addr()));
        }
        Ok(Passed::Saw(seen.join("; ")))
    };
    let loopback_metrics = async {
        let addrs: Vec<String> = s.instances.iter().map(|i| i.addr()).collect();
        metrics::scrape(client, &addrs).await?;
        Ok(Passed::Saw(format!("readable on {}", addrs.join(", "))))
    };
    let listen: Vec<(&str, u16)> = [
        ("postgres", pg.as_ref().map_or(5432, |p| p.1)),
        ("redis", redis.as_ref().map_or(6379, |p| p.1)),
    ]
    .to_vec();
    let service_manager = s.service.clone();
    let instances = s.instances.clone();
    let (ports, postgres, redis, direct, lm, service, env, listeners) = tokio::join!(
        check::run("tcp ports", Scope::Host, t, host_checks::ports(ports)),
        check::run(
            "postgres login",
            Scope::Host,
            t,
            host_checks::postgres(s.database_url.as_ref())
        ),
        check::run(
            "redis login",
            Scope::Host,
            t,
            host_checks::redis(s.redis_url.as_ref())
        ),
        check::run("health and ready per instance", Scope::Host, t, direct),
        check::run("/metrics on loopback", Scope::Host, t, loopback_metrics),
        check::run("service active", Scope::Host, t, async move {
            tokio::task::spawn_blocking(move || host_checks::service(&service_manager, &instances))
                .await
                .map_err(|e| e.to_string())?
        }),
        check::run(".env mode 0600", Scope::Host, t, async {
            host_checks::env_file_mode(s.env_file.as_deref())
        }),
        check::run(
            "postgres and redis on loopback only",
            Scope::Host,
            t,
            async { host_checks::loopback_only(&listen, Path::new("/proc")) }
        ),
    );
    vec![ports, postgres, redis, direct, lm, service, env, listeners]
}

/// The on-host checks' names, reported as not run (or skipped) under `--url`.
const HOST_CHECKS: [&str; 8] = [
    "tcp ports",
    "postgres login",
    "redis login",
    "health and ready per instance",
    "/metrics on loopback",
    "service active",
    ".env mode 0600",
    "postgres and redis on loopback only",
];

/// Runs the verification.
pub async fn run(
    s: &VerifySettings,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<Report, String> {
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
    let remote = remote_checks(s, &client, &tls_config);
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
            HOST_CHECKS
                .iter()
                .map(|n| CheckResult::new(*n, Scope::Host, outcome, why))
                .collect()
        } else {
            host_checks(s, &client).await
        }
    };
    let (r, h) = tokio::join!(remote, host);
    report.checks.extend(r);
    report.checks.extend(h);
    if let Some(l) = &s.load {
        progress(Progress::Loading(l.warmup + l.duration));
        run_load(s, l, &client, &tls_config, &mut report).await?;
    }
    report.conclude(false);
    Ok(report)
}

async fn run_load(
    s: &VerifySettings,
    l: &crate::settings::LoadSettings,
    client: &reqwest::Client,
    tls_config: &Arc<rustls::ClientConfig>,
    report: &mut Report,
) -> Result<(), String> {
    let token = s.token.as_ref().map(|t| t.expose());
    let mut write_run = None;
    let targets = match &l.mix {
        Some(entries) => mix::configured_mix(entries, token)?,
        None => {
            let ids = recent_runs(client, &s.url).await;
            if let Some(token) = token {
                write_run = create_run(client, &s.url, token).await.ok();
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
    let result = result?;
    let counters = match before {
        Ok(b) => metrics::scrape(client, &addrs).await.map(|a| a.since(&b)),
        Err(e) => Err(e),
    };
    if let (Some(run), Some(token)) = (write_run, token) {
        let _ = client
            .patch(format!("{}/api/runs/{run}", s.url))
            .bearer_auth(token)
            .json(&serde_json::json!({"status": "passed"}))
            .send()
            .await;
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

async fn create_run(client: &reqwest::Client, base: &str, token: &str) -> Result<i64, String> {
    let resp = client
        .post(format!("{base}/api/runs"))
        .bearer_auth(token)
        .json(
            &serde_json::json!({"suite": "provision-verify", "environment": "verify",
                                  "metadata": {"by": "provision verify load"}}),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let run: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    run["id"]
        .as_i64()
        .ok_or_else(|| format!("no run id in {run}"))
}
