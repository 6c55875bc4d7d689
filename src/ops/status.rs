//! `provision status`: one look at the whole stack — PostgreSQL, Redis, nginx and each
//! instance: running, enabled, version, where it listens, health, uptime; the database
//! pool's use and the cache's hit ratio from the instances' `/metrics`; free disk where
//! data and logs live; the last errors of each log; and an init that did not finish.
//! Nothing here prints: it returns a [`Report`].

use std::time::Duration;

use serde::Serialize;

use super::logs;
use super::probes::{self, Disk};
use super::stack::{Component, Stack};
use crate::host::services::{is_active, is_enabled, Services};
use crate::verify::metrics::Counters;

/// How a part is doing (ordered: worse is greater).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    Degraded,
    Down,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Degraded => "degraded",
            State::Down => "down",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub name: String,
    pub component: Component,
    /// The unit, program or script that runs it.
    pub service: String,
    pub state: State,
    pub running: bool,
    /// None where the manager has no notion of it (direct supervision starts nothing at boot).
    pub enabled: Option<bool>,
    pub version: Option<String>,
    pub listening: Vec<String>,
    pub uptime_s: Option<u64>,
    /// What its own health probe said.
    pub health: Option<String>,
    /// Problems, each with what to do.
    pub problems: Vec<String>,
}

impl Part {
    fn new(name: impl Into<String>, component: Component, service: String) -> Part {
        Part {
            name: name.into(),
            component,
            service,
            state: State::Ok,
            running: false,
            enabled: None,
            version: None,
            listening: Vec::new(),
            uptime_s: None,
            health: None,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, state: State, what: impl Into<String>) {
        self.state = self.state.max(state);
        self.problems.push(what.into());
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    /// Connections open, over every instance.
    pub open: u64,
    pub idle: u64,
    /// The configured maximum, over every instance (None when the .env does not say).
    pub max: Option<u64>,
    /// Requests that waited for a connection since the instances started.
    pub waits: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorLine {
    pub component: Component,
    pub line: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub state: State,
    pub url: String,
    pub manager: String,
    pub parts: Vec<Part>,
    pub pool: Option<Pool>,
    pub cache_hit_ratio: Option<f64>,
    pub websocket_clients: Option<u64>,
    pub disks: Vec<Disk>,
    /// Error and warning lines of the last hour, a few per component.
    pub recent_errors: Vec<ErrorLine>,
    /// Requests nginx's rate limits or access rules refused in the last hour (it logs each
    /// as an error).
    pub refused_last_hour: usize,
    /// An init that stopped part-way (handlers still owed), or one running now.
    pub init: Option<String>,
}

/// Free space below this share of a filesystem makes the stack degraded.
const LOW_DISK: f64 = 0.10;

pub async fn gather(stack: &Stack) -> Report {
    let svc = stack.services();
    let listening = crate::host::proc::listeners(std::path::Path::new("/"));
    let listen_on = |port: u16| -> Vec<String> {
        listening
            .iter()
            .filter(|l| l.port == port)
            .map(|l| std::net::SocketAddr::new(l.address, l.port).to_string())
            .collect()
    };
    let timeout = Duration::from_secs(3);
    let tls = crate::verify::tls::client_config(stack.settings.ca_cert.as_deref()).ok();
    let client = tls
        .as_ref()
        .map(|t| crate::verify::client(timeout, t, stack.settings.resolve.as_ref(), false));

    let mut parts = Vec::new();
    // PostgreSQL
    let pg_port = stack.postgres_port();
    let mut pg = managed_part(stack, svc.as_ref(), Component::Postgres, "postgresql");
    pg.listening = listen_on(pg_port);
    pg.uptime_s = probes::uptime(pg_port);
    match probes::postgres_probe(stack).await {
        Ok((version, health)) => {
            pg.version = version.split_whitespace().next().map(str::to_string);
            pg.health = Some(health);
        }
        Err(e) => pg.problem(State::Down, e),
    }
    parts.push(pg);
    // Redis
    let redis_port = stack.redis_port();
    let mut rd = managed_part(stack, svc.as_ref(), Component::Redis, "redis");
    rd.listening = listen_on(redis_port);
    rd.uptime_s = probes::uptime(redis_port);
    match probes::redis_probe(stack).await {
        Ok((version, health)) => {
            rd.version = Some(version);
            rd.health = Some(health);
        }
        // The instances keep answering without Redis (uncached): degraded, not down.
        Err(e) => rd.problem(State::Degraded, e),
    }
    parts.push(rd);
    // nginx
    let mut ng = managed_part(stack, svc.as_ref(), Component::Nginx, "nginx");
    let site_port = url::Url::parse(&stack.settings.url)
        .ok()
        .and_then(|u| u.port_or_known_default())
        .unwrap_or(80);
    ng.listening = listen_on(site_port);
    if let Some(from) = &stack.settings.https_redirect_from {
        let http = url::Url::parse(from)
            .ok()
            .and_then(|u| u.port_or_known_default());
        if let Some(p) = http.filter(|p| *p != site_port) {
            ng.listening.extend(listen_on(p));
        }
    }
    ng.uptime_s = probes::uptime(site_port);
    ng.version = crate::host::exec::Cmd::new("nginx", &["-v"])
        .run_checked(true)
        .ok()
        .and_then(|o| {
            o.stderr
                .trim()
                .rsplit('/')
                .next()
                .map(str::to_string)
                .filter(|v| !v.is_empty())
        });
    if !stack.nginx_site().exists() {
        ng.problem(
            State::Down,
            format!(
                "the site {} is missing; run `provision init` (or `provision rollback`)",
                stack.nginx_site().display()
            ),
        );
    }
    if let Some(c) = &client {
        let url = format!("{}/health", stack.settings.url);
        match probes::probe(c, &url).await {
            Ok((200, _)) => ng.health = Some(format!("{url}: 200")),
            Ok((code, body)) => ng.problem(
                State::Down,
                format!("{url} answered {code}: {}", probes::first_line(&body)),
            ),
            Err(e) => ng.problem(State::Down, e),
        }
    }
    parts.push(ng);
    // The instances
    let mut counters = Counters::default();
    let mut pool = Pool {
        open: 0,
        idle: 0,
        max: None,
        waits: 0,
    };
    let mut ws = 0u64;
    let mut metrics_read = 0;
    for i in stack.instances() {
        let service = stack.instance_service(i);
        let mut p = Part::new(
            format!("instance {}", i.port),
            Component::Server,
            service.clone(),
        );
        service_state(&mut p, svc.as_ref(), &service, stack.is_systemd());
        p.listening = listen_on(i.port);
        p.uptime_s = probes::uptime(i.port);
        if p.listening.is_empty() {
            p.problem(
                State::Down,
                format!(
                    "nothing listens on {}; see `provision logs server`",
                    i.addr()
                ),
            );
        }
        if let Some(c) = &client {
            let base = format!("http://{}", i.addr());
            if let Ok((200, body)) = probes::probe(c, &format!("{base}/health")).await {
                p.version = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["version"].as_str().map(str::to_string));
            }
            match probes::probe(c, &format!("{base}/ready")).await {
                Ok((code, body)) => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    let status = v["status"].as_str().unwrap_or("?").to_string();
                    p.health = Some(format!("/ready {code} {status}"));
                    match status.as_str() {
                        "ok" => {}
                        "degraded" => p.problem(
                            State::Degraded,
                            format!("/ready says degraded: {}", v["checks"]),
                        ),
                        _ => p.problem(
                            State::Down,
                            format!("/ready {code}: {}", probes::first_line(&body)),
                        ),
                    }
                }
                Err(e) if p.state != State::Down => p.problem(State::Down, e),
                Err(_) => {}
            }
            if let Ok((200, text)) = probes::probe(c, &format!("{base}/metrics")).await {
                metrics_read += 1;
                counters = counters.plus(&Counters::parse(&text));
                let g = |name| crate::verify::metrics::sum(&text, name).unwrap_or(0.0) as u64;
                pool.open += g("ld_db_pool_connections");
                pool.idle += g("ld_db_pool_idle");
                ws += g("ld_websocket_clients");
            }
        }
        parts.push(p);
    }
    pool.waits = counters.pool_waits as u64;
    pool.max = stack
        .pool_size()
        .map(|n| n * stack.instances().len() as u64);
    let disks = probes::disks(stack);
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let mut refused = 0;
    let mut recent_errors = Vec::new();
    for c in Component::ALL {
        let lines = logs::recent_errors(stack, c, since, usize::MAX);
        refused += lines.iter().filter(|l| logs::is_refusal(l)).count();
        let real: Vec<String> = lines.into_iter().filter(|l| !logs::is_refusal(l)).collect();
        let skip = real.len().saturating_sub(3);
        recent_errors.extend(
            real.into_iter()
                .skip(skip)
                .map(|line| ErrorLine { component: c, line }),
        );
    }
    let init = probes::unfinished_init(stack);
    let mut state = parts.iter().map(|p| p.state).max().unwrap_or(State::Ok);
    if init.is_some()
        || disks
            .iter()
            .any(|d| (d.free_bytes as f64) < LOW_DISK * d.total_bytes as f64)
    {
        state = state.max(State::Degraded);
    }
    Report {
        schema: "provision.status/v1",
        state,
        url: stack.settings.url.clone(),
        manager: match &stack.manager {
            super::stack::Manager::Systemd => "systemd".into(),
            super::stack::Manager::OpenRc => "openrc".into(),
            super::stack::Manager::Supervisor(c) => format!("supervisord ({})", c.display()),
        },
        parts,
        pool: (metrics_read > 0).then_some(pool),
        cache_hit_ratio: counters.hit_ratio(),
        websocket_clients: (metrics_read > 0).then_some(ws),
        disks,
        recent_errors,
        refused_last_hour: refused,
        init,
    }
}

/// A part run by the distribution's service (PostgreSQL, Redis, nginx).
fn managed_part(stack: &Stack, svc: &dyn Services, c: Component, name: &str) -> Part {
    let service = stack.service_of(c);
    let mut p = Part::new(name, c, service.clone());
    service_state(&mut p, svc, &service, stack.is_systemd());
    p
}

fn service_state(p: &mut Part, svc: &dyn Services, service: &str, systemd: bool) {
    match is_active(svc, service) {
        Ok(true) => p.running = true,
        Ok(false) => p.problem(
            State::Down,
            format!("{service} is not running; `provision logs {}` says why, then start it (`provision restart` for the instances)", p.component.name()),
        ),
        Err(e) => p.problem(State::Down, format!("cannot ask about {service}: {e}")),
    }
    if systemd {
        match is_enabled(svc, service) {
            Ok(on) => {
                p.enabled = Some(on);
                if !on {
                    p.problem(
                        State::Degraded,
                        format!("{service} does not start at boot: systemctl enable {service}"),
                    );
                }
            }
            Err(e) => p.problem(State::Degraded, format!("cannot ask about {service}: {e}")),
        }
    }
}
