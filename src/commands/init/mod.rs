//! `provision init`: the answers (saved config, flags, questions on a terminal), the
//! playbook run by the engine, then data, credentials and verify; a recap and where
//! everything is.

mod ask;
mod finish;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::play::run_engine;
use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, InitArgs, TlsArg};
use crate::host::distro;
use crate::host::facts::{self, Family, InitSystem};
use crate::host::services::{self, Direct, Services};
use crate::init::answers::{Answers, Tls};
use crate::init::saved;
use crate::init::vars::{playbook_vars, CONFIG_DIR};
use crate::playbook::engine::fact_values;
use crate::playbook::history::Generation;
use crate::playbook::Options;
use crate::settings::ConfigFile;

fn usage(msg: impl Into<String>) -> CommandError {
    CommandError {
        status: ExitStatus::Usage,
        error: anyhow::anyhow!(msg.into()),
    }
}

fn config_path(global: &GlobalArgs) -> PathBuf {
    crate::settings::config_path(global.config.as_deref())
}

/// The flags over the saved (or default) answers.
fn apply_flags(a: &mut Answers, args: &InitArgs) -> Result<(), CommandError> {
    if let Some(n) = args.instances {
        if !(1..=64).contains(&n) {
            return Err(usage(format!("--instances {n}: give 1 to 64")));
        }
        a.instances = n;
    }
    if let Some(d) = &args.domain {
        a.domain = d.clone();
    }
    match (&args.tls, &args.tls_cert, &args.tls_key) {
        (_, Some(cert), Some(key)) => {
            for f in [cert, key] {
                if !f.is_file() {
                    return Err(usage(format!("{}: no such file", f.display())));
                }
            }
            a.tls = Tls::Files {
                cert: cert.display().to_string(),
                key: key.display().to_string(),
            }
        }
        (Some(TlsArg::SelfSigned), _, _) => a.tls = Tls::SelfSigned,
        (Some(TlsArg::Off), _, _) => a.tls = Tls::Off,
        _ => {}
    }
    if args.redis_persistence {
        a.redis_persistence = true;
    }
    Ok(())
}

/// Ports of the `live-dashboard@PORT` units that are enabled or running under systemd.
fn systemd_instances() -> Vec<u16> {
    let mut ports = std::collections::BTreeSet::new();
    let port_of = |name: &str| -> Option<u16> {
        name.strip_prefix("live-dashboard@")?
            .strip_suffix(".service")?
            .parse()
            .ok()
    };
    if let Ok(dir) = std::fs::read_dir("/etc/systemd/system/multi-user.target.wants") {
        for e in dir.flatten() {
            ports.extend(port_of(&e.file_name().to_string_lossy()));
        }
    }
    let listed = crate::host::exec::Cmd::new(
        "systemctl",
        &[
            "list-units",
            "--plain",
            "--no-legend",
            "--state=active",
            "live-dashboard@*",
        ],
    )
    .run_checked(true);
    if let Ok(out) = listed {
        for line in out.stdout.lines() {
            ports.extend(line.split_whitespace().next().and_then(port_of));
        }
    }
    ports.into_iter().collect()
}

pub fn run(global: &GlobalArgs, args: InitArgs) -> Result<ExitStatus, CommandError> {
    let config = config_path(global);
    let (file, _) = ConfigFile::load(&config, false)?;
    let facts = facts::detect(Path::new("/"))?;
    if facts.family == Family::MacOs {
        return Err(usage(
            "macOS: init's playbook has no Homebrew/launchd data yet, so it refuses rather than half-run; nothing was changed",
        ));
    }
    let (mut answers, creds, given) = saved::read(&file);
    let first_run = !given;
    apply_flags(&mut answers, &args)?;
    if first_run && !args.yes {
        if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            let given = ask::Given {
                instances: args.instances.is_some(),
                domain: args.domain.is_some(),
                tls: args.tls.is_some() || args.tls_cert.is_some(),
            };
            ask::answers(&mut answers, &given).context("reading the answers")?;
        } else {
            return Err(usage(format!(
                "no answers yet ({} has none) and no terminal to ask on: pass --yes for the defaults, or write the config file",
                config.display()
            )));
        }
    }
    // Before anything is rendered from them.
    let config_source = std::fs::read_to_string(&config).ok();
    let mut flags = Vec::new();
    if args.domain.is_some() {
        flags.push(("nginx.server_name", "--domain"));
    }
    if args.tls_cert.is_some() {
        flags.extend([
            ("nginx.tls_cert", "--tls-cert"),
            ("nginx.tls_key", "--tls-key"),
        ]);
    }
    crate::init::validate::answers(
        &answers,
        &crate::init::validate::Origins {
            config: &config,
            config_text: config_source.as_deref(),
            flags,
        },
    )
    .map_err(|e| usage(e.to_string()))?;
    let distro = distro::for_host(&facts);
    let mut vars = playbook_vars(&answers, &facts, &distro);
    if facts.init == InitSystem::Systemd {
        // Instances beyond the configured ones (the count went down) are stopped and
        // disabled; under supervisord, `supervisorctl update` removes them.
        let wanted: Vec<u16> = (1..=answers.instances)
            .map(|i| answers.base_port + i as u16)
            .collect();
        let stale: Vec<String> = systemd_instances()
            .into_iter()
            .filter(|p| !wanted.contains(p))
            .map(|p| p.to_string())
            .collect();
        vars.insert("removed_ports".into(), stale.join(" "));
    }
    let manager = match facts.init {
        InitSystem::Systemd => "systemd",
        InitSystem::OpenRc => "openrc",
        _ => "supervisor",
    };
    let config_text = saved::render(&answers, &creds, manager, &vars);
    let book = crate::init::playbook::load(&fact_values(&facts), &vars, args.templates.as_deref())
        .map_err(|e| usage(e.to_string()))?;
    let svc: Box<dyn Services> = match facts.init {
        InitSystem::None => Box::new(Direct::default()),
        other => services::for_init(other),
    };
    // --check touches nothing: on a fresh host its run log goes to a temporary directory.
    let scratch = tempfile::tempdir().context("cannot make a temporary directory")?;
    let state_dir = if args.check && !args.state_dir.exists() {
        scratch.path().to_path_buf()
    } else {
        args.state_dir.clone()
    };
    let opts = Options {
        check: args.check,
        diff: args.diff,
        tags: Vec::new(),
        start_at: None,
        extra_vars: BTreeMap::new(),
        history: (!args.check).then(|| Arc::new(Generation::begin(&state_dir, "init"))),
        state_dir,
    };
    // An earlier install's root state, out of the service user's reach first.
    let relocated = crate::init::relocate::relocate(args.check).map_err(|e| CommandError {
        status: ExitStatus::Failure,
        error: e.into(),
    })?;
    if !global.json {
        for note in &relocated {
            println!("changed  {note}");
        }
    }
    if args.check {
        let config_differs =
            std::fs::read_to_string(&config).ok().as_deref() != Some(config_text.as_str());
        if config_differs && !global.json {
            println!(
                "changed  write {} (mode 0600; its content holds secrets and is not shown)",
                config.display()
            );
        }
        let mut recap = run_engine(global, &book, &facts, &opts, svc.as_ref(), args.diff)?;
        recap.changed += usize::from(config_differs) + relocated.len();
        println!("{}", recap.line());
        return Ok(if recap.changed > 0 || recap.failed > 0 {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        });
    }
    // The answers first: a run that fails later keeps its generated secrets.
    let generation = opts.history.as_ref().expect("not in check mode");
    if std::fs::read_to_string(&config).ok().as_deref() != Some(config_text.as_str()) {
        generation.record(&config, &[])?;
    }
    let config_changed = saved::write(&config, &config_text)
        .with_context(|| format!("cannot write {}", config.display()))?;
    if config_changed && !global.json {
        println!("changed  config {} (mode 0600)", config.display());
    }
    let engine_started = crate::host::reload::now_ticks();
    let mut recap = run_engine(global, &book, &facts, &opts, svc.as_ref(), args.diff)?;
    generation.finish()?;
    recap.changed += usize::from(config_changed) + relocated.len();
    // A reloaded nginx answers with its old workers for a moment; verify must see the new.
    if let (true, Some(since)) = (
        recap.handlers.iter().any(|h| h == "reload nginx"),
        engine_started,
    ) {
        if !crate::host::reload::wait_workers_since(
            Path::new("/run/nginx.pid"),
            since,
            std::time::Duration::from_secs(15),
        ) {
            tracing::warn!("nginx's old workers were still running 15 s after its reload");
        }
    }
    if recap.failed > 0 {
        println!("{}", recap.line());
        println!("init stopped at a failed step: fix what it says and run `provision init` again; it resumes, and pending reloads are kept");
        return Ok(ExitStatus::Failure);
    }
    let data = match (&args.sqlite, args.demo) {
        (Some(p), _) => finish::Data::Sqlite(p.clone()),
        (None, true) => finish::Data::Demo(args.state_dir.join("demo-legacy.db")),
        _ => finish::Data::None,
    };
    let database_url = saved::database_url(&answers, &vars);
    let env_file = Path::new(CONFIG_DIR).join(".env");
    let runtime = crate::commands::runtime()?;
    let with_load = args.load || recap.changed > 0;
    let done = runtime
        .block_on(finish::finish(
            &database_url,
            &data,
            &creds,
            &config,
            &env_file,
            with_load,
        ))
        .map_err(|e| CommandError {
            status: ExitStatus::Failure,
            error: anyhow::anyhow!(e),
        })?;
    for c in &done.changed {
        println!("changed  {c}");
    }
    recap.changed += done.changed.len();
    print!("{}", done.report.to_text());
    if let Some(m) = &done.migrated {
        let rows: u64 = m.tables.iter().map(|t| t.loaded_rows).sum();
        println!(
            "legacy data: {} ({:?}, {rows} rows, {} values quarantined)",
            m.source,
            m.outcome,
            m.quarantine.len()
        );
    }
    let scheme = if answers.tls == Tls::Off {
        "http"
    } else {
        "https"
    };
    let host = if answers.domain != "_" {
        answers.domain.clone()
    } else {
        crate::verify::public_address()
            .map(|ip| match ip {
                std::net::IpAddr::V4(v4) => v4.to_string(),
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            })
            .unwrap_or_else(|| "127.0.0.1".into())
    };
    let port = match (scheme, answers.http_port, answers.https_port) {
        ("http", 80, _) | ("https", _, 443) => String::new(),
        ("http", p, _) | (_, _, p) => format!(":{p}"),
    };
    println!("\nthe dashboard: {scheme}://{host}{port}/");
    if done.changed.iter().any(|c| c == "admin user") {
        println!(
            "log in as {} with password {} (shown once; it is kept in {})",
            creds.admin_user,
            creds.admin_password.expose(),
            config.display()
        );
    } else {
        println!(
            "log in as {} (password in {})",
            creds.admin_user,
            config.display()
        );
    }
    println!(
        "config: {} and {}/.env; logs: {}",
        config.display(),
        CONFIG_DIR,
        if facts.init == InitSystem::Systemd {
            "journalctl -u 'live-dashboard@*'".to_string()
        } else {
            format!("{}/", crate::init::vars::LOG_DIR)
        }
    );
    println!("{}", recap.line());
    Ok(if done.report.passed {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
