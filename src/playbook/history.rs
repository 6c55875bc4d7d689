//! The previous version of every file a run writes. Before a step replaces or removes a
//! file, the file as it was (or the fact that it did not exist) is copied into the run's
//! *generation* under `STATE/history/<id>/`, with its mode, owner and the handlers the step
//! notifies (their definitions, so a rollback can run them without the playbook). The
//! newest generation not yet rolled back is what `provision rollback` puts back; a rollback
//! is a generation of its own. The oldest generation's copies are the host as it was
//! before provision first touched it, which is what `provision uninstall` puts back.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::model::Handler;

/// How many generations are kept (older ones are removed; the first is always kept).
const KEEP: usize = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub path: PathBuf,
    /// The copy of the previous file in the generation's directory; None when there was none.
    pub previous: Option<String>,
    /// Where the previous path pointed, when it was a symbolic link (nginx's enabled sites).
    #[serde(default)]
    pub link: Option<PathBuf>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Handlers the writing step notified.
    pub notify: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub started: String,
    /// What made it: `init`, `play NAME`, `rollback of ID`.
    pub command: String,
    pub files: Vec<Entry>,
    /// The definitions of the notified handlers, in the playbook's order.
    #[serde(default)]
    pub handlers: Vec<Handler>,
    /// Set when a rollback put this generation's previous files back.
    #[serde(default)]
    pub rolled_back: Option<String>,
    /// Set on a rollback's own generation: the one it rolled back.
    #[serde(default)]
    pub rollback_of: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("keeping the previous {}: {message}", .path.display())]
pub struct HistoryError {
    pub path: PathBuf,
    pub message: String,
}

fn err(path: &Path) -> impl FnOnce(std::io::Error) -> HistoryError + '_ {
    move |e| HistoryError {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The generation of one run; its directory is made at the first file recorded.
pub struct Generation {
    dir: PathBuf,
    manifest: Mutex<Manifest>,
}

impl std::fmt::Debug for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Generation({})", self.dir.display())
    }
}

pub fn history_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("history")
}

impl Generation {
    pub fn begin(state_dir: &Path, command: &str) -> Generation {
        let now = chrono::Utc::now();
        let id = format!(
            "{}-{}",
            now.format("%Y%m%dT%H%M%S%.3fZ"),
            std::process::id()
        );
        Generation {
            dir: history_dir(state_dir).join(&id),
            manifest: Mutex::new(Manifest {
                id,
                started: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                command: command.into(),
                files: Vec::new(),
                handlers: Vec::new(),
                rolled_back: None,
                rollback_of: None,
            }),
        }
    }

    pub fn id(&self) -> String {
        self.manifest.lock().expect("not poisoned").id.clone()
    }

    /// Keeps `path` as it is now, before it is written or removed (once per generation:
    /// the first version is the previous one).
    pub fn record(&self, path: &Path, notify: &[String]) -> Result<(), HistoryError> {
        let mut m = self.manifest.lock().expect("not poisoned");
        if let Some(e) = m.files.iter_mut().find(|e| e.path == path) {
            for n in notify {
                if !e.notify.contains(n) {
                    e.notify.push(n.clone());
                }
            }
            return Ok(());
        }
        if path.is_dir() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(err(&self.dir))?;
        let link = std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.file_type().is_symlink())
            .and_then(|_| std::fs::read_link(path).ok());
        let meta = std::fs::symlink_metadata(path).ok().filter(|m| m.is_file());
        let previous = match &meta {
            Some(_) => {
                let name = format!("{}", m.files.len());
                std::fs::copy(path, self.dir.join(&name)).map_err(err(path))?;
                let _ = std::fs::set_permissions(
                    self.dir.join(&name),
                    std::fs::Permissions::from_mode(0o600),
                );
                Some(name)
            }
            None => None,
        };
        m.files.push(Entry {
            path: path.to_path_buf(),
            previous,
            link,
            mode: meta.as_ref().map(|m| m.permissions().mode() & 0o7777),
            uid: meta.as_ref().map(|m| m.uid()),
            gid: meta.as_ref().map(|m| m.gid()),
            notify: notify.to_vec(),
        });
        save(&self.dir, &m)
    }

    /// The handlers' definitions, from which the notified ones are kept.
    pub fn handlers(&self, all: &[Handler]) -> Result<(), HistoryError> {
        let mut m = self.manifest.lock().expect("not poisoned");
        let notified: Vec<&String> = m.files.iter().flat_map(|e| &e.notify).collect();
        let keep: Vec<Handler> = all
            .iter()
            .filter(|h| notified.contains(&&h.name) && !m.handlers.iter().any(|k| k.name == h.name))
            .cloned()
            .collect();
        if keep.is_empty() {
            return Ok(());
        }
        m.handlers.extend(keep);
        save(&self.dir, &m)
    }

    pub fn mark_rollback_of(&self, id: &str) {
        self.manifest.lock().expect("not poisoned").rollback_of = Some(id.into());
    }

    /// Saves the manifest (when anything was recorded) and removes old generations.
    pub fn finish(&self) -> Result<(), HistoryError> {
        let m = self.manifest.lock().expect("not poisoned");
        if m.files.is_empty() {
            return Ok(());
        }
        save(&self.dir, &m)?;
        prune(self.dir.parent().expect("a generation has a parent"));
        Ok(())
    }
}

fn save(dir: &Path, m: &Manifest) -> Result<(), HistoryError> {
    if m.files.is_empty() {
        return Ok(());
    }
    let path = dir.join("manifest.json");
    let tmp = dir.join("manifest.json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(m).expect("a manifest serializes"),
    )
    .map_err(err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(err(&path))
}

/// Every generation with a manifest, oldest first.
pub fn list(state_dir: &Path) -> Vec<(PathBuf, Manifest)> {
    let mut out: Vec<(PathBuf, Manifest)> = std::fs::read_dir(history_dir(state_dir))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let text = std::fs::read_to_string(e.path().join("manifest.json")).ok()?;
                    Some((e.path(), serde_json::from_str(&text).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    out
}

/// Marks the generation in `dir` as rolled back (by the rollback generation `by`).
pub fn mark_rolled_back(dir: &Path, by: &str) -> Result<(), HistoryError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(err(&path))?;
    let mut m: Manifest = serde_json::from_str(&text).map_err(|e| HistoryError {
        path: path.clone(),
        message: e.to_string(),
    })?;
    m.rolled_back = Some(by.into());
    save(dir, &m)
}

/// Puts an entry's previous version back: the copy with its mode and owner, the link as
/// it pointed, or — when there was none — removes the file.
pub fn put_back(dir: &Path, e: &Entry) -> Result<(), HistoryError> {
    if let Some(target) = &e.link {
        let _ = std::fs::remove_file(&e.path);
        return std::os::unix::fs::symlink(target, &e.path).map_err(err(&e.path));
    }
    match &e.previous {
        // A copy is a plain name inside the generation's own directory.
        Some(copy) if copy.is_empty() || copy.contains('/') || copy.starts_with('.') => {
            Err(HistoryError {
                path: dir.join("manifest.json"),
                message: format!("the copy of {} is named {copy:?}, which is not a file of this generation; not put back", e.path.display()),
            })
        }
        Some(copy) => {
            let bytes = std::fs::read(dir.join(copy)).map_err(err(&dir.join(copy)))?;
            crate::host::fs::write_atomic(
                &e.path,
                &bytes,
                e.mode.unwrap_or(0o644),
                e.uid.map(|u| (u, e.gid)),
            )
            .map_err(err(&e.path))
        }
        None => match std::fs::remove_file(&e.path) {
            Err(x) if x.kind() != std::io::ErrorKind::NotFound => Err(err(&e.path)(x)),
            _ => Ok(()),
        },
    }
}

/// Removes the oldest generations beyond [`KEEP`], always keeping the first (the host as
/// it was before provision).
fn prune(history: &Path) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(history)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    if dirs.len() <= KEEP {
        return;
    }
    let excess = dirs.len() - KEEP;
    for d in dirs.iter().skip(1).take(excess) {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_versions_are_kept_and_put_back() {
        let state = tempfile::tempdir().unwrap();
        let etc = tempfile::tempdir().unwrap();
        let old = etc.path().join("site");
        let new = etc.path().join("new.conf");
        crate::host::fs::write_atomic(&old, b"version 1", 0o640, None).unwrap();
        let g = Generation::begin(state.path(), "init");
        g.record(&old, &["reload nginx".into()]).unwrap();
        g.record(&new, &[]).unwrap();
        g.record(&old, &["restart x".into()]).unwrap();
        g.finish().unwrap();
        std::fs::write(&old, "version 2").unwrap();
        std::fs::write(&new, "created").unwrap();
        let gens = list(state.path());
        assert_eq!(gens.len(), 1);
        let (dir, m) = &gens[0];
        assert_eq!(m.files.len(), 2, "one entry per path");
        assert_eq!(m.files[0].notify, ["reload nginx", "restart x"]);
        for e in &m.files {
            put_back(dir, e).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "version 1");
        assert_eq!(
            std::fs::metadata(&old).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        assert!(!new.exists(), "a file that did not exist is removed");
        mark_rolled_back(dir, "later").unwrap();
        // A symbolic link (an nginx enabled site) comes back as the same link.
        let link = etc.path().join("default");
        std::os::unix::fs::symlink("../sites-available/default", &link).unwrap();
        let g = Generation::begin(state.path(), "init");
        g.record(&link, &[]).unwrap();
        std::fs::remove_file(&link).unwrap();
        let (dir, m) = list(state.path()).pop().unwrap();
        put_back(&dir, &m.files[0]).unwrap();
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("../sites-available/default")
        );
        assert_eq!(
            list(state.path())[0].1.rolled_back.as_deref(),
            Some("later")
        );
    }

    #[test]
    fn a_run_that_writes_nothing_leaves_no_generation() {
        let state = tempfile::tempdir().unwrap();
        Generation::begin(state.path(), "init").finish().unwrap();
        assert!(list(state.path()).is_empty());
    }
}
