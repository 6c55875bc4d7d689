//! `provision backup [--list]` (the backup across the inventory's hosts:
//! `backup_hosts`).

use super::{fail, load_stack, runtime, CommandError, ExitStatus};
use crate::cli::{BackupArgs, GlobalArgs};
use crate::ops::backup;

pub fn backup(global: &GlobalArgs, args: BackupArgs) -> Result<ExitStatus, CommandError> {
    if !args.list {
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
        let all = backup::list(&dir);
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
        return Ok(ExitStatus::Success);
    }
    let url = stack.database_url().ok_or_else(|| {
        fail(
            ExitStatus::Usage,
            "the config file has no database.url (run `provision init`)",
        )
    })?;
    let b = runtime()?
        .block_on(backup::backup(url, &dir, "manual"))
        .map_err(|e| fail(ExitStatus::Failure, e))?;
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
    });
    Ok(ExitStatus::Success)
}
