//! `provision init`, in named phases: the answers (saved config, flags, questions on a
//! terminal; validated), the host's variables, the playbook run by the engine (`apply`: as
//! a check or for real), then data, credentials and verify (`finish`); a recap and where
//! everything is.

mod agent;
mod apply;
mod ask;
mod finish;
mod several;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, InitArgs, TlsArg};
use crate::host::distro;
use crate::host::facts::{self, Family, InitSystem};
use crate::host::services::{self, Direct, Services};
use crate::init::answers::{Acme, Answers, Tls, LETS_ENCRYPT};
use crate::init::deployment::Deployment;
use crate::init::saved::{self, Credentials};
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
        (Some(TlsArg::Acme), _, _) => {
            let kept = match &a.tls {
                Tls::Acme(x) => x.clone(),
                _ => Acme {
                    email: None,
                    directory: LETS_ENCRYPT.into(),
                    ca_cert: None,
                },
            };
            a.tls = Tls::Acme(kept);
        }
        (Some(TlsArg::Off), _, _) => a.tls = Tls::Off,
        _ => {}
    }
    if args.redis_persistence {
        a.redis_persistence = true;
    }
    if args.monitoring {
        a.monitoring.enabled = true;
    }
    let acme_flags =
        args.acme_email.is_some() || args.acme_directory.is_some() || args.acme_ca_cert.is_some();
    match &mut a.tls {
        Tls::Acme(x) => {
            if let Some(e) = &args.acme_email {
                x.email = Some(e.clone());
            }
            if let Some(d) = &args.acme_directory {
                x.directory = d.clone();
            }
            if let Some(f) = &args.acme_ca_cert {
                if !f.is_file() {
                    return Err(usage(format!(
                        "--acme-ca-cert {}: no such file",
                        f.display()
                    )));
                }
                let abs = std::path::absolute(f).unwrap_or_else(|_| f.clone());
                x.ca_cert = Some(abs.display().to_string());
            }
        }
        _ if acme_flags => {
            return Err(usage(
                "--acme-email, --acme-directory and --acme-ca-cert go with --tls acme",
            ));
        }
        _ => {}
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

/// What one host's run of init needs, prepared from its answers.
struct Prepared {
    pub config: PathBuf,
    pub facts: crate::host::facts::Facts,
    pub vars: BTreeMap<String, String>,
    pub config_text: String,
    pub book: crate::playbook::Playbook,
    pub svc: Box<dyn Services>,
    pub opts: Options,
    pub relocated: Vec<String>,
    /// Holds a check run's log on a fresh host; removed on drop.
    _scratch: tempfile::TempDir,
}

impl Prepared {
    fn run<'a>(&'a self, global: &'a GlobalArgs, args: &'a InitArgs) -> apply::Run<'a> {
        apply::Run {
            global,
            args,
            facts: &self.facts,
            book: &self.book,
            opts: &self.opts,
            svc: self.svc.as_ref(),
            config: &self.config,
            config_text: &self.config_text,
        }
    }
}

/// This host's facts; macOS is refused before anything is asked or changed.
fn host_facts() -> Result<crate::host::facts::Facts, CommandError> {
    let facts = facts::detect(Path::new("/"))?;
    if facts.family == Family::MacOs {
        return Err(usage(
            "macOS: init's playbook has no Homebrew/launchd data yet, so it refuses rather than half-run; nothing was changed",
        ));
    }
    Ok(facts)
}

/// The variables, the config to write, the playbook and the engine's options for this
/// host, from its answers (and its place in a deployment of several hosts, if any); an
/// earlier install's state moved first.
fn prepare(
    global: &GlobalArgs,
    args: &InitArgs,
    facts: crate::host::facts::Facts,
    answers: &Answers,
    creds: &Credentials,
    deployment: Option<&Deployment>,
) -> Result<Prepared, CommandError> {
    let mut vars = host_vars(answers, &facts, deployment);
    // The scheduled backup runs provision with this config file.
    let config = config_path(global);
    let absolute = std::path::absolute(&config).unwrap_or_else(|_| config.clone());
    let shown = absolute.display().to_string();
    if shown.contains(|c: char| c.is_whitespace() || c.is_control() || "\"'\\%$;`".contains(c)) {
        return Err(usage(format!(
            "{shown:?}: the config file's path goes into the scheduled backup's command line; give a path without spaces, quotes, $, ; or %"
        )));
    }
    vars.insert("config_file".into(), shown);
    let manager = match facts.init {
        InitSystem::Systemd => "systemd",
        InitSystem::OpenRc => "openrc",
        _ => "supervisor",
    };
    let config_text = crate::init::saved_file::render(answers, creds, manager, &vars);
    let book = crate::init::playbook::load(&fact_values(&facts), &vars, args.templates.as_deref())
        .map_err(|e| usage(e.to_string()))?;
    let svc: Box<dyn Services> = match facts.init {
        InitSystem::None => Box::new(Direct::default()),
        other => services::for_init(other),
    };
    // --check touches nothing: on a fresh host its run log goes to a temporary directory.
    let scratch = tempfile::tempdir().context("cannot make a temporary directory")?;
    let opts = engine_options(args, scratch.path());
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
    Ok(Prepared {
        config,
        facts,
        vars,
        config_text,
        book,
        svc,
        opts,
        relocated,
        _scratch: scratch,
    })
}

pub fn run(global: &GlobalArgs, args: InitArgs) -> Result<ExitStatus, CommandError> {
    if args.agent {
        return agent::run(global, &args);
    }
    if let Some(inventory) =
        crate::commands::hosts::several_hosts(global, args.inventory.as_deref())?
    {
        return several::run(global, &args, &inventory);
    }
    let config = config_path(global);
    let (file, _) = ConfigFile::load(&config, false)?;
    let facts = host_facts()?;
    let (answers, creds) = resolve_answers(&args, &config, &file)?;
    let prepared = prepare(global, &args, facts, &answers, &creds, None)?;
    let (facts, vars, relocated) = (&prepared.facts, &prepared.vars, &prepared.relocated);
    let run = prepared.run(global, &args);
    if args.check {
        return run.dry_run(relocated.len());
    }
    let mut recap = run.apply(relocated.len())?;
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
    let database_url = saved::database_url(&answers, vars);
    let env_file = Path::new(CONFIG_DIR).join(".env");
    let with_load = args.load || recap.changed > 0;
    let mut done = crate::commands::runtime()?
        .block_on(finish::finish(
            &database_url,
            &data,
            &creds,
            &config,
            &env_file,
            with_load,
        ))
        .map_err(|error| CommandError {
            status: ExitStatus::Failure,
            error,
        })?;
    super::verify_run::settle(&mut done.report);
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
    let admin_created = done.changed.iter().any(|c| c == "admin user");
    finish::where_everything_is(&answers, &creds, &config, facts, admin_created);
    println!("{}", recap.line());
    Ok(if done.report.passed {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The saved answers, the flags over them, the questions on a terminal (first run only),
/// all validated before anything is rendered from them.
fn resolve_answers(
    args: &InitArgs,
    config: &Path,
    file: &ConfigFile,
) -> Result<(Answers, Credentials), CommandError> {
    let (mut answers, creds, given) = saved::read(file);
    apply_flags(&mut answers, args)?;
    if !given && !args.yes {
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
    let config_source = std::fs::read_to_string(config).ok();
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
            config,
            config_text: config_source.as_deref(),
            flags,
        },
    )
    .map_err(|e| usage(e.to_string()))?;
    Ok((answers, creds))
}

/// The playbook's variables for this host, with the instances to remove under systemd.
fn host_vars(
    answers: &Answers,
    facts: &crate::host::facts::Facts,
    deployment: Option<&Deployment>,
) -> BTreeMap<String, String> {
    let distro = distro::for_host(facts);
    let mut vars = playbook_vars(answers, facts, &distro, deployment);
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
    vars
}

/// The engine's options; a check run on a fresh host keeps its log in `scratch`.
fn engine_options(args: &InitArgs, scratch: &Path) -> Options {
    let state_dir = if args.check && !args.state_dir.exists() {
        scratch.to_path_buf()
    } else {
        args.state_dir.clone()
    };
    Options {
        check: args.check,
        diff: args.diff,
        tags: Vec::new(),
        start_at: None,
        extra_vars: BTreeMap::new(),
        history: (!args.check).then(|| Arc::new(Generation::begin(&state_dir, "init"))),
        state_dir,
    }
}
