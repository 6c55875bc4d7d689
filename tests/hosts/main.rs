//! Several hosts: booted systemd containers on a bridge inside a network namespace the
//! test creates (192.0.2.0/24), reached over ssh by `provision` running in that namespace.
//! No traffic leaves the test's own namespaces.

#[path = "../support/bed.rs"]
mod bed;
#[path = "../support/container.rs"]
mod container;
#[path = "../support/helpers.rs"]
mod helpers;
#[path = "../support/load_report.rs"]
mod load_report;
#[path = "../support/root.rs"]
mod root;
#[path = "../support/sshd.rs"]
mod sshd;
#[path = "../support/stages.rs"]
mod stages;

use bed::Bed;
use helpers::Ran;

/// Five hosts (database, cache, two app hosts, load balancer) in one bed, in phases that
/// report separately: reached over ssh, deployed with `init --inventory`, verified through
/// the load balancer, a second run that changes nothing, and the firewall between them.
#[test]
fn five_hosts() {
    let mut bed = Bed::start(&["db1", "cache1", "app1", "app2", "lb1"]);
    // The controller load-tests through the load balancer: nginx's per-address API limit
    // must not apply to it.
    let inv = bed.inventory(
        &["postgres", "redis", "app", "app", "nginx"],
        &format!("rate_limit_exempt: [{}]\n", bed::CONTROLLER),
    );
    let mut stages = stages::Stages::default();
    if !stages.run("ping", || ping(&bed, &inv)) {
        return stages.finish();
    }
    if !stages.run("init", || init(&bed, &inv)) {
        return stages.finish();
    }
    stages.run("second run", || second_run(&bed, &inv));
    stages.run("firewall", || firewall(&bed));
    stages.run("status", || status_all_up(&bed, &inv));
    stages.run("backup fetched", || backup_fetched(&bed, &inv));
    stages.run("rolling restart under load", || {
        rolling_under_load(&bed, &inv)
    });
    stages.run("one app host powered off", || {
        power_off_app2(&mut bed, &inv)
    });
    stages.finish();
}

/// A backup taken on the database host and fetched to the controller, checked there.
fn backup_fetched(bed: &Bed, inv: &std::path::Path) {
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
fn rolling_under_load(bed: &Bed, inv: &std::path::Path) {
    let config = bed.dir.path().join("provision.yaml");
    let lb = format!("http://{}", bed.host("lb1").address);
    let (load, restart) = std::thread::scope(|s| {
        let load = s.spawn(|| {
            let mut args = vec![
                "--config",
                config.to_str().unwrap(),
                "verify",
                "--url",
                &lb,
                "--remote-only",
            ];
            args.extend_from_slice(load_report::LOAD_ARGS);
            bed.provision(&args)
        });
        // After verify's checks, well inside the load's 25 s.
        std::thread::sleep(std::time::Duration::from_secs(6));
        let restart = on_inventory(bed, inv, &["restart", "--rolling"]);
        (load.join().unwrap(), restart)
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
    let start = load.stdout.find('{').unwrap_or(0);
    let report: serde_json::Value = serde_json::from_str(&load.stdout[start..])
        .unwrap_or_else(|e| panic!("{e}: {}", show(&load)));
    let (ok, failed) = load_report::answered(&report);
    eprintln!(
        "under load: {ok} answered 2xx, {failed} not, {} resent on a closed keep-alive connection",
        report["load"]["resent"]
    );
    assert!(ok > 3000, "{ok} requests answered: {}", show(&load));
    assert_eq!(failed, 0, "{}", report["load"]["by_class"]);
}

fn status_run(bed: &Bed, inv: &std::path::Path) -> Ran {
    on_inventory(bed, inv, &["status"])
}

/// `status` across the hosts: each host's own parts (only what its roles hold), all ok.
fn status_all_up(bed: &Bed, inv: &std::path::Path) {
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

/// The site answers through nginx from the controller: the status codes of `n` requests.
fn site_codes(bed: &Bed, n: usize) -> Vec<String> {
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
fn power_off_app2(bed: &mut Bed, inv: &std::path::Path) {
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

/// `provision ARGS --inventory INV --state-dir STATE` as the controller.
fn on_inventory(bed: &Bed, inv: &std::path::Path, args: &[&str]) -> Ran {
    let state = bed.dir.path().join("state");
    let mut all = args.to_vec();
    all.extend([
        "--inventory",
        inv.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    bed.provision(&all)
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
    on_inventory(
        bed,
        inv,
        &[
            "--config",
            config.to_str().unwrap(),
            "init",
            "--yes",
            "--demo",
        ],
    )
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

/// The first deployment, with one app host unreachable over ssh: it is named with ssh's
/// reason, the hosts before it are deployed, the load balancer after it is not touched.
/// Then, reachable again, the next run finishes the job: every host changed, the demo
/// data migrated on the database host, verify passing through the load balancer.
fn init(bed: &Bed, inv: &std::path::Path) {
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
    let config = bed.dir.path().join("provision.yaml");
    let plan = on_inventory(
        bed,
        inv,
        &["--config", config.to_str().unwrap(), "plan", "--yes"],
    );
    assert_eq!(plan.code, 0, "{}", show(&plan));
    assert_eq!(recap_lines(&plan).len(), 5, "{}", show(&plan));
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
