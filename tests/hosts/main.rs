//! Several hosts: booted systemd containers on a bridge inside a network namespace the
//! test creates (192.0.2.0/24), reached over ssh by `provision` running in that namespace.
//! No traffic leaves the test's own namespaces.

#[path = "../support/bed.rs"]
mod bed;
#[path = "../support/container.rs"]
mod container;
#[path = "../support/helpers.rs"]
mod helpers;
#[path = "../support/root.rs"]
mod root;

use bed::Bed;

/// Four hosts reached over ssh: refused until their keys are accepted, then the binary
/// copied to each (in parallel), facts read through it, and a second ping copies nothing.
/// A host whose sshd is down is named with ssh's error while the others still answer.
#[test]
fn four_hosts_over_ssh() {
    let bed = Bed::start(&["db1", "cache1", "app1", "lb1"]);
    let inv = bed.inventory(&["postgres", "redis", "app", "nginx"], "");
    let inv = inv.to_str().unwrap();
    let state = bed.dir.path().join("state");
    let state = state.to_str().unwrap();
    let ping = |extra: &[&str]| {
        let mut a = vec!["ping", "--inventory", inv, "--state-dir", state];
        a.extend_from_slice(extra);
        bed.provision(&a)
    };
    let refused = ping(&[]);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert_eq!(
        refused.stderr.matches("host key is not the one").count(),
        4,
        "{}",
        refused.stderr
    );

    let first = ping(&["--accept-new-host-keys"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    for h in &bed.hosts {
        let line = first
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{} ", h.name)))
            .unwrap_or_else(|| panic!("{} in:\n{}", h.name, first.stdout));
        assert!(line.contains(&h.address), "{line}");
        assert!(line.contains("Debian GNU/Linux 12"), "{line}");
        assert!(line.ends_with(" copied"), "{line}");
        // The binary is there, executable, the same bytes.
        let out = bed.exec(&h.name, &["/usr/local/bin/provision", "--version"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let again = ping(&["--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let json: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    for p in json.as_array().unwrap() {
        assert_eq!(p["copied"], false, "{p}");
        assert_eq!(p["facts"]["facts"]["init"], "systemd", "{p}");
    }

    // One host's sshd down: it is named, with ssh's reason; the others answer.
    let out = bed.exec("cache1", &["systemctl", "stop", "ssh.service"]);
    assert!(out.status.success());
    // The multiplexed master would still carry commands: closed at the end of each ping.
    let down = ping(&[]);
    assert_eq!(down.code, 1, "{}", down.stdout);
    assert!(
        down.stderr.starts_with("cache1 (192.0.2.11:22): ssh could not connect or log in: check that sshd runs there and that port 22 is open to this machine; ssh said:\n"),
        "{}",
        down.stderr
    );
    assert!(
        down.stderr.contains("Connection refused"),
        "{}",
        down.stderr
    );
    assert_eq!(
        down.stdout.matches(" unchanged").count(),
        3,
        "{}",
        down.stdout
    );
}
