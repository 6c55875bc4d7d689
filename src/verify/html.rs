//! `--report FILE.html`: one self-contained page (inline CSS and SVG, no CDN, no script)
//! with the checks, the targets, latency over time and the percentile curve.

use super::check::Outcome;
use super::load::LoadReport;
use super::report::{xml, Report};

const W: f64 = 640.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

/// A polyline through `points` (already in chart coordinates).
fn polyline(points: &[(f64, f64)], color: &str) -> String {
    let pts: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    format!(
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
        pts.join(" ")
    )
}

fn frame(title: &str, x_label: &str, y_max: f64, body: &str) -> String {
    format!(
        "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\">\
         <rect x=\"{PAD}\" y=\"10\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#999\"/>\
         <text x=\"4\" y=\"18\" font-size=\"11\">{y_max:.1} ms</text><text x=\"4\" y=\"{}\" font-size=\"11\">0</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>{body}</svg></figure>",
        xml(title),
        W - PAD - 10.0,
        H - PAD - 10.0,
        H - PAD,
        W / 2.0,
        H - 8.0,
        xml(x_label)
    )
}

fn y_of(ms: f64, max: f64) -> f64 {
    (H - PAD) - (ms / max.max(1e-9)) * (H - PAD - 10.0)
}

fn timeline_chart(l: &LoadReport) -> String {
    let n = l.timeline.len().max(1) as f64;
    let max = l.timeline.iter().map(|s| s.p99_ms).fold(0.0, f64::max) * 1.1;
    let x = |i: usize| PAD + (i as f64 + 0.5) / n * (W - PAD - 10.0);
    let p50: Vec<(f64, f64)> = l
        .timeline
        .iter()
        .enumerate()
        .map(|(i, s)| (x(i), y_of(s.p50_ms, max)))
        .collect();
    let p99: Vec<(f64, f64)> = l
        .timeline
        .iter()
        .enumerate()
        .map(|(i, s)| (x(i), y_of(s.p99_ms, max)))
        .collect();
    let body = format!(
        "{}{}<text x=\"{}\" y=\"24\" font-size=\"11\" fill=\"#1565c0\">p50</text><text x=\"{}\" y=\"38\" font-size=\"11\" fill=\"#c62828\">p99</text>",
        polyline(&p50, "#1565c0"),
        polyline(&p99, "#c62828"),
        W - 50.0,
        W - 50.0
    );
    frame(
        "Latency over time (corrected, per second)",
        "seconds into the measured run",
        max,
        &body,
    )
}

fn curve_chart(l: &LoadReport) -> String {
    // x: the number of nines, as HdrHistogram's plots do: 1 / (1 - q).
    let nines = |pct: f64| (1.0 / (1.0 - (pct / 100.0).min(0.99999))).log10();
    let max_x = nines(99.999);
    let max = l.curve.iter().map(|p| p.1).fold(0.0, f64::max) * 1.1;
    let pts: Vec<(f64, f64)> = l
        .curve
        .iter()
        .map(|(pct, ms)| (PAD + nines(*pct) / max_x * (W - PAD - 10.0), y_of(*ms, max)))
        .collect();
    let mut labels = String::new();
    for (pct, label) in [
        (50.0, "50%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    ] {
        let x = PAD + nines(pct) / max_x * (W - PAD - 10.0);
        labels.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{label}</text>",
            H - PAD + 12.0
        ));
    }
    frame(
        "Latency by percentile (corrected)",
        "percentile",
        max,
        &format!("{}{labels}", polyline(&pts, "#6a1b9a")),
    )
}

pub fn render(r: &Report) -> String {
    let mut rows = String::new();
    for c in &r.checks {
        let (class, mark) = match c.outcome {
            Outcome::Passed => ("ok", "passed"),
            Outcome::Failed => ("bad", "FAILED"),
            Outcome::NotRun => (if r.remote_only { "skip" } else { "bad" }, "not run"),
            Outcome::Skipped => ("skip", "skipped"),
        };
        rows.push_str(&format!(
            "<tr class=\"{class}\"><td>{mark}</td><td>{}</td><td>{:.0} ms</td><td>{}</td></tr>",
            xml(&c.name),
            c.duration_ms,
            xml(&c.message)
        ));
    }
    let mut targets = String::new();
    for t in &r.targets {
        let (class, mark) = match t.passed {
            Some(true) => ("ok", "met"),
            Some(false) => ("bad", "MISSED"),
            None => ("skip", "not run"),
        };
        targets.push_str(&format!(
            "<tr class=\"{class}\"><td>{mark}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            xml(&t.name),
            xml(&t.target),
            xml(&t.actual)
        ));
    }
    let load = match &r.load {
        Some(l) => format!(
            "<h2>Load</h2><p>{:.0} req/s for {} s after {} s of warm-up, {} connections: {} sent of {} scheduled, {} late, {} dropped.</p>{}{}",
            l.achieved_rate, l.duration_s, l.warmup_s, l.concurrency, l.sent, l.scheduled, l.late, l.dropped,
            timeline_chart(l),
            curve_chart(l)
        ),
        None => "<p>No load was run.</p>".into(),
    };
    let suggestions: String = r
        .suggestions
        .iter()
        .map(|s| format!("<li>{}</li>", xml(s)))
        .collect();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>provision verify {url}</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}}\
         .ok td:first-child{{color:#2e7d32}}.bad td:first-child{{color:#c62828;font-weight:bold}}.skip td:first-child{{color:#777}}\
         .verdict{{font-size:1.3em;font-weight:bold}}figure{{margin:1em 0}}</style></head><body>\
         <h1>provision verify</h1><p>{url} — {started}</p><p class=\"verdict\">{verdict} (exit {code})</p>\
         <h2>Checks</h2><table><tr><th></th><th>check</th><th>took</th><th>detail</th></tr>{rows}</table>\
         {load}<h2>Targets</h2><table><tr><th></th><th>target</th><th>wanted</th><th>measured</th></tr>{targets}</table>\
         <h2>Suggestions</h2><ul>{suggestions}</ul></body></html>\n",
        url = xml(&r.url),
        started = xml(&r.started_at),
        verdict = if r.passed { "PASSED" } else { "FAILED" },
        code = r.exit_code,
    )
}
