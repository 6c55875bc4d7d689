//! `--report FILE.html`: one self-contained page (inline CSS and SVG, no CDN, no script)
//! with the checks, the targets, latency over time and the percentile curve. The page is
//! the Tera template `templates/verify/report.html` (autoescaped); this file computes what
//! it shows: row classes and the charts' points.

use serde::Serialize;

use super::check::Outcome;
use super::load::LoadReport;
use super::report::Report;

const TEMPLATE: &str = include_str!("../../templates/verify/report.html");

const W: f64 = 640.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

#[derive(Serialize)]
struct Row<'a> {
    class: &'static str,
    mark: &'static str,
    name: &'a str,
    ms: f64,
    message: &'a str,
}

#[derive(Serialize)]
struct TargetRow<'a> {
    class: &'static str,
    mark: &'static str,
    name: &'a str,
    target: &'a str,
    actual: &'a str,
}

#[derive(Serialize)]
struct Timeline {
    max: f64,
    p50: String,
    p99: String,
}

#[derive(Serialize)]
struct Label {
    x: String,
    label: &'static str,
}

#[derive(Serialize)]
struct Curve {
    max: f64,
    points: String,
    labels: Vec<Label>,
}

/// SVG `points` (already in chart coordinates).
fn points(pts: impl Iterator<Item = (f64, f64)>) -> String {
    pts.map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn y_of(ms: f64, max: f64) -> f64 {
    (H - PAD) - (ms / max.max(1e-9)) * (H - PAD - 10.0)
}

fn timeline(l: &LoadReport) -> Timeline {
    let n = l.timeline.len().max(1) as f64;
    let max = l.timeline.iter().map(|s| s.p99_ms).fold(0.0, f64::max) * 1.1;
    let x = |i: usize| PAD + (i as f64 + 0.5) / n * (W - PAD - 10.0);
    Timeline {
        max,
        p50: points(
            l.timeline
                .iter()
                .enumerate()
                .map(|(i, s)| (x(i), y_of(s.p50_ms, max))),
        ),
        p99: points(
            l.timeline
                .iter()
                .enumerate()
                .map(|(i, s)| (x(i), y_of(s.p99_ms, max))),
        ),
    }
}

fn curve(l: &LoadReport) -> Curve {
    // x: the number of nines, as HdrHistogram's plots do: 1 / (1 - q).
    let nines = |pct: f64| (1.0 / (1.0 - (pct / 100.0).min(0.99999))).log10();
    let max_x = nines(99.999);
    let x = |pct: f64| PAD + nines(pct) / max_x * (W - PAD - 10.0);
    let max = l.curve.iter().map(|p| p.1).fold(0.0, f64::max) * 1.1;
    Curve {
        max,
        points: points(l.curve.iter().map(|(pct, ms)| (x(*pct), y_of(*ms, max)))),
        labels: [
            (50.0, "50%"),
            (90.0, "90%"),
            (99.0, "99%"),
            (99.9, "99.9%"),
            (99.99, "99.99%"),
        ]
        .into_iter()
        .map(|(pct, label)| Label {
            x: format!("{:.1}", x(pct)),
            label,
        })
        .collect(),
    }
}

pub fn render(r: &Report) -> String {
    let checks: Vec<Row> = r
        .checks
        .iter()
        .map(|c| {
            let (class, mark) = match c.outcome {
                Outcome::Passed => ("ok", "passed"),
                Outcome::Failed => ("bad", "FAILED"),
                Outcome::NotRun => (if r.remote_only { "skip" } else { "bad" }, "not run"),
                Outcome::Skipped => ("skip", "skipped"),
            };
            Row {
                class,
                mark,
                name: &c.name,
                ms: c.duration_ms,
                message: &c.message,
            }
        })
        .collect();
    let targets: Vec<TargetRow> = r
        .targets
        .iter()
        .map(|t| {
            let (class, mark) = match t.passed {
                Some(true) => ("ok", "met"),
                Some(false) => ("bad", "MISSED"),
                None => ("skip", "not run"),
            };
            TargetRow {
                class,
                mark,
                name: &t.name,
                target: &t.target,
                actual: &t.actual,
            }
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("url", &r.url);
    ctx.insert("started", &r.started_at);
    ctx.insert("passed", &r.passed);
    ctx.insert("exit_code", &r.exit_code);
    ctx.insert("checks", &checks);
    ctx.insert("targets", &targets);
    ctx.insert("suggestions", &r.suggestions);
    ctx.insert("load", &r.load);
    if let Some(l) = &r.load {
        ctx.insert("timeline", &timeline(l));
        ctx.insert("curve", &curve(l));
    }
    ctx.insert("w", &W);
    ctx.insert("h", &H);
    ctx.insert("pad", &PAD);
    tera::Tera::one_off(TEMPLATE, &ctx, true).expect("the embedded report template renders")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::check::{CheckResult, Scope};
    use crate::verify::report::Verdict;

    #[test]
    fn the_page_escapes_what_it_shows_and_draws_no_load_when_none_ran() {
        let mut r = Report {
            schema: crate::verify::report::SCHEMA,
            url: "http://example.test/?a=<b>".into(),
            remote: false,
            remote_only: false,
            started_at: "2026-12-06T00:00:00Z".into(),
            passed: false,
            verdict: Verdict::CheckFailed,
            exit_code: 1,
            checks: vec![CheckResult::new(
                "headers",
                Scope::Remote,
                Outcome::Failed,
                "missing <X-Frame-Options> & more",
            )],
            load: None,
            server_metrics: None,
            targets: Vec::new(),
            suggestions: vec!["raise \"workers\"".into()],
        };
        r.checks[0].duration_ms = 12.4;
        let page = render(&r);
        assert!(page.starts_with("<!doctype html>"), "{page}");
        assert!(page.contains("FAILED (exit 1)"), "{page}");
        assert!(
            page.contains(
                "<tr class=\"bad\"><td>FAILED</td><td>headers</td><td>12 ms</td>\
                 <td>missing &lt;X-Frame-Options&gt; &amp; more</td></tr>"
            ),
            "{page}"
        );
        assert!(page.contains("a=&lt;b&gt;"), "{page}");
        assert!(
            page.contains("<li>raise &quot;workers&quot;</li>"),
            "{page}"
        );
        assert!(page.contains("<p>No load was run.</p>"), "{page}");
        assert!(!page.contains("<svg"), "{page}");
    }
}
