//! Test helpers: real PostgreSQL and Redis started by scripts/test (PROVISION_TEST_PG,
//! PROVISION_TEST_REDIS), a fresh database per test, and in-process server instances on
//! port 0 (zero2prod's spawn_app).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use provision::settings::{Secret, ServeSettings};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[path = "../support/helpers.rs"]
mod helpers;
pub use helpers::*;

/// `base` (a postgres URL) pointing at database `db`.
pub fn with_database(base: &str, db: &str) -> String {
    let mut url = url::Url::parse(base).expect("test PG URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// Creates a fresh database on the cluster at `admin_url`; returns its URL.
pub async fn create_database_on(admin_url: &str) -> String {
    let name = unique("t");
    let mut admin = PgConnection::connect(admin_url)
        .await
        .expect("connect as admin");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create database");
    with_database(admin_url, &name)
}

/// A fresh database on the shared test cluster.
pub async fn new_database() -> String {
    create_database_on(&required_env("PROVISION_TEST_PG")).await
}

pub fn settings(db_url: &str, redis_url: &str, prefix: &str) -> ServeSettings {
    ServeSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Secret::new(db_url),
        redis_url: Secret::new(redis_url),
        pool_size: 8,
        acquire_timeout: Duration::from_secs(2),
        statement_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        redis_timeout: Duration::from_millis(100),
        cache_prefix: format!("{prefix}:"),
        cache_ttl: Duration::from_secs(30),
        local_cache_bound: Duration::from_secs(1),
        local_cache_max_age: Duration::from_secs(60),
        replica_urls: Vec::new(),
        max_replica_lag: Duration::from_secs(1),
        workers: 2,
        db_wait: Duration::from_secs(10),
        limits: provision::settings::Limits::default(),
    }
}

pub struct App {
    pub addr: SocketAddr,
    pub base: String,
    pub db_url: String,
    pub pool: PgPool,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Sends SIGTERM's equivalent and waits for the drain to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(15), h)
                .await
                .expect("server drains within 15 s")
                .expect("server task")
                .expect("server exits cleanly");
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// A JSON request with a bearer token.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, token, body).await
    }

    pub async fn patch(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, token, body).await
    }

    /// `PATCH /api/runs/{id}` with `{"status": status}`.
    pub async fn finish(
        &self,
        token: &str,
        id: impl std::fmt::Display,
        status: &str,
    ) -> reqwest::Response {
        self.patch(
            &format!("/api/runs/{id}"),
            token,
            serde_json::json!({"status": status}),
        )
        .await
    }
}

/// An instance on a fresh database and the shared Redis.
pub async fn spawn_app() -> App {
    let db = new_database().await;
    spawn_app_on(settings(
        &db,
        &required_env("PROVISION_TEST_REDIS"),
        &unique("c"),
    ))
    .await
}

/// An instance with the given settings (its `listen` is ignored: port 0).
pub async fn spawn_app_on(settings: ServeSettings) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let db_url = settings.database_url.expose().to_string();
    let handle = tokio::spawn(provision::server::launch(settings, listener, async {
        let _ = rx.await;
    }));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let base = format!("http://{addr}");
    // Ready once the schema is applied and the listener serves.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{base}/ready")).send().await {
            if r.status().as_u16() < 500 {
                break;
            }
        }
        assert!(!handle.is_finished(), "server exited during start-up");
        assert!(
            std::time::Instant::now() < deadline,
            "server not ready within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let pool = PgPool::connect(&db_url).await.expect("test pool");
    App {
        addr,
        base,
        db_url,
        pool,
        http,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

/// Inserts a user with a password hash; returns its id.
pub async fn seed_user(pool: &PgPool, username: &str, hash: &str, active: bool) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, is_active) VALUES ($1, $2, 'engineer', $3) RETURNING id",
    )
    .bind(username)
    .bind(hash)
    .bind(active)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Inserts a bearer token for `user_id`; returns the token.
pub async fn seed_token(pool: &PgPool, user_id: i64) -> String {
    let token = format!("tok_{}", uuid::Uuid::new_v4().simple());
    sqlx::query("INSERT INTO api_tokens (user_id, token_hash, label) VALUES ($1, $2, 'test')")
        .bind(user_id)
        .bind(provision::server::auth::sha256_hex(&token))
        .execute(pool)
        .await
        .unwrap();
    token
}

/// A fresh app with one engineer and their token.
pub async fn app_with_token() -> (App, String, i64) {
    let app = spawn_app().await;
    let user = seed_user(&app.pool, &unique("u"), "x", true).await;
    let token = seed_token(&app.pool, user).await;
    (app, token, user)
}

pub async fn body_json(resp: reqwest::Response) -> serde_json::Value {
    let text = resp.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts status and docs/api.md's error shape; returns the error code.
pub async fn assert_error(resp: reqwest::Response, status: u16) -> String {
    let got = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.text().await.unwrap();
    assert_eq!(got, status, "status (body {body})");
    assert!(
        ct.starts_with("application/json"),
        "content-type {ct} for {body}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).expect("error is JSON");
    let code = v["error"]["code"].as_str().expect("error.code").to_string();
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    code
}

/// Creates a run through the API and returns its JSON.
pub async fn create_run(app: &App, token: &str, suite: &str, env: &str) -> serde_json::Value {
    let r = app
        .post(
            "/api/runs",
            token,
            serde_json::json!({"suite": suite, "environment": env}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 201);
    body_json(r).await
}

/// A Redis server of the test's own, to stop, freeze and kill.
pub struct OwnRedis {
    pub url: String,
    child: std::process::Child,
}

impl OwnRedis {
    pub fn start() -> Self {
        let port = free_port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs redis-server)");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis {
            url: format!("redis://127.0.0.1:{port}"),
            child,
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} redis");
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.signal_quietly();
        self.kill();
    }
}

impl OwnRedis {
    fn signal_quietly(&self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
    }
}

/// A PostgreSQL cluster of the test's own, to stop and start.
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: String,
    pub port: u16,
}

fn as_postgres(cmd: &str, args: &[&str]) -> std::process::Output {
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        == b"0\n";
    let mut c = if is_root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--", cmd]);
        c
    } else {
        std::process::Command::new(cmd)
    };
    c.args(args).output().expect("run a PostgreSQL binary")
}

/// A temporary directory the postgres user owns (its data directory goes inside).
fn postgres_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    for (cmd, arg) in [("chmod", "755"), ("chown", "postgres:postgres")] {
        let _ = std::process::Command::new(cmd)
            .args([arg, dir.path().to_str().unwrap()])
            .status();
    }
    dir
}

impl OwnPostgres {
    pub fn start() -> Self {
        let bin = required_env("PROVISION_TEST_PG_BIN");
        let dir = postgres_dir("pg-own");
        let data = dir.path().join("data");
        let out = as_postgres(
            &format!("{bin}/initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = OwnPostgres {
            dir,
            bin,
            port: free_port(),
        };
        pg.pg_ctl_start();
        pg
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A streaming replica of this server: `pg_basebackup -R` (standby.signal and
    /// primary_conninfo written), started on a port of its own as a hot standby.
    pub fn replica(&self) -> OwnPostgres {
        let dir = postgres_dir("pg-replica");
        let data = dir.path().join("data");
        let port = self.port.to_string();
        let out = as_postgres(
            &format!("{}/pg_basebackup", self.bin),
            &[
                "-D",
                data.to_str().unwrap(),
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                // An immediate checkpoint: a spread one takes minutes.
                "-c",
                "fast",
            ],
        );
        assert!(
            out.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let replica = OwnPostgres {
            dir,
            bin: self.bin.clone(),
            port: free_port(),
        };
        replica.pg_ctl_start();
        replica
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_str().unwrap().to_string()
    }

    pub fn pg_ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = format!("{}/log", self.dir.path().display());
        let out = as_postgres(
            &format!("{}/pg_ctl", self.bin),
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "30",
                "-o",
                &opts,
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// What `pg_ctlcluster … restart -m fast` does: a fast stop (every session ended),
    /// then a start.
    pub fn pg_ctl_restart(&self) {
        self.pg_ctl_stop();
        self.pg_ctl_start();
    }

    pub fn pg_ctl_stop(&self) {
        let out = as_postgres(
            &format!("{}/pg_ctl", self.bin),
            &["-D", &self.data(), "-m", "fast", "-w", "stop"],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(
            &format!("{}/pg_ctl", self.bin),
            &["-D", &self.data(), "-m", "immediate", "stop"],
        );
    }
}

/// Latency percentile (0..=100) of `samples`.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let idx = ((p / 100.0) * (samples.len() as f64 - 1.0)).round() as usize;
    samples[idx]
}

/// One unlabelled series of the instance's `/metrics`.
pub async fn metric(app: &App, name: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// The instance's `ld_websocket_clients` gauge (it counts a client once it receives events).
pub async fn ws_clients(app: &App) -> f64 {
    metric(app, "ld_websocket_clients").await
}

/// Waits until `n` WebSocket clients of `app` receive events.
pub async fn wait_ws_clients(app: &App, n: f64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ws_clients(app).await < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{n} WebSocket clients not subscribed within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
