//! Proof on a fresh host with systemd as PID 1: a clean Debian 12 root (cached), booted
//! with systemd-nspawn on a network of its own; the built binary copied in; `init --yes
//! --demo`; verify; a reboot and verify again (everything enabled comes back by itself); a
//! second init changes nothing; fewer instances stop and disable the extra unit; the unit's
//! `systemd-analyze security` exposure; then the day-2 commands of
//! `tests/support/day2.rs` under systemd. Each phase prints its time.

#[path = "../support/acme.rs"]
mod acme;
#[path = "../support/attacks.rs"]
#[allow(dead_code)]
mod attacks;
#[path = "../support/container.rs"]
mod container;
#[path = "../support/day2.rs"]
mod day2;
#[path = "../support/load_report.rs"]
mod load_report;
#[path = "../support/monitoring.rs"]
mod monitoring;
#[path = "../support/root.rs"]
mod root;
#[path = "../support/scheduled_backups.rs"]
mod scheduled_backups;
#[path = "../support/stages.rs"]
mod stages;

use std::time::Instant;

use container::Container;
use day2::{phase, text};
use stages::Stages;

#[test]
fn a_fresh_systemd_host_boots_inits_verifies_reboots_and_reruns() {
    provision::host::packages::ensure(
        provision::host::packages::manager(provision::host::facts::PackageManager::Apt).as_ref(),
        &["debootstrap", "systemd-container"],
    )
    .expect("debootstrap and systemd-nspawn install from Debian's archive");
    let t = Instant::now();
    let root = root::ready();
    phase("the cached Debian 12 root ready", t);

    let t = Instant::now();
    let mut c = Container::boot(&root);
    phase("booted", t);
    let bin = c.merged.join("root/provision");
    std::fs::copy(env!("CARGO_BIN_EXE_provision"), &bin).unwrap();

    let mut stages = Stages::default();
    if !stages.run("the first init", || first_init(&c)) {
        return stages.finish();
    }
    stages.run("a reboot, then verify", || reboot_then_verify(&mut c));
    stages.run("a second init", || second_init(&c));
    stages.run("fewer instances", || fewer_instances(&c));
    stages.run("the unit's exposure", || exposure(&c));
    stages.run("the service user's boundaries", || {
        attacks::service_user_boundaries(&c)
    });
    stages.run("day 2", || day2::all(&c, &day2::Manager { systemd: true }));
    stages.finish();
}

/// `init --yes --demo` passes verify; every instance's unit is enabled and hardened.
fn first_init(c: &Container) {
    let t = Instant::now();
    let first = c.exec(&["/root/provision", "init", "--yes", "--demo"]);
    let out = text(&first);
    phase("first init (packages from the cache)", t);
    println!("{out}");
    assert_eq!(
        first.status.code(),
        Some(0),
        "{out}\nconsole:\n{}",
        c.console()
    );
    assert!(out.contains("PASSED (exit 0)"), "{out}");
    assert!(
        out.contains(&format!("the dashboard: http://{}/", root::ADDRESS)),
        "{out}"
    );
    for port in [8001, 8002] {
        let unit = format!("live-dashboard@{port}.service");
        let enabled = c.exec(&["systemctl", "is-enabled", &unit]);
        assert_eq!(
            String::from_utf8_lossy(&enabled.stdout).trim(),
            "enabled",
            "{unit}"
        );
        let user = c.exec(&[
            "systemctl",
            "show",
            "-p",
            "User",
            "-p",
            "ProtectSystem",
            &unit,
        ]);
        let shown = text(&user);
        assert!(
            shown.contains("User=live-dashboard") && shown.contains("ProtectSystem=strict"),
            "{shown}"
        );
    }
}

/// Everything enabled comes back by itself after a reboot.
fn reboot_then_verify(c: &mut Container) {
    let t = Instant::now();
    c.reboot();
    phase("rebooted", t);
    let t = Instant::now();
    let after = c.exec(&[
        "/usr/local/bin/provision",
        "verify",
        "--wait",
        "60s",
        "--rate",
        "50",
        "--duration",
        "3s",
        "--warmup",
        "1s",
    ]);
    phase("verify after the reboot", t);
    let out = text(&after);
    println!("{out}");
    assert_eq!(after.status.code(), Some(0), "{out}");
}

/// A second init changes nothing.
fn second_init(c: &Container) {
    let t = Instant::now();
    let second = c.exec(&["/usr/local/bin/provision", "init", "--yes", "--demo"]);
    phase("second init", t);
    let out = text(&second);
    assert_eq!(second.status.code(), Some(0), "{out}");
    let recap = out
        .lines()
        .rev()
        .find(|l| l.starts_with("ok="))
        .unwrap_or("");
    println!("second init: {recap}");
    assert!(recap.contains("changed=0"), "{out}");
}

/// Fewer instances: the extra unit is stopped and disabled (it would come back at boot).
fn fewer_instances(c: &Container) {
    let t = Instant::now();
    let up = c.exec(&[
        "/usr/local/bin/provision",
        "init",
        "--yes",
        "--instances",
        "3",
    ]);
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    let down = c.exec(&[
        "/usr/local/bin/provision",
        "init",
        "--yes",
        "--instances",
        "2",
    ]);
    let out = text(&down);
    if down.status.code() != Some(0) {
        let journal = c.exec(&[
            "journalctl",
            "--no-pager",
            "-n",
            "80",
            "-u",
            "live-dashboard@*",
            "-u",
            "postgresql*",
        ]);
        println!("journal:\n{}", text(&journal));
    }
    assert_eq!(down.status.code(), Some(0), "{out}");
    assert!(out.contains("changed  instance 8003 removed"), "{out}");
    let state = c.exec(&["systemctl", "is-enabled", "live-dashboard@8003.service"]);
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "disabled");
    let active = c.exec(&["systemctl", "is-active", "live-dashboard@8003.service"]);
    assert_eq!(String::from_utf8_lossy(&active.stdout).trim(), "inactive");
    phase("instances 2 -> 3 -> 2", t);
}

/// `systemd-analyze security` of the unit, and every hardening directive applied.
fn exposure(c: &Container) {
    let security = c.exec(&[
        "systemd-analyze",
        "security",
        "--no-pager",
        "live-dashboard@8001.service",
    ]);
    let report = text(&security);
    let score = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("no score")
        .to_string();
    println!("{report}\nsystemd-analyze security live-dashboard@8001.service: {score}");
    assert!(security.status.success(), "{report}");
    let exposure: f64 = score
        .split(": ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{report}"));
    assert!(
        exposure <= 2.0,
        "the unit's exposure is {exposure} (aim: at most 2.0):\n{report}"
    );
    // Every hardening directive was applied, none skipped for running in a container.
    let journal = c.exec(&[
        "journalctl",
        "-b",
        "--no-pager",
        "-u",
        "live-dashboard@8001.service",
    ]);
    let log = text(&journal);
    for word in ["Failed to", "not supported", "Ignoring"] {
        assert!(
            !log.contains(word),
            "the unit's journal says {word:?}:\n{log}"
        );
    }
}
