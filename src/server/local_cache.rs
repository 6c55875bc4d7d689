//! `LocalCache`: the instance's own cache of read answers — runs pages, one run, a run's
//! result pages — served from memory with no network hop.
//!
//! Freshness: every committed write, on any instance, reaches every instance as a NOTIFY
//! (`events.rs`); each drops the entries the written run could change (its own page and
//! results, and every runs page whose id range holds it) — the writing instance before it
//! answers. Nothing is older than `server.local_cache_ttl_ms` (1 s by default), the bound
//! that holds even if an event were late; while the event listener is disconnected
//! nothing is stored or served, and it starts empty when the listener is back. An answer
//! computed while a write landed is not stored (it may predate the write). Requests
//! that carry a bearer token (writers) or `Cache-Control: no-cache` always go to
//! PostgreSQL, so a writer never reads an answer older than its own write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use bytes::Bytes;

/// Which writes an entry depends on: those to one run (a run, its results), or those to
/// any run whose id is in `low..high` (a runs page: `high` is its `before` bound, `low`
/// its smallest id when the page is full, else the bottom of the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Run(i64),
    Runs { low: i64, high: i64 },
}

impl Scope {
    fn holds(self, run: i64) -> bool {
        match self {
            Scope::Run(id) => id == run,
            Scope::Runs { low, high } => low <= run && run < high,
        }
    }
}

struct Entry {
    body: Bytes,
    at: Instant,
    scope: Scope,
}

pub struct LocalCache {
    entries: Mutex<HashMap<String, Entry>>,
    ttl: Duration,
    capacity: usize,
    /// Bumped by every invalidation: an answer computed across one is not stored.
    writes: AtomicU64,
    /// Whether the event listener is connected (no events can be missed).
    live: AtomicBool,
}

/// A lookup's ticket: the invalidation count when the answer's computation began.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl LocalCache {
    /// `ttl` zero turns the cache off. Not live until the event listener says so.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        LocalCache {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity,
            writes: AtomicU64::new(0),
            live: AtomicBool::new(false),
        }
    }

    /// Whether a request may be answered from here: not a writer's (bearer token), not
    /// one asking for a fresh answer.
    pub fn serves(&self, headers: &HeaderMap) -> bool {
        !self.ttl.is_zero()
            && self.live.load(Ordering::Acquire)
            && !headers.contains_key(header::AUTHORIZATION)
            && !headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("no-cache"))
    }

    /// The stored answer for `key` if it is younger than the bound; else a ticket for
    /// storing the answer about to be computed.
    pub fn get(&self, key: &str) -> Result<Bytes, Ticket> {
        let ticket = Ticket(self.writes.load(Ordering::Acquire));
        let entries = self.entries.lock().expect("local cache lock");
        match entries.get(key) {
            Some(e) if e.at.elapsed() < self.ttl => Ok(e.body.clone()),
            _ => Err(ticket),
        }
    }

    /// Stores `body` under `key` unless a write landed since `ticket` was taken (or the
    /// listener is down). A full cache drops what has expired first, and stores nothing
    /// when that is not enough.
    pub fn put(&self, key: String, body: Bytes, scope: Scope, ticket: Ticket) {
        let mut entries = self.entries.lock().expect("local cache lock");
        if self.writes.load(Ordering::Acquire) != ticket.0 || !self.live.load(Ordering::Acquire) {
            return;
        }
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, e| e.at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                return;
            }
        }
        entries.insert(
            key,
            Entry {
                body,
                at: Instant::now(),
                scope,
            },
        );
    }

    /// A write to `run` committed: drops what it may have changed.
    pub fn invalidate(&self, run: i64) {
        let mut entries = self.entries.lock().expect("local cache lock");
        self.writes.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, e| !e.scope.holds(run));
    }

    /// The event listener connected (`true`: starts empty) or lost its connection.
    pub fn set_live(&self, live: bool) {
        let mut entries = self.entries.lock().expect("local cache lock");
        self.writes.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.live.store(live, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(ttl_ms: u64) -> LocalCache {
        let c = LocalCache::new(Duration::from_millis(ttl_ms), 3);
        c.set_live(true);
        c
    }

    #[test]
    fn a_write_drops_what_it_may_change_and_nothing_else() {
        let c = live(60_000);
        let body = Bytes::from_static(b"{}");
        for (key, scope) in [
            (
                "first",
                Scope::Runs {
                    low: 51,
                    high: i64::MAX,
                },
            ),
            ("older", Scope::Runs { low: 1, high: 51 }),
            ("run7", Scope::Run(7)),
        ] {
            let Err(t) = c.get(key) else { panic!("empty") };
            c.put(key.into(), body.clone(), scope, t);
        }
        c.invalidate(7);
        assert!(c.get("run7").is_err() && c.get("older").is_err());
        assert!(c.get("first").is_ok(), "run 7 is not on the first page");
        c.invalidate(101);
        assert!(c.get("first").is_err(), "a new run is on the first page");
    }

    #[test]
    fn an_answer_computed_across_a_write_or_while_events_may_be_missed_is_not_kept() {
        let c = live(60_000);
        let Err(t) = c.get("p") else { panic!() };
        c.invalidate(1_000); // elsewhere, while "p" was computed
        c.put("p".into(), Bytes::from_static(b"old"), Scope::Run(5), t);
        assert!(c.get("p").is_err());
        c.set_live(false);
        let Err(t) = c.get("p") else { panic!() };
        c.put("p".into(), Bytes::from_static(b"x"), Scope::Run(5), t);
        assert!(c.get("p").is_err());
    }

    #[test]
    fn entries_expire_at_the_bound_and_a_full_cache_stores_no_more() {
        let c = live(30);
        for key in ["a", "b", "c", "d"] {
            let Err(t) = c.get(key) else { panic!() };
            c.put(key.into(), Bytes::from_static(b"x"), Scope::Run(1), t);
        }
        assert!(c.get("c").is_ok() && c.get("d").is_err(), "capacity 3");
        std::thread::sleep(Duration::from_millis(40));
        assert!(c.get("a").is_err(), "older than the bound");
        let Err(t) = c.get("d") else { panic!() };
        c.put("d".into(), Bytes::from_static(b"x"), Scope::Run(1), t);
        assert!(c.get("d").is_ok(), "expired entries made room");
    }

    #[test]
    fn writers_and_no_cache_requests_are_not_served() {
        let c = live(1000);
        assert!(c.serves(&HeaderMap::new()));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(!c.serves(&h));
        let mut h = HeaderMap::new();
        h.insert(header::CACHE_CONTROL, "no-cache".parse().unwrap());
        assert!(!c.serves(&h));
        assert!(!LocalCache::new(Duration::ZERO, 3).serves(&HeaderMap::new()));
    }
}
