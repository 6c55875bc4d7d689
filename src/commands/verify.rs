//! `provision verify`: resolves the settings, runs the verification, prints the report in
//! the chosen format (progress on stderr when it is a terminal) and maps its verdict to the
//! exit code.

use std::io::IsTerminal;

use anyhow::Context;

use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, ReportFormat, VerifyArgs};
use crate::settings::{Sources, VerifyFlags, VerifySettings};
use crate::verify::report::{Report, Verdict};
use crate::verify::{self, Progress};

pub fn run(global: &GlobalArgs, args: VerifyArgs) -> Result<ExitStatus, CommandError> {
    let sources = Sources::load(global.config.as_deref(), global.env_file.as_deref())?;
    let settings = VerifySettings::resolve(
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
        },
        &sources,
    )?;
    if args.remote_only && !settings.remote {
        return Err(CommandError {
            status: ExitStatus::Usage,
            error: anyhow::anyhow!("--remote-only goes with --url (verifying another host)"),
        });
    }
    let format = if global.json {
        ReportFormat::Json
    } else {
        args.format
    };
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
    let runtime = super::runtime()?;
    let mut report = runtime
        .block_on(verify::run(&settings, &progress))
        .map_err(|e| CommandError {
            status: ExitStatus::Usage,
            error: e.into(),
        })?;
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
