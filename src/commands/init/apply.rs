//! One run of init's playbook, as a check (what would change, the config's content kept
//! secret) or for real (the config written first, then the playbook, then a wait for
//! nginx's new workers).

use std::path::Path;

use anyhow::Context;

use super::super::play::run_engine;
use super::super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, InitArgs};
use crate::host::services::Services;
use crate::init::saved;
use crate::playbook::{Options, Recap};

/// One run of init's playbook: what it needs, for the check and the real run alike.
pub(super) struct Run<'a> {
    pub global: &'a GlobalArgs,
    pub args: &'a InitArgs,
    pub facts: &'a crate::host::facts::Facts,
    pub book: &'a crate::playbook::Playbook,
    pub opts: &'a Options,
    pub svc: &'a dyn Services,
    pub config: &'a Path,
    pub config_text: &'a str,
}

impl Run<'_> {
    /// init's playbook through the engine, printing as it goes.
    fn engine(&self) -> Result<Recap, CommandError> {
        run_engine(
            self.global,
            self.book,
            self.facts,
            self.opts,
            self.svc,
            self.args.diff,
        )
    }

    fn config_differs(&self) -> bool {
        std::fs::read_to_string(self.config).ok().as_deref() != Some(self.config_text)
    }

    /// What would change (the config's content is a secret), touching nothing.
    pub(super) fn check(&self, relocated: usize) -> Result<Recap, CommandError> {
        let config_differs = self.config_differs();
        if config_differs && !self.global.json {
            println!(
                "changed  write {} (mode 0600; its content holds secrets and is not shown)",
                self.config.display()
            );
        }
        let mut recap = self.engine()?;
        recap.changed += usize::from(config_differs) + relocated;
        Ok(recap)
    }

    /// `--check`: what would change, exit 1 if anything.
    pub(super) fn dry_run(&self, relocated: usize) -> Result<ExitStatus, CommandError> {
        let recap = self.check(relocated)?;
        println!("{}", recap.line());
        Ok(if recap.changed > 0 || recap.failed > 0 {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        })
    }

    /// The config first (a run that fails later keeps its generated secrets), then the
    /// playbook; waits for nginx's new workers after a reload. A failed step is in the
    /// recap (what failed and how was printed as it happened).
    pub(super) fn apply(&self, relocated: usize) -> Result<Recap, CommandError> {
        let generation = self.opts.history.as_ref().expect("not in check mode");
        if self.config_differs() {
            generation.record(self.config, &[])?;
        }
        let config_changed = saved::write(self.config, self.config_text)
            .with_context(|| format!("cannot write {}", self.config.display()))?;
        if config_changed && !self.global.json {
            println!("changed  config {} (mode 0600)", self.config.display());
        }
        let engine_started = crate::host::reload::now_ticks();
        let mut recap = self.engine()?;
        generation.finish()?;
        recap.changed += usize::from(config_changed) + relocated;
        // A reloaded nginx answers with its old workers for a moment; verify must see the new.
        if let (true, Some(since)) = (
            recap.handlers.iter().any(|h| h == "reload nginx"),
            engine_started,
        ) {
            if !crate::host::reload::wait_workers_since(
                Path::new("/run/nginx.pid"),
                since,
                std::time::Duration::from_secs(15),
            ) {
                tracing::warn!("nginx's old workers were still running 15 s after its reload");
            }
        }
        Ok(recap)
    }
}
