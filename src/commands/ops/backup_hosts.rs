//! `provision backup --inventory …`: the backup taken on the inventory's postgres host
//! (its own `provision backup`, over ssh), and with `--fetch DIR` copied here with its
//! manifest and checksum, the copy checked against that checksum.

use std::path::{Path, PathBuf};

use super::{fail, CommandError, ExitStatus};
use crate::cli::{BackupArgs, GlobalArgs};
use crate::init::vars::BINARY;
use crate::inventory::Inventory;
use crate::ops::backup::{checksum, sidecar};
use crate::remote::{Input, RemoteError, Transport};

pub fn backup(
    global: &GlobalArgs,
    args: &BackupArgs,
    inv: &Inventory,
) -> Result<ExitStatus, CommandError> {
    let db = inv.postgres_host();
    let transport = Transport::new(&args.hosts.state_dir.join("ssh"), false)?;
    let mut remote = vec![BINARY.to_string(), "--json".into(), "backup".into()];
    if let Some(d) = &args.dir {
        remote.push(format!("--dir={}", d.display()));
    }
    if args.from_replica {
        remote.push("--from-replica".into());
    }
    let words: Vec<&str> = remote.iter().map(String::as_str).collect();
    let taken = transport.run(db, &words, Input::Nothing);
    let result = taken.and_then(|out| {
        let made: serde_json::Value = crate::remote::report(db, &words, &out)?;
        let file = made["file"].as_str().unwrap_or_default().to_string();
        let fetched = match &args.fetch {
            Some(dir) => Some(fetch(&transport, db, &file, dir)?),
            None => None,
        };
        Ok((made, file, fetched))
    });
    transport.close(db);
    let (made, file, fetched) =
        result.map_err(|e| fail(ExitStatus::Failure, crate::causes::line(&e)))?;
    let report = serde_json::json!({"host": db.name, "backup": made, "fetched": fetched});
    crate::commands::output(global, &report, || {
        let m = &made["manifest"];
        println!(
            "{}: backed up {} to {file} ({} bytes, sha256 {})",
            db.name, m["database"], m["bytes"], m["sha256"]
        );
        if let Some(local) = &fetched {
            println!("fetched to {} (checksum ok)", local.display());
        }
    });
    Ok(ExitStatus::Success)
}

/// The dump and its two sidecars copied into `dir` (made 0700 if new), the copy checked.
fn fetch(
    transport: &Transport,
    db: &crate::inventory::Host,
    file: &str,
    dir: &Path,
) -> Result<PathBuf, RemoteError> {
    crate::host::fs::private_dir(dir).map_err(|source| RemoteError::Local {
        path: dir.to_path_buf(),
        source,
    })?;
    let remote = Path::new(file);
    let name = remote.file_name().unwrap_or_default();
    let local = dir.join(name);
    for ext in ["json", "sha256"] {
        let from = sidecar(remote, ext);
        transport.fetch(db, &from.display().to_string(), &sidecar(&local, ext))?;
    }
    transport.fetch(db, file, &local)?;
    checksum(&local).map_err(|e| RemoteError::Local {
        path: local.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(local)
}
