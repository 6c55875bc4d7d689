//! What a run keeps on disk in its state directory: the run lock (one run at a time; an
//! flock the kernel drops with its process), the handlers still owed (written the moment a step
//! notifies them, so a failed run's restarts are done by the next run), and the log file.

use std::io::Write;
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("another provision run is in progress (pid {pid}, started {started}; it holds {}); wait for it: the lock goes with that process", .path.display())]
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

/// The run lock: an exclusive `flock` on `run.lock` in the state directory, held for the
/// run and released by the kernel when the process ends, however it ends (so a killed run
/// never leaves a lock to take over, and a reused pid cannot hold one). The file stays; it
/// names the holder (pid and start time) while the lock is held and is emptied on release.
pub struct Lock {
    file: std::fs::File,
}

impl Lock {
    /// Takes the run lock in the state directory `dir`, which is made (or must already be)
    /// this user's alone: what runs as root later reads from it.
    pub fn acquire(dir: &Path) -> Result<Lock, StateError> {
        crate::host::fs::private_dir(dir).map_err(io(dir))?;
        let path = dir.join("run.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        if !FileExt::try_lock_exclusive(&file).map_err(io(&path))? {
            let (pid, started) = Lock::holder(dir).unwrap_or((0, "?".into()));
            return Err(StateError::Locked { pid, started, path });
        }
        file.set_len(0).map_err(io(&path))?;
        writeln!(
            file,
            "{} {}",
            std::process::id(),
            chrono::Utc::now().to_rfc3339()
        )
        .map_err(io(&path))?;
        Ok(Lock { file })
    }

    /// Who holds the lock in `dir` as its file names them (pid, start time), when a live
    /// process does; for status reports, never for the decision to run.
    pub fn holder(dir: &Path) -> Option<(u32, String)> {
        let text = std::fs::read_to_string(dir.join("run.lock")).ok()?;
        let mut parts = text.split_whitespace();
        let pid: u32 = parts.next()?.parse().ok()?;
        let started = parts.next().unwrap_or("?").to_string();
        Path::new(&format!("/proc/{pid}"))
            .exists()
            .then_some((pid, started))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Emptied while still held, so no reader sees a finished run's pid; the lock goes
        // with the descriptor.
        let _ = self.file.set_len(0);
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
    fn lock_refuses_a_live_run_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock = Lock::acquire(dir.path()).unwrap();
        let e = Lock::acquire(dir.path()).err().unwrap().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        assert_eq!(Lock::holder(dir.path()).unwrap().0, std::process::id());
        drop(lock);
        assert_eq!(Lock::holder(dir.path()), None, "emptied on release");
        Lock::acquire(dir.path()).expect("released on drop");
    }

    #[test]
    fn a_file_naming_a_live_pid_is_not_a_lock() {
        // A stale file whose pid was reused by a live process: only the flock counts.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("run.lock"),
            format!("{} 2026-01-01T00:00:00Z\n", std::process::id()),
        )
        .unwrap();
        Lock::acquire(dir.path()).expect("no process holds the flock");
    }

    #[test]
    fn a_killed_holder_releases_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        crate::host::fs::private_dir(dir.path()).unwrap();
        // util-linux flock(1) takes the same flock(2) lock on a descriptor the shell then
        // hands to `sleep` by exec: the spawned pid ends up the only holder.
        let mut holder = std::process::Command::new("sh")
            .args(["-c", "exec 9>>\"$0\" && flock -x 9 && exec sleep 60"])
            .arg(dir.path().join("run.lock"))
            .spawn()
            .expect("sh and flock(1) from util-linux");
        let start = std::time::Instant::now();
        while Lock::acquire(dir.path()).is_ok() {
            assert!(
                start.elapsed().as_secs() < 10,
                "flock(1) never took the lock"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        holder.kill().unwrap();
        holder.wait().unwrap();
        Lock::acquire(dir.path()).expect("the kernel released the killed holder's lock");
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
