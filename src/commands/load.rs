//! `provision load`: the load phase of verify on its own, against one URL.

use anyhow::Context;

use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, LoadArgs};
use crate::verify::load::{self, LoadSpec, Target};

pub fn run(global: &GlobalArgs, args: LoadArgs) -> Result<ExitStatus, CommandError> {
    let url =
        url::Url::parse(&args.url).with_context(|| format!("--url {:?} is not a URL", args.url))?;
    if url.scheme() != "http" {
        return Err(CommandError {
            status: ExitStatus::Usage,
            error: anyhow::anyhow!("--url {}: only http:// is supported", args.url),
        });
    }
    let base = format!(
        "http://{}",
        &url[url::Position::BeforeHost..url::Position::AfterPort]
    );
    let path = url[url::Position::BeforePath..].to_string();
    let spec = LoadSpec {
        base,
        rate: args.rate,
        duration: args.duration,
        warmup: args.warmup,
        concurrency: args.concurrency,
        targets: vec![Target {
            method: hyper::Method::GET,
            path,
            body: None,
            headers: Vec::new(),
            weight: 1,
        }],
        timeout: std::time::Duration::from_secs(10),
        connect_to: None,
        tls: None,
    };
    let runtime = super::runtime()?;
    let report = runtime
        .block_on(load::run(&spec))
        .map_err(|e| CommandError {
            status: ExitStatus::Usage,
            error: anyhow::anyhow!(e),
        })?;
    crate::commands::output(global, &report, || {
        let c = &report.corrected;
        let u = &report.uncorrected;
        println!(
            "sent {} of {} scheduled at {:.0} req/s (late {}, dropped {}); measured {}",
            report.sent,
            report.scheduled,
            report.achieved_rate,
            report.late,
            report.dropped,
            report.measured
        );
        println!("classes: {:?}", report.by_class);
        println!(
            "corrected   p50 {:.2} ms  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            c.p50_ms, c.p90_ms, c.p99_ms, c.p999_ms, c.max_ms
        );
        println!(
            "uncorrected p50 {:.2} ms  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            u.p50_ms, u.p90_ms, u.p99_ms, u.p999_ms, u.max_ms
        );
    });
    Ok(ExitStatus::Success)
}
