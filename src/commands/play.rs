//! `provision play`: runs a playbook on this host and prints one line per step (JSON
//! events with --json) and the recap.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, PlayArgs};
use crate::host::facts::{self, InitSystem};
use crate::host::packages;
use crate::host::services::{self, Direct, Services, Supervisor};
use crate::playbook::history::Generation;
use crate::playbook::{self, Event, Options, Playbook, Status};

pub fn run(global: &GlobalArgs, args: PlayArgs) -> Result<ExitStatus, CommandError> {
    let mut extra_vars = BTreeMap::new();
    for kv in &args.extra_vars {
        let (k, v) = kv.split_once('=').ok_or_else(|| CommandError {
            status: ExitStatus::Usage,
            error: anyhow::anyhow!("-e {kv:?}: expected KEY=VALUE"),
        })?;
        extra_vars.insert(k.to_string(), v.to_string());
    }
    let facts = facts::detect(std::path::Path::new("/"))?;
    let book = Playbook::load_templated(
        &args.playbook,
        &crate::playbook::engine::fact_values(&facts),
        &extra_vars,
    )
    .map_err(|e| CommandError {
        status: ExitStatus::Usage,
        error: e.into(),
    })?;
    let svc: Box<dyn Services> = match facts.init {
        InitSystem::None => Box::new(Direct {
            supervisor: Supervisor {
                config: args.supervisor_config.clone(),
            },
            ..Direct::default()
        }),
        other => services::for_init(other),
    };
    let opts = Options {
        check: args.check,
        diff: args.diff,
        tags: args.tags,
        start_at: args.start_at,
        extra_vars,
        history: (!args.check).then(|| {
            std::sync::Arc::new(Generation::begin(
                &args.state_dir,
                &format!("play {}", book.name),
            ))
        }),
        state_dir: args.state_dir,
    };
    let recap = run_engine(global, &book, &facts, &opts, svc.as_ref(), args.diff)?;
    if let Some(h) = &opts.history {
        h.finish()?;
    }
    if global.json {
        println!("{}", serde_json::json!({"recap": recap}));
    } else {
        println!("{}", recap.line());
    }
    Ok(if recap.failed > 0 || (opts.check && recap.changed > 0) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// Runs a playbook with a spinner naming the step in progress (on a terminal), each step's
/// outcome printed as it ends (JSON lines with --json), and a hint when a step failed.
/// One step's event as the terminal shows it: `status   step (s)`, then its detail (when
/// it changed, or with `--diff`) and its error, indented under it; every line after
/// `prefix` (a host's name when several run).
pub(super) fn event_text(e: &Event, show_diff: bool, prefix: &str) -> String {
    let pad = " ".repeat(prefix.chars().count());
    let mut text = format!(
        "{prefix}{:<8} {}{} ({:.2}s)",
        e.status.as_str(),
        if e.handler { "handler: " } else { "" },
        e.step,
        e.seconds
    );
    if let Some(d) = &e.detail {
        if e.status == Status::Changed || show_diff {
            for line in d.lines() {
                text.push_str(&format!("\n{pad}         {line}"));
            }
        }
    }
    if let Some(err) = &e.error {
        text.push_str(&format!("\n{pad}         error: {err}"));
    }
    text
}

pub(super) fn run_engine(
    global: &GlobalArgs,
    book: &Playbook,
    facts: &facts::Facts,
    opts: &Options,
    svc: &dyn Services,
    show_diff: bool,
) -> Result<playbook::engine::Recap, CommandError> {
    // A spinner naming the step in progress, on a terminal only.
    let spinner = (std::io::stderr().is_terminal() && !global.json && !global.quiet).then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.enable_steady_tick(std::time::Duration::from_millis(100));
        s
    });
    let mut on_start = |name: &str| {
        if let Some(s) = &spinner {
            s.set_message(name.to_string());
        }
    };
    let mut print = |e: &Event| {
        if let Some(s) = &spinner {
            s.set_message(String::new());
        }
        if global.json {
            println!("{}", serde_json::to_string(e).expect("event serializes"));
            return;
        }
        if global.quiet && e.status != Status::Failed {
            return;
        }
        let text = event_text(e, show_diff, "");
        match &spinner {
            Some(s) => s.println(text),
            None => println!("{text}"),
        }
    };
    let pm = packages::manager(facts.package_manager);
    let recap = playbook::run(
        book,
        facts,
        opts,
        pm.as_ref(),
        svc,
        &mut on_start,
        &mut print,
    )
    .map_err(|e| {
        let status = match e {
            playbook::engine::EngineError::NoSuchStep(_) => ExitStatus::Usage,
            _ => ExitStatus::Failure,
        };
        CommandError {
            status,
            error: e.into(),
        }
    })?;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    if recap.failed > 0 && !global.json {
        println!(
            "         a step failed: fix it and run again (the next run picks up where this one \
             stopped; pending handlers are kept); full log: {}",
            recap
                .log
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    Ok(recap)
}
