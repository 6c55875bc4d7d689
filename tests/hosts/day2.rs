//! Day 2 across the hosts: status and logs, a backup fetched, a rolling restart under
//! load, one app host powered off and back.

use crate::bed::Bed;
use crate::helpers::Ran;
use crate::load_report;
use crate::{on_inventory, show};

pub fn status_run(bed: &Bed, inv: &std::path::Path) -> Ran {
    on_inventory(bed, inv, &["status"])
}

/// `status` across the hosts: each host's own parts (only what its roles hold), all ok.
pub fn status_all_up(bed: &Bed, inv: &std::path::Path) {
    let ran = status_run(bed, inv);
    assert_eq!(ran.code, 0, "{}", show(&ran));
    assert!(
        ran.stdout
            .lines()
            .any(|l| l.starts_with("db1    postgresql    ok")),
        "{}",
        show(&ran)
    );
    let json = on_inventory(bed, inv, &["--json", "status"]);
    assert_eq!(json.code, 0, "{}", show(&json));
    let hosts = json.json();
    let parts_of = |h: &str| -> Vec<String> {
        let host = hosts
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["host"] == h)
            .unwrap_or_else(|| panic!("{h}: {}", show(&json)));
        host["report"]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap(),
                    p["state"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(parts_of("db1"), ["postgresql ok"]);
    assert_eq!(parts_of("cache1"), ["redis ok"]);
    assert_eq!(parts_of("lb1"), ["nginx ok"]);
    for app in ["app1", "app2"] {
        assert_eq!(parts_of(app), ["instance 8001 ok", "instance 8002 ok"]);
    }
    // One host's logs, read there: the instances' journal on app1.
    let logs = on_inventory(bed, inv, &["logs", "server", "--host", "app1", "-n", "20"]);
    assert_eq!(logs.code, 0, "{}", show(&logs));
    assert!(
        logs.stdout.contains("live-dashboard@800"),
        "{}",
        show(&logs)
    );
    let unknown = bed.provision(&[
        "logs",
        "--host",
        "db9",
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    assert_eq!(unknown.code, 2, "{}", show(&unknown));
    assert!(
        unknown.stderr.contains("--host db9: no such host in")
            && unknown
                .stderr
                .contains("(its hosts: db1, cache1, app1, app2, lb1)"),
        "{}",
        show(&unknown)
    );
}

/// A backup taken on the database host and fetched to the controller, checked there.
pub fn backup_fetched(bed: &Bed, inv: &std::path::Path) {
    let dir = bed.dir.path().join("fetched");
    let ran = on_inventory(bed, inv, &["backup", "--fetch", dir.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", show(&ran));
    assert!(ran.stdout.starts_with("db1: backed up "), "{}", show(&ran));
    let dumps: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        dumps.len(),
        3,
        "the dump, its manifest and checksum: {dumps:?}"
    );
    let dump = dumps
        .iter()
        .find(|d| d.ends_with(".dump"))
        .expect("a .dump");
    assert!(
        ran.stdout.contains(&format!(
            "fetched to {} (checksum ok)",
            dir.join(dump).display()
        )),
        "{}",
        show(&ran)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// `restart --rolling` across the app hosts while verify's load runs through the load
/// balancer at 200 req/s: every request answered.
pub fn rolling_under_load(bed: &Bed, inv: &std::path::Path) {
    let restart = under_load(bed, "rolling restart", || {
        on_inventory(bed, inv, &["restart", "--rolling"])
    });
    eprintln!("rolling restart across hosts:\n{}", restart.stdout);
    assert_eq!(restart.code, 0, "{}", show(&restart));
    for app in ["app1", "app2"] {
        assert!(
            restart.stdout.contains(&format!("{app}  back in rotation")),
            "{}",
            show(&restart)
        );
    }
}

/// Runs `during` while verify's load (200 req/s for 25 s) goes through the load balancer
/// from the controller, and asserts that every request of it was answered.
pub fn under_load<T: Send>(bed: &Bed, what: &str, during: impl FnOnce() -> T + Send) -> T {
    let config = bed.dir.path().join("provision.yaml");
    let lb = format!("http://{}", bed.host("lb1").address);
    let (load, done) = std::thread::scope(|s| {
        let load = s.spawn(|| {
            let mut args = vec![
                "--config",
                config.to_str().unwrap(),
                "verify",
                "--url",
                &lb,
                "--remote-only",
            ];
            let load = load_report::load_args(25);
            args.extend(load.iter().map(String::as_str));
            bed.provision(&args)
        });
        // After verify's checks, well inside the load's 25 s.
        std::thread::sleep(std::time::Duration::from_secs(6));
        let done = during();
        (load.join().unwrap(), done)
    });
    let start = load.stdout.find('{').unwrap_or(0);
    let report: serde_json::Value = serde_json::from_str(&load.stdout[start..])
        .unwrap_or_else(|e| panic!("{e}: {}", show(&load)));
    let (ok, failed) = load_report::answered(&report);
    eprintln!(
        "{what} under load: {ok} answered 2xx, {failed} not, {} resent on a closed keep-alive connection",
        report["load"]["resent"]
    );
    assert!(ok > 3000, "{ok} requests answered: {}", show(&load));
    assert_eq!(failed, 0, "{what}: {}", report["load"]["by_class"]);
    done
}

/// The site answers through nginx from the controller: the status codes of `n` requests.
pub fn site_codes(bed: &Bed, n: usize) -> Vec<String> {
    let lb = &bed.host("lb1").address;
    (0..n)
        .map(|_| {
            let out = std::process::Command::new("nsenter")
                .arg(format!("--net=/run/netns/{}", bed.netns))
                .args([
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "--max-time",
                    "15",
                    "-w",
                    "%{http_code}",
                ])
                .arg(format!("http://{lb}/api/runs?limit=5"))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).to_string()
        })
        .collect()
}

/// One app host powered off: the site still answers (nginx passes over it), `status`
/// names it down and exits 1; powered on, its instances start and it is back.
pub fn power_off_app2(bed: &mut Bed, inv: &std::path::Path) {
    bed.host_mut("app2").container.power_off();
    let codes = site_codes(bed, 12);
    assert!(
        codes.iter().all(|c| c == "200"),
        "through nginx with app2 off: {codes:?}"
    );
    let down = status_run(bed, inv);
    assert_eq!(down.code, 1, "{}", show(&down));
    assert!(
        down.stdout
            .lines()
            .any(|l| l.starts_with("app2 ") && l.contains(" down ")),
        "{}",
        show(&down)
    );
    assert!(
        down.stdout
            .contains("app2 (192.0.2.13:22): ssh could not connect"),
        "{}",
        show(&down)
    );
    bed.host_mut("app2").container.power_on();
    let started = std::time::Instant::now();
    loop {
        let up = status_run(bed, inv);
        if up.code == 0 {
            eprintln!("app2 back after {:.1} s", started.elapsed().as_secs_f64());
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(90),
            "app2 not back in 90 s: {}",
            show(&up)
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    let codes = site_codes(bed, 8);
    assert!(
        codes.iter().all(|c| c == "200"),
        "with app2 back: {codes:?}"
    );
}

/// `verify --inventory`: the remote checks through the load balancer and each host's own
/// checks over ssh, each host checking only the parts it holds; Redis stopped on the cache
/// host fails its own check and the app hosts' logins, with exit 1.
pub fn verify_across(bed: &Bed, inv: &std::path::Path) {
    let config = bed.dir.path().join("provision.yaml");
    let run = || {
        on_inventory(
            bed,
            inv,
            &[
                "--config",
                config.to_str().unwrap(),
                "--json",
                "verify",
                "--no-load",
            ],
        )
    };
    let outcomes = |ran: &Ran| -> Vec<(String, String)> {
        let start = ran.stdout.find('{').unwrap_or(0);
        let v: serde_json::Value = serde_json::from_str(&ran.stdout[start..])
            .unwrap_or_else(|e| panic!("{e}: {}", show(ran)));
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let ok = run();
    assert_eq!(ok.code, 0, "{}", show(&ok));
    let all = outcomes(&ok);
    let of = |all: &[(String, String)], name: &str| {
        all.iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| panic!("no check {name}: {all:?}"))
    };
    for (name, want) in [
        ("db1: postgres login", "passed"),
        ("db1: postgres and redis on loopback only", "passed"),
        ("db1: service active", "skipped"),
        ("cache1: redis login", "passed"),
        ("cache1: postgres login", "skipped"),
        ("app1: postgres login", "passed"),
        ("app2: redis login", "passed"),
        ("app1: health and ready per instance", "passed"),
        ("app2: service active", "passed"),
        ("app1: .env root-owned, not world-readable", "passed"),
        ("lb1: tcp ports", "passed"),
        ("lb1: redis login", "skipped"),
    ] {
        assert_eq!(of(&all, name), want, "{name}: {}", show(&ok));
    }

    let stop = bed.exec("cache1", &["systemctl", "stop", "redis-server"]);
    assert!(stop.status.success());
    let down = run();
    let start = bed.exec("cache1", &["systemctl", "start", "redis-server"]);
    assert!(start.status.success());
    assert_eq!(down.code, 1, "{}", show(&down));
    let all = outcomes(&down);
    for name in [
        "cache1: redis login",
        "app1: redis login",
        "app2: redis login",
    ] {
        assert_eq!(of(&all, name), "failed", "{name}: {}", show(&down));
    }
    assert_eq!(of(&all, "db1: postgres login"), "passed");
}
