//! `provision verify`: on this host (or `--url` another), or across the inventory's hosts
//! (`verify_hosts`); the running and rendering both share is `verify_run`.

use super::verify_run::{flags, render, run_verify};
use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, VerifyArgs};
use crate::settings::{Sources, VerifySettings};

pub fn run(global: &GlobalArgs, args: VerifyArgs) -> Result<ExitStatus, CommandError> {
    if !args.on_host && args.url.is_none() {
        if let Some(inv) =
            crate::commands::hosts::several_hosts(global, args.hosts.inventory.as_deref())?
        {
            return super::verify_hosts::run(global, &args, &inv);
        }
    }
    let sources = Sources::load(global.config.as_deref(), global.env_file.as_deref())?;
    let settings = VerifySettings::resolve(flags(&args), &sources)?;
    if args.remote_only && !settings.remote {
        return Err(CommandError {
            status: ExitStatus::Usage,
            error: anyhow::anyhow!("--remote-only goes with --url (verifying another host)"),
        });
    }
    let report = run_verify(global, &settings)?;
    render(global, &args, report)
}
