//! `provision logs`: one component's lines, from journald or its files, `-f` to follow;
//! with `--host NAME`, that host's (of the inventory), read there over ssh as they come.

use super::{load_stack, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, LogComponent, LogsArgs};
use crate::host::exec::Cmd;
use crate::ops::logs::{self, Source};
use crate::ops::stack::Component;

pub fn logs(global: &GlobalArgs, args: LogsArgs) -> Result<ExitStatus, CommandError> {
    if let Some(host) = &args.host {
        return on_host(global, &args, host);
    }
    let stack = load_stack(global)?;
    let component = match args.component {
        LogComponent::Server => Component::Server,
        LogComponent::Postgres => Component::Postgres,
        LogComponent::Redis => Component::Redis,
        LogComponent::Nginx => Component::Nginx,
    };
    let since = args
        .since
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| chrono::Utc::now() - d);
    let lines = args
        .lines
        .or(if since.is_none() { Some(100) } else { None });
    match logs::source(&stack, component) {
        Source::Journal(units) => {
            // journalctl prints straight to the terminal (and pages nothing).
            let mut argv: Vec<String> = vec!["--no-pager".into(), "-o".into(), "short-iso".into()];
            for u in &units {
                argv.extend(["-u".to_string(), u.clone()]);
            }
            if let Some(s) = since {
                argv.push(format!("--since={}", s.format("%Y-%m-%d %H:%M:%S UTC")));
            }
            if let Some(n) = lines {
                argv.push(format!("--lines={n}"));
            }
            if args.follow {
                argv.push("--follow".into());
            }
            let status = std::process::Command::new("journalctl")
                .args(&argv)
                .status()
                .map_err(|e| {
                    super::fail(
                        ExitStatus::Failure,
                        format!("{}: {e}", Cmd::new("journalctl", &[]).display()),
                    )
                })?;
            Ok(if status.success() {
                ExitStatus::Success
            } else {
                ExitStatus::Failure
            })
        }
        Source::Files(files) => {
            let present: Vec<_> = files.iter().filter(|f| f.exists()).cloned().collect();
            if present.is_empty() {
                return Err(super::fail(
                    ExitStatus::Failure,
                    format!(
                        "no log file yet: {}; has {} started? `provision status` says",
                        files
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        component.name()
                    ),
                ));
            }
            let several = present.len() > 1;
            let all = logs::read_files(&present, since)
                .map_err(|e| super::fail(ExitStatus::Failure, e))?;
            let skip = lines.map_or(0, |n| all.len().saturating_sub(n));
            let name = |p: &std::path::Path| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            for l in all.iter().skip(skip) {
                if several {
                    println!("{}: {}", name(&l.file), l.text);
                } else {
                    println!("{}", l.text);
                }
            }
            if args.follow {
                logs::follow(&present, &mut |p, line| {
                    if several {
                        println!("{}: {line}", name(p));
                    } else {
                        println!("{line}");
                    }
                    true
                })
                .map_err(|e| super::fail(ExitStatus::Failure, e))?;
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// `provision logs … --host NAME`: the same command run on that host over ssh, its lines
/// printed as they come (`-f` follows there).
fn on_host(global: &GlobalArgs, args: &LogsArgs, name: &str) -> Result<ExitStatus, CommandError> {
    let usage = |m: String| super::fail(ExitStatus::Usage, m);
    let inv = crate::commands::hosts::named_inventory(global, args.hosts.inventory.as_deref())?
        .ok_or_else(|| {
            usage(
                "--host needs an inventory: give --inventory FILE (or PROVISION_INVENTORY)".into(),
            )
        })?;
    let host = inv.host(name).ok_or_else(|| {
        let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
        usage(format!(
            "--host {name}: no such host in {} (its hosts: {})",
            inv.path.display(),
            names.join(", ")
        ))
    })?;
    let component = match args.component {
        LogComponent::Server => "server",
        LogComponent::Postgres => "postgres",
        LogComponent::Redis => "redis",
        LogComponent::Nginx => "nginx",
    };
    let mut remote: Vec<String> = vec![
        crate::init::vars::BINARY.into(),
        "logs".into(),
        component.into(),
    ];
    if args.follow {
        remote.push("--follow".into());
    }
    if let Some(d) = args.since {
        remote.push(format!("--since={}s", d.as_secs().max(1)));
    }
    if let Some(n) = args.lines {
        remote.push(format!("--lines={n}"));
    }
    let transport = crate::remote::Transport::new(&args.hosts.state_dir.join("ssh"), false)?;
    let words: Vec<&str> = remote.iter().map(String::as_str).collect();
    let ran = transport.stream(
        host,
        &words,
        crate::settings::Secret::new(""),
        &mut |line| println!("{line}"),
    );
    transport.close(host);
    ran?;
    Ok(ExitStatus::Success)
}
