//! `LocalCache`: the instance's own cache of read answers — runs pages, one run, a run's
//! result pages, and each run's JSON (the pieces runs pages are assembled from) — served
//! from memory with no network hop.
//!
//! Unfiltered runs pages take their ids from the run index (`run_index.rs`), kept current
//! by the same events.
//!
//! Freshness: every committed write, on any instance, reaches every instance as a NOTIFY
//! (`events.rs`); each drops what the written run could change (its own JSON, page and
//! results, and every runs page whose id range holds it) — the writing instance before it
//! answers. **The bound** (`server.local_cache_bound_ms`, 1 s): each instance NOTIFYs
//! itself a heartbeat every quarter of the bound; PostgreSQL delivers notifications in
//! commit order, so once the heartbeat sent at T is received, every write committed
//! before T has been dropped from memory. Memory answers only while its last heartbeat
//! was sent less than the bound ago — a stalled or lost event stream stops it within the
//! bound, and it starts empty when the listener reconnects. An answer computed while a
//! write landed is not kept (it may predate the write). Writes made outside the server
//! (psql, `provision migrate`) are not announced: entries live `server.local_cache_max_age_s`
//! at most. Requests that carry a bearer token (writers) or `Cache-Control: no-cache`
//! always read PostgreSQL, so a writer never reads an answer older than its own write.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use bytes::Bytes;

use super::run_index::RunIndex;

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
    /// Each run's JSON as a runs page holds it.
    runs: Mutex<HashMap<i64, (Bytes, Instant), BuildHasherDefault<IdHasher>>>,
    bound: Duration,
    max_age: Duration,
    capacity: usize,
    /// Bumped by every invalidation: an answer computed across one is not stored.
    writes: AtomicU64,
    /// When the last heartbeat received was sent, in nanoseconds since `base` (0: none
    /// since the listener connected).
    confirmed: AtomicU64,
    /// When the last invalidation happened (a `clock` stamp).
    invalidated: AtomicU64,
    /// When a full map was last swept of expired entries (same clock as `confirmed`).
    swept: AtomicU64,
    base: Instant,
    /// Names this instance's heartbeats among every instance's.
    pub tag: String,
    /// Every run's id, for unfiltered runs pages.
    pub index: RunIndex,
}

/// Hashes run ids (database sequence values, not chosen by clients) with one multiply: a
/// runs page looks up fifty of them, and SipHash was a visible share of an instance's CPU.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, id: i64) {
        self.0 = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A lookup's ticket: the invalidation count when the answer's computation began.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

/// Run JSON kept at most (about 300 bytes each).
const RUNS_CAPACITY: usize = 200_000;

/// Run ids indexed at most (8 bytes each).
const INDEX_CAPACITY: usize = 2_000_000;

impl LocalCache {
    /// `bound` zero turns the cache off; `max_age` bounds entries for writes the server
    /// does not see. Serves nothing until its first heartbeat comes back.
    pub fn new(bound: Duration, max_age: Duration, capacity: usize) -> Self {
        LocalCache {
            entries: Mutex::new(HashMap::new()),
            runs: Mutex::new(HashMap::default()),
            bound,
            max_age,
            capacity,
            writes: AtomicU64::new(0),
            confirmed: AtomicU64::new(0),
            swept: AtomicU64::new(0),
            invalidated: AtomicU64::new(0),
            base: Instant::now(),
            tag: format!("{:016x}", rand::random::<u64>()),
            index: RunIndex::new(INDEX_CAPACITY, max_age),
        }
    }

    /// How often the instance sends itself a heartbeat (None: the cache is off).
    pub fn heartbeat_every(&self) -> Option<Duration> {
        (!self.bound.is_zero()).then(|| self.bound / 4)
    }

    /// A heartbeat's stamp: now, in nanoseconds since this cache began.
    pub fn stamp(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64 + 1
    }

    /// Our heartbeat stamped `sent` came back: every write committed before it is dropped.
    pub fn confirm(&self, sent: u64) {
        self.confirmed.fetch_max(sent, Ordering::AcqRel);
    }

    /// Whether the event stream is confirmed within the bound.
    fn fresh(&self) -> bool {
        let confirmed = self.confirmed.load(Ordering::Acquire);
        confirmed > 0 && self.stamp().saturating_sub(confirmed) < self.bound.as_nanos() as u64
    }

    /// Whether a request may be answered from here: the event stream confirmed within
    /// the bound, not a writer's read (bearer token), not one asking for a fresh answer.
    pub fn serves(&self, headers: &HeaderMap) -> bool {
        self.fresh()
            && !headers.contains_key(header::AUTHORIZATION)
            && !headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("no-cache"))
    }

    fn ticket(&self) -> Ticket {
        Ticket(self.writes.load(Ordering::Acquire))
    }

    /// Whether an answer begun at `ticket` may be kept: no write landed since, and the
    /// event stream is confirmed.
    fn keeps(&self, ticket: Ticket) -> bool {
        self.writes.load(Ordering::Acquire) == ticket.0 && self.fresh()
    }

    /// The stored answer for `key` if there is one; else a ticket for storing the answer
    /// about to be computed.
    pub fn get(&self, key: &str) -> Result<Bytes, Ticket> {
        let ticket = self.ticket();
        let entries = self.entries.lock().expect("local cache lock");
        match entries.get(key) {
            Some(e) if e.at.elapsed() < self.max_age => Ok(e.body.clone()),
            _ => Err(ticket),
        }
    }

    /// Stores `body` under `key` if [`keeps`](Self::keeps) allows. A full cache drops
    /// what has expired first, and stores nothing when that is not enough.
    pub fn put(&self, key: String, body: Bytes, scope: Scope, ticket: Ticket) {
        let mut entries = self.entries.lock().expect("local cache lock");
        if !self.keeps(ticket) {
            return;
        }
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            if !self.may_sweep() {
                return;
            }
            let max_age = self.max_age;
            entries.retain(|_, e| e.at.elapsed() < max_age);
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

    /// The JSON of each run of `ids` that is here (None for the others), and a ticket for
    /// storing the ones about to be read.
    pub fn runs(&self, ids: &[i64]) -> (Vec<Option<Bytes>>, Ticket) {
        let ticket = self.ticket();
        let now = Instant::now();
        let runs = self.runs.lock().expect("local cache lock");
        let found = ids
            .iter()
            .map(|id| {
                runs.get(id)
                    .filter(|(_, at)| now.saturating_duration_since(*at) < self.max_age)
                    .map(|(b, _)| b.clone())
            })
            .collect();
        (found, ticket)
    }

    /// Stores runs' JSON read since `ticket` (see [`keeps`](Self::keeps)).
    pub fn put_runs(&self, read: impl IntoIterator<Item = (i64, Bytes)>, ticket: Ticket) {
        let mut runs = self.runs.lock().expect("local cache lock");
        if !self.keeps(ticket) {
            return;
        }
        if runs.len() >= RUNS_CAPACITY && self.may_sweep() {
            let max_age = self.max_age;
            runs.retain(|_, (_, at)| at.elapsed() < max_age);
        }
        let now = Instant::now();
        for (id, json) in read {
            if runs.len() >= RUNS_CAPACITY {
                break;
            }
            runs.insert(id, (json, now));
        }
    }

    /// Whether a full map may be swept of expired entries now: at most once per second
    /// (or per entry lifetime, if shorter), so a cache full of young entries — pages read
    /// once, with a random cursor — costs a store one comparison, not a scan.
    fn may_sweep(&self) -> bool {
        let every = self.max_age.min(Duration::from_secs(1)).as_nanos() as u64;
        let (now, last) = (self.stamp(), self.swept.load(Ordering::Acquire));
        now.saturating_sub(last) >= every
            && self
                .swept
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// A write to `run` committed: drops what it may have changed.
    pub fn invalidate(&self, run: i64) {
        let mut entries = self.entries.lock().expect("local cache lock");
        let mut runs = self.runs.lock().expect("local cache lock");
        self.writes.fetch_add(1, Ordering::AcqRel);
        self.invalidated
            .fetch_max(super::clock::now(), Ordering::AcqRel);
        entries.retain(|_, e| !e.scope.holds(run));
        runs.remove(&run);
    }

    /// When the last invalidation happened (a `clock` stamp; 0: none).
    pub fn invalidated_at(&self) -> u64 {
        self.invalidated.load(Ordering::Acquire)
    }

    /// Run `run` was created: the run index learns its id.
    pub fn created(&self, run: i64) {
        self.index.created(run);
    }

    /// The event listener (re)connected or lost its connection: events may have been
    /// missed, so everything goes, and nothing is served until a heartbeat comes back.
    pub fn reset(&self) {
        self.index.reset();
        self.invalidated
            .fetch_max(super::clock::now(), Ordering::AcqRel);
        let mut entries = self.entries.lock().expect("local cache lock");
        let mut runs = self.runs.lock().expect("local cache lock");
        self.writes.fetch_add(1, Ordering::AcqRel);
        self.confirmed.store(0, Ordering::Release);
        entries.clear();
        runs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confirmed(bound_ms: u64, max_age_ms: u64) -> LocalCache {
        let c = LocalCache::new(
            Duration::from_millis(bound_ms),
            Duration::from_millis(max_age_ms),
            3,
        );
        c.confirm(c.stamp());
        c
    }

    #[test]
    fn a_write_drops_what_it_may_change_and_nothing_else() {
        let c = confirmed(60_000, 60_000);
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
        let (found, t) = c.runs(&[7, 8]);
        assert_eq!(found, vec![None, None]);
        c.put_runs([(7, body.clone()), (8, body.clone())], t);
        c.invalidate(7);
        assert!(c.get("run7").is_err() && c.get("older").is_err());
        assert!(c.get("first").is_ok(), "run 7 is not on the first page");
        assert_eq!(c.runs(&[7, 8]).0, vec![None, Some(body)]);
        c.invalidate(101);
        assert!(c.get("first").is_err(), "a new run is on the first page");
    }

    #[test]
    fn an_answer_computed_across_a_write_is_not_kept() {
        let c = confirmed(60_000, 60_000);
        let Err(t) = c.get("p") else { panic!() };
        c.invalidate(1_000); // elsewhere, while "p" was computed
        c.put("p".into(), Bytes::from_static(b"old"), Scope::Run(5), t);
        assert!(c.get("p").is_err());
        let (_, t) = c.runs(&[5]);
        c.invalidate(5);
        c.put_runs([(5, Bytes::from_static(b"old"))], t);
        assert_eq!(c.runs(&[5]).0, vec![None]);
    }

    #[test]
    fn nothing_is_served_unless_a_heartbeat_came_back_within_the_bound() {
        let c = LocalCache::new(Duration::from_millis(50), Duration::from_secs(60), 3);
        assert!(!c.serves(&HeaderMap::new()), "no heartbeat yet");
        let sent = c.stamp();
        c.confirm(sent);
        assert!(c.serves(&HeaderMap::new()));
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            !c.serves(&HeaderMap::new()),
            "the last heartbeat is older than the bound"
        );
        let Err(t) = c.get("p") else { panic!() };
        c.put("p".into(), Bytes::from_static(b"x"), Scope::Run(5), t);
        c.confirm(c.stamp());
        assert!(c.get("p").is_err(), "not kept while unconfirmed");
        c.reset();
        assert!(
            !c.serves(&HeaderMap::new()),
            "a reconnected listener waits for a heartbeat"
        );
    }

    #[test]
    fn entries_expire_at_their_age_and_a_full_cache_stores_no_more() {
        let c = confirmed(60_000, 30);
        for key in ["a", "b", "c", "d"] {
            let Err(t) = c.get(key) else { panic!() };
            c.put(key.into(), Bytes::from_static(b"x"), Scope::Run(1), t);
        }
        assert!(c.get("c").is_ok() && c.get("d").is_err(), "capacity 3");
        std::thread::sleep(Duration::from_millis(40));
        assert!(c.get("a").is_err(), "older than the age bound");
        let Err(t) = c.get("d") else { panic!() };
        c.put("d".into(), Bytes::from_static(b"x"), Scope::Run(1), t);
        assert!(c.get("d").is_ok(), "expired entries made room");
    }

    #[test]
    fn writers_and_no_cache_requests_are_not_served() {
        let c = confirmed(60_000, 60_000);
        assert!(c.serves(&HeaderMap::new()));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(!c.serves(&h));
        let mut h = HeaderMap::new();
        h.insert(header::CACHE_CONTROL, "no-cache".parse().unwrap());
        assert!(!c.serves(&h));
        let off = LocalCache::new(Duration::ZERO, Duration::from_secs(1), 3);
        assert_eq!(off.heartbeat_every(), None);
        off.confirm(off.stamp());
        assert!(!off.serves(&HeaderMap::new()));
    }
}
