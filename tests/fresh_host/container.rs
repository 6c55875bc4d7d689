//! One booted container: an overlay over the cached root (so the cache stays clean and
//! every test starts from nothing), `systemd-nspawn --register=no --keep-unit -b` on a
//! veth of its own (no port is shared with the host), commands run inside with
//! `nsenter -t <its systemd> -a`. Torn down completely on drop, also after a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Container {
    pub name: String,
    dir: tempfile::TempDir,
    pub merged: PathBuf,
    nspawn: Option<Child>,
}

impl Container {
    /// Mounts the overlay and boots.
    pub fn boot(root: &Path) -> Container {
        let dir = tempfile::tempdir().unwrap();
        let (upper, work, merged) = (
            dir.path().join("upper"),
            dir.path().join("work"),
            dir.path().join("root"),
        );
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).unwrap();
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            root.display(),
            upper.display(),
            work.display()
        );
        let out = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(&merged)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "overlay mount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new("chmod")
            .arg("755")
            .arg(&merged)
            .output()
            .unwrap();
        assert!(out.status.success());
        let name = format!("pt{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut c = Container {
            name,
            dir,
            merged,
            nspawn: None,
        };
        c.start();
        c
    }

    fn start(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("console.log")).unwrap();
        let child = Command::new("systemd-nspawn")
            .args(["--register=no", "--keep-unit", "--network-veth", "--quiet"])
            .arg(format!("--machine={}", self.name))
            .arg("-D")
            .arg(&self.merged)
            .arg("-b")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.nspawn = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        // The host's end of the veth comes up with the container; bring it up so the
        // container's address is configured (nothing routes beyond it).
        let veth: String = format!("ve-{}", self.name).chars().take(15).collect();
        loop {
            if Command::new("ip")
                .args(["link", "set", &veth, "up"])
                .output()
                .is_ok_and(|o| o.status.success())
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no {veth} on the host; console:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        loop {
            if let Some(_pid) = self.pid() {
                let state = self.exec(&["systemctl", "is-system-running", "--wait"]);
                let s = String::from_utf8_lossy(&state.stdout).trim().to_string();
                if s == "running" || s == "degraded" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the container did not finish booting in 60 s; console:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn console(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default()
    }

    /// The container's systemd (PID 1 inside): the child of systemd-nspawn.
    fn pid(&self) -> Option<u32> {
        let nspawn = self.nspawn.as_ref()?.id();
        let children =
            std::fs::read_to_string(format!("/proc/{nspawn}/task/{nspawn}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    /// Runs `argv` inside (all namespaces of the container's PID 1).
    pub fn exec(&self, argv: &[&str]) -> Output {
        let pid = self.pid().expect("the container runs").to_string();
        Command::new("nsenter")
            .args(["-t", &pid, "-a", "--"])
            .args(argv)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap()
    }

    /// Reboots it and waits until it is up again. nspawn exits with 133 when its
    /// container reboots (systemd-nspawn@.service restarts it on that code): so does this.
    pub fn reboot(&mut self) {
        let _ = self.exec(&["systemctl", "reboot"]);
        let status = self.nspawn.as_mut().unwrap().wait().unwrap();
        assert_eq!(
            status.code(),
            Some(133),
            "nspawn's exit on reboot; console:\n{}",
            self.console()
        );
        self.start();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let pid = self.pid();
        if let Some(mut child) = self.nspawn.take() {
            if child.try_wait().ok().flatten().is_none() {
                if let Some(pid) = pid {
                    let _ = Command::new("nsenter")
                        .args(["-t", &pid.to_string(), "-a", "--", "systemctl", "poweroff"])
                        .output();
                }
                let deadline = Instant::now() + Duration::from_secs(30);
                while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = Command::new("umount").arg("-l").arg(&self.merged).output();
    }
}
