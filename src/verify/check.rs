//! One result type for every check: its name, where it runs, passed / failed / not run,
//! what it saw, and how long it took. Checks run concurrently, each under its own timeout.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Where a check runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Over the network, through the public URL: runs from anywhere.
    Remote,
    /// Needs the host itself (files, local ports, the service manager).
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    /// Could not run here (an on-host check under `--url`); counts as failed unless
    /// `--remote-only`.
    NotRun,
    /// Not wanted (`--remote-only`), or nothing to check (no TLS configured).
    Skipped,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub scope: Scope,
    pub outcome: Outcome,
    /// `outcome == Passed`, spelled out for machines.
    pub passed: bool,
    /// What was seen (on success) or what is wrong and what to do (on failure).
    pub message: String,
    pub duration_ms: f64,
}

impl CheckResult {
    pub fn new(
        name: impl Into<String>,
        scope: Scope,
        outcome: Outcome,
        message: impl Into<String>,
    ) -> Self {
        CheckResult {
            name: name.into(),
            scope,
            outcome,
            passed: outcome == Outcome::Passed,
            message: message.into(),
            duration_ms: 0.0,
        }
    }

    /// Whether this result makes the verification fail.
    pub fn fails(&self, remote_only: bool) -> bool {
        match self.outcome {
            Outcome::Passed | Outcome::Skipped => false,
            Outcome::Failed => true,
            Outcome::NotRun => !remote_only,
        }
    }
}

/// What a check's body returns: what it saw, or what is wrong.
pub type Verdict = Result<Passed, String>;

/// A passed check's message, or a reason it has nothing to check.
pub enum Passed {
    Saw(String),
    NothingToCheck(String),
}

/// Runs one check under `timeout`, timing it.
pub async fn run<F>(name: &str, scope: Scope, timeout: Duration, body: F) -> CheckResult
where
    F: Future<Output = Verdict>,
{
    let started = Instant::now();
    let (outcome, message) = match tokio::time::timeout(timeout, body).await {
        Ok(Ok(Passed::Saw(m))) => (Outcome::Passed, m),
        Ok(Ok(Passed::NothingToCheck(m))) => (Outcome::Skipped, m),
        Ok(Err(m)) => (Outcome::Failed, m),
        Err(_) => (
            Outcome::Failed,
            format!("no answer within {} s", timeout.as_secs_f64()),
        ),
    };
    let mut r = CheckResult::new(name, scope, outcome, message);
    r.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    r
}
