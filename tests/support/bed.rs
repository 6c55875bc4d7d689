//! The several-hosts test bed: booted systemd containers (the cached Debian root, sshd
//! enabled with host keys of their own) on a bridge inside a network namespace this test
//! creates, with addresses from 192.0.2.0/24. The controller — `provision` under test —
//! runs in that namespace too (the bridge holds 192.0.2.1), so no packet leaves it. The
//! containers boot side by side; everything is torn down on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::container::{Container, Network};
use super::helpers::Ran;
use super::sshd::{key_pair, keygen};

pub const CONTROLLER: &str = "192.0.2.1";
const BRIDGE: &str = "br0";

pub struct BedHost {
    pub name: String,
    pub address: String,
    pub container: Container,
}

pub struct Bed {
    pub netns: String,
    /// Hosts, in the order asked for (dropped before the namespace).
    pub hosts: Vec<BedHost>,
    pub dir: tempfile::TempDir,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Bed {
    /// Boots one host per name, at 192.0.2.10, .11, … in order.
    pub fn start(names: &[&str]) -> Bed {
        let root = super::root::ready();
        let dir = tempfile::tempdir().unwrap();
        let netns = format!("pt{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        ip(&["netns", "add", &netns]);
        ip(&["-n", &netns, "link", "set", "lo", "up"]);
        ip(&["-n", &netns, "link", "add", BRIDGE, "type", "bridge"]);
        ip(&[
            "-n",
            &netns,
            "addr",
            "add",
            &format!("{CONTROLLER}/24"),
            "dev",
            BRIDGE,
        ]);
        ip(&["-n", &netns, "link", "set", BRIDGE, "up"]);
        let key = dir.path().join("id_ed25519");
        key_pair(&key, "controller");
        let public = std::fs::read_to_string(dir.path().join("id_ed25519.pub")).unwrap();
        let mut bed = Bed {
            netns: netns.clone(),
            hosts: Vec::new(),
            dir,
        };
        let booted: Vec<BedHost> = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let (root, netns, public) = (&root, &netns, &public);
                    s.spawn(move || {
                        let address = format!("192.0.2.{}", 10 + i);
                        let network = Network::Bridge {
                            netns: netns.clone(),
                            bridge: BRIDGE.into(),
                            address: address.clone(),
                        };
                        let container =
                            Container::boot_with(root, network, |m| prepare(m, name, public));
                        BedHost {
                            name: name.to_string(),
                            address,
                            container,
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        bed.hosts = booted;
        bed
    }

    pub fn identity(&self) -> PathBuf {
        self.dir.path().join("id_ed25519")
    }

    pub fn host(&self, name: &str) -> &BedHost {
        self.hosts.iter().find(|h| h.name == name).unwrap()
    }

    pub fn host_mut(&mut self, name: &str) -> &mut BedHost {
        self.hosts.iter_mut().find(|h| h.name == name).unwrap()
    }

    /// An inventory of the bed's hosts with `roles` per host (in the bed's order), beside
    /// a known_hosts file that does not exist yet; returns its path.
    pub fn inventory(&self, roles: &[&str], extra: &str) -> PathBuf {
        let mut text = format!(
            "ssh:\n  identity_file: {}\n  known_hosts: known_hosts\nhosts:\n",
            self.identity().display()
        );
        for (h, r) in self.hosts.iter().zip(roles) {
            text.push_str(&format!(
                "  {}:\n    address: {}\n    roles: [{r}]\n",
                h.name, h.address
            ));
        }
        text.push_str(extra);
        let path = self.dir.path().join("hosts.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `provision ARGS` run as the controller, inside the bed's namespace.
    pub fn provision(&self, args: &[&str]) -> Ran {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.netns))
            .arg(env!("CARGO_BIN_EXE_provision"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.dir.path())
            .env("PROVISION_CONFIG", "/dev/null")
            .env("PROVISION_ENV_FILE", "/dev/null");
        Ran::of(cmd.output().unwrap())
    }

    /// Runs `argv` on host `name` (directly, not over ssh).
    pub fn exec(&self, name: &str, argv: &[&str]) -> std::process::Output {
        self.host(name).container.exec(argv)
    }
}

/// A host's own sshd: its host keys, the controller's key authorized, the unit enabled.
fn prepare(merged: &Path, name: &str, public: &str) {
    keygen(&["-A", "-f", merged.to_str().unwrap()]);
    let ssh = merged.join("root/.ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("authorized_keys"), public).unwrap();
    std::fs::write(merged.join("etc/hostname"), format!("{name}\n")).unwrap();
    let wants = merged.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    let _ = std::fs::remove_file(wants.join("ssh.service"));
    std::os::unix::fs::symlink("/lib/systemd/system/ssh.service", wants.join("ssh.service"))
        .unwrap();
}

impl Drop for Bed {
    fn drop(&mut self) {
        // The containers first (each powers off and unmounts), then the namespace.
        self.hosts.clear();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
    }
}
