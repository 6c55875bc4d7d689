//! `provision status`: one look at the whole stack — PostgreSQL, Redis, nginx and each
//! instance: running, enabled, version, where it listens, health, uptime; the database
//! pool's use and the cache's hit ratio from the instances' `/metrics`; free disk where
//! data and logs live; the last errors of each log; and an init that did not finish.
//! Nothing here prints: it returns a [`Report`].

use serde::Serialize;

pub mod alerts;
pub mod backups;
mod look;
pub mod replicas;

use super::probes::{self, Disk};
use super::stack::{Component, Stack};
use crate::host::services::{is_active, is_enabled, Services};
use look::{recent_errors, Look, Tally};

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

#[derive(Debug, Clone, Default, Serialize)]
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
    /// On the database's host: the schedule and the last backup and drill.
    pub backups: Option<backups::Backups>,
    /// Where init set up monitoring: Prometheus' firing alerts.
    pub alerts: Option<alerts::Alerts>,
    /// Streaming replicas the instances read from (`database.replica_urls`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<replicas::Replica>,
}

/// Free space below this share of a filesystem makes the stack degraded.
const LOW_DISK: f64 = 0.10;

pub async fn gather(stack: &Stack) -> Report {
    let look = Look::new(stack);
    let mut parts = Vec::new();
    if stack.holds(Component::Postgres) {
        parts.push(look.postgres().await);
    }
    if stack.holds(Component::Redis) {
        parts.push(look.redis().await);
    }
    if stack.holds(Component::Nginx) {
        parts.push(look.nginx().await);
    }
    let mut tally = Tally::default();
    if stack.holds(Component::Server) {
        for i in stack.instances() {
            parts.push(look.instance(i, &mut tally).await);
        }
    }
    let pool = Pool {
        waits: tally.counters.pool_waits as u64,
        max: stack
            .pool_size()
            .map(|n| n * stack.instances().len() as u64),
        ..tally.pool
    };
    let disks = probes::disks(stack);
    let (recent_errors, refused) = recent_errors(stack);
    let init = probes::unfinished_init(stack);
    let backups = stack
        .holds(Component::Postgres)
        .then(|| backups::look(stack));
    let alerts = match stack.monitoring.enabled && stack.prometheus_here {
        true => Some(alerts::look(look.client()).await),
        false => None,
    };
    let mut state = parts.iter().map(|p| p.state).max().unwrap_or(State::Ok);
    for s in backups
        .iter()
        .map(|b| b.state)
        .chain(alerts.iter().map(|a| a.state))
    {
        state = state.max(s);
    }
    let replicas = tally.replicas.replicas();
    if replicas.iter().any(|r| !r.serving) {
        state = state.max(State::Degraded);
    }
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
        pool: (tally.metrics_read > 0).then_some(pool),
        cache_hit_ratio: tally.counters.hit_ratio(),
        websocket_clients: (tally.metrics_read > 0).then_some(tally.ws),
        disks,
        recent_errors,
        refused_last_hour: refused,
        init,
        backups,
        alerts,
        replicas,
    }
}

/// A part run by the distribution's service (PostgreSQL, Redis, nginx).
pub(super) fn managed_part(stack: &Stack, svc: &dyn Services, c: Component, name: &str) -> Part {
    let service = stack.service_of(c);
    let mut p = Part::new(name, c, service.clone());
    service_state(&mut p, svc, &service, stack.is_systemd());
    p
}

pub(super) fn service_state(p: &mut Part, svc: &dyn Services, service: &str, systemd: bool) {
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
