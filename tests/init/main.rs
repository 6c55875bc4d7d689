//! `provision init` where no init system runs (the supervisord path), in a fresh Debian 12
//! root for this test: an overlay over the cached root of `tests/support/root.rs`, started
//! with systemd-nspawn without booting, on a network of its own, with the packages init
//! installs pre-downloaded. In order: --check --diff touches nothing and shows no secret;
//! the real run passes verify with no secret in any process's argv or in the run logs; a
//! second run changes nothing; a changed setting changes only what depends on it; a run
//! failing mid-way leaves its restarts pending for the next; a drifted database password is
//! healed; TLS with a self-signed certificate is verified over https. Then the day-2
//! commands of `tests/support/day2.rs` on the supervisord path.

#[path = "../support/acme.rs"]
mod acme;
#[path = "../support/attacks.rs"]
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

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use container::Container;
use stages::Stages;

use provision::init::answers::Answers;
use provision::init::saved::{self, Credentials};
use provision::settings::Secret;

const CONFIG: &str = "etc/live-dashboard/provision.yaml";

/// A config file with known secrets: the non-interactive path, and what the leak checks
/// look for.
fn write_config(c: &Container) -> Vec<String> {
    let answers = Answers {
        db_password: Secret::new("TestDbPassw0rdTestDbPassw0rdTestDbPassw0"),
        redis_password: Secret::new("TestRedisPassw0rdTestRedisPassw0rdTestRe"),
        // Not supervisord's defaults: day 2 checks they reach its program definitions.
        log_max_mb: 5,
        log_keep: 3,
        // A login limit of its own: verify's 429 check must follow it.
        limits: provision::init::answers::SiteLimits {
            auth_rate: "6r/m".into(),
            auth_burst: 8,
            ..Default::default()
        },
        ..Answers::defaults()
    };
    let creds = Credentials {
        admin_user: "admin".into(),
        admin_password: Secret::new("TestAdminPassw0rdTestAdminPassw0rdTestAd"),
        verify_token: Secret::new("TestVerifyT0kenTestVerifyT0kenTestVerify"),
    };
    let vars = provision::init::vars::vars(&answers, 2, 4096, "none");
    let text = provision::init::saved_file::render(&answers, &creds, "supervisor", &vars);
    std::fs::create_dir_all(c.merged.join("etc/live-dashboard")).unwrap();
    saved::write(&c.merged.join(CONFIG), &text).unwrap();
    vec![
        answers.db_password.expose().to_string(),
        answers.redis_password.expose().to_string(),
        creds.admin_password.expose().to_string(),
        creds.verify_token.expose().to_string(),
    ]
}

struct Run {
    code: i32,
    out: String,
    /// Secrets seen in any process's command line while it ran.
    leaked_argv: BTreeSet<String>,
}

impl Run {
    fn recap(&self) -> &str {
        self.out
            .lines()
            .rev()
            .find(|l| l.starts_with("ok="))
            .unwrap_or("")
    }
    fn changed(&self) -> Vec<String> {
        self.out
            .lines()
            .filter_map(|l| l.strip_prefix("changed  "))
            .map(|l| l.split(" (").next().unwrap_or(l).trim().to_string())
            .collect()
    }
}

/// Runs `provision init ARGS` inside, watching every process's argv (the container's are
/// the host's too) for the secrets meanwhile.
fn init(c: &Container, args: &[&str], secrets: &[String]) -> Run {
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let watcher = {
        let (done, seen, secrets) = (done.clone(), seen.clone(), secrets.to_vec());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                        let text = String::from_utf8_lossy(&cmdline);
                        for s in &secrets {
                            if text.contains(s.as_str()) {
                                seen.lock().unwrap().insert(text.replace('\0', " "));
                            }
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        })
    };
    let mut argv = vec!["/root/provision", "init"];
    argv.extend_from_slice(args);
    let out = c.exec(&argv);
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let leaked_argv = seen.lock().unwrap().clone();
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr),
        leaked_argv,
    }
}

fn assert_no_secret(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret appears in {what}:\n{text}"
        );
    }
}

/// The container and the secrets every stage checks for.
struct Scenario {
    c: Container,
    secrets: Vec<String>,
    /// Everything but the admin password, which the first run shows once, by design.
    quiet_secrets: Vec<String>,
}

impl Scenario {
    fn host(&self, p: &str) -> std::path::PathBuf {
        self.c.merged.join(p.trim_start_matches('/'))
    }

    fn init(&self, args: &[&str]) -> Run {
        init(&self.c, args, &self.secrets)
    }
}

#[test]
fn init_from_nothing_then_idempotent_then_changes_failures_drift_tls_and_day_two() {
    provision::host::packages::ensure(
        provision::host::packages::manager(provision::host::facts::PackageManager::Apt).as_ref(),
        &["debootstrap", "systemd-container"],
    )
    .expect("debootstrap and systemd-nspawn install from Debian's archive");
    let c = Container::plain(&root::ready());
    std::fs::copy(
        env!("CARGO_BIN_EXE_provision"),
        c.merged.join("root/provision"),
    )
    .unwrap();
    let mut stages = Stages::default();
    stages.run("status before init", || before_init(&c));
    let secrets = write_config(&c);
    let quiet_secrets = secrets
        .iter()
        .filter(|s| !s.starts_with("TestAdmin"))
        .cloned()
        .collect();
    let s = Scenario {
        c,
        secrets,
        quiet_secrets,
    };
    stages.run("--check --diff", || check_diff(&s));
    if !stages.run("the first run", || first_run(&s)) {
        return stages.finish();
    }
    stages.run("a second run", || second_run(&s));
    stages.run("one setting", || one_setting(&s));
    stages.run("a failure mid-way", || failure_mid_way(&s));
    stages.run("drift", || drift(&s));
    stages.run("tls", || tls(&s));
    stages.run("attacks", || attacks::all(&s.c));
    stages.run("day 2", || {
        day2::all(&s.c, &day2::Manager { systemd: false })
    });
    stages.finish();
}

/// Before init: the day-2 commands say so.
fn before_init(c: &Container) {
    let never = c.exec(&["/root/provision", "status"]);
    assert_eq!(never.status.code(), Some(2), "{}", day2::text(&never));
    assert!(day2::text(&never).contains("never initialised"));
}

/// --check --diff: everything it would do, secrets masked, nothing touched.
fn check_diff(s: &Scenario) {
    let plan = s.init(&["--yes", "--demo", "--check", "--diff"]);
    assert_eq!(plan.code, 1, "something would change:\n{}", plan.out);
    assert!(
        plan.out.contains("would run") && plan.out.contains("write /etc/live-dashboard/.env"),
        "{}",
        plan.out
    );
    assert_no_secret("--check --diff output", &plan.out, &s.secrets);
    for dir in ["/var/lib/live-dashboard", "/var/lib/provision"] {
        assert!(!s.host(dir).exists(), "--check created {dir}");
    }
    assert!(
        !s.host("/etc/live-dashboard/.env").exists(),
        "--check wrote the .env"
    );
}

/// The real run, from nothing (packages from the pre-downloaded cache): verify passes
/// through nginx; no secret in argv, the output or the run logs.
fn first_run(s: &Scenario) {
    let started = std::time::Instant::now();
    let first = s.init(&["--yes", "--demo"]);
    println!("{}\nfirst run: {:?}", first.out, started.elapsed());
    assert_eq!(first.code, 0, "{}\nconsole:\n{}", first.out, s.c.console());
    assert!(first.out.contains("PASSED (exit 0)"), "{}", first.out);
    assert!(first.out.contains("changed  packages"), "{}", first.out);
    assert!(
        first.out.contains("legacy data:") && first.out.contains("Migrated"),
        "{}",
        first.out
    );
    assert!(
        first
            .out
            .contains(&format!("the dashboard: http://{}/", root::ADDRESS)),
        "{}",
        first.out
    );
    assert!(
        first.leaked_argv.is_empty(),
        "secrets in argv: {:?}",
        first.leaked_argv
    );
    assert_no_secret("the first run's output", &first.out, &s.quiet_secrets);
    // root:live-dashboard 0640: the service reads it and cannot change it.
    let env = std::fs::metadata(s.host("/etc/live-dashboard/.env")).unwrap();
    assert_eq!(env.permissions().mode() & 0o777, 0o640);
    let group = std::fs::read_to_string(s.host("/etc/group")).unwrap();
    let gid = group
        .lines()
        .find(|l| l.starts_with("live-dashboard:"))
        .and_then(|l| l.split(':').nth(2))
        .expect("the service group exists");
    assert_eq!((env.uid(), env.gid().to_string()), (0, gid.to_string()));
    for log in std::fs::read_dir(s.host("/var/lib/provision/logs"))
        .unwrap()
        .flatten()
    {
        assert_no_secret(
            "a run log",
            &std::fs::read_to_string(log.path()).unwrap(),
            &s.secrets,
        );
    }
}

/// A second run changes nothing.
fn second_run(s: &Scenario) {
    let started = std::time::Instant::now();
    let second = s.init(&["--yes", "--demo"]);
    let took = started.elapsed();
    assert_eq!(second.code, 0, "{}", second.out);
    assert!(second.recap().contains("changed=0"), "{}", second.out);
    println!("second run: {} in {took:?}", second.recap());
}

/// One setting: only what depends on it changes.
fn one_setting(s: &Scenario) {
    let more = s.init(&["--yes", "--instances", "3"]);
    assert_eq!(more.code, 0, "{}", more.out);
    let changed: BTreeSet<String> = more.changed().into_iter().collect();
    let allowed: BTreeSet<String> = [
        "config /etc/live-dashboard/provision.yaml",
        "postgresql settings",
        "handler: restart postgresql",
        "supervised instances",
        "instance 8003 running",
        "instance 8003 ready",
        "nginx site",
        // PostgreSQL's restart (max_connections) makes the instances wait for it.
        "instance 8001 ready",
        "instance 8002 ready",
        "handler: update supervised programs",
        "handler: reload nginx",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert!(
        changed.is_subset(&allowed),
        "unexpected changes: {:?}",
        changed.difference(&allowed).collect::<Vec<_>>()
    );
    assert!(
        changed.contains("instance 8003 running") && changed.contains("nginx site"),
        "{changed:?}"
    );
    assert!(
        !changed
            .iter()
            .any(|c| c.starts_with("handler: restart instance")),
        "the running instances were restarted: {changed:?}"
    );
}

/// A failure mid-way: nginx -t refuses (a broken file elsewhere), the run stops after the
/// instances' restarts were notified; the next run completes and performs them.
fn failure_mid_way(s: &Scenario) {
    let broken_conf = s.host("/etc/nginx/conf.d/provision-test-broken.conf");
    std::fs::write(&broken_conf, "this is not nginx syntax;\n").unwrap();
    let broken = s.init(&["--yes", "--instances", "2"]);
    assert_eq!(broken.code, 1, "{}", broken.out);
    assert!(
        broken.out.contains("nginx -t refused the new") && broken.out.contains("put back"),
        "{}",
        broken.out
    );
    // status tells of the unfinished run.
    let half = s.c.exec(&["/root/provision", "status"]);
    assert_eq!(half.status.code(), Some(3), "{}", day2::text(&half));
    assert!(
        day2::text(&half).contains("stopped part-way"),
        "{}",
        day2::text(&half)
    );
    std::fs::remove_file(&broken_conf).unwrap();
    let resumed = s.init(&["--yes", "--instances", "2"]);
    assert_eq!(resumed.code, 0, "{}", resumed.out);
    assert!(
        resumed
            .changed()
            .contains(&"handler: update supervised programs".to_string()),
        "the pending update did not run: {}",
        resumed.out
    );
}

/// Drift: the role's password changed behind init's back; the next run heals it.
fn drift(s: &Scenario) {
    let drift = s.c.exec(&[
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-qc",
        "ALTER ROLE dashboard_user PASSWORD 'drifted'",
    ]);
    assert!(
        drift.status.success(),
        "{}",
        String::from_utf8_lossy(&drift.stderr)
    );
    let healed = s.init(&["--yes"]);
    assert_eq!(healed.code, 0, "{}", healed.out);
    assert!(
        healed.changed().contains(&"database role".to_string()),
        "{}",
        healed.out
    );
    assert!(
        healed.out.contains("ok       postgres login"),
        "{}",
        healed.out
    );
    let last = s.init(&["--yes"]);
    assert!(last.recap().contains("changed=0"), "{}", last.out);
}

/// TLS: a self-signed certificate made by init, nginx on 443 with a redirect from 80,
/// and verify over https (trusting the site's own certificate).
fn tls(s: &Scenario) {
    let tls = s.init(&["--yes", "--tls", "self-signed"]);
    assert_eq!(tls.code, 0, "{}", tls.out);
    assert!(
        tls.changed()
            .contains(&"self-signed certificate".to_string()),
        "{}",
        tls.out
    );
    for check in [
        "ok       tls ",
        "ok       http redirects to https",
        "https://localhost",
    ] {
        assert!(tls.out.contains(check), "{check}: {}", tls.out);
    }
    assert!(tls.out.contains("Strict-Transport-Security"), "{}", tls.out);
    let again = s.init(&["--yes"]);
    assert!(again.recap().contains("changed=0"), "{}", again.out);
}
