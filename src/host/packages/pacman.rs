//! pacman (Arch): `pacman -Q` to ask. pacman fails at once when its database lock exists,
//! so we wait for the lock file to go first.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Cmd, Manager};

pub struct Pacman {
    pub lock: PathBuf,
    pub wait: Duration,
}

impl Default for Pacman {
    fn default() -> Self {
        Pacman {
            lock: PathBuf::from("/var/lib/pacman/db.lck"),
            wait: Duration::from_secs(600),
        }
    }
}

impl Manager for Pacman {
    fn query(&self, package: &str) -> Cmd {
        Cmd::new("pacman", &["-Q", package])
    }

    fn install(&self, packages: &[&str]) -> Cmd {
        let mut c = Cmd::new("pacman", &["-S", "--noconfirm", "--needed"]);
        for p in packages {
            c = c.arg(*p);
        }
        c
    }

    fn wait_for_lock(&self) -> Result<(), String> {
        let deadline = Instant::now() + self.wait;
        while self.lock.exists() {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} still exists after {} s: another pacman is running (or died; remove the \
                     file if none runs)",
                    self.lock.display(),
                    self.wait.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_lock_then_gives_up_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("db.lck");
        let p = Pacman {
            lock: lock.clone(),
            wait: Duration::from_millis(600),
        };
        assert!(p.wait_for_lock().is_ok());
        std::fs::write(&lock, "").unwrap();
        let e = p.wait_for_lock().unwrap_err();
        assert!(e.contains("db.lck"), "{e}");
        let remover = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            std::fs::remove_file(lock).unwrap();
        });
        assert!(p.wait_for_lock().is_ok());
        remover.join().unwrap();
    }
}
