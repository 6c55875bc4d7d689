//! `provision backup [--list | --scheduled]` (the backup across the inventory's hosts:
//! `backup_hosts`; the restore drill, `--verify-restore`: `backup_drill`).

use std::path::Path;

use super::{fail, load_stack, runtime, CommandError, ExitStatus};
use crate::cli::{BackupArgs, GlobalArgs};
use crate::ops::backup::{self, Backup};
use crate::ops::backup_record::{self, Outcome};
use crate::ops::backup_retention::{self, SCHEDULED};

pub fn backup(global: &GlobalArgs, args: BackupArgs) -> Result<ExitStatus, CommandError> {
    if let Some(file) = &args.verify_restore {
        return super::backup_drill::verify_restore(global, &args, file.as_deref());
    }
    if !args.list && !args.scheduled {
        if let Some(inv) =
            crate::commands::hosts::several_hosts(global, args.hosts.inventory.as_deref())?
        {
            return super::backup_hosts::backup(global, &args, &inv);
        }
    }
    if args.fetch.is_some() {
        return Err(fail(
            ExitStatus::Usage,
            "--fetch copies a backup from the postgres host of an inventory: give --inventory",
        ));
    }
    let stack = load_stack(global)?;
    let dir = backup::directory(args.dir.as_deref());
    if args.list {
        list(&dir);
        return Ok(ExitStatus::Success);
    }
    let url = stack.database_url().ok_or_else(|| {
        fail(
            ExitStatus::Usage,
            "the config file has no database.url (run `provision init`)",
        )
    })?;
    let reason = if args.scheduled { SCHEDULED } else { "manual" };
    let rt = runtime()?;
    let source = if args.from_replica {
        let chosen = rt.block_on(crate::ops::backup_source::replica(
            &stack.replica_urls,
            stack.max_replica_lag,
        ));
        match chosen {
            Ok(c) => {
                if !global.quiet && !global.json {
                    println!(
                        "from the replica {} ({} ms behind the primary)",
                        crate::settings::redact_url(c.url.expose()),
                        c.lag.as_millis()
                    );
                }
                Some(c.url)
            }
            Err(e) => {
                if args.scheduled {
                    let mut o = Outcome::now(false, reason);
                    o.error = Some(e.to_string());
                    backup_record::record(&stack, o);
                }
                return Err(fail(ExitStatus::Failure, e));
            }
        }
    } else {
        None
    };
    let taken = rt.block_on(backup::backup(source.as_ref().unwrap_or(url), &dir, reason));
    let policy = stack.backups.clone();
    let (outcome, result) = match taken {
        Ok(b) => {
            let pruned = if args.scheduled {
                backup_retention::prune(&dir, &b.manifest.database, &policy)
            } else {
                Ok(Vec::new())
            };
            (succeeded(&b, reason, &pruned), Ok((b, pruned)))
        }
        Err(e) => {
            let mut o = Outcome::now(false, reason);
            o.error = Some(e.to_string());
            (o, Err(e))
        }
    };
    // A manual backup's failure is shown right here; status and the alerts follow the
    // schedule's (and any good backup, which clears a failed one).
    if args.scheduled || outcome.ok {
        backup_record::record(&stack, outcome);
    }
    let (b, pruned) = result.map_err(|e| fail(ExitStatus::Failure, e))?;
    let pruned = pruned.map_err(|e| {
        fail(
            ExitStatus::Failure,
            format!("the backup {} was taken, but {e}", b.file.display()),
        )
    })?;
    crate::commands::output(global, &b, || {
        println!(
            "backed up {} to {} ({} bytes, {} tables, {} rows) in {:.1} s\nsha256 {}",
            b.manifest.database,
            b.file.display(),
            b.manifest.bytes,
            b.manifest.tables.len(),
            b.manifest.tables.values().sum::<i64>(),
            b.seconds,
            b.manifest.sha256
        );
        if args.scheduled {
            println!(
                "pruned {} scheduled backup(s) (keeping the newest of each of {} days and {} weeks){}",
                pruned.len(),
                policy.keep_daily,
                policy.keep_weekly,
                pruned
                    .iter()
                    .map(|p| format!("\n  {}", p.display()))
                    .collect::<String>()
            );
        }
    });
    Ok(ExitStatus::Success)
}

fn succeeded(
    b: &Backup,
    reason: &str,
    pruned: &Result<Vec<std::path::PathBuf>, String>,
) -> Outcome {
    let mut o = Outcome::now(true, reason);
    o.file = Some(b.file.display().to_string());
    o.bytes = b.manifest.bytes;
    match pruned {
        Ok(p) => o.pruned = p.iter().map(|p| p.display().to_string()).collect(),
        // The backup stands; the pruning's failure is shown (and recorded) all the same.
        Err(e) => o.error = Some(e.clone()),
    }
    o
}

fn list(dir: &Path) {
    let all = backup::list(dir);
    if all.is_empty() {
        println!("no backups in {}", dir.display());
    }
    for (file, m, ok) in all {
        let rows: i64 = m.as_ref().map_or(0, |m| m.tables.values().sum());
        println!(
            "{}  {}  {} rows  {}",
            file.display(),
            m.as_ref().map_or("?".to_string(), |m| format!(
                "{} bytes, {}",
                m.bytes, m.reason
            )),
            rows,
            if ok {
                "checksum ok"
            } else {
                "CHECKSUM MISSING OR WRONG"
            }
        );
    }
}
