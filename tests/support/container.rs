//! One container over the cached root: an overlay (so the cache stays clean and every test
//! starts from nothing), `systemd-nspawn --register=no --keep-unit` on a veth of its own
//! (no port is shared with the host), either booted (`-b`, systemd as PID 1) or not (a
//! stub init and no init system: the supervisord path). Commands run inside with
//! `nsenter -t <its PID 1> -a`. Torn down completely on drop, also after a failure.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether systemd runs inside.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Init {
    Systemd,
    /// No init system: nspawn's stub as PID 1 and `sleep infinity` under it.
    None,
}

/// How the container is wired.
#[derive(Clone)]
pub enum Network {
    /// A veth of its own to this machine (the root's address, 192.0.2.2).
    Veth,
    /// A port of `bridge` inside the network namespace `netns` (made by the test), with
    /// `address`/24 and no way out.
    Bridge {
        netns: String,
        bridge: String,
        address: String,
    },
}

pub struct Container {
    pub name: String,
    dir: tempfile::TempDir,
    pub merged: PathBuf,
    nspawn: Option<Child>,
    init: Init,
    network: Network,
}

impl Container {
    /// Mounts the overlay and boots with systemd.
    pub fn boot(root: &Path) -> Container {
        Self::start_with(root, Init::Systemd, Network::Veth, |_| {})
    }

    /// Mounts the overlay and starts it without an init system.
    pub fn plain(root: &Path) -> Container {
        Self::start_with(root, Init::None, Network::Veth, |_| {})
    }

    /// Boots it with systemd on `network`, after `prepare` has changed its root (the
    /// overlay: the cached root stays as it is).
    pub fn boot_with(root: &Path, network: Network, prepare: impl FnOnce(&Path)) -> Container {
        Self::start_with(root, Init::Systemd, network, prepare)
    }

    fn start_with(
        root: &Path,
        init: Init,
        network: Network,
        prepare: impl FnOnce(&Path),
    ) -> Container {
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
        if let Network::Bridge { address, .. } = &network {
            std::fs::write(
                merged.join("etc/systemd/network/10-host0.network"),
                format!(
                    "[Match]\nName=host0\n[Network]\nAddress={address}/24\nLinkLocalAddressing=no\n"
                ),
            )
            .unwrap();
        }
        prepare(&merged);
        let name = format!("pt{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut c = Container {
            name,
            dir,
            merged,
            nspawn: None,
            init,
            network,
        };
        c.start();
        c
    }

    fn start(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("console.log")).unwrap();
        // Inside a test's namespace, nspawn is started with nsenter --net (ip netns exec
        // remounts /sys, and nspawn then fails).
        let mut cmd = match &self.network {
            Network::Veth => {
                let mut c = Command::new("systemd-nspawn");
                c.arg("--network-veth");
                c
            }
            Network::Bridge { netns, bridge, .. } => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{netns}"))
                    .arg("systemd-nspawn")
                    .arg(format!("--network-bridge={bridge}"));
                c
            }
        };
        let child = cmd
            .args(["--register=no", "--keep-unit", "--quiet"])
            .arg(format!("--machine={}", self.name))
            .arg("-D")
            .arg(&self.merged)
            .args(match self.init {
                Init::Systemd => vec!["-b"],
                Init::None => vec!["--as-pid2", "sleep", "infinity"],
            })
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.nspawn = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        // The host's end of the veth comes up with the container; bring it up so the
        // container's address works (nothing routes beyond it).
        let (prefix, netns): (&str, Vec<String>) = match &self.network {
            Network::Veth => ("ve-", vec![]),
            Network::Bridge { netns, .. } => ("vb-", vec!["-n".into(), netns.clone()]),
        };
        let veth: String = format!("{prefix}{}", self.name).chars().take(15).collect();
        loop {
            let up = Command::new("ip")
                .args(&netns)
                .args(["link", "set", &veth, "up"])
                .output();
            if up.is_ok_and(|o| o.status.success()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no {veth} on the host; console:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        match self.init {
            Init::None => self.configure_network(deadline),
            Init::Systemd => self.wait_booted(deadline),
        }
    }

    /// Without networkd inside, the address and the default route are set with the host's
    /// `ip`, in the container's network namespace only.
    fn configure_network(&self, deadline: Instant) {
        let pid = loop {
            if let Some(pid) = self.pid() {
                break pid.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "the container did not start; console:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let addr = format!("{}/24", super::root::ADDRESS);
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["addr", "replace", addr.as_str(), "dev", "host0"],
            vec!["link", "set", "host0", "up"],
            vec!["route", "replace", "default", "via", super::root::GATEWAY],
        ] {
            let out = Command::new("nsenter")
                .args(["-t", &pid, "-n", "ip"])
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn wait_booted(&self, deadline: Instant) {
        loop {
            if self.pid().is_some() {
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

    /// The container's PID 1 (systemd, or nspawn's stub init): the child of systemd-nspawn.
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

    /// Powers it off (as pulling the plug would: nothing inside is asked) and waits until
    /// nspawn has gone; the overlay stays, so `power_on` boots the same disk.
    pub fn power_off(&mut self) {
        // Killing its PID 1 ends every process of its PID namespace at once; nspawn then
        // exits.
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .output();
        }
        if let Some(mut child) = self.nspawn.take() {
            let _ = child.wait();
        }
    }

    /// Boots it again after `power_off`.
    pub fn power_on(&mut self) {
        assert!(self.nspawn.is_none(), "it is running");
        self.start();
    }

    /// Reboots it and waits until it is up again. nspawn exits with 133 when its
    /// container reboots (systemd-nspawn@.service restarts it on that code): so does this.
    pub fn reboot(&mut self) {
        assert!(
            self.init == Init::Systemd,
            "only a booted container reboots"
        );
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
                if let (Some(pid), Init::Systemd) = (pid, self.init) {
                    let _ = Command::new("nsenter")
                        .args(["-t", &pid.to_string(), "-a", "--", "systemctl", "poweroff"])
                        .output();
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                // Without systemd, everything inside dies with the stub init.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = Command::new("umount").arg("-l").arg(&self.merged).output();
    }
}
