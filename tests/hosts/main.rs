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
#[path = "../support/stages.rs"]
mod stages;

use bed::Bed;
use helpers::Ran;

/// Five hosts (database, cache, two app hosts, load balancer) in one bed, in phases that
/// report separately: reached over ssh, deployed with `init --inventory`, verified through
/// the load balancer, a second run that changes nothing, and the firewall between them.
#[test]
fn five_hosts() {
    let bed = Bed::start(&["db1", "cache1", "app1", "app2", "lb1"]);
    let inv = bed.inventory(&["postgres", "redis", "app", "app", "nginx"], "");
    let mut stages = stages::Stages::default();
    if !stages.run("ping", || ping(&bed, &inv)) {
        return stages.finish();
    }
    if !stages.run("init", || init(&bed, &inv)) {
        return stages.finish();
    }
    stages.run("second run", || second_run(&bed, &inv));
    stages.run("firewall", || firewall(&bed));
    stages.finish();
}

fn show(r: &Ran) -> String {
    format!(
        "exit {}\n--- stdout\n{}\n--- stderr\n{}",
        r.code, r.stdout, r.stderr
    )
}

/// `provision --config CONFIG init --yes --demo --inventory INV --state-dir STATE`, as the
/// controller in the bed's namespace.
fn init_run(bed: &Bed, inv: &std::path::Path) -> Ran {
    let config = bed.dir.path().join("provision.yaml");
    let state = bed.dir.path().join("state");
    bed.provision(&[
        "--config",
        config.to_str().unwrap(),
        "init",
        "--yes",
        "--demo",
        "--inventory",
        inv.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ])
}

/// The recap's line for each host, after the `RECAP` heading.
fn recap_lines(ran: &Ran) -> Vec<String> {
    let recap = ran
        .stdout
        .split("\nRECAP\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no recap: {}", show(ran)));
    recap
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The first deployment: every host changed, the demo data migrated on the database host,
/// verify passing through the load balancer; a recap line per host.
fn init(bed: &Bed, inv: &std::path::Path) {
    let ran = init_run(bed, inv);
    // What follows the hosts' steps: verify through the load balancer, and the recap.
    let tail: Vec<&str> = ran
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("provision verify"))
        .collect();
    eprintln!("first init, after the hosts' steps:\n{}", tail.join("\n"));
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
    for line in &lines {
        assert!(line.ends_with(" failed=0"), "{line}");
        assert!(!line.contains(" changed=0 "), "{line}");
    }
    assert!(
        ran.stdout.contains("db1     changed  migrated"),
        "{}",
        show(&ran)
    );
    // The secrets stay in the controller's config, 0600.
    use std::os::unix::fs::PermissionsExt;
    let config = bed.dir.path().join("provision.yaml");
    let mode = std::fs::metadata(&config).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// A second run changes nothing on any host.
fn second_run(bed: &Bed, inv: &std::path::Path) {
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
}

/// From the load balancer, PostgreSQL and Redis are refused; from an app host they answer.
fn firewall(bed: &Bed) {
    let probe = |from: &str, to: &str, port: &str| {
        let out = bed.exec(
            from,
            &[
                "timeout",
                "3",
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{to}/{port}"),
            ],
        );
        out.status.success()
    };
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

/// Reached over ssh: refused until their keys are accepted, then the binary copied to each
/// (in parallel), facts read through it, and a second ping copies nothing. A host whose
/// sshd is down is named with ssh's error while the others still answer.
fn ping(bed: &Bed, inv: &std::path::Path) {
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
