//! Running `verify` and rendering its report, shared by one host and several: the flags
//! as settings, progress on stderr when it is a terminal, the report in the chosen format
//! (and HTML with `--report`), its verdict as the exit code.

use std::io::IsTerminal;

use anyhow::Context;

use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, ReportFormat, VerifyArgs};
use crate::settings::{VerifyFlags, VerifySettings};
use crate::verify::report::{Report, Verdict};
use crate::verify::{self, Progress};

/// The flags of `verify` as settings flags.
pub(crate) fn flags(args: &VerifyArgs) -> VerifyFlags {
    VerifyFlags {
        url: args.url.clone(),
        remote_only: args.remote_only,
        wait: args.wait,
        no_load: args.no_load,
        rate: args.rate,
        duration: args.duration,
        warmup: args.warmup,
        concurrency: args.concurrency,
        public_address: args.public_address,
        ca_cert: args.ca_cert.clone(),
        host_only: args.on_host,
    }
}

/// Runs the verification (progress on stderr when it is a terminal).
pub(crate) fn run_verify(
    global: &GlobalArgs,
    settings: &VerifySettings,
) -> Result<Report, CommandError> {
    let tty = std::io::stderr().is_terminal() && !global.quiet;
    let progress = move |p: Progress<'_>| {
        if !tty {
            return;
        }
        match p {
            Progress::Waiting(url) => eprintln!("waiting for {url}/ready …"),
            Progress::Checking => eprintln!("checking …"),
            Progress::Loading(d) => eprintln!("load for {} s …", d.as_secs()),
        }
    };
    super::runtime()?
        .block_on(verify::run(settings, &progress))
        .map_err(|e| CommandError {
            status: ExitStatus::Usage,
            error: e.into(),
        })
}

/// The report written (HTML with --report) and printed in the chosen format; its exit
/// status.
pub(crate) fn render(
    global: &GlobalArgs,
    args: &VerifyArgs,
    mut report: Report,
) -> Result<ExitStatus, CommandError> {
    let format = if global.json {
        ReportFormat::Json
    } else {
        args.format
    };
    let status = settle(&mut report);
    if let Some(path) = &args.report {
        std::fs::write(path, verify::html::render(&report))
            .with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
    }
    match format {
        ReportFormat::Text => print!("{}", report.to_text()),
        ReportFormat::Json => println!("{}", report.to_json()),
        ReportFormat::Junit => print!("{}", report.to_junit()),
    }
    Ok(status)
}

/// The exit status of a verdict (README: 0 passed, 1 a check failed, 3 a load target
/// missed, 4 not ready within --wait; 2, usage or configuration, is an error before any
/// verdict), written into the report so its renderings show it.
pub(crate) fn settle(report: &mut Report) -> ExitStatus {
    let status = match report.verdict {
        Verdict::Passed => ExitStatus::Success,
        Verdict::CheckFailed => ExitStatus::Failure,
        Verdict::TargetMissed => ExitStatus::Code(3),
        Verdict::NotReady => ExitStatus::Code(4),
    };
    report.exit_code = status.code();
    status
}
