//! The cached Debian 12 root: `debootstrap --variant=minbase` with systemd, systemd-sysv
//! and dbus, then — in a chroot, with the host's resolv.conf — the package lists and the
//! .debs init will install, downloaded but not installed, so the booted container needs no
//! network; openssh-server installed but disabled and without host keys (the
//! several-hosts bed enables it and makes each host's keys). A static address on its veth (systemd-networkd) gives it a non-loopback address
//! like a real host's. Built once per machine under /var/cache/provision-test; rebuilt when
//! missing or when this recipe changes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Bump when the recipe below changes: a cached root of another version is rebuilt.
const RECIPE: &str = "bookworm-minbase-systemd-v9";
const CACHE: &str = "/var/cache/provision-test";
/// What init installs on Debian: under systemd, (supervisor and cron) where no init runs, and
/// (nftables) on the hosts of a deployment of several, and Prometheus with its exporters
/// (`monitoring: true`), certbot (`--tls acme`) and pebble to test it against.
const PACKAGES: &str = "postgresql redis-server nginx openssl supervisor cron nftables \
     prometheus prometheus-node-exporter prometheus-postgres-exporter prometheus-redis-exporter \
     prometheus-nginx-exporter prometheus-blackbox-exporter daemon \
     certbot pebble";
/// The container's address on its veth, in the documentation range (a /24 with a gateway
/// that nothing answers: a default route, as a real host has).
pub const ADDRESS: &str = "192.0.2.2";
pub const GATEWAY: &str = "192.0.2.1";

fn run(what: &str, cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The mirror the host's apt uses (so a snapshot or local mirror is honoured).
fn mirror() -> String {
    let sources =
        std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    sources
        .lines()
        .find_map(|l| l.strip_prefix("URIs:"))
        .and_then(|u| u.split_whitespace().find(|u| !u.contains("security")))
        .unwrap_or("http://deb.debian.org/debian")
        .to_string()
}

/// The ready root, built if needed; returns its path.
pub fn ready() -> PathBuf {
    let root = Path::new(CACHE).join(RECIPE);
    if root.join(".provision-ready").exists() {
        return root;
    }
    let tmp = Path::new(CACHE).join(format!("{RECIPE}.tmp"));
    let _ = Command::new("umount").arg(tmp.join("proc")).output();
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(CACHE).unwrap();
    run(
        "debootstrap",
        Command::new("debootstrap")
            .args([
                "--variant=minbase",
                "--include=systemd,systemd-sysv,dbus",
                "bookworm",
            ])
            .arg(&tmp)
            .arg(mirror()),
    );
    std::fs::copy("/etc/resolv.conf", tmp.join("etc/resolv.conf")).unwrap();
    run(
        "mount /proc",
        Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(tmp.join("proc")),
    );
    let download = Command::new("chroot")
        .arg(&tmp)
        .args([
            "sh",
            "-c",
            // openssh-server is installed (the several-hosts bed reaches its hosts with it)
            // but left disabled, without host keys: each bed container makes its own.
            &format!(
                "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
                 && apt-get update -q && apt-get install -y -q --no-install-recommends openssh-server \
                 && rm -f /usr/sbin/policy-rc.d /etc/ssh/ssh_host_* \
                 && systemctl disable ssh.service ssh.socket \
                 && apt-get install -y -q --download-only {PACKAGES}"
            ),
        ])
        .output();
    let _ = Command::new("umount").arg(tmp.join("proc")).output();
    let download = download.unwrap();
    assert!(
        download.status.success(),
        "downloading {PACKAGES}: {}",
        String::from_utf8_lossy(&download.stderr)
    );
    std::fs::remove_file(tmp.join("etc/resolv.conf")).unwrap();
    std::fs::create_dir_all(tmp.join("etc/systemd/network")).unwrap();
    std::fs::write(
        tmp.join("etc/systemd/network/10-host0.network"),
        format!("[Match]\nName=host0\n[Network]\nAddress={ADDRESS}/24\nGateway={GATEWAY}\n"),
    )
    .unwrap();
    run(
        "enable networkd",
        Command::new("chroot")
            .arg(&tmp)
            .args(["systemctl", "enable", "systemd-networkd"]),
    );
    std::fs::write(tmp.join("etc/hostname"), "fresh\n").unwrap();
    // A root directory of mode 0700 boots, but dbus and logind never come up.
    run("chmod", Command::new("chmod").arg("755").arg(&tmp));
    std::fs::write(tmp.join(".provision-ready"), RECIPE).unwrap();
    let _ = std::fs::remove_dir_all(&root);
    std::fs::rename(&tmp, &root).unwrap();
    // Roots of older recipes are not used again.
    for old in std::fs::read_dir(CACHE).unwrap().flatten() {
        let name = old.file_name().to_string_lossy().to_string();
        if name.starts_with("bookworm-minbase-") && name != RECIPE {
            let _ = std::fs::remove_dir_all(old.path());
        }
    }
    root
}
