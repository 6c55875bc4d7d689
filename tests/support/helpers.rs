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
