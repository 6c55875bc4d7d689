//! One look at each part of the stack for `status`: PostgreSQL, Redis and nginx through
//! their services, sockets and logins; each instance through its service, socket,
//! `/health`, `/ready` and `/metrics` (added up in a [`Tally`]); the last hour's errors.

use std::time::Duration;

use super::{managed_part, service_state, ErrorLine, Part, Pool, State};
use crate::host::services::Services;
use crate::ops::logs;
use crate::ops::probes;
use crate::ops::stack::{Component, Stack};
use crate::verify::metrics::Counters;

/// What the instances' `/metrics` add up to.
#[derive(Default)]
pub(super) struct Tally {
    pub counters: Counters,
    pub pool: Pool,
    pub ws: u64,
    pub metrics_read: usize,
    pub replicas: super::replicas::Seen,
}

/// One look at the host: its services, its listening sockets, an HTTP client.
pub(super) struct Look<'a> {
    stack: &'a Stack,
    svc: Box<dyn Services>,
    listening: Vec<crate::host::proc::Listener>,
    client: Option<reqwest::Client>,
}

impl<'a> Look<'a> {
    pub(super) fn new(stack: &'a Stack) -> Self {
        let tls = crate::verify::tls::client_config(stack.settings.ca_cert.as_deref()).ok();
        let client = tls.as_ref().map(|t| {
            crate::verify::client(
                Duration::from_secs(3),
                t,
                stack.settings.resolve.as_ref(),
                false,
            )
        });
        Look {
            stack,
            svc: stack.services(),
            listening: crate::host::proc::listeners(std::path::Path::new("/")),
            client,
        }
    }

    pub(super) fn client(&self) -> Option<&reqwest::Client> {
        self.client.as_ref()
    }

    fn listen_on(&self, port: u16) -> Vec<String> {
        self.listening
            .iter()
            .filter(|l| l.port == port)
            .map(|l| std::net::SocketAddr::new(l.address, l.port).to_string())
            .collect()
    }

    pub(super) async fn postgres(&self) -> Part {
        let port = self.stack.postgres_port();
        let mut pg = managed_part(
            self.stack,
            self.svc.as_ref(),
            Component::Postgres,
            "postgresql",
        );
        pg.listening = self.listen_on(port);
        pg.uptime_s = probes::uptime(port);
        match probes::postgres_probe(self.stack).await {
            Ok((version, health)) => {
                pg.version = version.split_whitespace().next().map(str::to_string);
                pg.health = Some(health);
            }
            Err(e) => pg.problem(State::Down, e),
        }
        pg
    }

    pub(super) async fn redis(&self) -> Part {
        let port = self.stack.redis_port();
        let mut rd = managed_part(self.stack, self.svc.as_ref(), Component::Redis, "redis");
        rd.listening = self.listen_on(port);
        rd.uptime_s = probes::uptime(port);
        match probes::redis_probe(self.stack).await {
            Ok((version, health)) => {
                rd.version = Some(version);
                rd.health = Some(health);
            }
            // The instances keep answering without Redis (uncached): degraded, not down.
            Err(e) => rd.problem(State::Degraded, e),
        }
        rd
    }

    pub(super) async fn nginx(&self) -> Part {
        let stack = self.stack;
        let mut ng = managed_part(stack, self.svc.as_ref(), Component::Nginx, "nginx");
        let site_port = url::Url::parse(&stack.settings.url)
            .ok()
            .and_then(|u| u.port_or_known_default())
            .unwrap_or(80);
        ng.listening = self.listen_on(site_port);
        if let Some(from) = &stack.settings.https_redirect_from {
            let http = url::Url::parse(from)
                .ok()
                .and_then(|u| u.port_or_known_default());
            if let Some(p) = http.filter(|p| *p != site_port) {
                ng.listening.extend(self.listen_on(p));
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
        if let Some(c) = &self.client {
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
        ng
    }

    /// One instance: its service, socket, version, readiness, and its `/metrics` into
    /// `tally`.
    pub(super) async fn instance(&self, i: &crate::settings::Instance, tally: &mut Tally) -> Part {
        let service = self.stack.instance_service(i);
        let mut p = Part::new(
            format!("instance {}", i.port),
            Component::Server,
            service.clone(),
        );
        service_state(&mut p, self.svc.as_ref(), &service, self.stack.is_systemd());
        p.listening = self.listen_on(i.port);
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
        let Some(c) = &self.client else {
            return p;
        };
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
            tally.metrics_read += 1;
            tally.counters = tally.counters.plus(&Counters::parse(&text));
            let g = |name| crate::verify::metrics::sum(&text, name).unwrap_or(0.0) as u64;
            tally.pool.open += g("ld_db_pool_connections");
            tally.pool.idle += g("ld_db_pool_idle");
            tally.ws += g("ld_websocket_clients");
            tally.replicas.add(&text);
        }
        p
    }
}

/// The last hour's error lines, three per component, and how many requests nginx's own
/// rules refused (counted apart: they are not faults).
pub(super) fn recent_errors(stack: &Stack) -> (Vec<ErrorLine>, usize) {
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let mut refused = 0;
    let mut recent = Vec::new();
    for c in Component::ALL {
        let lines = logs::recent_errors(stack, c, since, usize::MAX);
        refused += lines.iter().filter(|l| logs::is_refusal(l)).count();
        let real: Vec<String> = lines.into_iter().filter(|l| !logs::is_refusal(l)).collect();
        let skip = real.len().saturating_sub(3);
        recent.extend(
            real.into_iter()
                .skip(skip)
                .map(|line| ErrorLine { component: c, line }),
        );
    }
    (recent, refused)
}
