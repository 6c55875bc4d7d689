//! The scheduled backups and the restore drill in a test container, the same on the
//! supervisord path (cron) and under systemd (the timer): the schedule in place, the
//! scheduler's own command run — a backup, then the old scheduled backups pruned by the
//! retention while manual ones stay —, a failed backup visible in `status`, and
//! `backup --verify-restore` passing on a good backup and failing, with nothing left
//! behind, on one whose content differs from its manifest.

use std::time::Instant;

use crate::container::Container;
use crate::day2::{phase, run, text, Manager};

const DIR: &str = "var/backups/live-dashboard";
const DB: &str = "live_validation_dashboard";

/// Runs the schedule's job exactly as its scheduler would: the service the timer starts,
/// or the command of the cron line. Whether it succeeded, and its output.
fn run_scheduled(c: &Container, m: &Manager) -> (bool, String) {
    if m.systemd {
        let o = c.exec(&["systemctl", "start", "live-dashboard-backup.service"]);
        let journal = c.exec(&[
            "journalctl",
            "-u",
            "live-dashboard-backup.service",
            "-n",
            "20",
            "--no-pager",
        ]);
        (o.status.success(), text(&o) + &text(&journal))
    } else {
        let cron = std::fs::read_to_string(c.merged.join("etc/cron.d/live-dashboard-backup"))
            .expect("the cron file");
        let line = cron
            .lines()
            .find(|l| l.contains("backup --scheduled") && !l.starts_with('#'))
            .expect("the cron line");
        // minute hour day month weekday user command…
        let command: Vec<&str> = line.split_whitespace().skip(6).collect();
        let o = c.exec(&["sh", "-c", &command.join(" ")]);
        let log = std::fs::read_to_string(c.merged.join("var/log/live-dashboard/backup.log"))
            .unwrap_or_default();
        (o.status.success(), text(&o) + &log)
    }
}

fn dumps(c: &Container) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(c.merged.join(DIR))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".dump"))
        .collect();
    v.sort();
    v
}

/// A copy of `newest` as a backup taken `days` ago for `reason`.
fn plant(c: &Container, newest: &str, days: i64, reason: &str) -> String {
    let when = chrono::Utc::now() - chrono::Duration::days(days);
    let name = format!("{DB}-{}.dump", when.format("%Y%m%dT%H%M%SZ"));
    let dir = c.merged.join(DIR);
    std::fs::copy(dir.join(newest), dir.join(&name)).unwrap();
    std::fs::copy(
        dir.join(format!("{newest}.sha256")),
        dir.join(format!("{name}.sha256")),
    )
    .unwrap();
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{newest}.json"))).unwrap())
            .unwrap();
    m["reason"] = reason.into();
    m["created"] = when
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        .into();
    std::fs::write(dir.join(format!("{name}.json")), m.to_string()).unwrap();
    name
}

fn status(c: &Container) -> (i32, serde_json::Value, String) {
    let (code, json) = run(c, &["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|_| panic!("{json}"));
    let (_, out) = run(c, &["status"]);
    (code, v, out)
}

pub fn scheduled_backups_and_the_restore_drill(c: &Container, m: &Manager) {
    let t = Instant::now();
    // The schedule is in place.
    if m.systemd {
        for (verb, want) in [("is-enabled", "enabled"), ("is-active", "active")] {
            let o = c.exec(&["systemctl", verb, "live-dashboard-backup.timer"]);
            assert_eq!(text(&o).trim(), want, "the backup timer");
        }
    } else {
        let o = c.exec(&["pgrep", "-x", "cron"]);
        assert!(o.status.success(), "cron is not running");
    }
    // Scheduled backups of eight earlier days, a week apart (each its own day and week),
    // and an old manual one.
    let newest = dumps(c).pop().expect("a backup from the day-2 test");
    let planted: Vec<String> = (0..8)
        .map(|k| plant(c, &newest, 100 + 7 * k, "scheduled"))
        .collect();
    let manual = plant(c, &newest, 200, "manual");
    std::fs::write(c.merged.join(DIR).join("notes.txt"), "mine").unwrap();

    let (ok, out) = run_scheduled(c, m);
    assert!(ok, "the scheduled backup failed:\n{out}");
    // Kept: today's and the six newest planted (7 days), whose weeks cover the 4 weekly;
    // pruned: the two oldest scheduled ones. Manual and foreign files stay.
    let after = dumps(c);
    for gone in &planted[6..] {
        assert!(!after.contains(gone), "{gone} was not pruned: {after:?}");
        assert!(!c.merged.join(DIR).join(format!("{gone}.json")).exists());
    }
    for kept in planted[..6].iter().chain([&manual, &newest]) {
        assert!(after.contains(kept), "{kept} was pruned: {after:?}");
    }
    assert!(c.merged.join(DIR).join("notes.txt").exists());
    let (code, v, out) = status(c);
    assert_eq!(code, 0, "{out}");
    let b = &v["backups"];
    assert_eq!(b["schedule_active"], true, "{out}");
    assert_eq!(b["last_success"]["reason"], "scheduled", "{out}");
    assert_eq!(
        b["last_success"]["pruned"].as_array().map(Vec::len),
        Some(2),
        "{b}"
    );
    assert!(out.contains("backups: daily at 03:30"), "{out}");

    // A backup that fails (its directory is not a directory) is visible in status until
    // the next good one.
    let dir = c.merged.join(DIR);
    let aside = c.merged.join("var/backups/live-dashboard.aside");
    std::fs::rename(&dir, &aside).unwrap();
    std::fs::write(&dir, "not a directory").unwrap();
    let (ok, out) = run_scheduled(c, m);
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&aside, &dir).unwrap();
    assert!(!ok, "a backup into a file succeeded?\n{out}");
    let (code, v, out) = status(c);
    assert_eq!(code, 3, "a failed backup degrades the stack:\n{out}");
    assert_eq!(v["backups"]["last_attempt"]["ok"], false, "{out}");
    assert!(
        out.contains("the last backup (scheduled, at ") && out.contains("FAILED"),
        "{out}"
    );
    let (ok, out) = run_scheduled(c, m);
    assert!(ok, "{out}");
    let (code, _, out) = status(c);
    assert_eq!(code, 0, "a good backup clears it:\n{out}");
    phase("scheduled backups, pruning, a failure", t);

    // The restore drill on the newest backup.
    let t = Instant::now();
    let (code, out) = run(c, &["backup", "--verify-restore"]);
    println!("{out}");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("restore drill:")
            && out.contains("content digests of")
            && out.contains("dropped"),
        "{out}"
    );
    let scratch = |c: &Container| {
        let o = c.exec(&[
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-qAt",
            "-c",
            "SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_drill\\_%'",
        ]);
        text(&o).trim().to_string()
    };
    assert_eq!(scratch(c), "0", "the scratch database was not dropped");
    // A backup whose content is not what its manifest recorded (one row's worth of
    // digest changed) fails the drill, named, and leaves nothing behind.
    let newest = dumps(c).pop().unwrap();
    let manifest = c.merged.join(DIR).join(format!("{newest}.json"));
    let good = std::fs::read_to_string(&manifest).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&good).unwrap();
    let d = m["digests"]["public.validation_runs"]
        .as_str()
        .expect("the manifest has a digest of validation_runs")
        .parse::<i128>()
        .unwrap();
    m["digests"]["public.validation_runs"] = (d + 1).to_string().into();
    std::fs::write(&manifest, m.to_string()).unwrap();
    let (code, out) = run(c, &["backup", "--verify-restore"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("public.validation_runs: the same") && out.contains("content digest"),
        "{out}"
    );
    assert_eq!(scratch(c), "0", "a failed drill left its scratch database");
    let (code, _, out) = status(c);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("restore drill FAILED"), "{out}");
    std::fs::write(&manifest, good).unwrap();
    let (code, out) = run(
        c,
        &["backup", "--verify-restore", &format!("/{DIR}/{newest}")],
    );
    assert_eq!(code, 0, "{out}");
    let (code, _, out) = status(c);
    assert_eq!(code, 0, "{out}");
    phase("restore drill", t);
}
