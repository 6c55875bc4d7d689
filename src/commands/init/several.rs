//! `provision init --inventory FILE`: the stack across several hosts, from this machine
//! (the controller). The answers and generated secrets are kept in the controller's
//! config (0600); each host, stage by stage, gets provision's binary and its job over ssh
//! and runs its part there; the terminal shows each host's steps as they happen and ends
//! with a recap per host, like Ansible's PLAY RECAP. Verify then runs from here through
//! the load balancer. App hosts that left the inventory since the last deployment are
//! drained and stopped before anything else.

use std::path::Path;
use std::time::Duration;

use super::{config_path, resolve_answers, usage, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, InitArgs};
use crate::deploy::record::{deployment_dir, Record};
use crate::deploy::retire::retire;
use crate::deploy::{self, HostRecap, Line, Plan};
use crate::init::saved;
use crate::inventory::Inventory;
use crate::playbook::engine::Status;
use crate::remote::Transport;
use crate::settings::{ConfigFile, VerifyFlags};

pub fn run(
    global: &GlobalArgs,
    args: &InitArgs,
    inv: &Inventory,
) -> Result<ExitStatus, CommandError> {
    if args.sqlite.is_some() && args.demo {
        return Err(usage("--sqlite and --demo: give one"));
    }
    let config = config_path(global);
    let (file, _) = ConfigFile::load(&config, false)?;
    let (answers, creds) = resolve_answers(args, &config, &file)?;
    // The controller's config: the answers, the secrets and the inventory it deploys.
    let vars = crate::init::vars::vars(&answers, 1, 1024, "systemd");
    let inventory_path = std::fs::canonicalize(&inv.path).unwrap_or(inv.path.clone());
    let config_text = format!(
        "{}inventory: {}\n",
        crate::init::saved_file::render(&answers, &creds, "auto", &vars),
        serde_json::to_string(&inventory_path.display().to_string()).expect("a string")
    );
    // One deployment of this inventory at a time.
    let deployment_dir = deployment_dir(&args.state_dir, &inv.path);
    let _lock = crate::playbook::state::Lock::acquire(&deployment_dir).map_err(|e| {
        usage(format!(
            "{e} (another deployment of {} runs)",
            inv.path.display()
        ))
    })?;
    // What the last deployment reached: the app hosts that left the inventory since.
    let record_path = Record::path(&deployment_dir);
    let last = Record::load(&record_path).map_err(usage)?;
    if !args.check
        && saved::write(&config, &config_text).map_err(|e| {
            CommandError::from(
                anyhow::Error::new(e).context(format!("cannot write {}", config.display())),
            )
        })?
        && !global.json
    {
        println!("changed  config {} (mode 0600)", config.display());
    }
    let transport = Transport::new(&args.state_dir.join("ssh"), args.accept_new_host_keys)?;
    let me = crate::commands::own_binary()?;
    let plan = Plan {
        inventory: inv,
        transport: &transport,
        config: &config_text,
        base_port: answers.base_port,
        sqlite: args.sqlite.as_deref(),
        demo: args.demo,
        check: args.check,
        diff: args.diff,
        forks: usize::from(args.forks),
        binary: &me,
    };
    let width = inv.hosts.iter().map(|h| h.name.len()).max().unwrap_or(4);
    let show = |host: &str, line: &Line| show_line(global, args.diff, width, host, line);
    if let Some(last) = &last {
        let leaving = last.leaving_apps(inv);
        let balancers = last.kept_balancers(inv);
        retire(
            &transport,
            &me,
            &leaving,
            &balancers,
            last.base_port,
            args.check,
            &show,
        )
        .map_err(|e| CommandError {
            status: ExitStatus::Failure,
            error: anyhow::anyhow!(
                "{}; the deployment did not start: run `provision init` again once it is fixed",
                crate::causes::line(&e)
            ),
        })?;
    }
    let recaps = deploy::deploy(&plan, &show);
    for h in &inv.hosts {
        transport.close(h);
    }
    let failed = recaps.iter().any(|r| r.failed > 0 || r.error.is_some());
    let changed: usize = recaps.iter().map(|r| r.changed).sum();
    let mut status = if failed || (args.check && changed > 0) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    };
    if !failed && !args.check {
        Record::of(inv, answers.base_port)
            .save(&record_path)
            .map_err(|e| {
                anyhow::Error::new(e).context(format!("cannot write {}", record_path.display()))
            })?;
        status = verify_through(global, inv, &config, &transport, args.load)?;
    }
    print_recap(global, width, &recaps);
    if failed {
        println!(
            "init stopped at a failed host: fix what it says and run `provision init` again; \
             it resumes there, and each host keeps its pending reloads"
        );
    }
    Ok(status)
}

/// One line a host sent, as the terminal shows it: `host  status  step (s)`.
fn show_line(global: &GlobalArgs, diff: bool, width: usize, host: &str, line: &Line) {
    if global.json {
        let v = serde_json::json!({"host": host, "line": line});
        println!("{v}");
        return;
    }
    match line {
        Line::Event(e) => {
            if global.quiet && e.status != Status::Failed {
                return;
            }
            let prefix = format!("{host:<width$}  ");
            println!("{}", crate::commands::play::event_text(e, diff, &prefix));
        }
        Line::Changed(what) => println!("{host:<width$}  changed  {what}"),
        Line::Text(text) => println!("{host:<width$}  {text}"),
        Line::Recap { .. } => {}
    }
}

/// Verify from here through the first nginx host (remote checks, with load when asked)
/// and each host's own checks over ssh.
fn verify_through(
    global: &GlobalArgs,
    inv: &Inventory,
    config: &Path,
    transport: &Transport,
    with_load: bool,
) -> Result<ExitStatus, CommandError> {
    let flags = VerifyFlags {
        wait: Some(Duration::from_secs(60)),
        no_load: !with_load,
        ..Default::default()
    };
    let mut report = crate::commands::verify_hosts::across(global, inv, config, flags, transport)?;
    let status = crate::commands::verify_run::settle(&mut report);
    print!("{}", report.to_text());
    Ok(status)
}

/// Each host's counts, aligned, then why the ones that failed (or did not run) did.
fn print_recap(global: &GlobalArgs, width: usize, recaps: &[HostRecap]) {
    if global.json {
        println!("{}", serde_json::json!({ "recap": recaps }));
        return;
    }
    println!("\nRECAP");
    for r in recaps {
        let state = match (&r.error, r.ran) {
            (Some(_), false) => "  not run",
            (Some(_), true) => "  unreachable or failed",
            _ => "",
        };
        println!("{:<width$}  {}{state}", r.host, r.line());
    }
    for r in recaps {
        if let Some(e) = &r.error {
            // ssh's and the remote commands' errors start with the host already.
            if e.starts_with(&format!("{} ", r.host)) || e.starts_with(&format!("{}:", r.host)) {
                eprintln!("{e}");
            } else {
                eprintln!("{}: {e}", r.host);
            }
        }
    }
}
