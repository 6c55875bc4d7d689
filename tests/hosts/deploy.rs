//! The deployment's phases: first contact over ssh, the first init (one host unreachable,
//! then resumed), a second run that changes nothing, the firewall between the hosts.

use crate::bed::Bed;
use crate::{init_run, on_inventory, recap_lines, show, verify_tail};

/// Reached over ssh: refused until their keys are accepted, then the binary copied to each
/// (in parallel), facts read through it, and a second ping copies nothing. A host whose
/// sshd is down is named with ssh's error while the others still answer.
pub fn ping(bed: &Bed, inv: &std::path::Path) {
    let ping = |extra: &[&str]| {
        let mut a = vec!["ping"];
        a.extend_from_slice(extra);
        on_inventory(bed, inv, &a)
    };
    let refused = ping(&[]);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert_eq!(
        refused.stderr.matches("host key is not the one").count(),
        5,
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
        4,
        "{}",
        down.stdout
    );
    let out = bed.exec("cache1", &["systemctl", "start", "ssh.service"]);
    assert!(out.status.success());
}

/// The first deployment, with one app host unreachable over ssh: it is named with ssh's
/// reason, the hosts before it are deployed, the load balancer after it is not touched.
/// Then, reachable again, the next run finishes the job: every host changed, the demo
/// data migrated on the database host, verify passing through the load balancer.
pub fn init(bed: &Bed, inv: &std::path::Path) {
    let out = bed.exec("app2", &["systemctl", "stop", "ssh.service"]);
    assert!(out.status.success());
    let partial = init_run(bed, inv);
    assert_eq!(partial.code, 1, "{}", show(&partial));
    let lines = recap_lines(&partial);
    let line = |h: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{h} ")))
            .cloned()
            .unwrap_or_else(|| panic!("{h}: {}", show(&partial)))
    };
    assert!(line("db1").ends_with(" failed=0"), "{}", show(&partial));
    assert!(line("app1").ends_with(" failed=0"), "{}", show(&partial));
    assert!(
        line("app2").ends_with("  unreachable or failed"),
        "{}",
        show(&partial)
    );
    assert!(line("lb1").ends_with("  not run"), "{}", show(&partial));
    assert!(
        partial.stderr.lines().any(|l| l.starts_with(&format!(
            "app2 ({}:22): ssh could not connect or log in: check that sshd runs there",
            bed.host("app2").address
        ))) && partial.stderr.contains("Connection refused"),
        "{}",
        show(&partial)
    );
    assert!(
        partial
            .stderr
            .contains("lb1: not run: app2 failed in the app stage"),
        "{}",
        show(&partial)
    );
    let touched = bed.exec("lb1", &["test", "-e", "/var/lib/provision/bin/provision"]);
    assert!(!touched.status.success(), "lb1 was touched");
    let out = bed.exec("app2", &["systemctl", "start", "ssh.service"]);
    assert!(out.status.success());

    let ran = init_run(bed, inv);
    // What follows the hosts' steps: verify through the load balancer, and the recap.
    eprintln!("first init, after the hosts' steps:\n{}", verify_tail(&ran));
    assert_eq!(ran.code, 0, "{}", show(&ran));
    let lines = recap_lines(&ran);
    let names: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        ["db1", "cache1", "app1", "app2", "lb1"],
        "{}",
        show(&ran)
    );
    // The hosts the first run finished are left as they are; the rest are done now.
    for line in &lines {
        assert!(line.ends_with(" failed=0"), "{line}");
        let finished_before = ["db1 ", "cache1 ", "app1 "]
            .iter()
            .any(|h| line.starts_with(h));
        assert_eq!(line.contains(" changed=0 "), finished_before, "{line}");
    }
    assert!(
        partial.stdout.contains("db1     changed  migrated"),
        "{}",
        show(&partial)
    );
    // The secrets stay in the controller's config, 0600.
    use std::os::unix::fs::PermissionsExt;
    let config = bed.dir.path().join("provision.yaml");
    let mode = std::fs::metadata(&config).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// A second run changes nothing on any host, and is fast; `plan` (= init --check --diff)
/// agrees that nothing would change.
pub fn second_run(bed: &Bed, inv: &std::path::Path) {
    let started = std::time::Instant::now();
    let ran = init_run(bed, inv);
    eprintln!(
        "second init: {:.1} s\n{}",
        started.elapsed().as_secs_f64(),
        recap_lines(&ran).join("\n")
    );
    assert_eq!(ran.code, 0, "{}", show(&ran));
    for line in recap_lines(&ran) {
        assert!(line.contains(" changed=0 "), "{}", show(&ran));
    }
    let config = bed.dir.path().join("provision.yaml");
    let plan = on_inventory(
        bed,
        inv,
        &["--config", config.to_str().unwrap(), "plan", "--yes"],
    );
    assert_eq!(plan.code, 0, "{}", show(&plan));
    assert_eq!(recap_lines(&plan).len(), 5, "{}", show(&plan));
}

/// Whether `from` can open a TCP connection to `to:port` within 3 s.
pub fn reaches(bed: &Bed, from: &str, to: &str, port: u16) -> bool {
    bed.exec(
        from,
        &[
            "timeout",
            "3",
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{to}/{port}"),
        ],
    )
    .status
    .success()
}

/// From the load balancer, PostgreSQL and Redis are refused; from an app host they answer.
pub fn firewall(bed: &Bed) {
    let probe = |from: &str, to: &str, port: &str| reaches(bed, from, to, port.parse().unwrap());
    let db = &bed.host("db1").address;
    let cache = &bed.host("cache1").address;
    assert!(probe("app1", db, "5432"), "app1 → postgres");
    assert!(probe("app2", cache, "6379"), "app2 → redis");
    assert!(!probe("lb1", db, "5432"), "lb1 must not reach postgres");
    assert!(!probe("lb1", cache, "6379"), "lb1 must not reach redis");
    let app = &bed.host("app1").address;
    assert!(probe("lb1", app, "8001"), "lb1 → app1's instance");
    assert!(
        !probe("db1", app, "8001"),
        "db1 must not reach app1's instances"
    );
}
