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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
    let mut pending = Pending::load(&opts.state_dir)?;
    let mut log = Log::create(&opts.state_dir)?;
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
    let ctx = Ctx {
        vars: &vars,
        dir: book.dir.as_deref(),
        packages,
        services,
        secrets: &secrets,
        diff: opts.diff,
    };
    let mut recap = Recap {
        log: Some(log.path.clone()),
        ..Default::default()
    };
    log.line(&format!(
        "playbook {:?}, check={}, pending handlers {:?}",
        book.name, opts.check, pending.names
    ));
    let mut emit = |e: Event, recap: &mut Recap, log: &mut Log| {
        recap.count(e.status);
        log.line(&format!(
            "{} {}{} ({:.2}s){}{}",
            e.status.as_str(),
            if e.handler { "handler " } else { "" },
            e.step,
            e.seconds,
            e.detail
                .as_deref()
                .map(|d| format!("\n{}", ctx.mask(d)))
                .unwrap_or_default(),
            e.error
                .as_deref()
                .map(|d| format!("\nerror: {}", ctx.mask(d)))
                .unwrap_or_default()
        ));
        on_event(&e);
    };
    let mut reached = opts.start_at.is_none();
    let mut would_notify: Vec<String> = Vec::new();
    for step in &book.steps {
        let started = Instant::now();
        reached |= opts.start_at.as_deref() == Some(step.name.as_str());
        let event = |status, seconds| Event::new(&step.name, false, status, seconds);
        let skipped = |why: String| event(Status::Skipped, 0.0).detail(why);
        if !reached {
            emit(skipped("before --start-at".into()), &mut recap, &mut log);
            continue;
        }
        if !opts.tags.is_empty() && !step.tags.iter().any(|t| opts.tags.contains(t)) {
            emit(
                skipped("not tagged for this run".into()),
                &mut recap,
                &mut log,
            );
            continue;
        }
        if let Some(cond) = &step.when {
            match when::eval(cond, &values) {
                Ok(true) => {}
                Ok(false) => {
                    emit(
                        skipped(format!("when {cond:?} is false")),
                        &mut recap,
                        &mut log,
                    );
                    continue;
                }
                Err(e) => {
                    emit(event(Status::Failed, 0.0).error(e), &mut recap, &mut log);
                    return Ok(recap);
                }
            }
        }
        if let Kind::FlushHandlers(only) = step.kind() {
            // Pending handlers run here instead of at the end (a restart later steps need).
            emit(event(Status::Ok, 0.0), &mut recap, &mut log);
            let flushing = Flushing {
                only: only.as_deref(),
                would_notify: &would_notify,
            };
            if !run_handlers(
                book,
                opts,
                services,
                &ctx,
                &mut pending,
                &flushing,
                &mut recap,
                &mut log,
                &mut emit,
            )? {
                return Ok(recap);
            }
            would_notify.retain(|n| only.as_ref().is_some_and(|o| !o.contains(n)));
            continue;
        }
        on_start(&step.name);
        let outcome = steps::query(step.kind(), &ctx).and_then(|plan| {
            if plan == Plan::Matched || opts.check {
                return Ok(plan);
            }
            if let (Some(h), Some(path)) = (&opts.history, step.kind().writes()) {
                h.record(path, &step.notify)
                    .and_then(|_| h.handlers(&book.handlers))
                    .map_err(|e| steps::StepError::Other(e.to_string()))?;
            }
            steps::apply(step.kind(), &ctx).map(|_| plan)
        });
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(Plan::Matched) => emit(event(Status::Ok, seconds), &mut recap, &mut log),
            Ok(Plan::Create(d) | Plan::Modify(d) | Plan::Run(d)) => {
                if opts.check {
                    would_notify.extend(step.notify.iter().cloned());
                } else {
                    pending.add(&step.notify)?;
                }
                emit(
                    event(Status::Changed, seconds).detail(ctx.mask(&d)),
                    &mut recap,
                    &mut log,
                );
            }
            Err(e) => {
                emit(
                    event(Status::Failed, seconds).error(ctx.mask(&e.to_string())),
                    &mut recap,
                    &mut log,
                );
                return Ok(recap);
            }
        }
    }
    // Handlers, once each, in the order the playbook lists them.
    let flushing = Flushing {
        only: None,
        would_notify: &would_notify,
    };
    if !run_handlers(
        book,
        opts,
        services,
        &ctx,
        &mut pending,
        &flushing,
        &mut recap,
        &mut log,
        &mut emit,
    )? {
        return Ok(recap);
    }
    log.line(&recap.line());
    Ok(recap)
}

/// Which handlers a flush runs: `only` these (all when None), pending or — in check mode —
/// notified so far.
struct Flushing<'a> {
    only: Option<&'a [String]>,
    would_notify: &'a [String],
}

/// Runs the pending handlers (and, in check mode, the ones that would be notified) once
/// each, in the playbook's order. False when one failed (the run stops there; it stays
/// pending for the next run).
#[allow(clippy::too_many_arguments)]
fn run_handlers(
    book: &Playbook,
    opts: &Options,
    services: &dyn Services,
    ctx: &Ctx<'_>,
    pending: &mut Pending,
    flushing: &Flushing<'_>,
    recap: &mut Recap,
    log: &mut Log,
    emit: &mut dyn FnMut(Event, &mut Recap, &mut Log),
) -> Result<bool, EngineError> {
    for h in &book.handlers {
        if !pending.names.contains(&h.name) && !flushing.would_notify.contains(&h.name) {
            continue;
        }
        if flushing.only.is_some_and(|o| !o.contains(&h.name)) {
            continue;
        }
        let started = Instant::now();
        let event = |status| Event::new(&h.name, true, status, started.elapsed().as_secs_f64());
        if opts.check {
            emit(event(Status::Changed).detail("would run"), recap, log);
            continue;
        }
        match steps::run_handler(h, services) {
            Ok(()) => {
                pending.done(&h.name)?;
                recap.handlers.push(h.name.clone());
                emit(event(Status::Changed), recap, log);
            }
            Err(e) => {
                emit(
                    event(Status::Failed).error(ctx.mask(&e.to_string())),
                    recap,
                    log,
                );
                return Ok(false);
            }
        }
    }
    Ok(true)
}
