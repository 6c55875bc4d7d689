//! `provision backup --verify-restore [FILE]`: the restore drill (`ops::restore_drill`)
//! on this host, or across the inventory's hosts on its postgres host (its own provision,
//! over ssh). Exit 0 when the restored copy matches its manifest, 3 when it does not (the
//! backup is not one to rely on), 1 when the drill itself could not run.

use std::path::Path;

use super::{fail, load_stack, runtime, CommandError, ExitStatus};
use crate::cli::{BackupArgs, GlobalArgs};
use crate::init::vars::BINARY;
use crate::inventory::Inventory;
use crate::ops::backup::BackupError;
use crate::ops::backup_record::Outcome;
use crate::ops::restore_drill::{self, REASON};
use crate::remote::{Input, Transport};

pub fn verify_restore(
    global: &GlobalArgs,
    args: &BackupArgs,
    file: Option<&Path>,
) -> Result<ExitStatus, CommandError> {
    if let Some(inv) =
        crate::commands::hosts::several_hosts(global, args.hosts.inventory.as_deref())?
    {
        return across_hosts(global, args, file, &inv);
    }
    let stack = load_stack(global)?;
    let dir = crate::ops::backup::directory(args.dir.as_deref());
    let picked = restore_drill::pick(&dir, file);
    let ran = match &picked {
        Ok(f) => runtime()?.block_on(restore_drill::drill(&stack, &dir, f)),
        Err(e) => Err(BackupError::Failed(e.to_string())),
    };
    let mut o = Outcome::now(ran.is_ok(), REASON);
    o.file = picked.as_ref().ok().map(|f| f.display().to_string());
    o.error = ran.as_ref().err().map(ToString::to_string);
    crate::ops::backup_record::record(&stack, o);
    let d = ran.map_err(|e| match e {
        BackupError::Corrupt { .. } => fail(ExitStatus::Code(3), e),
        BackupError::Missing { .. } => fail(ExitStatus::Usage, e),
        e => fail(ExitStatus::Failure, e),
    })?;
    crate::commands::output(global, &d, || {
        println!(
            "restore drill: {} restored into {} ({} tables, {} rows), rows{} match its manifest; {} dropped ({:.1} s)",
            d.file.display(),
            d.scratch,
            d.tables,
            d.rows,
            if d.digests_compared > 0 {
                format!(" and content digests of {} tables", d.digests_compared)
            } else {
                " (its manifest predates content digests)".to_string()
            },
            d.scratch,
            d.seconds
        );
    });
    Ok(ExitStatus::Success)
}

/// The drill on the inventory's postgres host, its report shown here.
fn across_hosts(
    global: &GlobalArgs,
    args: &BackupArgs,
    file: Option<&Path>,
    inv: &Inventory,
) -> Result<ExitStatus, CommandError> {
    let db = inv.postgres_host();
    let transport = Transport::new(&args.hosts.state_dir.join("ssh"), false)?;
    let mut remote = vec![BINARY.to_string(), "--json".into(), "backup".into()];
    if let Some(d) = &args.dir {
        remote.push(format!("--dir={}", d.display()));
    }
    remote.push(match file {
        Some(f) => format!("--verify-restore={}", f.display()),
        None => "--verify-restore".into(),
    });
    let words: Vec<&str> = remote.iter().map(String::as_str).collect();
    let ran = transport.run(db, &words, Input::Nothing);
    transport.close(db);
    let out = ran.map_err(|e| fail(ExitStatus::Failure, crate::causes::line(&e)))?;
    let code = out.code.unwrap_or(1);
    let report: serde_json::Value = match crate::remote::report(db, &words, &out) {
        Ok(r) => r,
        Err(e) => {
            let status = if code == 3 {
                ExitStatus::Code(3)
            } else {
                ExitStatus::Failure
            };
            return Err(fail(status, crate::causes::line(&e)));
        }
    };
    crate::commands::output(
        global,
        &serde_json::json!({"host": db.name, "drill": report}),
        || {
            println!(
            "{}: restore drill of {}: {} tables, {} rows match its manifest ({} content digests); scratch database dropped",
            db.name, report["file"], report["tables"], report["rows"], report["digests_compared"]
        );
        },
    );
    Ok(ExitStatus::Success)
}
