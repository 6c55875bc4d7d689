//! A deployment across the inventory: stage by stage (postgres → redis → app hosts side by
//! side → nginx), each host gets provision's binary and its job, runs its part with the
//! same engine, and streams its events back. A failed host stops the stages after its
//! own, and names itself; the hosts of later stages are not touched. A re-run picks up
//! where it stopped (each host keeps its pending handlers).

use std::path::{Path, PathBuf};

use super::job::{Job, JobData, Line};
use crate::init::deployment::Deployment;
use crate::inventory::{Host, Inventory, Role};
use crate::remote::{self, RemoteError, Transport};
use crate::settings::Secret;

/// Where provision keeps its own copy on each host (root's state directory); the
/// playbook's `provision binary` step installs it where the units run it.
pub const REMOTE_BINARY: &str = crate::init::vars::AGENT_BINARY;
/// Where the controller's legacy SQLite file goes on the database host.
pub const REMOTE_DATA_DIR: &str = "/var/lib/provision/data";

/// What to deploy, and how.
pub struct Plan<'a> {
    pub inventory: &'a Inventory,
    pub transport: &'a Transport,
    /// The controller's config file (answers, secrets).
    pub config: &'a str,
    pub base_port: u16,
    /// Legacy data: a local SQLite file (copied to the database host), or the demo.
    pub sqlite: Option<&'a Path>,
    pub demo: bool,
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    /// This provision binary.
    pub binary: &'a Path,
}

/// How one host's part went.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HostRecap {
    pub host: String,
    pub ok: usize,
    pub changed: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Why it failed or did not run.
    pub error: Option<String>,
    /// False when an earlier stage failed and this host was left alone.
    pub ran: bool,
}

impl HostRecap {
    pub fn line(&self) -> String {
        format!(
            "ok={} changed={} skipped={} failed={}",
            self.ok, self.changed, self.skipped, self.failed
        )
    }

    fn failed(&self) -> bool {
        self.failed > 0 || self.error.is_some()
    }
}

/// Deploys every host in stages; `on` hears each host's lines as they come.
pub fn deploy(plan: &Plan<'_>, on: &(dyn Fn(&str, &Line) + Sync)) -> Vec<HostRecap> {
    let mut recaps: Vec<HostRecap> = Vec::new();
    let mut stopped: Option<String> = None;
    for stage in plan.inventory.stages() {
        let hosts: Vec<&Host> = stage
            .hosts
            .iter()
            .filter_map(|n| plan.inventory.host(n))
            .collect();
        if let Some(why) = &stopped {
            recaps.extend(hosts.iter().map(|h| HostRecap {
                host: h.name.clone(),
                error: Some(format!("not run: {why}")),
                ..Default::default()
            }));
            continue;
        }
        let done = remote::each(&hosts, plan.forks, |h| one_host(plan, h, on));
        let failed: Vec<&str> = done
            .iter()
            .filter(|r| r.failed())
            .map(|r| r.host.as_str())
            .collect();
        if !failed.is_empty() {
            stopped = Some(format!(
                "{} failed in the {} stage, which this host's part depends on",
                failed.join(", "),
                stage.role.name()
            ));
        }
        recaps.extend(done);
    }
    recaps
}

fn one_host(plan: &Plan<'_>, host: &Host, on: &(dyn Fn(&str, &Line) + Sync)) -> HostRecap {
    let mut recap = HostRecap {
        host: host.name.clone(),
        ran: true,
        ..Default::default()
    };
    match run_job(plan, host, &mut recap, on) {
        Ok(()) => {}
        Err(e) => recap.error = Some(crate::causes::line(&e)),
    }
    recap
}

fn run_job(
    plan: &Plan<'_>,
    host: &Host,
    recap: &mut HostRecap,
    on: &(dyn Fn(&str, &Line) + Sync),
) -> Result<(), RemoteError> {
    let t = plan.transport;
    remote::push(t, host, plan.binary, REMOTE_BINARY)?;
    let database = host.has(Role::Postgres);
    let data = match (plan.sqlite, plan.demo) {
        (Some(local), _) if database => {
            let there = PathBuf::from(REMOTE_DATA_DIR).join(format!(
                "legacy-{}.db",
                &remote::sha256_file(local).map_err(|source| RemoteError::Local {
                    path: local.to_path_buf(),
                    source,
                })?[..16]
            ));
            remote::copy(t, host, local, &there.display().to_string(), "600")?;
            JobData::Sqlite(there)
        }
        (None, true) if database => JobData::Demo,
        _ => JobData::None,
    };
    let job = Job {
        config: plan.config.to_string(),
        deployment: Deployment::of(plan.inventory, host, plan.base_port),
        data,
    };
    let input = Secret::new(serde_json::to_string(&job).expect("a job serializes"));
    let mut on_line = |text: &str| {
        let line = Line::parse(text);
        if let Line::Recap {
            ok,
            changed,
            skipped,
            failed,
        } = line
        {
            (recap.ok, recap.changed, recap.skipped, recap.failed) = (ok, changed, skipped, failed);
        }
        on(&host.name, &line);
    };
    let mut args = vec![REMOTE_BINARY, "init", "--agent"];
    if plan.check {
        args.push("--check");
    }
    if plan.diff {
        args.push("--diff");
    }
    t.stream(host, &args, input, &mut on_line)?;
    Ok(())
}
