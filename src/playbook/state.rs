//! What a run keeps on disk in its state directory: the run lock (one run at a time; a
//! dead run's lock is taken over), the handlers still owed (written the moment a step
//! notifies them, so a failed run's restarts are done by the next run), and the log file.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("another provision run is in progress (pid {pid}, started {started}); wait for it, or remove {} if that process is gone", .path.display())]
    Locked {
        pid: u32,
        started: String,
        path: PathBuf,
    },
    #[error("{}: {message}", .path.display())]
    Io { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |e| StateError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The run lock; released when dropped.
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the run lock in the state directory `dir`, which is made (or must already be)
    /// this user's alone: what runs as root later reads from it.
    pub fn acquire(dir: &Path) -> Result<Lock, StateError> {
        crate::host::fs::private_dir(dir).map_err(io(dir))?;
        let path = dir.join("run.lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    writeln!(
                        f,
                        "{} {}",
                        std::process::id(),
                        chrono::Utc::now().to_rfc3339()
                    )
                    .map_err(io(&path))?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let mut parts = text.split_whitespace();
                    let pid: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                    let started = parts.next().unwrap_or("?").to_string();
                    if pid != 0 && Path::new(&format!("/proc/{pid}")).exists() {
                        return Err(StateError::Locked { pid, started, path });
                    }
                    // A dead run's lock: take it over.
                    std::fs::remove_file(&path).map_err(io(&path))?;
                }
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Err(StateError::Io {
            path,
            message: "could not take the lock".into(),
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Handlers owed, persisted.
pub struct Pending {
    path: PathBuf,
    pub names: Vec<String>,
}

impl Pending {
    pub fn load(dir: &Path) -> Result<Pending, StateError> {
        let path = dir.join("pending-handlers.json");
        let names = match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| StateError::Io {
                path: path.clone(),
                message: format!("unreadable ({e}); delete it to forget the pending handlers"),
            })?,
            Err(_) => Vec::new(),
        };
        Ok(Pending { path, names })
    }

    /// Adds handlers and writes the file before the run goes on.
    pub fn add(&mut self, names: &[String]) -> Result<(), StateError> {
        let mut changed = false;
        for n in names {
            if !self.names.contains(n) {
                self.names.push(n.clone());
                changed = true;
            }
        }
        if changed {
            self.save()?;
        }
        Ok(())
    }

    pub fn done(&mut self, name: &str) -> Result<(), StateError> {
        self.names.retain(|n| n != name);
        self.save()
    }

    fn save(&self) -> Result<(), StateError> {
        if self.names.is_empty() {
            let _ = std::fs::remove_file(&self.path);
            return Ok(());
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(
            &tmp,
            serde_json::to_string(&self.names).expect("names serialize"),
        )
        .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))
    }
}

/// The full log of one run.
pub struct Log {
    pub path: PathBuf,
    file: std::fs::File,
}

impl Log {
    pub fn create(dir: &Path) -> Result<Log, StateError> {
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(io(&logs))?;
        let path = logs.join(format!(
            "play-{}-{}.log",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
            std::process::id()
        ));
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        Ok(Log { path, file })
    }

    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.file, "{} {text}", chrono::Utc::now().to_rfc3339());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_refuses_a_live_run_and_takes_over_a_dead_one() {
        let dir = tempfile::tempdir().unwrap();
        let lock = Lock::acquire(dir.path()).unwrap();
        let e = Lock::acquire(dir.path()).err().unwrap().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(lock);
        std::fs::write(
            dir.path().join("run.lock"),
            "4000000 2026-01-01T00:00:00Z\n",
        )
        .unwrap();
        assert!(
            Lock::acquire(dir.path()).is_ok(),
            "a dead pid's lock is taken over"
        );
    }

    #[test]
    fn pending_handlers_survive_until_done() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Pending::load(dir.path()).unwrap();
        p.add(&["restart x".into(), "restart x".into()]).unwrap();
        assert_eq!(Pending::load(dir.path()).unwrap().names, vec!["restart x"]);
        p.done("restart x").unwrap();
        assert!(Pending::load(dir.path()).unwrap().names.is_empty());
    }
}
