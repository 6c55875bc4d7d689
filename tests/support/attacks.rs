//! The attacks of SECURITY.md performed against the stack init built in a test container,
//! each asserting it fails: with the service user's rights (root's state, backups, logs and
//! the `.env` out of its reach; an earlier install's layout taken back from it by the next
//! init), with root's own commands pointed at hostile input (templates planted in the
//! current directory, a forged history manifest, a shared `--dir`, a `.env` naming another
//! database, names that would add lines to configuration files).

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::container::Container;
use crate::day2::{phase, run, text, BIN};

const SERVICE: &str = "live-dashboard";

/// `sh -c SCRIPT` inside, as root: its exit code and output.
fn sh(c: &Container, script: &str) -> (i32, String) {
    let o = c.exec(&["sh", "-c", script]);
    (o.status.code().unwrap_or(-1), text(&o))
}

/// `sh -c SCRIPT` as the service user.
fn as_service(c: &Container, script: &str) -> (i32, String) {
    let o = c.exec(&["runuser", "-u", SERVICE, "--", "sh", "-c", script]);
    (o.status.code().unwrap_or(-1), text(&o))
}

fn id_of(c: &Container, file: &str, name: &str) -> u32 {
    std::fs::read_to_string(c.merged.join(file))
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == name).then(|| f[2].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {name} in {file}"))
}

/// (uid, gid, mode) of a path inside, not following links.
fn owner_mode(c: &Container, path: &str) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(c.merged.join(path.trim_start_matches('/')))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    (m.uid(), m.gid(), m.permissions().mode() & 0o7777)
}

fn exists(c: &Container, path: &str) -> bool {
    std::fs::symlink_metadata(c.merged.join(path.trim_start_matches('/'))).is_ok()
}

/// With the service user's rights: nothing root reads, writes into or runs is writable.
pub fn service_user_boundaries(c: &Container) {
    let t = std::time::Instant::now();
    let gid = id_of(c, "etc/group", SERVICE);
    for (path, want) in [
        ("/var/lib/provision", (0, 0, 0o700)),
        ("/var/backups/live-dashboard", (0, 0, 0o700)),
        ("/var/lib/live-dashboard", (0, 0, 0o755)),
        ("/var/log/live-dashboard", (0, 0, 0o750)),
        ("/etc/live-dashboard/.env", (0, gid, 0o640)),
    ] {
        assert_eq!(owner_mode(c, path), want, "{path}: (uid, gid, mode)");
    }
    // The service reads its settings, and can change none of them.
    let (code, out) = as_service(c, "grep -c DATABASE_URL /etc/live-dashboard/.env");
    assert_eq!(code, 0, "the service cannot read its .env: {out}");
    for attack in [
        "echo PROVISION_LOG=debug >> /etc/live-dashboard/.env",
        "mv /etc/live-dashboard/.env /tmp/env",
        "mkdir /var/lib/live-dashboard/provision",
        "ls /var/lib/provision",
        "touch /var/lib/provision/history",
        "ls /var/backups/live-dashboard",
        "ln -s /etc/shadow /var/log/live-dashboard/live-dashboard-8001.log.1",
        "touch /var/log/live-dashboard/planted",
    ] {
        let (code, out) = as_service(c, attack);
        assert_ne!(code, 0, "the service user could: {attack}\n{out}");
    }
    phase("attacks: the service user's rights", t);
}

/// Every attack, on the supervisord path (tests/init), before the day-2 sequence.
pub fn all(c: &Container) {
    service_user_boundaries(c);
    legacy_layout_taken_back(c);
    forged_manifest_is_bounded(c);
    templates_never_from_the_current_directory(c);
    backups_and_database_names(c);
    values_that_would_add_lines(c);
    tls_and_redis_as_configured(c);
}

/// The site offers only Mozilla's intermediate ciphers and no session tickets (the stack
/// runs with `--tls self-signed` here); Redis lets in no client without the app's user, and
/// that user can touch nothing dangerous.
fn tls_and_redis_as_configured(c: &Container) {
    let t = std::time::Instant::now();
    let (code, out) = sh(
        c,
        "openssl s_client -connect 127.0.0.1:443 -servername localhost -tls1_2 -cipher AES128-SHA </dev/null 2>&1",
    );
    assert_ne!(code, 0, "a CBC-SHA1 cipher was accepted:\n{out}");
    let (code, out) = sh(
        c,
        "openssl s_client -connect 127.0.0.1:443 -servername localhost -tls1_2 </dev/null 2>&1",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ECDHE-"), "{out}");
    assert!(
        !out.contains("TLS session ticket"),
        "session tickets are on:\n{out}"
    );
    let (_, out) = sh(c, "redis-cli ping 2>&1");
    assert!(
        out.contains("NOAUTH"),
        "a client without a user got in: {out}"
    );
    let app = "REDISCLI_AUTH=$(sed -n 's#^REDIS_URL=redis://live-dashboard:\\(.*\\)@127.*#\\1#p' /etc/live-dashboard/.env) \
               redis-cli --no-auth-warning --user live-dashboard";
    let (_, out) = sh(c, &format!("{app} ping 2>&1"));
    assert!(out.contains("PONG"), "the app's user cannot log in: {out}");
    for cmd in [
        "flushall",
        "config get requirepass",
        "keys '*'",
        "get other:key",
    ] {
        let (_, out) = sh(c, &format!("{app} {cmd} 2>&1"));
        assert!(out.contains("NOPERM"), "the app's user may {cmd}: {out}");
    }
    phase("attacks: TLS and Redis as configured", t);
}

/// An install of before `/var/lib/provision`: root's state in the service user's home,
/// which the service user replaced with a directory holding a manifest of its own; a link
/// in the log directory. The next init takes it all back; the one after changes nothing.
fn legacy_layout_taken_back(c: &Container) {
    let t = std::time::Instant::now();
    let (code, out) = run(c, &["backup"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = sh(
        c,
        "set -e; mv /var/lib/provision /var/lib/live-dashboard/provision; \
         mv /var/backups/live-dashboard /var/lib/live-dashboard/backups; \
         chown live-dashboard: /var/lib/live-dashboard /var/log/live-dashboard; \
         chmod 0750 /var/lib/live-dashboard",
    );
    assert_eq!(code, 0, "{out}");
    let forged = r#"{"id":"99990101T000000.000Z-1","started":"9999-01-01T00:00:00Z","command":"init","files":[{"path":"/etc/cron.d/provision-pwned","previous":null,"mode":420,"uid":0,"gid":0,"notify":["pwn"]}],"handlers":[{"name":"pwn","command":{"argv":["touch","/root/pwned"]}}]}"#;
    let (code, out) = as_service(
        c,
        &format!(
            "set -e; cd /var/lib/live-dashboard; mv provision provision.real; \
             mkdir -p provision/history/99990101T000000.000Z-1; \
             printf '%s' '{forged}' > provision/history/99990101T000000.000Z-1/manifest.json; \
             rm -f /var/log/live-dashboard/live-dashboard-8001.log; \
             ln -s /etc/provision-attack /var/log/live-dashboard/live-dashboard-8001.log"
        ),
    );
    assert_eq!(
        code, 0,
        "the old layout let the service user do this: {out}"
    );
    let (code, out) = run(c, &["init", "--yes"]);
    println!("{out}");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("/var/lib/live-dashboard taken back")
            && out.contains(
                "/var/lib/live-dashboard/provision removed (not a directory of root's: planted)"
            )
            && out.contains("/var/lib/live-dashboard/backups moved to /var/backups/live-dashboard")
            && out.contains("live-dashboard-8001.log removed (planted by another user)"),
        "{out}"
    );
    assert!(!exists(c, "/var/lib/live-dashboard/provision"));
    assert!(!exists(c, "/var/lib/live-dashboard/backups"));
    assert!(!exists(
        c,
        "/var/lib/provision/history/99990101T000000.000Z-1"
    ));
    let log = c
        .merged
        .join("var/log/live-dashboard/live-dashboard-8001.log");
    assert!(
        std::fs::symlink_metadata(&log).map_or(true, |m| !m.file_type().is_symlink()),
        "the planted log link is still there"
    );
    assert!(!exists(c, "/etc/provision-attack"));
    let dumps = std::fs::read_dir(c.merged.join("var/backups/live-dashboard"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "dump"))
        .count();
    assert!(dumps >= 1, "the backups were moved");
    assert_eq!(owner_mode(c, "/var/lib/live-dashboard"), (0, 0, 0o755));
    assert_eq!(owner_mode(c, "/var/log/live-dashboard"), (0, 0, 0o750));
    // The rollback the planted manifest was for finds nothing of it.
    assert!(!exists(c, "/etc/cron.d/provision-pwned") && !exists(c, "/root/pwned"));
    // The operator brings back the history the attacker had moved aside (the day-2
    // sequence's uninstall needs the oldest versions).
    let (code, out) = sh(
        c,
        "set -e; cp -a /var/lib/live-dashboard/provision.real/history/. /var/lib/provision/history/; \
         rm -rf /var/lib/live-dashboard/provision.real",
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(c, &["init", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines().last().unwrap_or("").contains("changed=0"),
        "{out}"
    );
    service_user_boundaries(c);
    phase("attacks: an earlier layout taken back", t);
}

/// A manifest in root's own history (put there by whoever got root's files) still cannot
/// make rollback write a file init does not manage or run a command init does not define.
fn forged_manifest_is_bounded(c: &Container) {
    let t = std::time::Instant::now();
    let id = "99990101T000000.000Z-2";
    let forged = format!(
        r#"{{"id":"{id}","started":"9999-01-01T00:00:00Z","command":"init","files":[
            {{"path":"/etc/provision-forged","previous":null,"mode":420,"uid":0,"gid":0,"notify":["reload nginx","pwn"]}}],
          "handlers":[{{"name":"reload nginx","command":{{"argv":["touch","/root/pwned-as-reload"]}}}},
                      {{"name":"pwn","command":{{"argv":["touch","/root/pwned"]}}}}]}}"#
    );
    let dir = c.merged.join(format!("var/lib/provision/history/{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("manifest.json"), forged).unwrap();
    std::fs::write(c.merged.join("etc/provision-forged"), "kept").unwrap();
    let (code, out) = run(c, &["rollback"]);
    println!("{out}");
    assert_eq!(
        code, 1,
        "a manifest asking for more than init manages: {out}"
    );
    assert!(
        out.contains("refused   file /etc/provision-forged")
            && out.contains("refused   handler \"pwn\""),
        "{out}"
    );
    assert!(
        exists(c, "/etc/provision-forged"),
        "rollback removed a file init does not manage"
    );
    assert!(
        !exists(c, "/root/pwned") && !exists(c, "/root/pwned-as-reload"),
        "rollback ran a manifest's command"
    );
    // The operator removes the forged generation (uninstall would report it too).
    std::fs::remove_file(c.merged.join("etc/provision-forged")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let (code, out) = run(c, &["verify", "--no-load"]);
    assert_eq!(code, 0, "{out}");
    phase("attacks: a forged manifest", t);
}

/// Without --templates, files of the current directory are never used: a pg_hba.conf
/// another user left in /tmp does not reach PostgreSQL.
fn templates_never_from_the_current_directory(c: &Container) {
    let t = std::time::Instant::now();
    let (code, out) = sh(
        c,
        "set -e; mkdir -p /tmp/cwd/postgresql /tmp/cwd/nginx; \
         printf 'host all all 0.0.0.0/0 trust\\n' > /tmp/cwd/postgresql/pg_hba.conf; \
         printf 'server { listen 81; }\\n' > /tmp/cwd/nginx/live-dashboard.conf; \
         chown -R nobody /tmp/cwd",
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = sh(c, &format!("cd /tmp/cwd && {BIN} init --yes"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines().last().unwrap_or("").contains("changed=0"),
        "{out}"
    );
    let hba = std::fs::read_to_string(c.merged.join("etc/postgresql/15/main/pg_hba.conf")).unwrap();
    assert!(
        !hba.contains("0.0.0.0/0"),
        "a planted template was installed:\n{hba}"
    );
    phase("attacks: templates in the current directory", t);
}

/// `backup --dir` on a shared directory keeps it as it was and writes into a private one;
/// the database backed up is the config's, whatever the `.env` says; a name that is a path
/// is refused.
fn backups_and_database_names(c: &Container) {
    let t = std::time::Instant::now();
    let (code, out) = sh(
        c,
        "set -e; mkdir -m 1777 /srv/shared; cp -p /etc/live-dashboard/.env /root/env.saved; \
         sed -i 's#/live_validation_dashboard$#/postgres#' /etc/live-dashboard/.env; \
         grep -q '/postgres$' /etc/live-dashboard/.env",
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(c, &["backup", "--dir", "/srv/shared"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("/srv/shared/live-dashboard-backups/live_validation_dashboard-"),
        "the database named by the .env was used, not the config's: {out}"
    );
    assert_eq!(owner_mode(c, "/srv/shared").2, 0o1777, "--dir was chmodded");
    assert_eq!(
        owner_mode(c, "/srv/shared/live-dashboard-backups"),
        (0, 0, 0o700)
    );
    for e in std::fs::read_dir(c.merged.join("srv/shared/live-dashboard-backups"))
        .unwrap()
        .flatten()
    {
        assert_eq!(
            e.metadata().unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            e.path().display()
        );
    }
    let (code, out) = sh(c, "cp -p /root/env.saved /etc/live-dashboard/.env");
    assert_eq!(code, 0, "{out}");
    let (code, out) = sh(
        c,
        "sed 's#5432/live_validation_dashboard#5432/..%2F..%2Fetc%2Fcron.d%2Fx#' \
         /etc/live-dashboard/provision.yaml > /root/slash.yaml && chmod 600 /root/slash.yaml",
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(c, &["--config", "/root/slash.yaml", "backup"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot name a backup file"), "{out}");
    assert!(!exists(c, "/etc/cron.d/x"));
    phase("attacks: backup directories and names", t);
}

/// Names that would add a pg_hba line or an nginx directive are refused before anything
/// is rendered, naming the key and where it came from.
fn values_that_would_add_lines(c: &Container) {
    let t = std::time::Instant::now();
    let hba =
        || std::fs::read_to_string(c.merged.join("etc/postgresql/15/main/pg_hba.conf")).unwrap();
    let before = hba();
    let (code, out) = run(
        c,
        &["init", "--yes", "--domain", "x.com;include /etc/shadow"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("nginx.server_name (from --domain)"), "{out}");
    let (code, out) = sh(
        c,
        r##"sed 's#^  db_user: .*#  db_user: "dashboard_user\\nhost all all 0.0.0.0/0 trust"#' \
           /etc/live-dashboard/provision.yaml > /root/bad.yaml && chmod 600 /root/bad.yaml && grep -n 'db_user: "' /root/bad.yaml"##,
    );
    assert_eq!(code, 0, "{out}");
    let line = out.split(':').next().unwrap().trim().to_string();
    let (code, out) = run(c, &["--config", "/root/bad.yaml", "init", "--yes"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("init.db_user (/root/bad.yaml:{line})")) && out.contains("\\n"),
        "{out}"
    );
    assert_eq!(hba(), before, "pg_hba.conf changed");
    phase("attacks: values that would add lines", t);
}
