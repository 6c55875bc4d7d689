//! `provision uninstall --inventory …`: every host's part taken away by its own provision,
//! in the reverse order of the deployment — the load balancers first (no request reaches
//! a host being taken apart), the database host last. Each host says what went, what came
//! back and what stayed; a host that cannot be reached is named and the others go on.
//! The controller forgets the deployment's record; its config (the answers and secrets)
//! stays, so `init --inventory` can deploy the same stack again.

use super::{confirm_purge, fail, print_lines, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, UninstallArgs};
use crate::deploy::record::{deployment_dir, Record};
use crate::deploy::REMOTE_BINARY;
use crate::inventory::{Host, Inventory};
use crate::ops::uninstall::Uninstalled;
use crate::remote::{self, RemoteError, Transport};
use crate::settings::{self, ConfigFile};

pub fn uninstall(
    global: &GlobalArgs,
    args: &UninstallArgs,
    inv: &Inventory,
) -> Result<ExitStatus, CommandError> {
    let config = settings::config_path(global.config.as_deref());
    let (file, _) = ConfigFile::load(&config, false)?;
    let (answers, _, _) = crate::init::saved::read(&file);
    confirm_purge(args, &answers.db_name)?;
    let transport = Transport::new(&args.hosts.state_dir.join("ssh"), false)?;
    let me = crate::commands::own_binary()?;
    let mut report = Vec::new();
    let mut failed = false;
    for host in reverse_order(inv) {
        let result = one_host(&transport, &me, host, args.purge_data);
        transport.close(host);
        let entry = match result {
            Ok(u) => {
                failed |= !u.problems.is_empty();
                if !global.json {
                    print_lines(&u, &format!("{}  ", host.name));
                }
                serde_json::json!({"host": host.name, "uninstalled": u})
            }
            Err(e) => {
                failed = true;
                let why = crate::causes::line(&e);
                eprintln!("{why}");
                serde_json::json!({"host": host.name, "error": why})
            }
        };
        report.push(entry);
    }
    let record = Record::path(&deployment_dir(&args.hosts.state_dir, &inv.path));
    if !failed {
        let _ = std::fs::remove_file(&record);
    }
    crate::commands::output(global, &report, || {
        if failed {
            println!(
                "some hosts were not uninstalled (above): fix what they say and run \
                 `provision uninstall --inventory {}` again",
                inv.path.display()
            );
        } else {
            println!(
                "uninstalled from {} host(s); {} keeps the answers and secrets",
                report.len(),
                config.display()
            );
        }
    });
    if failed {
        return Err(fail(
            ExitStatus::Failure,
            "uninstall across hosts did not finish on every host",
        ));
    }
    Ok(ExitStatus::Success)
}

/// The hosts, the last deployment stage first; each host once.
fn reverse_order(inv: &Inventory) -> Vec<&Host> {
    let mut order: Vec<&Host> = Vec::new();
    for stage in inv.stages().iter().rev() {
        for name in &stage.hosts {
            if let Some(h) = inv.host(name) {
                if !order.iter().any(|o| o.name == h.name) {
                    order.push(h);
                }
            }
        }
    }
    order
}

/// `provision --json uninstall` on `host` (this binary copied there first).
fn one_host(
    transport: &Transport,
    me: &std::path::Path,
    host: &Host,
    purge: bool,
) -> Result<Uninstalled, RemoteError> {
    remote::push(transport, host, me, REMOTE_BINARY)?;
    let mut argv = vec![REMOTE_BINARY, "--json", "uninstall"];
    if purge {
        argv.extend(["--purge-data", "--yes"]);
    }
    let out = transport.run_any(host, &argv)?;
    remote::report(host, &argv, &out)
}
