//! `template:` (Tera) and `file:` steps: content, mode and owner compared with the live
//! file; writes are atomic (a temporary file in the same directory, then rename); diffs
//! are unified and masked.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::account::lookup_id;
use super::{Ctx, Plan, StepError};
use crate::playbook::model::{FileState, FileStep, TemplateStep};

fn parse_mode(m: &str) -> Result<u32, StepError> {
    u32::from_str_radix(m.trim_start_matches("0o"), 8)
        .map_err(|_| StepError::Other(format!("mode {m:?} is not octal (like \"0640\")")))
}

/// (uid, gid) for `user[:group]`; the group defaults to the user's own.
fn parse_owner(o: &str) -> Result<(u32, Option<u32>), StepError> {
    let (user, group) = match o.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (o, None),
    };
    let uid = lookup_id("/etc/passwd", user)
        .ok_or_else(|| StepError::Other(format!("no user {user:?}")))?;
    let gid = match group {
        Some(g) => Some(
            lookup_id("/etc/group", g)
                .ok_or_else(|| StepError::Other(format!("no group {g:?}")))?,
        ),
        None => lookup_id("/etc/group", user),
    };
    Ok((uid, gid))
}

fn render(text: &str, ctx: &Ctx<'_>, what: &str) -> Result<String, StepError> {
    crate::render::render_text(text, ctx.vars, what).map_err(|e| StepError::Other(e.to_string()))
}

/// What differs between the wanted file and the live one; None when it matches.
fn compare(
    path: &Path,
    want: Option<&str>,
    mode: Option<&str>,
    owner: Option<&str>,
    ctx: &Ctx<'_>,
) -> Result<Option<(bool, String)>, StepError> {
    let meta = std::fs::metadata(path).ok();
    let mut notes = Vec::new();
    let current = meta
        .as_ref()
        .and_then(|_| std::fs::read_to_string(path).ok());
    let create = meta.is_none();
    if let Some(want) = want {
        if current.as_deref() != Some(want) {
            let mut d = format!("write {}", path.display());
            if ctx.diff {
                let old = current.as_deref().unwrap_or("");
                let diff = similar::TextDiff::from_lines(old, want)
                    .unified_diff()
                    .header(
                        &format!("{} (live)", path.display()),
                        &format!("{} (wanted)", path.display()),
                    )
                    .to_string();
                d.push('\n');
                d.push_str(&ctx.mask(&diff));
            }
            notes.push(d);
        }
    }
    if let (Some(m), Some(meta)) = (mode, &meta) {
        let want = parse_mode(m)?;
        if meta.permissions().mode() & 0o7777 != want {
            notes.push(format!(
                "mode {:o} → {want:o}",
                meta.permissions().mode() & 0o7777
            ));
        }
    }
    if let (Some(o), Some(meta)) = (owner, &meta) {
        match parse_owner(o) {
            Ok((uid, gid)) => {
                if meta.uid() != uid || gid.is_some_and(|g| meta.gid() != g) {
                    notes.push(format!("owner {}:{} → {o}", meta.uid(), meta.gid()));
                }
            }
            // In check mode the user may be one an earlier step would create; applying
            // still fails if it does not exist by then.
            Err(_) => notes.push(format!(
                "owner {}:{} → {o} (not a user or group yet)",
                meta.uid(),
                meta.gid()
            )),
        }
    }
    Ok((!notes.is_empty() || create).then(|| (create, notes.join("; "))))
}

fn set_mode_owner(path: &Path, mode: Option<&str>, owner: Option<&str>) -> Result<(), StepError> {
    let err = |e: std::io::Error| StepError::Other(format!("{}: {e}", path.display()));
    if let Some(m) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(parse_mode(m)?))
            .map_err(err)?;
    }
    if let Some(o) = owner {
        let (uid, gid) = parse_owner(o)?;
        std::os::unix::fs::chown(path, Some(uid), gid).map_err(err)?;
    }
    Ok(())
}

/// Writes `content` atomically, with mode and owner set before it becomes visible.
fn write_atomic(
    path: &Path,
    content: &str,
    mode: Option<&str>,
    owner: Option<&str>,
) -> Result<(), StepError> {
    let owner = owner.map(parse_owner).transpose()?;
    crate::host::fs::write_atomic(
        path,
        content.as_bytes(),
        parse_mode(mode.unwrap_or("0644"))?,
        owner,
    )
    .map_err(|e| StepError::Other(format!("{}: {e}", path.display())))
}

fn plan_of(found: Option<(bool, String)>) -> Plan {
    match found {
        None => Plan::Matched,
        Some((true, what)) => Plan::Create(what),
        Some((false, what)) => Plan::Modify(what),
    }
}

/// The template's text: `src` beside the playbook, else the one shipped in the binary.
fn template_text(t: &TemplateStep, ctx: &Ctx<'_>) -> Result<String, StepError> {
    let templates = crate::render::Templates::new(ctx.dir);
    let text = templates
        .source(&t.src)
        .map_err(|e| StepError::Other(e.to_string()))?;
    render(&text, ctx, &t.src)
}

pub fn query_template(t: &TemplateStep, ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let want = template_text(t, ctx)?;
    Ok(plan_of(compare(
        &t.dest,
        Some(&want),
        t.mode.as_deref(),
        t.owner.as_deref(),
        ctx,
    )?))
}

pub fn apply_template(t: &TemplateStep, ctx: &Ctx<'_>) -> Result<(), StepError> {
    let want = template_text(t, ctx)?;
    let before = std::fs::read(&t.dest).ok();
    write_atomic(&t.dest, &want, t.mode.as_deref(), t.owner.as_deref())?;
    let Some(argv) = t.validate.as_ref().filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let check = crate::host::exec::Cmd::new(&argv[0], &args)
        .run_checked(true)
        .map_err(|e| StepError::Other(e.to_string()))?;
    if check.code == Some(0) {
        return Ok(());
    }
    let restored = match before {
        Some(old) => std::fs::write(&t.dest, old).map(|_| "the previous file was put back"),
        None => std::fs::remove_file(&t.dest).map(|_| "the new file was removed"),
    }
    .unwrap_or("and putting the previous file back failed too");
    Err(StepError::Other(ctx.mask(&format!(
        "{} refused the new {} (exit {:?}): {}; {restored}",
        argv.join(" "),
        t.dest.display(),
        check.code,
        check.stderr.trim()
    ))))
}

pub fn query_file(f: &FileStep, ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    match f.state {
        FileState::Absent => Ok(if f.path.exists() {
            Plan::Modify(format!("remove {}", f.path.display()))
        } else {
            Plan::Matched
        }),
        FileState::Directory => {
            if f.path.exists() && !f.path.is_dir() {
                return Err(StepError::Other(format!(
                    "{} exists and is not a directory",
                    f.path.display()
                )));
            }
            Ok(plan_of(
                compare(&f.path, None, f.mode.as_deref(), f.owner.as_deref(), ctx)?.map(
                    |(c, w)| {
                        (
                            c,
                            if c {
                                format!("create directory {}", f.path.display())
                            } else {
                                w
                            },
                        )
                    },
                ),
            ))
        }
        FileState::File => {
            let want = f
                .content
                .as_deref()
                .map(|c| render(c, ctx, &f.path.display().to_string()))
                .transpose()?;
            Ok(plan_of(compare(
                &f.path,
                want.as_deref(),
                f.mode.as_deref(),
                f.owner.as_deref(),
                ctx,
            )?))
        }
    }
}

pub fn apply_file(f: &FileStep, ctx: &Ctx<'_>) -> Result<(), StepError> {
    let err = |e: std::io::Error| StepError::Other(format!("{}: {e}", f.path.display()));
    match f.state {
        FileState::Absent => {
            if f.path.is_dir() {
                std::fs::remove_dir_all(&f.path).map_err(err)
            } else {
                std::fs::remove_file(&f.path).map_err(err)
            }
        }
        FileState::Directory => {
            std::fs::create_dir_all(&f.path).map_err(err)?;
            set_mode_owner(&f.path, f.mode.as_deref(), f.owner.as_deref())
        }
        FileState::File => {
            let want = match &f.content {
                Some(c) => render(c, ctx, &f.path.display().to_string())?,
                None => std::fs::read_to_string(&f.path).unwrap_or_default(),
            };
            write_atomic(&f.path, &want, f.mode.as_deref(), f.owner.as_deref())
        }
    }
}
