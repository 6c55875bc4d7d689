//! What one load worker measures, and how the workers' measurements are merged and
//! summarised: HDR histograms (corrected, uncorrected, corrected per class), answers per class, late
//! sends, and a per-second timeline for the report's latency-over-time chart.

use hdrhistogram::Histogram;
use serde::Serialize;

/// The class of an answer; latencies and counts are kept apart per class.
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

impl Class {
    pub const ALL: [Class; 6] = [
        Class::Ok2xx,
        Class::Client4xx,
        Class::RateLimited429,
        Class::Server5xx,
        Class::Other,
        Class::TransportError,
    ];

    pub fn of_status(status: u16) -> Class {
        match status {
            200..=299 => Class::Ok2xx,
            429 => Class::RateLimited429,
            400..=499 => Class::Client4xx,
            500..=599 => Class::Server5xx,
            _ => Class::Other,
        }
    }

    fn index(self) -> usize {
        self as usize
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

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
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
}

/// One second of the measured run.
#[derive(Debug, Clone, Serialize)]
pub struct Second {
    /// Seconds since the measured window began.
    pub at_s: u64,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// 1 µs .. 1 h.
fn histogram(significant: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, significant).expect("valid bounds")
}

/// A worker's own measurements: no lock on the hot path; merged once at the end.
pub struct Recorder {
    pub corrected: Histogram<u64>,
    pub uncorrected: Histogram<u64>,
    /// Corrected latencies per class, made when a class is first seen.
    per_class: [Option<Histogram<u64>>; 6],
    classes: [u64; 6],
    pub late: u64,
    pub measured: u64,
    /// Per second of the measured window: corrected latencies and error count.
    timeline: Vec<(Histogram<u64>, u64)>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            corrected: histogram(3),
            uncorrected: histogram(3),
            per_class: Default::default(),
            classes: [0; 6],
            late: 0,
            measured: 0,
            timeline: Vec::new(),
        }
    }
}

impl Recorder {
    /// Records one answer (or failure) of the measured window. Latencies in µs;
    /// `second` is the whole seconds since the window began.
    pub fn record(
        &mut self,
        class: Class,
        corrected_us: u64,
        uncorrected_us: u64,
        late: bool,
        second: usize,
    ) {
        self.measured += 1;
        self.late += u64::from(late);
        self.classes[class.index()] += 1;
        let corrected_us = corrected_us.max(1);
        let _ = self.corrected.record(corrected_us);
        let _ = self.uncorrected.record(uncorrected_us.max(1));
        let _ = self.per_class[class.index()]
            .get_or_insert_with(|| histogram(3))
            .record(corrected_us);
        while self.timeline.len() <= second {
            self.timeline.push((histogram(2), 0));
        }
        let slot = &mut self.timeline[second];
        let _ = slot.0.record(corrected_us);
        if !matches!(class, Class::Ok2xx | Class::Client4xx) {
            slot.1 += 1;
        }
    }

    pub fn merge(&mut self, other: &Recorder) {
        let _ = self.corrected.add(&other.corrected);
        let _ = self.uncorrected.add(&other.uncorrected);
        for (mine, theirs) in self.per_class.iter_mut().zip(&other.per_class) {
            if let Some(theirs) = theirs {
                let _ = mine.get_or_insert_with(|| histogram(3)).add(theirs);
            }
        }
        for (a, b) in self.classes.iter_mut().zip(other.classes) {
            *a += b;
        }
        self.late += other.late;
        self.measured += other.measured;
        while self.timeline.len() < other.timeline.len() {
            self.timeline.push((histogram(2), 0));
        }
        for (mine, theirs) in self.timeline.iter_mut().zip(&other.timeline) {
            let _ = mine.0.add(&theirs.0);
            mine.1 += theirs.1;
        }
    }

    pub fn by_class(&self) -> Vec<(Class, u64)> {
        Class::ALL
            .iter()
            .map(|c| (*c, self.classes[c.index()]))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Corrected percentiles of each class seen.
    pub fn latency_by_class(&self) -> Vec<(Class, Percentiles)> {
        Class::ALL
            .iter()
            .filter_map(|c| {
                self.per_class[c.index()]
                    .as_ref()
                    .map(|h| (*c, Percentiles::of(h)))
            })
            .collect()
    }

    pub fn timeline(&self) -> Vec<Second> {
        let ms = |us: u64| us as f64 / 1000.0;
        self.timeline
            .iter()
            .enumerate()
            .map(|(i, (h, errors))| Second {
                at_s: i as u64,
                requests: h.len(),
                errors: *errors,
                p50_ms: ms(h.value_at_quantile(0.5)),
                p99_ms: ms(h.value_at_quantile(0.99)),
                max_ms: ms(h.max()),
            })
            .collect()
    }

    /// The corrected latency at each of a fixed set of quantiles, for the report's
    /// percentile curve (0 .. 99.999 %).
    pub fn curve(&self) -> Vec<(f64, f64)> {
        const Q: [f64; 16] = [
            0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999, 0.9995, 0.9999,
            0.99995, 0.99999, 1.0,
        ];
        Q.iter()
            .map(|q| {
                (
                    q * 100.0,
                    self.corrected.value_at_quantile(*q) as f64 / 1000.0,
                )
            })
            .collect()
    }
}
