//! `provision verify --inventory …`: the site verified from here through the load balancer
//! (its remote checks and, unless `--no-load`, the load), and each host's own checks run
//! there over ssh by its own provision — the checks of the parts it holds — added to the
//! same report as `host: check`. A host that cannot be reached is a failed check naming
//! ssh's reason. One report, one exit code.

use std::path::Path;

use super::verify_run::{flags, render, run_verify};
use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, VerifyArgs};
use crate::deploy::REMOTE_BINARY;
use crate::inventory::Inventory;
use crate::remote::{self, RemoteError, Transport};
use crate::settings::{ConfigFile, Sources, VerifyFlags, VerifySettings};
use crate::verify::check::{CheckResult, Outcome, Scope};
use crate::verify::report::{Report, Verdict};

pub fn run(
    global: &GlobalArgs,
    args: &VerifyArgs,
    inv: &Inventory,
) -> Result<ExitStatus, CommandError> {
    let config = crate::settings::config_path(global.config.as_deref());
    let transport = Transport::new(&args.hosts.state_dir.join("ssh"), false)?;
    let report = across(global, inv, &config, flags(args), &transport)?;
    render(global, args, report)
}

/// The verification across `inv`: remote through the first nginx host with `flags` (its
/// URL and remote-only set here), then every host's own checks.
pub fn across(
    global: &GlobalArgs,
    inv: &Inventory,
    config: &Path,
    mut flags: VerifyFlags,
    transport: &Transport,
) -> Result<Report, CommandError> {
    let (file, _) = ConfigFile::load(config, false)?;
    let (answers, _, _) = crate::init::saved::read(&file);
    flags.url = Some(crate::init::deployment::site_url(inv, &answers));
    flags.remote_only = true;
    flags.host_only = false;
    if answers.tls == crate::init::answers::Tls::SelfSigned && flags.ca_cert.is_none() {
        flags.ca_cert = Some(self_signed(inv, config, transport)?);
    }
    let sources = Sources::load(Some(config), None)?;
    let settings = VerifySettings::resolve(flags, &sources)?;
    let mut report = run_verify(global, &settings)?;
    if report.verdict == Verdict::NotReady {
        return Ok(report);
    }
    let me = crate::commands::own_binary()?;
    let hosts: Vec<_> = inv.hosts.iter().collect();
    let found = remote::each(&hosts, hosts.len().min(8), |h| {
        let r = own_checks(transport, &me, h);
        transport.close(h);
        r
    });
    // The remote part's "needs the host itself" rows give way to each host's own.
    report
        .checks
        .retain(|c| !(c.scope == Scope::Host && c.outcome == Outcome::Skipped));
    for (h, r) in hosts.iter().zip(found) {
        match r {
            Ok(checks) => report.checks.extend(checks.into_iter().map(|mut c| {
                c.name = format!("{}: {}", h.name, c.name);
                c
            })),
            Err(e) => report.checks.push(CheckResult::new(
                format!("{}: reached over ssh", h.name),
                Scope::Host,
                Outcome::Failed,
                crate::causes::line(&e),
            )),
        }
    }
    report.remote_only = false;
    report.conclude(false);
    Ok(report)
}

/// The self-signed certificate init made on the first nginx host, fetched over ssh beside
/// the controller's config (`NAME.site-cert.pem`): the one certificate the remote checks
/// then trust besides the system's.
fn self_signed(
    inv: &Inventory,
    config: &Path,
    transport: &Transport,
) -> Result<std::path::PathBuf, CommandError> {
    let lb = inv
        .with(crate::inventory::Role::Nginx)
        .next()
        .expect("a validated inventory has an nginx host");
    let local = config.with_file_name(format!("{}.site-cert.pem", lb.name));
    let remote = format!("{}/tls/cert.pem", crate::init::vars::CONFIG_DIR);
    let fetched = transport.fetch(lb, &remote, &local);
    transport.close(lb);
    fetched.map_err(|e| CommandError {
        status: ExitStatus::Failure,
        error: anyhow::anyhow!("the site's certificate: {}", crate::causes::line(&e)),
    })?;
    Ok(local)
}

/// `provision --json verify --on-host` on `host` (this binary copied there first): its
/// checks.
fn own_checks(
    transport: &Transport,
    me: &Path,
    host: &crate::inventory::Host,
) -> Result<Vec<CheckResult>, RemoteError> {
    remote::push(transport, host, me, REMOTE_BINARY)?;
    let argv = [REMOTE_BINARY, "--json", "verify", "--on-host"];
    let out = transport.run_any(host, &argv)?;
    let report: serde_json::Value = remote::report(host, &argv, &out)?;
    serde_json::from_value(report["checks"].clone()).map_err(|e| RemoteError::NoReport {
        host: host.name.clone(),
        command: argv.join(" "),
        why: format!("its checks: {e}"),
        code: out.code,
        stderr: String::new(),
    })
}
