//! What a migration does: exact values, quarantine with originals, the ledger (no-op,
//! refusal, --replace), --strict and --dry-run writing nothing, identities, WAL sources,
//! a non-UTC server, socket URLs, and the verifier catching a changed cell.

use std::os::unix::fs::PermissionsExt;

use sqlx::{PgPool, Row};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_legacy_database_arrives_exactly_and_a_rerun_is_a_noop() {
    let dir = Dir::new();
    let db = dir.path("legacy.db");
    fixture(&db, 300, false);
    let before = file_digest(&db);
    let mtime = std::fs::metadata(&db).unwrap().modified().unwrap();
    let (url, _) = new_database().await;

    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["outcome"], "migrated");
    for t in report["tables"].as_array().unwrap() {
        assert_eq!(t["hash_ok"], true, "{t}");
        assert_eq!(t["source_rows"], t["loaded_rows"], "{t}");
        assert_eq!(t["target_rows"], t["loaded_rows"], "{t}");
    }
    assert!(report["quarantine"].as_array().unwrap().is_empty());

    let pool = PgPool::connect(&url).await.unwrap();
    for t in [
        "users",
        "api_tokens",
        "validation_suites",
        "validation_runs",
        "validation_results",
    ] {
        assert_eq!(count(&pool, t).await, sqlite_count(&db, t), "{t}");
        // Analyzed before the swap: the planner knows the rows (a table this small is
        // sampled whole), never the -1 of a table without statistics.
        let reltuples: f32 = sqlx::query_scalar(&format!(
            "SELECT reltuples FROM pg_class WHERE oid = 'public.{t}'::regclass"
        ))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(reltuples as i64, sqlite_count(&db, t), "{t}: statistics");
    }
    // Values: a run's timestamps and JSON, a result's REAL, a user's boolean.
    let src = rusqlite::Connection::open(&db).unwrap();
    let (started, metadata): (String, String) = src
        .query_row(
            "SELECT started_at, metadata FROM validation_runs WHERE id = 7",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let row =
        sqlx::query("SELECT started_at, metadata::text AS m FROM validation_runs WHERE id = 7")
            .fetch_one(&pool)
            .await
            .unwrap();
    let got: chrono::DateTime<chrono::Utc> = row.get("started_at");
    assert_eq!(got.format("%Y-%m-%d %H:%M:%S").to_string(), started);
    let want: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    let have: serde_json::Value = serde_json::from_str(row.get::<String, _>("m").as_str()).unwrap();
    assert_eq!(want, have);
    let d_src: f64 = src
        .query_row(
            "SELECT duration_ms FROM validation_results WHERE id = 11",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let d_pg: f64 = sqlx::query_scalar("SELECT duration_ms FROM validation_results WHERE id = 11")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(d_src.to_bits(), d_pg.to_bits());
    let inactive: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE NOT is_active")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        inactive,
        src.query_row("SELECT count(*) FROM users WHERE is_active = 0", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    );

    // Identities continue after the largest id.
    let max: i64 = sqlx::query_scalar("SELECT max(id) FROM validation_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO validation_runs (suite_id, environment, status) VALUES (1, 'dev', 'running') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(next, max + 1);
    // The staging schema is gone and the ledger has the row.
    let stage: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'provision_stage'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stage, 0);
    let sha: String = sqlx::query_scalar("SELECT source_sha256 FROM provision_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sha, before);

    // The same file again: a no-op that exits 0.
    let again = migrate(&db, &url, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["outcome"], "already_migrated");
    assert_eq!(count(&pool, "provision_migrations").await, 1);
    assert_eq!(
        count(&pool, "validation_runs").await,
        sqlite_count(&db, "validation_runs") + 1
    );
    // The source was never written.
    assert_eq!(file_digest(&db), before);
    assert_eq!(std::fs::metadata(&db).unwrap().modified().unwrap(), mtime);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_values_are_quarantined_with_their_originals() {
    let dir = Dir::new();
    let db = dir.path("loose.db");
    fixture(&db, 2000, true);
    // Hand-made looseness on top of the generator's.
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "PRAGMA foreign_keys = OFF;
             UPDATE validation_results SET message = CAST(X'6F6B00626164' AS TEXT) WHERE id = 3;
             UPDATE validation_results SET duration_ms = 'n/a' WHERE id = 4;
             UPDATE validation_results SET created_at = 1700000000 WHERE id = 5;
             UPDATE validation_results SET details = '{\"a\": 1, \"a\": 2}' WHERE id = 6;
             UPDATE validation_runs SET triggered_by = 4242 WHERE id = 9;
             UPDATE users SET is_active = 'maybe' WHERE id = 2;",
        )
        .unwrap();
    }
    let (url, _) = new_database().await;
    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let pool = PgPool::connect(&url).await.unwrap();
    let q = |table: &'static str, key: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query("SELECT column_name, original::text AS o, reason FROM provision_quarantine WHERE table_name = $1 AND row_key = $2")
                .bind(table)
                .bind(key)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    // A NUL in a nullable text cell: the cell is quarantined (bytes kept), the row arrives.
    let rows = q("validation_results", "id=3").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].get::<Option<String>, _>("column_name").as_deref(),
        Some("message")
    );
    assert!(
        rows[0].get::<String, _>("o").contains("6f6b00626164"),
        "{}",
        rows[0].get::<String, _>("o")
    );
    let msg: Option<String> =
        sqlx::query_scalar("SELECT message FROM validation_results WHERE id = 3")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(msg, None);
    // 'n/a' in a REAL column.
    let rows = q("validation_results", "id=4").await;
    assert!(rows[0].get::<String, _>("o").contains("n/a"));
    // An epoch integer is a timestamp, not a problem.
    let ts: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT created_at FROM validation_results WHERE id = 5")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(ts.timestamp(), 1_700_000_000);
    assert!(q("validation_results", "id=5").await.is_empty());
    // Duplicate keys would lose a value in jsonb: kept as a JSON string of the original.
    let details: String =
        sqlx::query_scalar("SELECT details #>> '{}' FROM validation_results WHERE id = 6")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(details, r#"{"a": 1, "a": 2}"#);
    // An orphan in a nullable FK: the cell goes, the run stays.
    let rows = q("validation_runs", "id=9").await;
    assert_eq!(
        rows[0].get::<Option<String>, _>("column_name").as_deref(),
        Some("triggered_by")
    );
    assert_eq!(count(&pool, "validation_runs WHERE id = 9").await, 1);
    // A non-boolean in NOT NULL is_active (not 0/1 nor a word like yes/no): the whole row,
    // every original value.
    let rows = q("users", "id=2").await;
    assert_eq!(rows[0].get::<Option<String>, _>("column_name"), None);
    let original: serde_json::Value = serde_json::from_str(&rows[0].get::<String, _>("o")).unwrap();
    assert_eq!(
        original["is_active"],
        serde_json::json!({"type": "text", "value": "maybe"})
    );
    assert_eq!(original["username"]["value"], "user2");
    // Every source row is either loaded or quarantined as a row; the report agrees with the table.
    for t in report["tables"].as_array().unwrap() {
        let name = t["table"].as_str().unwrap();
        let src = sqlite_count(&db, name) as u64;
        assert_eq!(t["source_rows"].as_u64().unwrap(), src);
        assert_eq!(
            t["loaded_rows"].as_u64().unwrap() + t["quarantined_rows"].as_u64().unwrap(),
            src,
            "{name}"
        );
        assert_eq!(
            count(&pool, name).await as u64,
            t["loaded_rows"].as_u64().unwrap()
        );
        assert_eq!(t["hash_ok"], true);
    }
    let total = report["quarantine"].as_array().unwrap().len() as i64;
    assert_eq!(count(&pool, "provision_quarantine").await, total);
    assert!(total > 10, "{total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_and_dry_run_write_nothing_and_the_ledger_refuses_other_sources() {
    let dir = Dir::new();
    let loose = dir.path("loose.db");
    fixture(&loose, 400, true);
    let (url, name) = new_database().await;
    let strict = migrate(&loose, &url, &["--strict"]);
    assert_eq!(strict.code, 5, "{}", strict.stderr);
    assert!(
        strict.stderr.contains("table ") && strict.stderr.contains("row id="),
        "{}",
        strict.stderr
    );
    let dry = migrate(&loose, &url, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(dry.json()["outcome"], "planned");
    assert!(!dry.json()["quarantine"].as_array().unwrap().is_empty());
    // Nothing was written: not even the schema.
    let pool = PgPool::connect(&url).await.unwrap();
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
        .fetch_one(&pool).await.unwrap();
    assert_eq!(tables, 0, "database {name}");

    let clean = dir.path("clean.db");
    fixture(&clean, 100, false);
    assert_eq!(migrate(&clean, &url, &[]).code, 0);
    let other = migrate(&loose, &url, &[]);
    assert_eq!(other.code, 4, "{}", other.stderr);
    assert!(
        other.stderr.contains("--replace") && other.stderr.contains("clean.db"),
        "{}",
        other.stderr
    );
    assert!(
        !other.stderr.contains(&url),
        "the password-bearing URL leaked: {}",
        other.stderr
    );
    // The directory given is the user's: provision makes a private one inside and never
    // changes the given one's mode.
    let given = dir.path("backups");
    std::fs::create_dir(&given).unwrap();
    std::fs::set_permissions(&given, std::fs::Permissions::from_mode(0o755)).unwrap();
    let backups = given.join(provision::ops::backup::SUBDIR);
    let replaced = migrate(
        &loose,
        &url,
        &["--replace", "--backup-dir", given.to_str().unwrap()],
    );
    assert_eq!(replaced.code, 0, "{}", replaced.stderr);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&given), 0o755, "the given directory was chmodded");
    assert_eq!(mode(&backups), 0o700);
    // --replace took a backup of the data it replaced first, with its checksum and rows.
    let dumps: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dump"))
        .collect();
    assert_eq!(dumps.len(), 1, "{}", replaced.stderr);
    // Written under umask 077: the dump and its manifest are root's alone.
    for f in [
        dumps[0].clone(),
        provision::ops::backup::sidecar(&dumps[0], "json"),
    ] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.json", dumps[0].display())).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["reason"], "before migrate --replace");
    assert_eq!(manifest["tables"]["public.provision_migrations"], 1);
    assert!(provision::ops::backup::checksum(&dumps[0]).is_ok());
    assert_eq!(count(&pool, "provision_migrations").await, 2);
    assert_eq!(
        count(&pool, "validation_runs").await as u64,
        replaced.json()["tables"][3]["loaded_rows"]
            .as_u64()
            .unwrap()
    );

    // Data that no migration created is never replaced.
    let (url2, _) = new_database().await;
    let pool2 = PgPool::connect(&url2).await.unwrap();
    provision::schema::apply(&pool2).await.unwrap();
    sqlx::query("INSERT INTO validation_suites (name) VALUES ('made-by-the-server')")
        .execute(&pool2)
        .await
        .unwrap();
    for args in [&[][..], &["--replace"][..]] {
        let r = migrate(&clean, &url2, args);
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert!(r.stderr.contains("no migration created"), "{}", r.stderr);
    }
    assert_eq!(count(&pool2, "validation_suites").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_catches_a_changed_cell_and_nothing_is_swapped_in() {
    let dir = Dir::new();
    let db = dir.path("legacy.db");
    fixture(&db, 200, false);
    let (url, _) = new_database().await;
    let run = migrate_env(
        &db,
        &url,
        &[],
        &[(
            "PROVISION_TEST_HOOK_AFTER_LOAD",
            "UPDATE validation_results SET message = 'tampered' WHERE id = 17",
        )],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("verification failed") && run.stderr.contains("validation_results"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("validation_runs:"),
        "only the changed table is named: {}",
        run.stderr
    );
    let pool = PgPool::connect(&url).await.unwrap();
    assert_eq!(
        count(&pool, "validation_results").await,
        0,
        "nothing swapped in"
    );
    assert_eq!(count(&pool, "provision_migrations").await, 0);
    // Nothing of the failed run stays behind: its staging schema went before it exited.
    let staging: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'provision_stage'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(staging, 0, "the failed run's staging schema stays");
    // A deleted row is caught too.
    let run = migrate_env(
        &db,
        &url,
        &[],
        &[(
            "PROVISION_TEST_HOOK_AFTER_LOAD",
            "DELETE FROM validation_runs WHERE id = 3",
        )],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("validation_runs"), "{}", run.stderr);
    // And without tampering the same file goes through.
    assert_eq!(migrate(&db, &url, &[]).code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_do_not_depend_on_the_server_timezone_and_socket_urls_work() {
    let dir = Dir::new();
    let db = dir.path("legacy.db");
    fixture(&db, 50, false);
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "UPDATE validation_runs SET started_at = '2024-03-10 02:30:00' WHERE id = 1;
             UPDATE validation_runs SET started_at = '2024-03-10T02:30:00+05:30' WHERE id = 2;
             UPDATE validation_runs SET started_at = 1710037800 WHERE id = 3;",
        )
        .unwrap();
    }
    let (_, name) = new_database().await;
    let admin = PgPool::connect(&required_env("PROVISION_TEST_PG"))
        .await
        .unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" SET timezone = 'Pacific/Chatham'"
    ))
    .execute(&admin)
    .await
    .unwrap();
    // A unix-socket URL (trust on the test cluster's socket), in the three forms.
    let sock = required_env("PROVISION_TEST_PG_SOCKET");
    let port = url::Url::parse(&required_env("PROVISION_TEST_PG"))
        .unwrap()
        .port()
        .unwrap();
    let forms = [
        format!("postgresql:///{name}?host={sock}&port={port}&user=postgres"),
        format!("postgresql://postgres@localhost/{name}?host={sock}&port={port}"),
        format!(
            "postgresql://postgres@{}:{port}/{name}",
            sock.replace('/', "%2F")
        ),
    ];
    let run = migrate(&db, &forms[0], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for form in &forms[1..] {
        let again = migrate(&db, form, &[]);
        assert_eq!(again.code, 0, "{form}: {}", again.stderr);
        assert_eq!(again.json()["outcome"], "already_migrated", "{form}");
    }
    let pool = PgPool::connect(&forms[0]).await.unwrap();
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM validation_runs WHERE id <= 3 ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows[0].1, "2024-03-10 02:30:00");
    assert_eq!(rows[1].1, "2024-03-09 21:00:00");
    assert_eq!(rows[2].1, "2024-03-10 02:30:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_source_is_read_with_pages_still_in_the_wal() {
    let dir = Dir::new();
    let db = dir.path("wal.db");
    fixture(&db, 30, false);
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;")
        .unwrap();
    writer
        .execute(
            "INSERT INTO validation_suites (name) VALUES ('only-in-the-wal')",
            [],
        )
        .unwrap();
    let wal = dir.path("wal.db-wal");
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "the write is still in -wal"
    );
    let before = file_digest(&db);
    let (url, _) = new_database().await;
    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pool = PgPool::connect(&url).await.unwrap();
    assert_eq!(
        count(&pool, "validation_suites WHERE name = 'only-in-the-wal'").await,
        1
    );
    assert_eq!(file_digest(&db), before, "the main file is untouched");
    drop(writer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_static_dashboard_spec_matches_the_migrations() {
    let (url, _) = new_database().await;
    let pool = PgPool::connect(&url).await.unwrap();
    provision::schema::apply(&pool).await.unwrap();
    for t in provision::migrate::dashboard::tables() {
        let cols: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull \
             FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        )
        .bind(format!("public.{}", t.name))
        .fetch_all(&pool)
        .await
        .unwrap();
        let spec: Vec<(String, String, bool)> = t
            .columns
            .iter()
            .map(|c| (c.name.to_string(), c.kind.sql().to_string(), c.nullable))
            .collect();
        assert_eq!(cols, spec, "{}", t.name);
    }
}
