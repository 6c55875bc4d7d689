//! The run: one step at a time, each planned against the host as it is just before it
//! runs, applied only outside check mode; handlers notified by changed steps run once at
//! the end — and are written to disk the moment they are notified, so a run that fails
//! later leaves them for the next run. Nothing here prints: events go to a callback.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::model::{Kind, Playbook};
use super::state::{Lock, Log, Pending, StateError};
use super::steps::{self, Ctx, Plan};
use super::when;
use crate::host::facts::Facts;
use crate::host::packages::Manager;
use crate::host::services::Services;
use crate::settings::Secret;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Plan only (`--check`, `--dry-run`).
    pub check: bool,
    /// Put unified diffs of files in the events.
    pub diff: bool,
    /// Only steps with one of these tags (all when empty).
    pub tags: Vec<String>,
    /// Skip the steps before this one.
    pub start_at: Option<String>,
    /// `-e key=value`, over the playbook's vars.
    pub extra_vars: BTreeMap<String, String>,
    pub state_dir: PathBuf,
    /// Where the previous version of each file written is kept (none in check mode).
    pub history: Option<std::sync::Arc<super::history::Generation>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

/// One step's (or handler's) outcome.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Event {
    pub step: String,
    pub handler: bool,
    pub status: Status,
    pub seconds: f64,
    /// What changed or would change (with a diff when asked), or why it was skipped.
    pub detail: Option<String>,
    pub error: Option<String>,
}

impl Event {
    fn new(step: &str, handler: bool, status: Status, seconds: f64) -> Self {
        Event {
            step: step.to_string(),
            handler,
            status,
            seconds,
            detail: None,
            error: None,
        }
    }

    fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }

    fn error(mut self, e: impl Into<String>) -> Self {
        self.error = Some(e.into());
        self
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Recap {
    pub ok: usize,
    pub changed: usize,
    pub skipped: usize,
    pub failed: usize,
    pub handlers: Vec<String>,
    pub log: Option<PathBuf>,
}

impl Recap {
    pub fn line(&self) -> String {
        format!(
            "ok={} changed={} skipped={} failed={}",
            self.ok, self.changed, self.skipped, self.failed
        )
    }

    fn count(&mut self, s: Status) {
        match s {
            Status::Ok => self.ok += 1,
            Status::Changed => self.changed += 1,
            Status::Skipped => self.skipped += 1,
            Status::Failed => self.failed += 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("--start-at {0:?}: no step has that name")]
    NoSuchStep(String),
}

/// The host's facts as the flat strings `when` conditions and templated playbooks see:
/// distribution, version, family, package_manager, init, cpus, memory_mb.
pub fn fact_values(facts: &Facts) -> BTreeMap<String, String> {
    let lower = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
    [
        ("distribution", facts.distribution.clone()),
        ("version", facts.version.clone()),
        ("family", lower(&facts.family)),
        ("package_manager", lower(&facts.package_manager)),
        ("init", lower(&facts.init)),
        ("cpus", facts.cpus.to_string()),
        (
            "memory_mb",
            (facts.memory_bytes / (1024 * 1024)).to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Runs `book` on this host; `on_start` hears each step as it begins (for a spinner),
/// `on_event` each outcome. Returns the recap (failed > 0 when a step failed).
pub fn run(
    book: &Playbook,
    facts: &Facts,
    opts: &Options,
    packages: &dyn Manager,
    services: &dyn Services,
    on_start: &mut dyn FnMut(&str),
    on_event: &mut dyn FnMut(&Event),
) -> Result<Recap, EngineError> {
    if let Some(s) = &opts.start_at {
        if !book.steps.iter().any(|st| &st.name == s) {
            return Err(EngineError::NoSuchStep(s.clone()));
        }
    }
    let _lock = Lock::acquire(&opts.state_dir)?;
    let mut vars = book.vars.clone();
    vars.extend(opts.extra_vars.clone());
    let secrets: Vec<Secret> = book
        .secrets
        .iter()
        .filter_map(|k| vars.get(k))
        .map(|v| Secret::new(v.clone()))
        .collect();
    // What `when` sees: facts, then vars.
    let mut values = fact_values(facts);
    values.extend(vars.clone());
    let log = Log::create(&opts.state_dir)?;
    let mut run = Run {
        book,
        opts,
        services,
        ctx: Ctx {
            vars: &vars,
            dir: book.dir.as_deref(),
            packages,
            services,
            secrets: &secrets,
            diff: opts.diff,
        },
        pending: Pending::load(&opts.state_dir)?,
        recap: Recap {
            log: Some(log.path.clone()),
            ..Default::default()
        },
        log,
        would_notify: Vec::new(),
        on_event,
    };
    run.log.line(&format!(
        "playbook {:?}, check={}, pending handlers {:?}",
        book.name, opts.check, run.pending.names
    ));
    let mut reached = opts.start_at.is_none();
    for step in &book.steps {
        reached |= opts.start_at.as_deref() == Some(step.name.as_str());
        if run.step(step, reached, &values, on_start)? == Flow::Stop {
            return Ok(run.recap);
        }
    }
    // Handlers, once each, in the order the playbook lists them.
    if run.handlers(None)? == Flow::Stop {
        return Ok(run.recap);
    }
    run.log.line(&run.recap.line());
    Ok(run.recap)
}

/// Whether the run goes on after a step.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Next,
    /// A step or handler failed: the run ends here (its recap counts the failure).
    Stop,
}

/// One run's state: what it runs on, the handlers owed, the log and the tally.
struct Run<'a> {
    book: &'a Playbook,
    opts: &'a Options,
    services: &'a dyn Services,
    ctx: Ctx<'a>,
    pending: Pending,
    log: Log,
    recap: Recap,
    /// In check mode, the handlers changed steps would have notified so far.
    would_notify: Vec<String>,
    on_event: &'a mut dyn FnMut(&Event),
}

impl Run<'_> {
    /// Counts an outcome, writes it to the log (secrets masked) and reports it.
    fn emit(&mut self, e: Event) {
        self.recap.count(e.status);
        let masked = |prefix: &str, d: &Option<String>| {
            d.as_deref()
                .map(|d| format!("\n{prefix}{}", self.ctx.mask(d)))
                .unwrap_or_default()
        };
        let line = format!(
            "{} {}{} ({:.2}s){}{}",
            e.status.as_str(),
            if e.handler { "handler " } else { "" },
            e.step,
            e.seconds,
            masked("", &e.detail),
            masked("error: ", &e.error)
        );
        self.log.line(&line);
        (self.on_event)(&e);
    }

    /// One step: skipped (before `--start-at`, untagged, `when` false), a handler flush,
    /// or planned against the host and — outside check mode — applied.
    fn step(
        &mut self,
        step: &super::model::Step,
        reached: bool,
        values: &BTreeMap<String, String>,
        on_start: &mut dyn FnMut(&str),
    ) -> Result<Flow, EngineError> {
        let started = Instant::now();
        let event = |status, seconds| Event::new(&step.name, false, status, seconds);
        let skipped = |why: String| event(Status::Skipped, 0.0).detail(why);
        if !reached {
            self.emit(skipped("before --start-at".into()));
            return Ok(Flow::Next);
        }
        let tags = &self.opts.tags;
        if !tags.is_empty() && !step.tags.iter().any(|t| tags.contains(t)) {
            self.emit(skipped("not tagged for this run".into()));
            return Ok(Flow::Next);
        }
        if let Some(cond) = &step.when {
            match when::eval(cond, values) {
                Ok(true) => {}
                Ok(false) => {
                    self.emit(skipped(format!("when {cond:?} is false")));
                    return Ok(Flow::Next);
                }
                Err(e) => {
                    self.emit(event(Status::Failed, 0.0).error(e));
                    return Ok(Flow::Stop);
                }
            }
        }
        if let Kind::FlushHandlers(only) = step.kind() {
            // Pending handlers run here instead of at the end (a restart later steps need).
            self.emit(event(Status::Ok, 0.0));
            let flow = self.handlers(only.as_deref())?;
            self.would_notify
                .retain(|n| only.as_ref().is_some_and(|o| !o.contains(n)));
            return Ok(flow);
        }
        on_start(&step.name);
        let outcome = self.plan_and_apply(step);
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(Plan::Matched) => self.emit(event(Status::Ok, seconds)),
            Ok(Plan::Create(d) | Plan::Modify(d) | Plan::Run(d)) => {
                if self.opts.check {
                    self.would_notify.extend(step.notify.iter().cloned());
                } else {
                    self.pending.add(&step.notify)?;
                }
                let detail = self.ctx.mask(&d);
                self.emit(event(Status::Changed, seconds).detail(detail));
            }
            Err(e) => {
                let error = self.ctx.mask(&crate::causes::line(&e));
                self.emit(event(Status::Failed, seconds).error(error));
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Next)
    }

    /// Plans `step` against the host; outside check mode, keeps the previous version of
    /// the file it writes (for rollback) and applies it.
    fn plan_and_apply(&self, step: &super::model::Step) -> Result<Plan, steps::StepError> {
        let plan = steps::query(step.kind(), &self.ctx)?;
        if plan == Plan::Matched || self.opts.check {
            return Ok(plan);
        }
        if let (Some(h), Some(path)) = (&self.opts.history, step.kind().writes()) {
            h.record(path, &step.notify)
                .and_then(|_| h.handlers(&self.book.handlers))
                .map_err(|e| steps::StepError::Other(e.to_string()))?;
        }
        steps::apply(step.kind(), &self.ctx).map(|_| plan)
    }

    /// Runs the pending handlers (and, in check mode, the ones that would be notified)
    /// once each, in the playbook's order; `only` these when given. Stops at one that
    /// failed (it stays pending for the next run).
    fn handlers(&mut self, only: Option<&[String]>) -> Result<Flow, EngineError> {
        for h in &self.book.handlers {
            if !self.pending.names.contains(&h.name) && !self.would_notify.contains(&h.name) {
                continue;
            }
            if only.is_some_and(|o| !o.contains(&h.name)) {
                continue;
            }
            let started = Instant::now();
            let event = |status| Event::new(&h.name, true, status, started.elapsed().as_secs_f64());
            if self.opts.check {
                self.emit(event(Status::Changed).detail("would run"));
                continue;
            }
            match steps::run_handler(h, self.services) {
                Ok(()) => {
                    self.pending.done(&h.name)?;
                    self.recap.handlers.push(h.name.clone());
                    self.emit(event(Status::Changed));
                }
                Err(e) => {
                    let error = self.ctx.mask(&crate::causes::line(&e));
                    self.emit(event(Status::Failed).error(error));
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Next)
    }
}
