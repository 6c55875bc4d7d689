//! `provision restart [--rolling]` across the inventory's hosts. Rolling: one app host at
//! a time, its instances marked down on every nginx host first (drained: nginx's old
//! workers finish their requests), restarted there and waited for, then back in every
//! nginx host's rotation — so the site keeps answering from the other app hosts. Without
//! `--rolling`: every app host's instances at once (a short outage).

use super::{fail, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, RestartArgs};
use crate::init::vars::BINARY;
use crate::inventory::{Host, Inventory, Role};
use crate::remote::{RemoteError, Transport};
use crate::settings::Secret;

pub fn restart(
    global: &GlobalArgs,
    args: &RestartArgs,
    inv: &Inventory,
) -> Result<ExitStatus, CommandError> {
    let transport = Transport::new(&args.hosts.state_dir.join("ssh"), false)?;
    let apps: Vec<&Host> = inv.with(Role::App).collect();
    let nginx: Vec<&Host> = inv.with(Role::Nginx).collect();
    let started = std::time::Instant::now();
    let quiet = global.quiet;
    let say = |host: &str, line: &str| {
        if !quiet {
            println!("{host}  {line}");
        }
    };
    let result = if !args.rolling {
        let done = crate::remote::each(&apps, apps.len(), |h| {
            run_there(&transport, h, &[BINARY, "restart"], &say)
        });
        done.into_iter()
            .collect::<Result<Vec<()>, RemoteError>>()
            .map(|_| ())
    } else if apps.len() < 2 {
        return Err(fail(
            ExitStatus::Usage,
            format!(
                "a rolling restart across hosts needs two app hosts or more, and {} has one: \
                 `provision restart --inventory …` restarts it with a short outage",
                inv.path.display()
            ),
        ));
    } else {
        // The instances' ports, as init deployed them (the controller's config).
        let config = crate::settings::config_path(global.config.as_deref());
        let (file, _) = crate::settings::ConfigFile::load(&config, false)?;
        let base_port = file.server.base_port.unwrap_or(8000);
        rolling(&transport, base_port, &apps, &nginx, &say)
    };
    for h in &inv.hosts {
        transport.close(h);
    }
    match result {
        Ok(()) => {
            println!(
                "restarted {} app host(s){} in {:.1} s",
                apps.len(),
                if args.rolling { ", one at a time" } else { "" },
                started.elapsed().as_secs_f64()
            );
            Ok(ExitStatus::Success)
        }
        Err(e) => Err(fail(ExitStatus::Failure, crate::causes::line(&e))),
    }
}

/// Runs `argv` on `host`, its lines shown as they come.
fn run_there(
    transport: &Transport,
    host: &Host,
    argv: &[&str],
    say: &(dyn Fn(&str, &str) + Sync),
) -> Result<(), RemoteError> {
    transport.stream(host, argv, Secret::new(""), &mut |line| {
        say(&host.name, line)
    })?;
    Ok(())
}

fn rolling(
    transport: &Transport,
    base_port: u16,
    apps: &[&Host],
    nginx: &[&Host],
    say: &(dyn Fn(&str, &str) + Sync),
) -> Result<(), RemoteError> {
    for (n, app) in apps.iter().enumerate() {
        let list = app.upstreams(base_port).join(",");
        for lb in nginx {
            run_there(
                transport,
                lb,
                &[BINARY, "restart", "--take-out", &list],
                say,
            )?;
        }
        // Out of every rotation: restart it (all its instances; each waited for), then
        // back — also when the restart failed (nginx passes over a dead instance).
        let restarted = run_there(transport, app, &[BINARY, "restart"], say);
        for lb in nginx {
            run_there(transport, lb, &[BINARY, "restart", "--put-back"], say)?;
        }
        restarted?;
        say(
            &app.name,
            &format!("back in rotation ({}/{})", n + 1, apps.len()),
        );
    }
    Ok(())
}
