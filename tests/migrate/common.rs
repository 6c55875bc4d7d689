//! Helpers: a fresh database per test on the cluster scripts/test started, fixtures in
//! temporary directories, and the `provision` binary run with a clean environment.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sqlx::{Connection, PgConnection, PgPool};

#[path = "../support/helpers.rs"]
mod helpers;
pub use helpers::*;

/// A fresh database; returns (its URL, its name).
pub async fn new_database() -> (String, String) {
    let admin = required_env("PROVISION_TEST_PG");
    let name = unique("m");
    let mut conn = PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

pub struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Dir {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `provision ARGS` with only PATH and `env` in the environment.
pub fn provision(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_provision"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("PROVISION_CONFIG", "/dev/null")
        .env("PROVISION_ENV_FILE", "/dev/null");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub fn fixture(path: &Path, runs: u64, loose: bool) {
    let runs = runs.to_string();
    let mut args = vec!["fixture", "--out", path.to_str().unwrap(), "--runs", &runs];
    if loose {
        args.push("--loose");
    }
    let out = provision(&args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }
}

/// `provision migrate --json --from FILE` with DATABASE_URL = `url`, plus `extra` args.
pub fn migrate(file: &Path, url: &str, extra: &[&str]) -> Run {
    migrate_env(file, url, extra, &[])
}

pub fn migrate_env(file: &Path, url: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec!["--json", "migrate", "--from", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut all_env = vec![("DATABASE_URL", url)];
    all_env.extend_from_slice(env);
    let out = provision(&args, &all_env);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

pub async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

pub fn sqlite_count(file: &Path, table: &str) -> i64 {
    let c = rusqlite::Connection::open(file).unwrap();
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

pub fn file_digest(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}
