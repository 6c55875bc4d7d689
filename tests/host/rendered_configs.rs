//! The templates init renders are accepted by the real daemons: PostgreSQL parses the
//! tuned settings (a large host's, too) and applies them, Redis starts from its rendered
//! config and wants the password, nginx -t passes the site with and without TLS.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use provision::init::answers::{Answers, Tls};
use provision::init::vars::vars;
use provision::render::Templates;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn postgresql_parses_the_tuned_settings() {
    let bin = std::env::var("PROVISION_TEST_PG_BIN").expect("run through scripts/test");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    run(Command::new("chown").args(["postgres:postgres"]).arg(&data));
    run(Command::new("runuser")
        .args(["-u", "postgres", "--", &format!("{bin}/initdb"), "-D"])
        .arg(&data)
        .arg("-A")
        .arg("peer"));
    let v = vars(
        &Answers {
            instances: 4,
            ..Answers::defaults()
        },
        8,
        64 * 1024,
        "systemd",
    );
    let conf = Templates::default()
        .render("postgresql/live-dashboard.conf", &v)
        .unwrap();
    std::fs::write(data.join("live-dashboard.conf"), conf).unwrap();
    let main = data.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&main).unwrap();
    text.push_str("include 'live-dashboard.conf'\n");
    std::fs::write(&main, text).unwrap();
    // -C parses every setting (a typo or a bad unit fails) and prints the effective value.
    for (name, want) in [
        ("max_connections", "148"),
        ("shared_buffers", "2097152"),
        ("work_mem", "112640"),
        ("password_encryption", "scram-sha-256"),
    ] {
        let got = run(Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{bin}/postgres"), "-D"])
            .arg(&data)
            .args(["-C", name]));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn redis_starts_from_its_rendered_config_with_the_default_user_off_and_the_app_confined() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let a = Answers::defaults();
    let v = vars(&a, 2, 4096, "systemd");
    let conf = Templates::default().render("redis/redis.conf", &v).unwrap();
    let path = dir.path().join("redis.conf");
    std::fs::write(&path, conf).unwrap();
    // Later arguments override the file: a free port and private paths for the test.
    let d = dir.path().display().to_string();
    let mut child = Command::new("redis-server")
        .arg(&path)
        .args([
            "--port",
            &port.to_string(),
            "--dir",
            &d,
            "--logfile",
            "",
            "--pidfile",
            &format!("{d}/pid"),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let cli = |args: &[&str]| {
        Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .unwrap()
    };
    let mut up = false;
    for _ in 0..50 {
        let out = cli(&["ping"]);
        if String::from_utf8_lossy(&out.stdout).contains("NOAUTH") {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // As the app: its own keys, INFO, and nothing dangerous; the password alone (the
    // default user) opens nothing. The password goes in the environment, not argv.
    let as_app = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args([
                "--no-auth-warning",
                "-p",
                &port.to_string(),
                "--user",
                "live-dashboard",
            ])
            .args(args)
            .env("REDISCLI_AUTH", a.redis_password.expose())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let own_key = as_app(&["set", "ld:probe", "1"]);
    let info = as_app(&["info", "memory"]);
    let refused: Vec<(&str, String)> = [
        vec!["get", "other:key"],
        vec!["config", "get", "requirepass"],
        vec!["flushall"],
        vec!["keys", "*"],
        vec!["debug", "sleep", "0"],
        vec!["acl", "list"],
        vec!["shutdown", "nosave"],
    ]
    .iter()
    .map(|args| (args[0], as_app(args)))
    .collect();
    let default_user = Command::new("redis-cli")
        .args([
            "--no-auth-warning",
            "-p",
            &port.to_string(),
            "get",
            "ld:probe",
        ])
        .env("REDISCLI_AUTH", a.redis_password.expose())
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        up,
        "redis did not answer NOAUTH to a ping without the password"
    );
    assert!(own_key.contains("OK"), "{own_key}");
    assert!(info.contains("maxmemory_policy:allkeys-lru"), "{info}");
    for (cmd, out) in refused {
        assert!(
            out.contains("NOPERM") || out.contains("command not allowed"),
            "the app's user may {cmd}: {out}"
        );
    }
    let default_user = String::from_utf8_lossy(&default_user.stdout).to_string()
        + &String::from_utf8_lossy(&default_user.stderr);
    assert!(
        default_user.contains("WRONGPASS")
            || default_user.contains("NOAUTH")
            || default_user.contains("disabled"),
        "the default user with the password got in: {default_user}"
    );
}

#[test]
fn nginx_accepts_the_site_with_and_without_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (cert, key) = crate::certificate::self_signed(dir.path(), 30);
    for tls in [
        Tls::Off,
        Tls::Files {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
        },
    ] {
        let mut v = vars(
            &Answers {
                tls: tls.clone(),
                ..Answers::defaults()
            },
            2,
            4096,
            "systemd",
        );
        v.insert("https_port".into(), "18443".into());
        let conf = private_nginx(dir.path(), v);
        run(Command::new("nginx").args(["-t", "-p", &d, "-c", &conf]));
    }
}

/// The shipped site rendered with `vars` (on port 18080, its access log in `dir`) inside an
/// nginx configuration of its own in `dir` (pid and error log there too); returns that
/// configuration's path.
pub fn private_nginx(
    dir: &std::path::Path,
    mut vars: std::collections::BTreeMap<String, String>,
) -> String {
    let d = dir.display().to_string();
    vars.insert("http_port".into(), "18080".into());
    vars.insert("access_log".into(), format!("{d}/access.log"));
    let site = Templates::default()
        .render("nginx/live-dashboard.conf", &vars)
        .unwrap();
    std::fs::write(dir.join("site.conf"), site).unwrap();
    std::fs::write(
        dir.join("nginx.conf"),
        format!("pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{ include /etc/nginx/mime.types; include {d}/site.conf; }}\n"),
    )
    .unwrap();
    format!("{d}/nginx.conf")
}
