//! A real OpenSSH server on loopback for the tests: its own host key, one authorized
//! client key, a free port, killed on drop. Runs as root (the test machine's user); no
//! traffic leaves 127.0.0.1. Also the key helpers the several-hosts bed uses.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// `ssh-keygen ARGS`, which must succeed.
pub fn keygen(args: &[&str]) {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen (openssh-client) is installed");
    assert!(
        out.status.success(),
        "ssh-keygen {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new ed25519 key pair at `path` (and `path`.pub), without a passphrase.
pub fn key_pair(path: &Path, comment: &str) {
    let path = path.to_str().unwrap();
    keygen(&["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
}

impl Sshd {
    pub fn start() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        key_pair(&d.join("host_key"), "provision-test");
        key_pair(&d.join("id_ed25519"), "provision-test");
        std::fs::copy(d.join("id_ed25519.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = super::helpers::free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\nStrictModes no\n\
             UsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nMaxSessions 50\nMaxStartups 50\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .expect("sshd (openssh-server) is installed");
        super::helpers::wait_until("sshd listening", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Sshd { child, port, dir }
    }

    pub fn identity(&self) -> PathBuf {
        self.dir.path().join("id_ed25519")
    }

    /// The server's public host key line, as known_hosts holds it (`[127.0.0.1]:PORT`).
    pub fn host_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host_key.pub"))
            .unwrap()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
