//! A whole stack per test, from real parts: a fresh database (with its own role and
//! password) on the test PostgreSQL, the test Redis, two `provision serve` instances under a
//! private supervisord, and nginx running the shipped site template — which a test may
//! break on purpose. `verify` runs as the binary, with a config file and `.env` like init's.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use provision::host::exec::Cmd;
use provision::host::services::Supervisor;
use sqlx::{Connection, PgConnection};

#[path = "../support/helpers.rs"]
mod helpers;
pub use helpers::*;

/// `n` consecutive free ports after a free base: instance i gets base + i.
pub fn free_base(n: u16) -> u16 {
    loop {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = probe.local_addr().unwrap().port();
        drop(probe);
        if base > 60000 {
            continue;
        }
        let all_free = (1..=n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
}

/// How a test wants its stack (broken on purpose or not).
#[derive(Default)]
pub struct Options {
    /// Edits the rendered nginx site before nginx starts.
    pub edit_site: Option<Box<dyn Fn(String) -> String>>,
    /// nginx's upstream goes through this many ms of delay per request.
    pub upstream_delay_ms: Option<u64>,
    /// Serve https with a self-signed certificate valid this many days.
    pub tls_days: Option<u32>,
}

pub struct Stack {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub env_file: PathBuf,
    pub http_port: u16,
    pub https_port: u16,
    pub base_port: u16,
    pub database_url: String,
    pub redis_url: String,
    pub token: String,
    pub supervisor: Supervisor,
    nginx: Child,
    proxies: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.nginx.kill();
        let _ = self.nginx.wait();
        for p in &self.proxies {
            p.abort();
        }
        let _ = Cmd::new(
            "supervisorctl",
            &[
                "-c",
                &self.supervisor.config.display().to_string(),
                "shutdown",
            ],
        )
        .run_checked(true);
    }
}

impl Stack {
    pub async fn start(opts: Options) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // A database and a role of its own, with a password (scram over TCP).
        let admin_url = required_env("PROVISION_TEST_PG");
        let name = format!("v_{}", uuid::Uuid::new_v4().simple());
        let password = uuid::Uuid::new_v4().simple().to_string();
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!(
            "CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'"
        ))
        .execute(&mut admin)
        .await
        .unwrap();
        sqlx::query(&format!("CREATE DATABASE \"{name}\" OWNER \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_username(&name).unwrap();
        url.set_password(Some(&password)).unwrap();
        url.set_path(&format!("/{name}"));
        let database_url = url.to_string();
        let redis_url = required_env("PROVISION_TEST_REDIS");

        // Two instances under a private supervisord; the secrets reach them through the
        // .env, never argv.
        let base_port = free_base(2);
        let env_file = dir.path().join(".env");
        std::fs::write(&env_file, format!("DATABASE_URL={database_url}\nREDIS_URL={redis_url}\nPROVISION_CACHE_PREFIX={name}:\n")).unwrap();
        std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let supervisor = Supervisor {
            config: crate::supervisord::private_config(dir.path()),
        };
        let bin = env!("CARGO_BIN_EXE_provision");
        for i in 1..=2 {
            let port = base_port + i;
            std::fs::write(
                dir.path()
                    .join(format!("conf.d/live-dashboard-{port}.conf")),
                Supervisor::program(
                    &format!("live-dashboard-{port}"),
                    &format!(
                        "{bin} serve --env-file {} --listen 127.0.0.1:{port}",
                        env_file.display()
                    ),
                    None,
                    dir.path(),
                    &[("PROVISION_WORKERS", "2"), ("PROVISION_DB_POOL_SIZE", "4")],
                ),
            )
            .unwrap();
        }
        supervisor.ensure_running().unwrap();

        // nginx with the shipped site, on a free port on every interface.
        let http_port = free_port();
        let mut proxies = Vec::new();
        let mut upstream_base = base_port;
        if let Some(ms) = opts.upstream_delay_ms {
            upstream_base = free_base(2);
            for i in 1..=2 {
                proxies.push(
                    crate::parts::delaying_proxy(
                        upstream_base + i,
                        base_port + i,
                        Duration::from_millis(ms),
                    )
                    .await,
                );
            }
        }
        let https_port = free_port();
        let tls = opts
            .tls_days
            .map(|days| crate::certificate::self_signed(dir.path(), days));
        let mut vars = provision::render::nginx_defaults();
        if let Some((cert, key)) = &tls {
            vars.insert("tls".into(), "true".into());
            vars.insert("tls_cert".into(), cert.display().to_string());
            vars.insert("tls_key".into(), key.display().to_string());
        }
        for (k, v) in [
            ("http_port", http_port.to_string()),
            ("https_port", https_port.to_string()),
            ("ipv6", "false".into()),
            ("base_port", upstream_base.to_string()),
            (
                "access_log",
                dir.path().join("access.log").display().to_string(),
            ),
        ] {
            vars.insert(k.into(), v);
        }
        // The upstreams as init wires them on one host: every instance on loopback.
        let instances: u32 = vars
            .get("instances")
            .and_then(|n| n.parse().ok())
            .unwrap_or(2);
        let wiring = provision::init::deployment::wiring(None, instances, upstream_base);
        vars.insert("upstreams".into(), wiring["upstreams"].clone());
        let mut site = provision::render::Templates::default()
            .render("nginx/live-dashboard.conf", &vars)
            .unwrap();
        if let Some(edit) = &opts.edit_site {
            let edited = edit(site.clone());
            assert_ne!(
                edited, site,
                "the test's edit of the nginx site changed nothing"
            );
            site = edited;
        }
        std::fs::write(dir.path().join("site.conf"), site).unwrap();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{ include /etc/nginx/mime.types; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
                 include {d}/site.conf; }}\n"
            ),
        )
        .unwrap();
        let check = Command::new("nginx")
            .args(["-t", "-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let nginx = Command::new("nginx")
            .args([
                "-p",
                &d.to_string(),
                "-c",
                &format!("{d}/nginx.conf"),
                "-g",
                "daemon off;",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();

        // Ready: every instance answers /ready (migrations applied), then a user and token.
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        for i in 1..=2 {
            loop {
                let ok = client
                    .get(format!("http://127.0.0.1:{}/ready", base_port + i))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "instance {} not ready in 30 s; see {d}/live-dashboard-*.log",
                    base_port + i
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let mut db = PgConnection::connect(&database_url).await.unwrap();
        let user: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, role, is_active) VALUES ('verify', 'x', 'admin', true) RETURNING id",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        let token = format!("v{}", uuid::Uuid::new_v4().simple());
        let hash = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(token.as_bytes()))
        };
        sqlx::query(
            "INSERT INTO api_tokens (user_id, token_hash, label) VALUES ($1, $2, 'verify')",
        )
        .bind(user)
        .bind(hash)
        .execute(&mut db)
        .await
        .unwrap();

        let config = dir.path().join("provision.yaml");
        std::fs::write(
            &config,
            format!(
                "server:\n  instances: 2\n  base_port: {base_port}\n\
                 nginx:\n  http_port: {http_port}\n  https_port: {https_port}\n{tls_lines}\
                 service:\n  manager: supervisor\n  supervisor_config: {}\n\
                 verify:\n  token: {token}\n",
                supervisor.config.display(),
                tls_lines = match &tls {
                    Some((cert, key)) => format!(
                        "  tls_cert: {}\n  tls_key: {}\n",
                        cert.display(),
                        key.display()
                    ),
                    None => String::new(),
                },
            ),
        )
        .unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        Stack {
            dir,
            config,
            env_file,
            http_port,
            https_port,
            base_port,
            database_url,
            redis_url,
            token,
            supervisor,
            nginx,
            proxies,
        }
    }

    /// Runs `provision verify ARGS` with the stack's config and .env; returns (exit code,
    /// stdout, stderr).
    pub fn verify_raw(&self, args: &[&str]) -> (i32, String, String) {
        let out = provision_command()
            .args([
                "--config",
                &self.config.display().to_string(),
                "--env-file",
                &self.env_file.display().to_string(),
            ])
            .arg("verify")
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .output()
            .unwrap();
        let r = Ran::of(out);
        (r.code, r.stdout, r.stderr)
    }

    /// `verify --format json ARGS`: (exit code, the JSON report, stderr).
    pub fn verify(&self, args: &[&str]) -> (i32, serde_json::Value, String) {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let (code, stdout, stderr) = self.verify_raw(&all);
        (
            code,
            serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
            stderr,
        )
    }

    /// Rewrites the config file's text.
    pub fn edit_config(&self, f: impl Fn(String) -> String) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(&self.config, f(text)).unwrap();
    }

    pub fn edit_env(&self, f: impl Fn(String) -> String) {
        let text = std::fs::read_to_string(&self.env_file).unwrap();
        std::fs::write(&self.env_file, f(text)).unwrap();
    }
}

/// The check named `name` in a JSON report.
pub fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in {report}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {report:#}"))
}

/// The names of the checks that did not pass.
pub fn failed(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| c["passed"] != true && c["outcome"] != "skipped")
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}
