//! The verification's result as one value, and its renderings: a text table, JSON (a
//! versioned schema with an explicit `passed` per check and target) and JUnit XML.

use serde::Serialize;

use super::check::{CheckResult, Outcome};
use super::load::{Class, LoadReport};
use super::metrics::Counters;
use super::targets::TargetResult;

/// The JSON schema's name and version; bumped when a field changes meaning or goes away.
pub const SCHEMA: &str = "provision.verify/v1";

/// How the verification ended; the command maps it to an exit code (README: 0 passed, 1 a
/// check failed, 3 a load target missed, 4 not ready within --wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    CheckFailed,
    TargetMissed,
    NotReady,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub url: String,
    pub remote: bool,
    pub remote_only: bool,
    pub started_at: String,
    pub passed: bool,
    pub verdict: Verdict,
    /// The exit code the command gives this verdict (set by the command before rendering).
    pub exit_code: u8,
    pub checks: Vec<CheckResult>,
    pub load: Option<LoadReport>,
    /// The servers' counters over the measured load, or why they were not read.
    pub server_metrics: Option<Result<Counters, String>>,
    pub targets: Vec<TargetResult>,
    pub suggestions: Vec<String>,
}

impl Report {
    /// Fills in the verdict from the checks and targets.
    pub fn conclude(&mut self, not_ready: bool) {
        let check_failed = self.checks.iter().any(|c| c.fails(self.remote_only));
        let target_missed = self.targets.iter().any(|t| t.missed());
        self.verdict = if not_ready {
            Verdict::NotReady
        } else if check_failed {
            Verdict::CheckFailed
        } else if target_missed {
            Verdict::TargetMissed
        } else {
            Verdict::Passed
        };
        self.passed = self.verdict == Verdict::Passed;
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "provision verify {}{}\n\n",
            self.url,
            if self.remote { " (remote)" } else { "" }
        ));
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(10);
        for c in &self.checks {
            let mark = match c.outcome {
                Outcome::Passed => "ok     ",
                Outcome::Failed => "FAILED ",
                Outcome::NotRun => {
                    if self.remote_only {
                        "not run"
                    } else {
                        "NOT RUN"
                    }
                }
                Outcome::Skipped => "skipped",
            };
            out.push_str(&format!(
                "{mark}  {:width$}  {:>6.0} ms  {}\n",
                c.name, c.duration_ms, c.message
            ));
        }
        if let Some(l) = &self.load {
            out.push_str(&load_text(l));
        }
        if !self.targets.is_empty() {
            out.push_str("\ntargets:\n");
            for t in &self.targets {
                let mark = match t.passed {
                    Some(true) => "ok     ",
                    Some(false) => "MISSED ",
                    None => "not run",
                };
                out.push_str(&format!(
                    "{mark}  {:<44} {:<16} {}\n",
                    t.name, t.target, t.actual
                ));
            }
        }
        if !self.suggestions.is_empty() {
            out.push_str("\nsuggestions:\n");
            for s in &self.suggestions {
                out.push_str(&format!("- {s}\n"));
            }
        }
        out.push_str(&format!(
            "\n{} (exit {})\n",
            match self.verdict {
                Verdict::Passed => "PASSED",
                Verdict::CheckFailed => "FAILED: a check failed",
                Verdict::TargetMissed => "FAILED: a load target was missed",
                Verdict::NotReady => "FAILED: not ready in time",
            },
            self.exit_code
        ));
        out
    }

    pub fn to_junit(&self) -> String {
        let mut cases = String::new();
        let mut failures = 0;
        let mut skipped = 0;
        for c in &self.checks {
            cases.push_str(&format!(
                "    <testcase classname=\"verify.checks\" name=\"{}\" time=\"{:.3}\">",
                xml(&c.name),
                c.duration_ms / 1000.0
            ));
            if c.fails(self.remote_only) {
                failures += 1;
                cases.push_str(&format!("<failure message=\"{}\"/>", xml(&c.message)));
            } else if c.outcome != Outcome::Passed {
                skipped += 1;
                cases.push_str(&format!("<skipped message=\"{}\"/>", xml(&c.message)));
            } else {
                cases.push_str(&format!("<system-out>{}</system-out>", xml(&c.message)));
            }
            cases.push_str("</testcase>\n");
        }
        for t in &self.targets {
            cases.push_str(&format!(
                "    <testcase classname=\"verify.targets\" name=\"{} {}\" time=\"0\">",
                xml(&t.name),
                xml(&t.target)
            ));
            match t.passed {
                Some(true) => {
                    cases.push_str(&format!("<system-out>{}</system-out>", xml(&t.actual)))
                }
                Some(false) => {
                    failures += 1;
                    cases.push_str(&format!("<failure message=\"{}\"/>", xml(&t.actual)));
                }
                None => {
                    skipped += 1;
                    cases.push_str(&format!("<skipped message=\"{}\"/>", xml(&t.actual)));
                }
            }
            cases.push_str("</testcase>\n");
        }
        let tests = self.checks.len() + self.targets.len();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"provision verify {}\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\" timestamp=\"{}\">\n{cases}  </testsuite>\n</testsuites>\n",
            xml(&self.url),
            xml(&self.started_at)
        )
    }
}

pub fn class_name(c: Class) -> &'static str {
    match c {
        Class::Ok2xx => "2xx",
        Class::Client4xx => "4xx",
        Class::RateLimited429 => "429",
        Class::Server5xx => "5xx",
        Class::Other => "other",
        Class::TransportError => "transport errors",
    }
}

/// The load section of the text report: what was sent, the answers, the latency table.
fn load_text(l: &LoadReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\nload: {:.0} req/s for {} s (+{} s warm-up), {} connections: sent {} of {} \
         scheduled, late {}, dropped {}, resent on a closed keep-alive connection {}\n",
        l.achieved_rate,
        l.duration_s,
        l.warmup_s,
        l.concurrency,
        l.sent,
        l.scheduled,
        l.late,
        l.dropped,
        l.resent
    ));
    let classes: Vec<String> = l
        .by_class
        .iter()
        .map(|(c, n)| format!("{} {n}", class_name(*c)))
        .collect();
    out.push_str(&format!("answers: {}\n", classes.join(", ")));
    let mut table = crate::table::plain(
        &[
            "latency (ms)",
            "p50",
            "p90",
            "p95",
            "p99",
            "p99.9",
            "max",
            "samples",
            "",
        ],
        &[1, 2, 3, 4, 5, 6, 7],
    );
    let by_class: Vec<(String, &super::load::Percentiles)> = l
        .latency_by_class
        .iter()
        .map(|(c, p)| (format!("{} corrected", class_name(*c)), p))
        .collect();
    let rows = [
        ("corrected".to_string(), &l.corrected),
        ("uncorrected".to_string(), &l.uncorrected),
    ]
    .into_iter()
    .chain(by_class);
    for (name, p) in rows {
        let ms = |v: f64| format!("{v:.2}");
        table.add_row(vec![
            name,
            ms(p.p50_ms),
            ms(p.p90_ms),
            ms(p.p95_ms),
            ms(p.p99_ms),
            ms(p.p999_ms),
            ms(p.max_ms),
            p.samples.to_string(),
            if p.small_sample && p.samples > 0 {
                "(small sample)".to_string()
            } else {
                String::new()
            },
        ]);
    }
    out.push_str(&crate::table::lines(&table));
    out
}

pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}
