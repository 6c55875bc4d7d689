//! `provision hosts` (the inventory checked, its hosts, their deployment order and
//! firewalls) and `provision ping` (every host reached over ssh and asked for its facts).

use super::{output, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, HostsArgs, InventoryArgs, PingArgs};
use crate::inventory::{Access, Inventory};
use crate::remote::{Pong, Transport};
use crate::settings::{self, Sources};

/// The inventory named by the flag, the environment or the config file, if any (a config
/// named but not there yet is not an error: init writes it); a usage error when the one
/// named has problems.
pub(crate) fn named_inventory(
    global: &GlobalArgs,
    flag: Option<&std::path::Path>,
) -> Result<Option<Inventory>, CommandError> {
    let (config, config_path) =
        crate::settings::ConfigFile::load(&settings::config_path(global.config.as_deref()), false)?;
    let sources = Sources {
        config,
        config_path,
        env_file: Default::default(),
    };
    let Some(path) = settings::inventory_path(flag, &sources) else {
        return Ok(None);
    };
    Inventory::load(&path).map(Some).map_err(|e| CommandError {
        status: ExitStatus::Usage,
        error: e.into(),
    })
}

/// The inventory named by the flag, the environment or the config file when it holds more
/// than this one machine: the commands then work across its hosts (an inventory of one
/// local host is the single-host path itself).
pub(crate) fn several_hosts(
    global: &GlobalArgs,
    flag: Option<&std::path::Path>,
) -> Result<Option<Inventory>, CommandError> {
    Ok(named_inventory(global, flag)?.filter(|i| !i.is_single_local()))
}

/// The inventory named by the flag, the environment or the config file; a usage error
/// when none is, or when it has problems.
fn inventory(global: &GlobalArgs, args: &InventoryArgs) -> Result<Inventory, CommandError> {
    named_inventory(global, args.inventory.as_deref())?.ok_or_else(|| CommandError {
        status: ExitStatus::Usage,
        error: anyhow::anyhow!(
            "no inventory: give --inventory FILE (or PROVISION_INVENTORY, or inventory: in {})",
            settings::config_path(global.config.as_deref()).display()
        ),
    })
}

fn ports(a: &Access) -> String {
    if a.ports.0 == a.ports.1 {
        a.ports.0.to_string()
    } else {
        format!("{}-{}", a.ports.0, a.ports.1)
    }
}

fn from(a: &Access) -> String {
    if a.from.is_empty() {
        "anywhere".into()
    } else {
        let all: Vec<String> = a.from.iter().map(|ip| ip.to_string()).collect();
        all.join(", ")
    }
}

pub fn hosts(global: &GlobalArgs, args: HostsArgs) -> Result<ExitStatus, CommandError> {
    let inv = inventory(global, &args.inventory)?;
    let firewall: Vec<serde_json::Value> = inv
        .hosts
        .iter()
        .map(|h| serde_json::json!({"host": h.name, "allow": inv.access(h, args.base_port)}))
        .collect();
    let report = serde_json::json!({
        "inventory": inv.path,
        "hosts": inv.hosts,
        "stages": inv.stages(),
        "firewall": firewall,
    });
    output(global, &report, || {
        let mut t = crate::table::plain(&["host", "address", "private", "roles", "ssh"], &[]);
        for h in &inv.hosts {
            let roles: Vec<&str> = h.roles.iter().map(|r| r.name()).collect();
            t.add_row(vec![
                h.name.clone(),
                h.address.clone(),
                h.private_address.to_string(),
                roles.join(","),
                format!("{}@:{}", h.ssh.user, h.ssh.port),
            ]);
        }
        print!("{}", crate::table::lines(&t));
        println!();
        let order: Vec<String> = inv
            .stages()
            .iter()
            .map(|s| format!("{} ({})", s.hosts.join(" "), s.role.name()))
            .collect();
        println!("order: {}", order.join(" → "));
        println!();
        let mut t = crate::table::plain(&["host", "port", "for", "from"], &[]);
        for h in &inv.hosts {
            for a in inv.access(h, args.base_port) {
                t.add_row(vec![
                    h.name.clone(),
                    ports(&a),
                    a.what.to_string(),
                    from(&a),
                ]);
            }
        }
        print!("{}", crate::table::lines(&t));
    });
    Ok(ExitStatus::Success)
}

pub fn ping(global: &GlobalArgs, args: PingArgs) -> Result<ExitStatus, CommandError> {
    let inv = inventory(global, &args.inventory)?;
    let transport = Transport::new(&args.state_dir.join("ssh"), args.accept_new_host_keys)?;
    let me = crate::commands::own_binary()?;
    let pongs = crate::remote::ping(
        &transport,
        &inv,
        &me,
        &args.remote_binary,
        usize::from(args.forks),
    );
    for h in &inv.hosts {
        transport.close(h);
    }
    let failed = pongs.iter().filter(|p| p.error.is_some()).count();
    output(global, &pongs, || print_pongs(&pongs));
    Ok(if failed == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn print_pongs(pongs: &[Pong]) {
    let mut t = crate::table::plain(&["host", "address", "arch", "system", "binary"], &[]);
    for p in pongs {
        let row = match &p.reached {
            Some(r) => vec![
                r.arch.clone(),
                r.facts["facts"]["pretty_name"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
                if r.copied { "copied" } else { "unchanged" }.to_string(),
            ],
            None => vec!["-".into(), "-".into(), "unreachable".into()],
        };
        let mut cells = vec![p.host.clone(), p.address.clone()];
        cells.extend(row);
        t.add_row(cells);
    }
    print!("{}", crate::table::lines(&t));
    for e in pongs.iter().filter_map(|p| p.error.as_ref()) {
        eprintln!("{e}");
    }
}
