//! The open-model load generator: requests are scheduled at a constant arrival rate in
//! advance, and latency is measured from the *scheduled* time (corrected for coordinated
//! omission, as wrk2 and oha do) as well as from the actual send.
//!
//! Each of `concurrency` workers owns one keep-alive connection and takes the next ticket
//! of the shared schedule; ticket n is due at `start + n / rate`. When the target stalls,
//! every worker is busy, due tickets wait: they are counted late, and their waiting shows
//! in the corrected latency instead of disappearing. Tickets still unsent when the run
//! ends are counted as dropped. Workers record into their own HDR histograms (no lock on
//! the hot path), merged at the end. `Rate::Max` is the closed loop (each worker sends its
//! next request as soon as the last answer arrives): saturation, wrk's model.

mod connection;
mod recorder;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde::Serialize;

use connection::Connection;
pub use connection::Endpoint;
use recorder::Recorder;
pub use recorder::{Class, Percentiles, Second};

/// One kind of request in the mix.
#[derive(Debug, Clone)]
pub struct Target {
    pub method: hyper::Method,
    /// Path and query, appended to the base URL.
    pub path: String,
    pub body: Option<String>,
    pub headers: Vec<(String, String)>,
    pub weight: u32,
}

pub use crate::settings::Rate;

#[derive(Clone)]
pub struct LoadSpec {
    /// `http://host:port`.
    pub base: String,
    pub rate: Rate,
    /// The measured part of the run (after the warm-up).
    pub duration: Duration,
    /// Run before the measured part, not measured.
    pub warmup: Duration,
    /// Connections, and so requests in flight at most.
    pub concurrency: usize,
    pub targets: Vec<Target>,
    /// Per-request timeout (a timed-out request counts as a transport error).
    pub timeout: Duration,
    /// Connect here instead of resolving the base's host.
    pub connect_to: Option<std::net::SocketAddr>,
    /// For an https base.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub rate: Rate,
    pub concurrency: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Sends due in the measured window (open model; equals `sent` under `Rate::Max`).
    pub scheduled: u64,
    /// Sent in the measured window.
    pub sent: u64,
    /// Sent more than [`LATE`] after their scheduled time (no free connection, or the
    /// generator itself falling behind).
    pub late: u64,
    /// Due in the measured window but never sent before the run ended.
    pub dropped: u64,
    /// Sent a second time because a reused keep-alive connection was closed by the server
    /// before any answer (see `connection`); their outcome is the second attempt's.
    pub resent: u64,
    /// Answered (or failed) in the measured window.
    pub measured: u64,
    pub by_class: Vec<(Class, u64)>,
    /// From the scheduled send time (what users of an open system experience).
    pub corrected: Percentiles,
    /// From the actual send (what a closed-loop tool would report).
    pub uncorrected: Percentiles,
    /// Corrected latencies of each class of answer (2xx, 4xx, 429, 5xx, …) apart.
    pub latency_by_class: Vec<(Class, Percentiles)>,
    /// Sent per second of the measured window.
    pub achieved_rate: f64,
    pub timeline: Vec<Second>,
    /// (percentile, corrected ms) points of the latency distribution.
    pub curve: Vec<(f64, f64)>,
}

impl LoadReport {
    pub fn count(&self, class: Class) -> u64 {
        self.by_class
            .iter()
            .find(|(c, _)| *c == class)
            .map_or(0, |(_, n)| *n)
    }
}

/// How far behind its schedule a send must be to count as late: well above the timer's
/// millisecond granularity, well below any stall worth reporting.
pub const LATE: Duration = Duration::from_millis(10);

/// A prepared request: built once, cloned per send.
struct Prepared {
    method: hyper::Method,
    uri: hyper::Uri,
    headers: hyper::HeaderMap,
    body: Bytes,
    weight: u32,
}

fn prepare(spec: &LoadSpec, endpoint: &Endpoint) -> Result<Vec<Prepared>, String> {
    spec.targets
        .iter()
        .map(|t| {
            let uri: hyper::Uri = t
                .path
                .parse()
                .map_err(|e| format!("{:?} is not a request path: {e}", t.path))?;
            let mut headers = hyper::HeaderMap::new();
            headers.insert(
                hyper::header::HOST,
                endpoint
                    .authority
                    .parse()
                    .map_err(|_| "bad host".to_string())?,
            );
            for (k, v) in &t.headers {
                let name: hyper::header::HeaderName = k
                    .parse()
                    .map_err(|_| format!("{k:?} is not a header name"))?;
                let value = hyper::header::HeaderValue::from_str(v)
                    .map_err(|_| format!("the value of header {k} is not valid"))?;
                headers.insert(name, value);
            }
            let body = Bytes::from(t.body.clone().unwrap_or_default());
            if !body.is_empty() && !headers.contains_key(hyper::header::CONTENT_TYPE) {
                headers.insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json"),
                );
            }
            Ok(Prepared {
                method: t.method.clone(),
                uri,
                headers,
                body,
                weight: t.weight.max(1),
            })
        })
        .collect()
}

/// Deterministic weighted choice: spreads the mix evenly over the schedule.
fn pick(targets: &[Prepared], total_weight: u32, ticket: u64) -> &Prepared {
    let mut slot = (ticket.wrapping_mul(2_654_435_761) % u64::from(total_weight)) as u32;
    for t in targets {
        if slot < t.weight {
            return t;
        }
        slot -= t.weight;
    }
    &targets[targets.len() - 1]
}

struct Shared {
    targets: Vec<Prepared>,
    total_weight: u32,
    next: AtomicU64,
    /// Tickets in the whole run (warm-up included); unlimited under `Rate::Max`.
    tickets: u64,
    interval: Option<Duration>,
    start: tokio::time::Instant,
    measure_from: tokio::time::Instant,
    end: tokio::time::Instant,
    timeout: Duration,
}

struct WorkerResult {
    recorder: Recorder,
    /// Sends in the measured window.
    sent: u64,
    resent: u64,
}

async fn worker(shared: Arc<Shared>, mut conn: Connection) -> WorkerResult {
    let mut rec = Recorder::default();
    let mut sent = 0u64;
    let mut resent = 0u64;
    loop {
        let ticket = shared.next.fetch_add(1, Ordering::Relaxed);
        if ticket >= shared.tickets {
            break;
        }
        let due = match shared.interval {
            Some(i) => {
                let due = shared.start + i.mul_f64(ticket as f64);
                tokio::time::sleep_until(due).await;
                due
            }
            None => tokio::time::Instant::now(),
        };
        let actual = tokio::time::Instant::now();
        if actual >= shared.end {
            break;
        }
        let t = pick(&shared.targets, shared.total_weight, ticket);
        let make = || {
            let mut req = hyper::Request::new(Full::new(t.body.clone()));
            *req.method_mut() = t.method.clone();
            *req.uri_mut() = t.uri.clone();
            *req.headers_mut() = t.headers.clone();
            req
        };
        let outcome = conn.send(&make, shared.timeout).await;
        if due < shared.measure_from {
            continue;
        }
        let done = tokio::time::Instant::now();
        sent += 1;
        resent += u64::from(outcome.resent);
        let class = match outcome.status {
            Some(status) => Class::of_status(status),
            None => Class::TransportError,
        };
        rec.record(
            class,
            (done - due).as_micros() as u64,
            (done - actual).as_micros() as u64,
            actual - due > LATE,
            (due - shared.measure_from).as_secs() as usize,
        );
    }
    WorkerResult {
        recorder: rec,
        sent,
        resent,
    }
}

/// Runs the load and returns what it measured.
pub async fn run(spec: &LoadSpec) -> Result<LoadReport, String> {
    if spec.targets.is_empty() || spec.concurrency == 0 || spec.duration.is_zero() {
        return Err("a load needs at least one target, a concurrency and a duration".into());
    }
    let endpoint = Endpoint::parse(&spec.base, spec.connect_to, spec.tls.clone())?;
    let targets = prepare(spec, &endpoint)?;
    let total_weight = targets.iter().map(|t| t.weight).sum();
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let measure_from = start + spec.warmup;
    let end = measure_from + spec.duration;
    let (interval, tickets) = match spec.rate {
        Rate::PerSecond(r) => (
            Some(Duration::from_secs_f64(1.0 / r)),
            ((spec.warmup + spec.duration).as_secs_f64() * r).ceil() as u64,
        ),
        Rate::Max => (None, u64::MAX),
    };
    let shared = Arc::new(Shared {
        targets,
        total_weight,
        next: AtomicU64::new(0),
        tickets,
        interval,
        start,
        measure_from,
        end,
        timeout: spec.timeout,
    });
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..spec.concurrency {
        workers.spawn(worker(
            Arc::clone(&shared),
            Connection::new(endpoint.clone()),
        ));
    }
    let mut rec = Recorder::default();
    let mut sent = 0;
    let mut resent = 0;
    while let Some(done) = workers.join_next().await {
        let done = done.map_err(|e| format!("a load worker failed: {e}"))?;
        rec.merge(&done.recorder);
        sent += done.sent;
        resent += done.resent;
    }
    let scheduled = match spec.rate {
        Rate::PerSecond(r) => {
            let warm = (spec.warmup.as_secs_f64() * r).ceil() as u64;
            tickets.saturating_sub(warm)
        }
        Rate::Max => sent,
    };
    Ok(LoadReport {
        rate: spec.rate,
        concurrency: spec.concurrency,
        duration_s: spec.duration.as_secs_f64(),
        warmup_s: spec.warmup.as_secs_f64(),
        scheduled,
        sent,
        late: rec.late,
        dropped: scheduled.saturating_sub(sent),
        resent,
        measured: rec.measured,
        by_class: rec.by_class(),
        corrected: Percentiles::of(&rec.corrected),
        uncorrected: Percentiles::of(&rec.uncorrected),
        latency_by_class: rec.latency_by_class(),
        achieved_rate: sent as f64 / spec.duration.as_secs_f64(),
        timeline: rec.timeline(),
        curve: rec.curve(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An upstream that answers at once, except that during [1 s, 2 s) of its life every
    /// request is held until the stall ends.
    async fn stalling_upstream() -> (String, Instant) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let born = Instant::now();
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(move || async move {
                let t = born.elapsed();
                if t >= Duration::from_secs(1) && t < Duration::from_secs(2) {
                    tokio::time::sleep(Duration::from_secs(2) - t).await;
                }
                "ok"
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), born)
    }

    fn spec(base: String, rate: f64, secs: u64) -> LoadSpec {
        LoadSpec {
            base,
            rate: Rate::PerSecond(rate),
            duration: Duration::from_secs(secs),
            warmup: Duration::ZERO,
            concurrency: 4,
            targets: vec![Target {
                method: hyper::Method::GET,
                path: "/".into(),
                body: None,
                headers: vec![],
                weight: 1,
            }],
            timeout: Duration::from_secs(5),
            connect_to: None,
            tls: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_model_is_open_a_stall_shows_in_corrected_latency() {
        let (base, _) = stalling_upstream().await;
        let r = run(&spec(base, 400.0, 3)).await.unwrap();
        println!(
            "scheduled {} sent {} late {} dropped {}; corrected p99 {:.1} ms, uncorrected p99 {:.1} ms",
            r.scheduled, r.sent, r.late, r.dropped, r.corrected.p99_ms, r.uncorrected.p99_ms
        );
        assert!(
            r.corrected.p99_ms >= 900.0,
            "corrected p99 {} ms",
            r.corrected.p99_ms
        );
        assert!(
            r.uncorrected.p99_ms < r.corrected.p99_ms / 5.0,
            "uncorrected p99 {} ms",
            r.uncorrected.p99_ms
        );
        assert!(
            r.late > 300,
            "late sends {}: the ~400 scheduled during the stall",
            r.late
        );
        assert_eq!(r.by_class, vec![(Class::Ok2xx, r.measured)]);
        assert_eq!(r.timeline.len(), 3, "{:?}", r.timeline);
        assert!(
            r.timeline[1].p99_ms >= 500.0,
            "the stall is in second 1: {:?}",
            r.timeline
        );
        assert!(
            r.timeline[2].p99_ms < 100.0,
            "after the stall: {:?}",
            r.timeline
        );
        assert!(!r.corrected.small_sample);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_healthy_target_at_a_modest_rate_is_on_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .route(
                "/limited",
                axum::routing::get(|| async {
                    (axum::http::StatusCode::TOO_MANY_REQUESTS, "slow down")
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut s = spec(format!("http://{addr}"), 200.0, 2);
        s.targets.push(Target {
            method: hyper::Method::GET,
            path: "/limited".into(),
            body: None,
            headers: vec![],
            weight: 1,
        });
        let r = run(&s).await.unwrap();
        println!(
            "healthy: late {} of {}; corrected p99 {:.2} ms",
            r.late, r.sent, r.corrected.p99_ms
        );
        assert_eq!(r.scheduled, 400);
        assert!(
            r.late < 20,
            "late {} of 400 against a healthy target",
            r.late
        );
        // Every scheduled request is accounted for; on a busy 2-core CI machine the last
        // one or two, due just before the end, may start after it and count as dropped
        // (CI once saw 399 sent, 1 dropped) — as `late` is allowed a little too.
        assert_eq!(r.sent + r.dropped, 400);
        assert!(r.dropped <= 2, "dropped {} of 400", r.dropped);
        let count = |c| r.count(c);
        assert_eq!(count(Class::Ok2xx) + count(Class::RateLimited429), r.sent);
        assert!(count(Class::RateLimited429) > 100, "{:?}", r.by_class);
        assert!(r.corrected.p50_ms < 20.0, "{:?}", r.corrected);
        assert!(
            (r.achieved_rate - 200.0).abs() < 20.0,
            "{}",
            r.achieved_rate
        );
    }
}
