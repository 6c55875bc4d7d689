//! Bad sources and bad targets: clear errors naming the thing, the right exit code,
//! no password echoed, and the target left as it was.

use std::io::Write;

use sqlx::PgPool;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sources_exit_3_and_name_the_file() {
    let dir = Dir::new();
    let (url, _) = new_database().await;
    let missing = dir.path("nope.db");
    let r = migrate(&missing, &url, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("nope.db") && r.stderr.contains("no such file"),
        "{}",
        r.stderr
    );

    let text = dir.path("notes.db");
    std::fs::write(&text, "this is not a database\n").unwrap();
    let r = migrate(&text, &url, &[]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("notes.db") && r.stderr.contains("not a SQLite database"),
        "{}",
        r.stderr
    );

    // A real SQLite file with a page overwritten in the middle of the results table.
    let corrupt = dir.path("corrupt.db");
    fixture(&corrupt, 300, false);
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&corrupt)
            .unwrap();
        let len = f.metadata().unwrap().len();
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(len / 2 / 4096 * 4096))
            .unwrap();
        f.write_all(&vec![0xA5; 4096 * 3]).unwrap();
    }
    let r = migrate(&corrupt, &url, &[]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("corrupt.db") && r.stderr.contains("corrupt"),
        "{}",
        r.stderr
    );
    let pool = PgPool::connect(&url).await.unwrap();
    let done: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE tablename = 'provision_migrations'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // The dashboard's schema was applied before the corruption was read; nothing of the
    // source arrived and no migration was recorded.
    assert_eq!(done, 1);
    assert_eq!(count(&pool, "provision_migrations").await, 0);
    assert_eq!(count(&pool, "validation_runs").await, 0);

    // Not the legacy dashboard: refused as unsupported (2), naming what is missing.
    let other = dir.path("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    // Not the legacy dashboard while --schema dashboard insists: refused (2), naming what
    // is missing. A table with a dashboard table's name but another shape is refused too.
    let r = migrate(&other, &url, &["--schema", "dashboard"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("validation_runs"), "{}", r.stderr);
    let clash = dir.path("clash.db");
    rusqlite::Connection::open(&clash)
        .unwrap()
        .execute_batch("CREATE TABLE users (x)")
        .unwrap();
    let r = migrate(&clash, &url, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("users"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_targets_name_host_and_port_and_never_echo_the_password() {
    let dir = Dir::new();
    let db = dir.path("legacy.db");
    fixture(&db, 20, false);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = migrate(
        &db,
        &format!("postgres://app:hunter2@127.0.0.1:{port}/x"),
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"));

    let (url, name) = new_database().await;
    // The whole message: each cause once (it used to repeat PostgreSQL's text three times).
    let mut missing = url::Url::parse(&url).unwrap();
    missing.set_path("/no_such_database_here");
    let r = migrate(&db, missing.as_str(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "error: PostgreSQL at {}: connecting: error returned from database: database \"no_such_database_here\" does not exist (create the database first, or check its name in the URL)",
            provision::settings::redact_url(missing.as_str())
        )
    );
    let mut wrong = url::Url::parse(&url).unwrap();
    wrong.set_password(Some("not-the-password")).unwrap();
    let r = migrate(&db, wrong.as_str(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("password authentication failed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("not-the-password"), "{}", r.stderr);

    // A role without privileges on the database.
    let admin = PgPool::connect(&required_env("PROVISION_TEST_PG"))
        .await
        .unwrap();
    let role = unique("weak");
    sqlx::query(&format!("CREATE ROLE {role} LOGIN PASSWORD 'weakpw'"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("REVOKE ALL ON DATABASE \"{name}\" FROM PUBLIC"))
        .execute(&admin)
        .await
        .unwrap();
    let mut weak = url::Url::parse(&url).unwrap();
    weak.set_username(&role).unwrap();
    weak.set_password(Some("weakpw")).unwrap();
    let r = migrate(&db, weak.as_str(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("permission denied"), "{}", r.stderr);
    assert!(!r.stderr.contains("weakpw"));

    // No target at all: a usage error that says where a target comes from.
    let out = provision(&["migrate", "--from", db.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("DATABASE_URL"), "{}", out.stderr);
}

/// A user whose stored hash has a cost the server refuses to compute is migrated as it is
/// and reported (that user cannot log in until given a new password).
#[tokio::test]
async fn stored_hashes_of_absurd_cost_are_reported() {
    let dir = Dir::new();
    let file = dir.path("legacy.db");
    fixture(&file, 20, false);
    let c = rusqlite::Connection::open(&file).unwrap();
    let id: i64 = c
        .query_row("SELECT min(id) FROM users", [], |r| r.get(0))
        .unwrap();
    c.execute(
        "UPDATE users SET password_hash = 'pbkdf2:sha256:900000000$salt$00' WHERE id = ?1",
        [id],
    )
    .unwrap();
    drop(c);
    let (url, _) = new_database().await;
    let run = migrate(&file, &url, &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let notes = run.json()["notes"].clone();
    let note = notes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "password hash")
        .unwrap_or_else(|| panic!("not reported: {notes}"));
    assert_eq!(note["name"], format!("users id {id}"));
    assert!(
        note["why"]
            .as_str()
            .unwrap()
            .contains("900000000 iterations"),
        "{note}"
    );
}
