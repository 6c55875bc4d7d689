//! Small helpers every test binary shares: the services scripts/test started, unique
//! names, free ports, and waiting on a condition instead of sleeping.

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// An environment variable scripts/test sets; missing, the test fails (it never skips).
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests through scripts/test, which starts PostgreSQL and \
             Redis (a missing service fails the tests, it never skips them)"
        )
    })
}

/// `prefix_` and a fresh uuid: names of databases, roles and cache prefixes.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A TCP port nothing listens on now (on any address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it holds, failing the test past `within`; returns how long it took.
pub fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < within, "{what} not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// How one run of the `provision` binary ended and what it printed.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn of(out: std::process::Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    /// stdout as one JSON document (`--json`); fails the test with both streams if not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }
}

/// The `provision` binary under test, as a command to add arguments to.
pub fn provision_command() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_provision"))
}

/// The binary in a clean environment: only PATH, no config file and no `.env` (both
/// /dev/null unless the arguments name them), so nothing from the machine leaks in.
pub fn isolated_command() -> std::process::Command {
    let mut cmd = provision_command();
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("PROVISION_CONFIG", "/dev/null")
        .env("PROVISION_ENV_FILE", "/dev/null");
    cmd
}

/// `provision ARGS` run to its end in a clean environment plus `env`.
pub fn provision(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = isolated_command();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ran::of(cmd.output().unwrap())
}
