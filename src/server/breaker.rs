//! `Breaker`: the circuit breaker that keeps Redis off the request path while it is down.
//!
//! Closed, requests use Redis (each call bounded by a short timeout). The first failure
//! opens it; while open no request touches Redis, and one background probe pings Redis
//! until it answers, then closes it. No request ever waits on a dead Redis twice.

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct Breaker {
    open: AtomicBool,
}

impl Breaker {
    /// Whether requests should skip Redis.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Opens the breaker; returns true only for the call that opened it (that caller logs
    /// once and starts the probe).
    pub fn trip(&self) -> bool {
        !self.open.swap(true, Ordering::AcqRel)
    }

    /// Closes the breaker (the probe saw Redis answer).
    pub fn close(&self) {
        self.open.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_trip_reports_opening() {
        let b = Breaker::default();
        assert!(!b.is_open());
        assert!(b.trip());
        assert!(!b.trip());
        assert!(b.is_open());
        b.close();
        assert!(!b.is_open());
        assert!(b.trip());
    }
}
