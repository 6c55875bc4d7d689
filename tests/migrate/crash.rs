//! kill -9 in the middle of the COPY: the target is left as it was (rows had been copied
//! into the stage, none reached public), and the next run completes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_copy_leaves_the_target_as_it_was() {
    let dir = Dir::new();
    let db = dir.path("big.db");
    fixture(&db, 15_000, false);
    let (url, _) = new_database().await;
    let pool = PgPool::connect(&url).await.unwrap();
    let mut child = isolated_command()
        .args(["migrate", "--from", db.to_str().unwrap()])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the results COPY has moved rows, then kill.
    let deadline = Instant::now() + Duration::from_secs(60);
    let copied = loop {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT max(tuples_processed) FROM pg_stat_progress_copy p JOIN pg_class c ON c.oid = p.relid \
             WHERE c.relname = 'validation_results' AND p.datname = current_database()",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if n.unwrap_or(0) > 1000 {
            break n.unwrap();
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "migrate finished before it could be killed"
        );
        assert!(Instant::now() < deadline, "the results COPY never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    println!("killed after {copied} result rows were copied");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&pool, "validation_results").await, 0);
    assert_eq!(count(&pool, "validation_runs").await, 0);
    assert_eq!(count(&pool, "provision_migrations").await, 0);

    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        count(&pool, "validation_results").await,
        sqlite_count(&db, "validation_results")
    );
    let stage: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'provision_stage'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stage, 0);
}

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_filling_mid_load_is_a_clear_error_and_the_target_is_untouched() {
    let dir = Dir::new();
    let db = dir.path("legacy.db");
    fixture(&db, 2000, false);
    // A 3 MiB tmpfs as the target database's default tablespace: the load fills it.
    let mnt = dir.path("tiny");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=3m",
            "tmpfs",
            mnt.to_str().unwrap(),
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount a tmpfs (the tests run as root)");
    let _mount = Mount(mnt.clone());
    Command::new("chown")
        .args(["postgres:postgres", mnt.to_str().unwrap()])
        .status()
        .unwrap();
    let (url, name) = new_database().await;
    let admin = PgPool::connect(&required_env("PROVISION_TEST_PG"))
        .await
        .unwrap();
    let space = unique("tiny");
    sqlx::query(&format!(
        "CREATE TABLESPACE {space} LOCATION '{}'",
        mnt.display()
    ))
    .execute(&admin)
    .await
    .unwrap();
    // The schema lives on the normal disk; only what migrate creates lands on the tmpfs.
    let pool = PgPool::connect(&url).await.unwrap();
    provision::schema::apply(&pool).await.unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" SET default_tablespace = {space}"
    ))
    .execute(&admin)
    .await
    .unwrap();
    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("No space left on device")
            || run.stderr.contains("could not extend file"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(&url),
        "the URL with its password leaked: {}",
        run.stderr
    );
    assert_eq!(count(&pool, "validation_runs").await, 0);
    assert_eq!(count(&pool, "provision_migrations").await, 0);
    // Room again: the next run completes.
    pool.close().await;
    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" RESET default_tablespace"
    ))
    .execute(&admin)
    .await
    .unwrap();
    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pool = PgPool::connect(&url).await.unwrap();
    assert_eq!(count(&pool, "validation_runs").await, 2000);
    pool.close().await;
    // Nothing may remain in the tablespace before it is dropped.
    let check = PgPool::connect(&url).await.unwrap();
    let leftover: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'provision_stage'")
            .fetch_one(&check)
            .await
            .unwrap();
    check.close().await;
    assert_eq!(leftover, 0);
    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("DROP TABLESPACE {space}"))
        .execute(&admin)
        .await
        .unwrap();
}
