//! `provision restore FILE --inventory …`: a restore across the inventory's hosts, each
//! phase where it belongs. The backup (on the postgres host, or copied there first with
//! `--push`) is checked and loaded beside the live database there; only then are the
//! instances stopped on every app host (no one may be connected during the swap), the
//! loaded copy swapped in, the shared cache invalidated from one app host, and every app
//! host's instances started and waited for. A phase that fails before the swap leaves the
//! live database as it was: the instances are started again and the loaded copy dropped.

use std::path::Path;
use std::time::Instant;

use super::{fail, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, RestoreArgs};
use crate::deploy::{REMOTE_BINARY, REMOTE_DATA_DIR};
use crate::inventory::{Host, Inventory, Role};
use crate::ops::backup::sidecar;
use crate::remote::{self, Input, RemoteError, Transport};

pub fn restore(
    global: &GlobalArgs,
    args: &RestoreArgs,
    inv: &Inventory,
) -> Result<ExitStatus, CommandError> {
    let file = args.file.as_deref().expect("clap requires FILE");
    if args.push && !file.is_file() {
        return Err(fail(
            ExitStatus::Usage,
            format!("{}: no such file on this machine (--push)", file.display()),
        ));
    }
    let db = inv.postgres_host();
    let apps: Vec<&Host> = inv.with(Role::App).collect();
    let transport = Transport::new(&args.hosts.state_dir.join("ssh"), false)?;
    let me = crate::commands::own_binary()?;
    let quiet = global.quiet;
    let say = |host: &str, line: &str| {
        if !quiet {
            println!("{host}  {line}");
        }
    };
    let started = Instant::now();
    let across = Across {
        transport: &transport,
        db,
        apps: &apps,
        say: &say,
    };
    let result = across.restore(&me, file, args);
    for h in &inv.hosts {
        transport.close(h);
    }
    let done = result.map_err(|e| fail(ExitStatus::Failure, e))?;
    let report = serde_json::json!({
        "host": db.name,
        "file": done.file,
        "staged": done.staged,
        "kept_as": done.kept_as,
        "seconds": started.elapsed().as_secs_f64(),
    });
    crate::commands::output(global, &report, || {
        println!(
            "restored from {} on {} ({} tables, {} rows) in {:.1} s; the database it replaced \
             is kept there as {} (DROP DATABASE it when no longer needed)",
            done.file,
            db.name,
            done.staged["tables"],
            done.staged["rows"],
            started.elapsed().as_secs_f64(),
            done.kept_as
        );
    });
    Ok(ExitStatus::Success)
}

struct Across<'a> {
    transport: &'a Transport,
    db: &'a Host,
    apps: &'a [&'a Host],
    say: &'a (dyn Fn(&str, &str) + Sync),
}

struct Done {
    file: String,
    staged: serde_json::Value,
    kept_as: String,
}

impl Across<'_> {
    fn restore(&self, me: &Path, file: &Path, args: &RestoreArgs) -> Result<Done, String> {
        let line = |e: RemoteError| crate::causes::line(&e);
        let mut hosts = vec![self.db];
        hosts.extend(self.apps.iter().filter(|a| a.name != self.db.name));
        for r in remote::each(&hosts, hosts.len(), |h| {
            remote::push(self.transport, h, me, REMOTE_BINARY)
        }) {
            r.map_err(line)?;
        }
        let there = if args.push {
            self.push_backup(file).map_err(line)?
        } else {
            file.display().to_string()
        };
        let mut stage = vec!["stage", there.as_str()];
        if args.no_checksum {
            stage.push("--no-checksum");
        }
        let staged = self.phase(self.db, &stage).map_err(line)?;
        let staging = staged["staging"].as_str().unwrap_or_default().to_string();
        (self.say)(
            &self.db.name,
            &format!(
                "loaded into {staging}: {} tables, {} rows, matching the backup",
                staged["tables"], staged["rows"]
            ),
        );
        if let Err(e) = self.on_apps("stop-instances", "instances stopped") {
            return Err(self.undo(&staging, "stopping the instances", &line(e)));
        }
        let kept_as = match self.phase(self.db, &["swap", "--staging", &staging]) {
            Ok(v) => v["kept_as"].as_str().unwrap_or_default().to_string(),
            Err(e) => return Err(self.undo(&staging, "the swap", &line(e))),
        };
        (self.say)(
            &self.db.name,
            &format!("swapped in; the database it replaced is kept as {kept_as}"),
        );
        let first = self.apps[0];
        match self.phase(first, &["invalidate-cache"]) {
            Ok(_) => (self.say)(&first.name, "cache invalidated"),
            Err(e) => (self.say)(
                &first.name,
                &format!(
                    "the cache could not be invalidated ({}); its entries expire with their TTL",
                    line(e)
                ),
            ),
        }
        self.on_apps("start-instances", "instances started and ready")
            .map_err(|e| format!("restored, but {}", line(e)))?;
        Ok(Done {
            file: there,
            staged,
            kept_as,
        })
    }

    /// `provision restore --phase ARGS` on `host`; its JSON answer.
    fn phase(&self, host: &Host, args: &[&str]) -> Result<serde_json::Value, RemoteError> {
        let mut argv = vec![REMOTE_BINARY, "restore", "--phase"];
        argv.extend_from_slice(args);
        let out = self.transport.run(host, &argv, Input::Nothing)?;
        let last = out.stdout.lines().last().unwrap_or_default();
        Ok(serde_json::from_str(last).unwrap_or(serde_json::Value::Null))
    }

    /// One phase on every app host at once; the first error, after all have answered.
    fn on_apps(&self, phase: &str, said: &str) -> Result<(), RemoteError> {
        let done = remote::each(self.apps, self.apps.len(), |h| {
            let r = self.phase(h, &[phase]);
            if r.is_ok() {
                (self.say)(&h.name, said);
            }
            r
        });
        done.into_iter()
            .find(Result::is_err)
            .unwrap_or(Ok(serde_json::Value::Null))?;
        Ok(())
    }

    /// Before the swap, a phase failed: the instances started again, the loaded copy
    /// dropped; what to say.
    fn undo(&self, staging: &str, what: &str, why: &str) -> String {
        let started = self.on_apps("start-instances", "instances started again");
        let dropped = self.phase(self.db, &["discard", "--staging", staging]);
        let mut said = format!("{what} failed: {why}; the live database was not touched");
        match started {
            Ok(()) => said.push_str(", the instances run again"),
            Err(e) => said.push_str(&format!(
                ", and the instances could not all be started again ({}): run `provision \
                 restart --inventory …`",
                crate::causes::line(&e)
            )),
        }
        match dropped {
            Ok(_) => said.push_str(&format!(", the loaded copy {staging} was dropped")),
            Err(_) => said.push_str(&format!(
                "; drop the loaded copy {staging} on {} (DROP DATABASE)",
                self.db.name
            )),
        }
        said
    }

    /// The backup and its manifest and checksum copied into the postgres host's data
    /// directory (checked there on arrival); the path there.
    fn push_backup(&self, file: &Path) -> Result<String, RemoteError> {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let there = format!("{REMOTE_DATA_DIR}/{name}");
        for ext in ["json", "sha256"] {
            let local = sidecar(file, ext);
            if local.is_file() {
                let remote = sidecar(Path::new(&there), ext);
                remote::copy(
                    self.transport,
                    self.db,
                    &local,
                    &remote.display().to_string(),
                    "600",
                )?;
            }
        }
        remote::copy(self.transport, self.db, file, &there, "600")?;
        (self.say)(&self.db.name, &format!("backup copied to {there}"));
        Ok(there)
    }
}
