//! The `provision` binary itself: help, exit codes, errors that name the bad thing
//! without leaking secrets, and SIGTERM ending `serve` cleanly.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn help_has_examples() {
    let Ran {
        code, stdout: out, ..
    } = provision(&["--help"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("serve"), "{out}");
    let Ran {
        code, stdout: out, ..
    } = provision(&["serve", "--help"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Examples:") && out.contains("--listen"),
        "{out}"
    );
    let Ran {
        code, stderr: err, ..
    } = provision(&["serve", "--bogus"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn configuration_errors_exit_2_and_name_the_source() {
    let Ran {
        code, stderr: err, ..
    } = provision(&["serve"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("DATABASE_URL") && err.contains("not set"),
        "{err}"
    );

    let Ran {
        code, stderr: err, ..
    } = provision(&["serve", "--env-file", "/nonexistent/.env"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/.env"), "{err}");

    let env = file_with("DATABASE_URL=postgres://u:pw@h/db\nthis line is wrong\n");
    let Ran {
        code, stderr: err, ..
    } = provision(&["serve", "--env-file", env.path().to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{}:2", env.path().display())),
        "{err}"
    );

    let cfg = file_with("server:\n  listen: 127.0.0.1:1\n  workerz: 3\n");
    let Ran {
        code, stderr: err, ..
    } = provision(&["serve", "--config", cfg.path().to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{}:3", cfg.path().display())) && err.contains("workerz"),
        "{err}"
    );

    let Ran {
        code, stderr: err, ..
    } = provision(
        &["serve"],
        &[
            ("DATABASE_URL", "postgres://x@h/db"),
            ("PROVISION_DB_POOL_SIZE", "many"),
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("PROVISION_DB_POOL_SIZE") && err.contains("many"),
        "{err}"
    );

    // Values that would overflow a deadline are refused, naming the variable (they panicked).
    for var in ["PROVISION_DB_WAIT_S", "PROVISION_REQUEST_TIMEOUT_MS"] {
        let Ran {
            code, stderr: err, ..
        } = provision(
            &["serve"],
            &[
                ("DATABASE_URL", "postgres://x@h/db"),
                (var, "18446744073709551615"),
            ],
        );
        assert_eq!(code, 2, "{var}: {err}");
        assert!(
            err.contains(var) && err.contains("more than a day"),
            "{err}"
        );
    }
    let Ran {
        code, stderr: err, ..
    } = provision(&["verify", "--wait", "18446744073709551615s"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--wait") && !err.contains("panicked"), "{err}");

    let Ran {
        code, stderr: err, ..
    } = provision(&["serve"], &[("DATABASE_URL", "mysql://u:hunter2@h/db")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("mysql://u:****@h/db") && !err.contains("hunter2"),
        "{err}"
    );
}

/// Arguments, environment, the exit code and the whole of stderr wanted.
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, i32, String);

/// The whole printed error, not a `contains`: each cause once, the file and line or the
/// variable named, the secret masked, nothing else on stderr.
#[test]
fn whole_printed_errors() {
    let env = file_with("DATABASE_URL=postgres://u:pw@h/db\nthis line is wrong\n");
    let cfg = file_with("server:\n  listen: 127.0.0.1:1\n  workerz: 3\n");
    let (env_path, cfg_path) = (env.path().to_str().unwrap(), cfg.path().to_str().unwrap());
    let cases: Vec<Case> =
        vec![
        (
            vec!["serve", "--env-file", env_path],
            vec![],
            2,
            format!("error: {env_path}:2: expected KEY=VALUE"),
        ),
        (
            vec!["serve", "--config", cfg_path],
            vec![],
            2,
            format!(
                "error: {cfg_path}:3: server: unknown field `workerz`, expected one of `listen`, \
                 `request_timeout_ms`, `local_cache_bound_ms`, `local_cache_max_age_s`, `workers`, `instances`, `base_port`, `host` at line 3 column 3"
            ),
        ),
        (
            vec!["serve"],
            vec![("DATABASE_URL", "mysql://u:hunter2@h/db")],
            2,
            "error: invalid value for DATABASE_URL: mysql://u:****@h/db is not a postgres:// or \
             postgresql:// URL"
                .into(),
        ),
        (
            vec!["serve"],
            vec![
                ("DATABASE_URL", "postgres://x@h/db"),
                ("PROVISION_DB_POOL_SIZE", "many"),
            ],
            2,
            "error: invalid value for environment variable PROVISION_DB_POOL_SIZE: invalid digit \
             found in string (got \"many\")"
                .into(),
        ),
        (
            vec!["verify", "--url", "http://127.0.0.1:9", "--ca-cert", "/nonexistent/ca.pem"],
            vec![],
            2,
            "error: the CA certificate /nonexistent/ca.pem: I/O error: No such file or directory \
             (os error 2)"
                .into(),
        ),
        (
            vec!["verify", "--url", "http://127.0.0.1:9", "--ca-cert", env_path],
            vec![],
            2,
            format!(
                "error: the CA certificate {env_path}: no certificate in it (expected PEM, \
                 -----BEGIN CERTIFICATE-----)"
            ),
        ),
    ];
    for (args, env, want_code, want) in cases {
        let Ran {
            code,
            stdout,
            stderr,
        } = provision(&args, &env);
        assert_eq!(
            (code, stderr.trim_end()),
            (want_code, want.as_str()),
            "{args:?}"
        );
        assert_eq!(stdout, "", "{args:?}");
    }
}

#[test]
fn unreachable_database_names_host_and_port_but_not_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/db");
    let started = Instant::now();
    let Ran {
        code, stderr: err, ..
    } = provision(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("DATABASE_URL", &url), ("PROVISION_DB_WAIT_S", "1")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("hunter2"), "password leaked: {err}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_answers_and_exits_0_on_sigterm() {
    let db = new_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = file_with(&format!(
        "DATABASE_URL={db}\nREDIS_URL={}\nPROVISION_CACHE_PREFIX={}:\n",
        required_env("PROVISION_TEST_REDIS"),
        unique("c")
    ));
    let child = provision_command()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--env-file",
            env.path().to_str().unwrap(),
        ])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/ready"))
            .send()
            .await
        {
            assert_eq!(r.status(), 200);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not answer within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    // Within a supervisor's stop timeout (systemd's here is 30 s, then SIGKILL and a failed
    // unit): an idle server drains at once.
    let mut child = child;
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "serve still runs 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("SIGTERM received") && err.contains("stopped"),
        "{err}"
    );
    let password = url::Url::parse(&db)
        .unwrap()
        .password()
        .unwrap_or("")
        .to_string();
    assert!(
        password.is_empty() || !err.contains(&password),
        "password in the log: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_in_the_error_shape() {
    let db = new_database().await;
    let mut s = settings(&db, &required_env("PROVISION_TEST_REDIS"), &unique("c"));
    s.request_timeout = Duration::from_millis(300);
    let app = spawn_app_on(s).await;
    let user = seed_user(&app.pool, "w", "x", true).await;
    let token = seed_token(&app.pool, user).await;
    let run = create_run(&app, &token, "slow", "dev").await;
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM validation_runs WHERE id = $1 FOR UPDATE")
        .bind(run["id"].as_i64().unwrap())
        .execute(&mut *blocker)
        .await
        .unwrap();
    let started = Instant::now();
    let r = app
        .post(
            &format!("/api/runs/{}/results", run["id"]),
            &token,
            serde_json::json!({"results": [{"check_name": "c", "status": "pass"}]}),
        )
        .await;
    assert_eq!(assert_error(r, 503).await, "request_timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
    blocker.rollback().await.unwrap();
    // The abandoned insert rolled back: the counters are untouched.
    let after = body_json(app.get(&format!("/api/runs/{}", run["id"])).await).await;
    assert_eq!(after["total_checks"], 0);
    app.stop().await;
}
