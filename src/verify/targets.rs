//! Load targets as data (defaults from the original plan), each judged pass / fail /
//! not run against the measurements, and suggestions drawn from the evidence.

use serde::Serialize;

use super::load::{Class, LoadReport};
use super::metrics::Counters;
use crate::settings::TargetsSection;

#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    pub name: String,
    /// The target, like "< 300 ms".
    pub target: String,
    /// What was measured, like "12.4 ms (2,000 samples)".
    pub actual: String,
    /// None when it could not be judged (no samples, or no metrics from a remote run).
    pub passed: Option<bool>,
}

impl TargetResult {
    pub fn missed(&self) -> bool {
        self.passed == Some(false)
    }
}

/// The targets with their defaults filled in.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Targets {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub success_ratio: f64,
    pub min_requests_per_minute: f64,
    pub cache_hit_ratio: f64,
    pub max_pool_waits: u64,
}

impl From<&TargetsSection> for Targets {
    fn from(t: &TargetsSection) -> Self {
        Targets {
            p50_ms: t.p50_ms.unwrap_or(100.0),
            p95_ms: t.p95_ms.unwrap_or(300.0),
            p99_ms: t.p99_ms.unwrap_or(500.0),
            success_ratio: t.success_ratio.unwrap_or(0.99),
            min_requests_per_minute: t.min_requests_per_minute.unwrap_or(500.0),
            cache_hit_ratio: t.cache_hit_ratio.unwrap_or(0.70),
            max_pool_waits: t.max_pool_waits.unwrap_or(0),
        }
    }
}

fn latency(name: &str, limit: f64, value: f64, samples: u64) -> TargetResult {
    TargetResult {
        name: name.into(),
        target: format!("< {limit} ms"),
        actual: format!(
            "{value:.1} ms ({samples} samples{})",
            if samples < 1000 { ", small sample" } else { "" }
        ),
        passed: (samples > 0).then_some(value < limit),
    }
}

/// Judges every target. `metrics` is the servers' counters over the measured window,
/// or the reason they could not be read.
pub fn evaluate(
    t: &Targets,
    load: &LoadReport,
    metrics: &Result<Counters, String>,
) -> Vec<TargetResult> {
    let c = &load.corrected;
    let ok = load.count(Class::Ok2xx);
    let success = if load.measured > 0 {
        ok as f64 / load.measured as f64
    } else {
        0.0
    };
    let per_min = ok as f64 / load.duration_s.max(1e-9) * 60.0;
    let mut out = vec![
        latency("p50 latency", t.p50_ms, c.p50_ms, c.samples),
        latency("p95 latency", t.p95_ms, c.p95_ms, c.samples),
        latency("p99 latency", t.p99_ms, c.p99_ms, c.samples),
        TargetResult {
            name: "success ratio".into(),
            target: format!("> {:.2} %", t.success_ratio * 100.0),
            actual: format!(
                "{:.2} % ({ok} of {} answered 2xx)",
                success * 100.0,
                load.measured
            ),
            passed: (load.measured > 0).then_some(success > t.success_ratio),
        },
        TargetResult {
            name: "throughput".into(),
            target: format!(">= {} req/min", t.min_requests_per_minute),
            actual: format!("{per_min:.0} req/min answered 2xx"),
            passed: Some(per_min >= t.min_requests_per_minute),
        },
    ];
    match metrics {
        Ok(m) => {
            out.push(TargetResult {
                name: "cache hit ratio".into(),
                target: format!(">= {:.0} %", t.cache_hit_ratio * 100.0),
                // Next to it, the same seen from PostgreSQL's side (reported, not judged:
                // a short load from a cold cache is mostly first reads).
                actual: match m.hit_ratio() {
                    Some(r) => format!(
                        "{:.1} % ({} from memory, {} from Redis, {} misses, {} bypassed){}",
                        r * 100.0,
                        m.cache_local,
                        m.cache_hits,
                        m.cache_misses,
                        m.cache_bypass,
                        m.db_uses_per_request()
                            .map(|u| format!(
                                "; PostgreSQL used {u:.3} times per request ({} for {})",
                                m.db_uses, m.requests
                            ))
                            .unwrap_or_default()
                    ),
                    None => "no cached reads during the run".into(),
                },
                passed: m.hit_ratio().map(|r| r >= t.cache_hit_ratio),
            });
            out.push(TargetResult {
                name: "requests waiting for a database connection".into(),
                target: format!("<= {}", t.max_pool_waits),
                actual: format!("{}", m.pool_waits),
                passed: Some(m.pool_waits <= t.max_pool_waits as f64),
            });
        }
        Err(why) => {
            for name in [
                "cache hit ratio",
                "requests waiting for a database connection",
            ] {
                out.push(TargetResult {
                    name: name.into(),
                    target: "from the instances' /metrics".into(),
                    actual: format!("not measured: {why}"),
                    passed: None,
                });
            }
        }
    }
    out
}

/// What the evidence suggests doing.
pub fn suggestions(
    load: &LoadReport,
    metrics: &Result<Counters, String>,
    results: &[TargetResult],
) -> Vec<String> {
    let mut s = Vec::new();
    if load.dropped > 0 || load.late * 20 > load.sent.max(1) {
        s.push(format!(
            "{} sends were late and {} dropped: every connection was busy; raise --concurrency (now {}) or lower the rate",
            load.late, load.dropped, load.concurrency
        ));
    }
    let limited = load.count(Class::RateLimited429);
    if limited > 0 {
        s.push(format!(
            "{limited} answers were 429: nginx's per-address limit is below the load's rate; load-test from the host itself (loopback is exempt from the API zone) or lower --rate"
        ));
    }
    let upstream = load.count(Class::Server5xx);
    if upstream > 0 {
        s.push(format!(
            "{upstream} answers were 5xx (502/504 mean nginx got no answer from an instance): check the live-dashboard service and its logs"
        ));
    }
    if load.count(Class::TransportError) > 0 {
        s.push(format!(
            "{} requests failed at the transport (refused, reset or timed out): is nginx up and are its worker_connections enough?",
            load.count(Class::TransportError)
        ));
    }
    let c = &load.corrected;
    if c.samples > 0 && c.p99_ms > 10.0 * c.p50_ms.max(1.0) {
        let waits = matches!(metrics, Ok(m) if m.pool_waits > 0.0);
        s.push(if waits {
            format!(
                "a long tail (p99 {:.1} ms vs p50 {:.1} ms) with requests waiting for database connections: raise database.pool_size (and PostgreSQL's max_connections)",
                c.p99_ms, c.p50_ms
            )
        } else {
            format!(
                "a long tail (p99 {:.1} ms vs p50 {:.1} ms): look at the database's disk (iowait) and slow queries, or the host's CPU",
                c.p99_ms, c.p50_ms
            )
        });
    }
    if results
        .iter()
        .any(|r| r.name == "cache hit ratio" && r.missed())
    {
        s.push("the cache hit ratio is low: is Redis up (bypassed reads) and redis.cache_ttl_s long enough for the read rate?".into());
    }
    if c.small_sample {
        s.push(format!(
            "only {} samples: p99 and above rest on a handful of requests; run longer or at a higher rate",
            c.samples
        ));
    }
    s
}
