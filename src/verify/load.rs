//! The open-model load generator: requests are scheduled at a constant arrival rate in
//! advance, and latency is measured from the *scheduled* time (corrected for coordinated
//! omission, as wrk2 and oha do) as well as from the actual send. When the target stalls,
//! requests wait for a free connection: they are counted as late, and their waiting shows
//! in the corrected latency instead of disappearing. Concurrency is bounded; requests still
//! waiting when the run ends are counted as dropped. Latencies are kept apart per class
//! (2xx, 4xx, 429, 5xx, transport errors) in HDR histograms; a warm-up is excluded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tokio::sync::Semaphore;

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

#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// `http://host:port`.
    pub base: String,
    /// Requests per second.
    pub rate: f64,
    pub duration: Duration,
    /// The first part of the run, not measured.
    pub warmup: Duration,
    /// Requests in flight at most (connections).
    pub concurrency: usize,
    pub targets: Vec<Target>,
    /// Per-request timeout (a timed-out request counts as a transport error).
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Ok2xx,
    Client4xx,
    RateLimited429,
    Server5xx,
    Other,
    TransportError,
}

fn class_of(status: u16) -> Class {
    match status {
        200..=299 => Class::Ok2xx,
        429 => Class::RateLimited429,
        400..=499 => Class::Client4xx,
        500..=599 => Class::Server5xx,
        _ => Class::Other,
    }
}

/// Percentiles of one histogram, each with the number of samples behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub samples: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Fewer than 1,000 samples: the high percentiles rest on a handful of requests.
    pub small_sample: bool,
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |us: u64| us as f64 / 1000.0;
    Percentiles {
        samples: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p90_ms: ms(h.value_at_quantile(0.90)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
        small_sample: h.len() < 1000,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub scheduled: u64,
    pub sent: u64,
    /// Sent more than [`LATE`] after their scheduled time (no free connection, or the
    /// generator itself falling behind).
    pub late: u64,
    /// Still waiting for a connection when the run ended.
    pub dropped: u64,
    pub measured: u64,
    pub by_class: Vec<(Class, u64)>,
    /// From the scheduled send time (what users of an open system experience).
    pub corrected: Percentiles,
    /// From the actual send (what a closed-loop tool would report).
    pub uncorrected: Percentiles,
    /// Corrected latencies of 2xx answers only.
    pub corrected_2xx: Percentiles,
    pub achieved_rate: f64,
}

/// How far behind its schedule a send must be to count as late: well above the timer's
/// millisecond granularity, well below any stall worth reporting.
pub const LATE: Duration = Duration::from_millis(10);

struct Recorder {
    corrected: Histogram<u64>,
    uncorrected: Histogram<u64>,
    corrected_2xx: Histogram<u64>,
    classes: std::collections::BTreeMap<Class, u64>,
    late: u64,
    measured: u64,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 h, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

/// Runs the load and returns what it measured.
pub async fn run(spec: &LoadSpec) -> Result<LoadReport, String> {
    if spec.rate <= 0.0 || spec.targets.is_empty() || spec.concurrency == 0 {
        return Err("a load needs a positive rate, at least one target and a concurrency".into());
    }
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(spec.concurrency)
        .build_http();
    let permits = Arc::new(Semaphore::new(spec.concurrency));
    let rec = Arc::new(Mutex::new(Recorder {
        corrected: histogram(),
        uncorrected: histogram(),
        corrected_2xx: histogram(),
        classes: Default::default(),
        late: 0,
        measured: 0,
    }));
    let total_weight: u32 = spec.targets.iter().map(|t| t.weight.max(1)).sum();
    let interval = Duration::from_secs_f64(1.0 / spec.rate);
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let end = start + spec.duration;
    let measure_from = start + spec.warmup;
    let mut scheduled = 0u64;
    let mut sent = 0u64;
    let mut dropped = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let at = start + interval.mul_f64(scheduled as f64);
        if at >= end {
            break;
        }
        scheduled += 1;
        tokio::time::sleep_until(at).await;
        // Waits for a connection when all are busy: the request is then late, and the
        // wait counts in its corrected latency. Past the end of the run it is dropped.
        let permit = match tokio::time::timeout_at(end, Arc::clone(&permits).acquire_owned()).await
        {
            Ok(Ok(p)) => p,
            _ => {
                dropped +=
                    1 + ((end.saturating_duration_since(at)).as_secs_f64() * spec.rate) as u64;
                break;
            }
        };
        sent += 1;
        // Deterministic weighted choice: spreads the mix evenly over the schedule.
        let mut slot = (scheduled.wrapping_mul(2_654_435_761) % total_weight as u64) as u32;
        let target = spec
            .targets
            .iter()
            .find(|t| {
                let w = t.weight.max(1);
                if slot < w {
                    true
                } else {
                    slot -= w;
                    false
                }
            })
            .expect("weights cover the slot")
            .clone();
        let client = client.clone();
        let rec = Arc::clone(&rec);
        let base = spec.base.clone();
        let timeout = spec.timeout;
        // Warm-up is wall-clock time: when the generator falls behind an impossible rate,
        // the schedule lags and must not stretch the warm-up.
        let measured_window = tokio::time::Instant::now() >= measure_from;
        tasks.spawn(async move {
            let actual = tokio::time::Instant::now();
            let mut req = hyper::Request::builder()
                .method(target.method.clone())
                .uri(format!("{base}{}", target.path));
            for (k, v) in &target.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let req = req
                .body(Full::new(Bytes::from(
                    target.body.clone().unwrap_or_default(),
                )))
                .expect("a valid request");
            let outcome = tokio::time::timeout(timeout, async {
                let resp = client.request(req).await.map_err(|_| ())?;
                let status = resp.status().as_u16();
                resp.into_body().collect().await.map_err(|_| ())?;
                Ok::<u16, ()>(status)
            })
            .await;
            let done = tokio::time::Instant::now();
            drop(permit);
            if !measured_window {
                return;
            }
            let class = match outcome {
                Ok(Ok(status)) => class_of(status),
                _ => Class::TransportError,
            };
            let corrected = (done - at).as_micros().max(1) as u64;
            let uncorrected = (done - actual).as_micros().max(1) as u64;
            let mut r = rec.lock().expect("recorder");
            r.measured += 1;
            if actual - at > LATE {
                r.late += 1;
            }
            *r.classes.entry(class).or_insert(0) += 1;
            let _ = r.corrected.record(corrected);
            let _ = r.uncorrected.record(uncorrected);
            if class == Class::Ok2xx {
                let _ = r.corrected_2xx.record(corrected);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = (tokio::time::Instant::now() - start)
        .as_secs_f64()
        .max(1e-9);
    let r = rec.lock().expect("recorder");
    Ok(LoadReport {
        scheduled,
        sent,
        late: r.late,
        dropped,
        measured: r.measured,
        by_class: r.classes.iter().map(|(c, n)| (*c, *n)).collect(),
        corrected: percentiles(&r.corrected),
        uncorrected: percentiles(&r.uncorrected),
        corrected_2xx: percentiles(&r.corrected_2xx),
        achieved_rate: sent as f64 / elapsed,
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
            rate,
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
        assert_eq!(r.sent, 400);
        assert_eq!(r.dropped, 0);
        let count = |c| {
            r.by_class
                .iter()
                .find(|(k, _)| *k == c)
                .map_or(0, |(_, n)| *n)
        };
        assert_eq!(count(Class::Ok2xx) + count(Class::RateLimited429), 400);
        assert!(count(Class::RateLimited429) > 100, "{:?}", r.by_class);
        assert!(r.corrected.p50_ms < 20.0, "{:?}", r.corrected);
        assert!(
            (r.achieved_rate - 200.0).abs() < 20.0,
            "{}",
            r.achieved_rate
        );
    }
}
