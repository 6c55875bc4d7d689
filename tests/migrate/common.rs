//! Helpers: a fresh database per test on the cluster scripts/test started, fixtures in
//! temporary directories, and the `provision` binary run with a clean environment.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

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

pub fn fixture(path: &Path, runs: u64, loose: bool) {
    let runs = runs.to_string();
    let mut args = vec!["fixture", "--out", path.to_str().unwrap(), "--runs", &runs];
    if loose {
        args.push("--loose");
    }
    let out = provision(&args, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `provision migrate --json --from FILE` with DATABASE_URL = `url`, plus `extra` args.
pub fn migrate(file: &Path, url: &str, extra: &[&str]) -> Ran {
    migrate_env(file, url, extra, &[])
}

pub fn migrate_env(file: &Path, url: &str, extra: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut args = vec!["--json", "migrate", "--from", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut all_env = vec![("DATABASE_URL", url)];
    all_env.extend_from_slice(env);
    provision(&args, &all_env)
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
