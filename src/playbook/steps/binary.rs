//! `binary: {src, dest, mode}`: installs a program file (`src: self` is the running
//! provision binary), replacing it atomically when its content differs.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Ctx, Plan, StepError};
use crate::playbook::model::BinaryStep;

fn source(b: &BinaryStep, ctx: &Ctx<'_>) -> Result<PathBuf, StepError> {
    if b.src == "self" {
        return crate::host::fs::own_binary()
            .map_err(|e| StepError::Other(format!("locating this program: {e}")));
    }
    let p = Path::new(&b.src);
    match ctx.dir {
        _ if p.is_absolute() => Ok(p.to_path_buf()),
        Some(dir) => Ok(dir.join(p)),
        None => Err(StepError::Other(format!(
            "{}: a relative source needs a playbook directory; give an absolute path",
            b.src
        ))),
    }
}

fn digest(p: &Path) -> Option<String> {
    std::fs::read(p)
        .ok()
        .map(|b| hex::encode(Sha256::digest(b)))
}

pub fn query(b: &BinaryStep, ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let src = source(b, ctx)?;
    let want = digest(&src)
        .ok_or_else(|| StepError::Other(format!("{}: cannot read it", src.display())))?;
    Ok(match digest(&b.dest) {
        None => Plan::Create(format!("install {} as {}", src.display(), b.dest.display())),
        Some(have) if have != want => Plan::Modify(format!(
            "replace {} (sha256 {} → {})",
            b.dest.display(),
            &have[..12],
            &want[..12]
        )),
        Some(_) => Plan::Matched,
    })
}

pub fn apply(b: &BinaryStep, ctx: &Ctx<'_>) -> Result<(), StepError> {
    use std::os::unix::fs::PermissionsExt;
    let src = source(b, ctx)?;
    let err = |e: std::io::Error| StepError::Other(format!("{}: {e}", b.dest.display()));
    let dir = b.dest.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    std::fs::copy(&src, tmp.path()).map_err(err)?;
    let mode = u32::from_str_radix(
        b.mode.as_deref().unwrap_or("0755").trim_start_matches("0o"),
        8,
    )
    .map_err(|_| StepError::Other(format!("mode {:?} is not octal", b.mode)))?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode)).map_err(err)?;
    tmp.persist(&b.dest).map_err(|e| err(e.error))?;
    Ok(())
}
