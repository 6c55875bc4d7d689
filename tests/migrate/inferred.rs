//! Any other SQLite database: types inferred from the values (exactly), keys, indexes,
//! foreign keys and identities recreated, hostile identifiers quoted and shortened, and
//! what cannot be translated reported.

use sqlx::{PgPool, Row};

use crate::common::*;

/// A SQLite file `name` in `dir`, made by `sql`.
fn sqlite_file(dir: &Dir, name: &str, sql: &str) -> std::path::PathBuf {
    let db = dir.path(name);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(sql).unwrap();
    db
}

/// `db` migrated into a fresh database, which must succeed: its report and the target.
async fn migrated(db: &std::path::Path) -> (serde_json::Value, PgPool) {
    let (url, _) = new_database().await;
    let run = migrate(db, &url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (run.json(), PgPool::connect(&url).await.unwrap())
}

fn hostile_db(path: &std::path::Path) {
    let long1 = "x".repeat(70);
    let long2 = format!("{}y", "x".repeat(69));
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(&format!(
        r#"
        CREATE TABLE "select" ("from" INTEGER PRIMARY KEY AUTOINCREMENT, "Mixed Case" TEXT,
            "quo""te" REAL, flag BOOLEAN DEFAULT 0, created DATETIME DEFAULT CURRENT_TIMESTAMP,
            doc JSON, big NUMERIC, raw BLOB, mixed);
        CREATE TABLE "{long1}" (id INTEGER PRIMARY KEY, v TEXT);
        CREATE TABLE "{long2}" (id INTEGER PRIMARY KEY,
            parent INTEGER REFERENCES "select"("from") ON DELETE CASCADE, v TEXT);
        CREATE TABLE kv (k TEXT, n INTEGER, v, PRIMARY KEY (k, n)) WITHOUT ROWID;
        CREATE TABLE later (id INTEGER PRIMARY KEY, k TEXT, n INTEGER,
            FOREIGN KEY (k, n) REFERENCES kv (k, n) DEFERRABLE INITIALLY DEFERRED);
        CREATE UNIQUE INDEX kv_v ON kv (v DESC);
        CREATE INDEX sel_partial ON "select" ("Mixed Case") WHERE flag = 1;
        CREATE INDEX sel_expr ON "select" (lower("Mixed Case"));
        CREATE VIEW v1 AS SELECT * FROM kv;
        PRAGMA foreign_keys = OFF;
        INSERT INTO "select" ("Mixed Case", "quo""te", flag, created, doc, big, raw, mixed)
            VALUES ('a', 1.5, 1, '2024-01-01 00:00:00', '{{"a":1}}', 9007199254740993, X'00FF', 1),
                   ('b', 2, 0, 1700000000, '[1,2]', 0.5, CAST('abc' AS BLOB), 'text'),
                   ('c', NULL, NULL, NULL, NULL, 12, NULL, 2.5);
        DELETE FROM "select" WHERE "from" = 3;
        INSERT INTO "{long1}" (v) VALUES ('one');
        INSERT INTO "{long2}" (parent, v) VALUES (1, 'two'), (99, 'orphan');
        INSERT INTO kv VALUES ('k', 1, 'x'), ('k', 2, 7);
        "#
    ))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_databases_are_migrated_by_inference_exactly() {
    let dir = Dir::new();
    let db = dir.path("hostile.db");
    hostile_db(&db);
    let (url, _) = new_database().await;
    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["mode"], "inferred");
    for t in report["tables"].as_array().unwrap() {
        assert_eq!(t["hash_ok"], true, "{t}");
        assert_eq!(t["source_rows"], t["loaded_rows"]);
    }
    let notes = report["notes"].to_string();
    for expected in [
        "select.big",
        "numeric",
        "select.mixed",
        "renamed to",
        "NOT VALID",
        "DEFERRABLE",
    ] {
        assert!(notes.contains(expected), "notes lack {expected}: {notes}");
    }
    assert!(report["skipped"].to_string().contains("v1"));

    let pool = PgPool::connect(&url).await.unwrap();
    // The partial and the expression index are translated (the boolean compared with true).
    let defs: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE indexname IN ('sel_partial', 'sel_expr') ORDER BY indexname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(defs.len(), 2, "{defs:?}");
    assert!(defs[0].contains("lower(\"Mixed Case\")"), "{defs:?}");
    assert!(defs[1].contains("WHERE (flag = true)"), "{defs:?}");
    let types: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a \
         WHERE a.attrelid = 'public.\"select\"'::regclass AND a.attnum > 0 ORDER BY a.attnum",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let want = [
        ("from", "bigint", true),
        ("Mixed Case", "text", false),
        ("quo\"te", "double precision", false),
        ("flag", "boolean", false),
        ("created", "timestamp with time zone", false),
        ("doc", "jsonb", false),
        ("big", "numeric", false),
        ("raw", "bytea", false),
        ("mixed", "text", false),
    ];
    let want: Vec<(String, String, bool)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
        .collect();
    assert_eq!(types, want);
    let row = sqlx::query(
        "SELECT big::text AS big, raw, mixed, created, \"quo\"\"te\" AS q FROM \"select\" WHERE \"from\" = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("big"), "9007199254740993");
    assert_eq!(row.get::<Vec<u8>, _>("raw"), vec![0x00, 0xff]);
    assert_eq!(row.get::<String, _>("mixed"), "1");
    assert_eq!(row.get::<f64, _>("q"), 1.5);
    let half: String = sqlx::query_scalar("SELECT big::text FROM \"select\" WHERE \"from\" = 2")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(half, "0.5");
    let created: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT created FROM \"select\" WHERE \"from\" = 2")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(created.timestamp(), 1_700_000_000);
    // The identity continues after the AUTOINCREMENT high-water mark (3, though row 3 is gone).
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO \"select\" (\"Mixed Case\") VALUES ('new') RETURNING \"from\"",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(next, 4);
    // Long names: distinct, at most 63 bytes, both present.
    let long: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE tablename LIKE 'xxxx%' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(long.len(), 2, "{long:?}");
    assert!(long.iter().all(|n| n.len() <= 63) && long[0] != long[1]);
    // Composite key, DESC unique index, WITHOUT ROWID table.
    let idx: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'kv' ORDER BY indexname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(idx.iter().any(|d| d.contains("(k, n)")), "{idx:?}");
    assert!(
        idx.iter()
            .any(|d| d.contains("UNIQUE") && d.contains("v DESC")),
        "{idx:?}"
    );
    // The orphan is kept and the foreign key is NOT VALID; the other key is enforced.
    let fk_valid: bool = sqlx::query_scalar(
        "SELECT bool_and(c.convalidated) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         WHERE c.contype = 'f' AND t.relname LIKE 'xxxx%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!fk_valid);
    let rows: Vec<i64> = row_counts(&pool, &long).await;
    assert_eq!(
        rows.iter().sum::<i64>(),
        3,
        "one row in the first long table, two (one orphan) in the other"
    );

    // Re-run: a no-op. A table of the same name that no migration made is never replaced.
    assert_eq!(
        migrate(&db, &url, &[]).json()["outcome"],
        "already_migrated"
    );
    let (url2, _) = new_database().await;
    let pool2 = PgPool::connect(&url2).await.unwrap();
    sqlx::query("CREATE TABLE kv (mine text)")
        .execute(&pool2)
        .await
        .unwrap();
    for args in [&[][..], &["--replace"][..]] {
        let r = migrate(&db, &url2, args);
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert!(r.stderr.contains("kv"), "{}", r.stderr);
    }
}

async fn row_counts(pool: &PgPool, tables: &[String]) -> Vec<i64> {
    let mut out = Vec::new();
    for t in tables {
        out.push(count(pool, &format!("\"{t}\"")).await);
    }
    out
}

/// `1` and `'1'` in a UNIQUE column without a type: two values in SQLite, one once
/// converted. The run aborts naming the table, the key and both rows, with PostgreSQL's
/// message once, and leaves nothing behind (no table, no staging schema, no ledger row).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_collide_only_once_converted_abort_naming_both_rows() {
    let dir = Dir::new();
    let db = sqlite_file(
        &dir,
        "collide.db",
        "CREATE TABLE things (id INTEGER PRIMARY KEY, code UNIQUE, note TEXT);
         INSERT INTO things (code, note) VALUES (1, 'int one'), ('1', 'text one'), ('2', 'two');",
    );
    let (url, _) = new_database().await;
    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for part in [
        "things: Key (code)=(1) is duplicated",
        r#"{"id":1,"code":"1","note":"int one"} and {"id":2,"code":"1","note":"text one"}"#,
        "nothing was migrated",
    ] {
        assert!(run.stderr.contains(part), "{part}: {}", run.stderr);
    }
    assert_eq!(
        run.stderr.matches("is duplicated").count(),
        1,
        "{}",
        run.stderr
    );
    let pool = PgPool::connect(&url).await.unwrap();
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'provision_stage'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(left, 0, "the staging schema stays");
    let things: Option<String> = sqlx::query_scalar("SELECT to_regclass('public.things')::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(things, None);
}

/// A database that is not the dashboard's, with a `users` table of its own, into an empty
/// target: migrated by inference with no dashboard table created; the ledger still makes
/// a second run a no-op; the legacy dashboard is then refused there (a database of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_database_gets_no_dashboard_schema_and_may_have_a_users_table() {
    let dir = Dir::new();
    let db = sqlite_file(
        &dir,
        "shop.db",
        "CREATE TABLE users (handle TEXT PRIMARY KEY, karma INTEGER);
         INSERT INTO users VALUES ('ada', 3), ('bob', 5);",
    );
    let (url, _) = new_database().await;
    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["mode"], "inferred");
    let pool = PgPool::connect(&url).await.unwrap();
    let present = |t: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(&format!("SELECT to_regclass('public.{t}') IS NOT NULL"))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert!(
        !present("validation_runs").await,
        "a dashboard table was created"
    );
    assert!(!present("_sqlx_migrations").await);
    assert!(present("provision_migrations").await);
    let karma: i64 = sqlx::query_scalar("SELECT karma FROM users WHERE handle = 'bob'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(karma, 5);
    let again = migrate(&db, &url, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["outcome"], "already_migrated");

    let legacy = dir.path("legacy.db");
    fixture(&legacy, 5, false);
    let refused = migrate(&legacy, &url, &[]);
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("into a database of its own"),
        "{}",
        refused.stderr
    );
}

/// SQLite keeps a FOREIGN KEY naming a table or a column that does not exist; PostgreSQL
/// cannot. Every row arrives and the key is reported as not created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_key_to_nothing_is_reported_not_fatal() {
    let dir = Dir::new();
    let db = sqlite_file(
        &dir,
        "dangling.db",
        "PRAGMA foreign_keys = OFF;
         CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customers(id),
             parent INTEGER REFERENCES parent(no_such_column));
         INSERT INTO parent (name) VALUES ('p');
         INSERT INTO orders (customer, parent) VALUES (7, 1), (8, 1);",
    );
    let (report, pool) = migrated(&db).await;
    let fks: Vec<String> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .chain(report["notes"].as_array().unwrap())
        .filter(|s| s["kind"] == "foreign key")
        .map(|s| s["why"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fks.len(), 2, "{report}");
    assert!(
        fks.iter()
            .all(|w| w.starts_with("not created: it names what the source does not have")),
        "{fks:?}"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

/// Literal defaults (empty text, negative numbers, blobs) and the time of the insert
/// become PostgreSQL's equivalents; a default that is neither is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_arrive_as_their_postgresql_equivalents() {
    let dir = Dir::new();
    let db = sqlite_file(
        &dir,
        "defaults.db",
        "CREATE TABLE d (id INTEGER PRIMARY KEY, e TEXT DEFAULT '', n INTEGER DEFAULT -1,
             b BLOB DEFAULT X'00FF', ts DATETIME DEFAULT CURRENT_TIMESTAMP,
             day TEXT DEFAULT CURRENT_DATE, epoch INTEGER DEFAULT (strftime('%s','now')),
             odd INTEGER DEFAULT (abs(random()) % 10));
         INSERT INTO d (id) VALUES (1);",
    );
    let (report, pool) = migrated(&db).await;
    let defaults: Vec<String> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "default")
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(defaults, ["d.odd"], "{report}");
    let row = sqlx::query(
        "INSERT INTO d DEFAULT VALUES RETURNING e, n, encode(b, 'hex') AS b, \
         ts > now() - interval '1 minute' AS ts_now, day = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS today, \
         epoch > 1700000000 AS epoch_now, odd IS NULL AS no_odd",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("e"), "");
    assert_eq!(row.get::<i64, _>("n"), -1);
    assert_eq!(row.get::<String, _>("b"), "00ff");
    for flag in ["ts_now", "today", "epoch_now", "no_odd"] {
        assert!(row.get::<bool, _>(flag), "{flag}");
    }
}

/// A BOOLEAN column holding words (any case) and 0/1 becomes boolean when every value
/// maps; one that holds anything else stays text, every value as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boolean_words_become_booleans_when_every_value_maps() {
    let dir = Dir::new();
    let db = sqlite_file(
        &dir,
        "flags.db",
        "CREATE TABLE f (id INTEGER PRIMARY KEY, ok BOOLEAN, maybe BOOLEAN);
         INSERT INTO f (ok, maybe) VALUES ('TRUE', 'yes'), ('f', 'no'), (1, 'perhaps'),
             ('No', NULL), (0, 't');",
    );
    let (_, pool) = migrated(&db).await;
    let types: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_name = 'f' AND column_name IN ('ok', 'maybe') ORDER BY column_name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        types,
        [
            ("maybe".to_string(), "text".to_string()),
            ("ok".to_string(), "boolean".to_string())
        ]
    );
    let ok: Vec<bool> = sqlx::query_scalar("SELECT ok FROM f ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(ok, [true, false, true, false, false]);
    let maybe: Vec<Option<String>> = sqlx::query_scalar("SELECT maybe FROM f ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(maybe[2].as_deref(), Some("perhaps"));
}

/// SQLite lets a TEXT PRIMARY KEY hold NULLs: every row arrives, the key is a UNIQUE
/// constraint (NULLs distinct, duplicates still refused) and the report says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nulls_in_a_non_integer_primary_key_arrive_under_a_unique_key() {
    let dir = Dir::new();
    let db = sqlite_file(
        &dir,
        "nullkey.db",
        "CREATE TABLE codes (code TEXT PRIMARY KEY, v INTEGER);
         INSERT INTO codes VALUES (NULL, 1), (NULL, 2), ('a', 3);",
    );
    let (report, pool) = migrated(&db).await;
    let note = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "primary key")
        .unwrap_or_else(|| panic!("no primary key note: {report}"));
    assert!(
        note["why"]
            .as_str()
            .unwrap()
            .starts_with("holds NULL (code in 2 row(s))"),
        "{note}"
    );
    assert_eq!(count(&pool, "codes").await, 3);
    let kind: String = sqlx::query_scalar(
        "SELECT contype::text FROM pg_constraint WHERE conrelid = 'public.codes'::regclass",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(kind, "u");
    let dup = sqlx::query("INSERT INTO codes VALUES ('a', 4)")
        .execute(&pool)
        .await;
    assert!(dup.is_err(), "the key still refuses a duplicate");
}

/// A DATETIME column of 13-digit integers holds epoch milliseconds: read as such (not as
/// seconds in the year 55,000), and the report says which unit it took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirteen_digit_epochs_are_milliseconds_and_the_report_says_so() {
    let dir = Dir::new();
    let db = sqlite_file(
        &dir,
        "epochs.db",
        "CREATE TABLE e (id INTEGER PRIMARY KEY, at_ms DATETIME, at_s DATETIME);
         INSERT INTO e (at_ms, at_s) VALUES (1700000000123, 1700000000),
             ('2024-01-02 03:04:05', 1700000001);",
    );
    let (report, pool) = migrated(&db).await;
    let why = |name: &str| {
        report["notes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .and_then(|n| n["why"].as_str())
            .unwrap_or_else(|| panic!("no note on {name}: {report}"))
            .to_string()
    };
    assert!(why("e.at_ms").contains("epoch milliseconds"), "{report}");
    assert!(why("e.at_s").ends_with("epoch seconds"), "{report}");
    let shown: String = sqlx::query_scalar(
        "SELECT to_char(at_ms AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') FROM e WHERE id = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(shown, "2023-11-14 22:13:20.123");
}

/// FTS5 and R*Tree virtual tables: their rows arrive as plain tables of their columns,
/// their shadow tables (docs_content, docs_idx, boxes_node, …) are not tables of their
/// own, and the report says the index was not migrated and how to recreate it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_tables_arrive_as_plain_tables_without_their_shadows() {
    let dir = Dir::new();
    let db = sqlite_file(
        &dir,
        "search.db",
        "CREATE VIRTUAL TABLE docs USING fts5(title, body);
         INSERT INTO docs VALUES ('one', 'the first'), ('two', NULL);
         CREATE VIRTUAL TABLE boxes USING rtree(id, minx, maxx);
         INSERT INTO boxes VALUES (1, 0.5, 2.0);",
    );
    let (report, pool) = migrated(&db).await;
    let skipped = |kind: &str| -> Vec<String> {
        report["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| {
                format!(
                    "{} {}",
                    s["name"].as_str().unwrap(),
                    s["why"].as_str().unwrap()
                )
            })
            .collect()
    };
    let fts = skipped("full-text index");
    assert_eq!(fts.len(), 1, "{report}");
    assert!(
        fts[0].starts_with("docs ") && fts[0].contains("tsvector"),
        "{fts:?}"
    );
    assert_eq!(skipped("spatial index").len(), 1, "{report}");
    let shadows = skipped("shadow table");
    assert!(
        shadows.iter().any(|s| s.starts_with("docs_content "))
            && shadows.iter().any(|s| s.starts_with("boxes_node ")),
        "{shadows:?}"
    );
    assert_eq!(count(&pool, "docs").await, 2);
    assert_eq!(count(&pool, "boxes").await, 1);
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM docs WHERE title = 'one'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(body.as_deref(), Some("the first"));
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
         AND (tablename LIKE 'docs%' OR tablename LIKE 'boxes%') ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tables, ["boxes", "docs"]);
}

/// Partial and expression indexes over functions both databases share are translated; a
/// UNIQUE one that cannot be is a lost uniqueness guarantee, at the top of the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_and_expression_indexes_translate_and_lost_uniqueness_comes_first() {
    let dir = Dir::new();
    let db = sqlite_file(
        &dir,
        "indexes.db",
        "CREATE TABLE p (id INTEGER PRIMARY KEY, email TEXT, active BOOLEAN, tag BLOB);
         INSERT INTO p (email, active, tag) VALUES ('A@x', 1, X'01'), ('a@x', 0, X'02');
         CREATE UNIQUE INDEX p_email ON p (lower(email)) WHERE active = 1;
         CREATE INDEX p_len ON p (length(email) DESC);
         CREATE UNIQUE INDEX p_hex ON p (hex(tag));",
    );
    let (url, _) = new_database().await;
    let run = migrate(&db, &url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let lost: Vec<&str> = report["lost_uniqueness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(lost, ["p_hex"], "{report}");
    let text = provision(
        &["migrate", "--from", db.to_str().unwrap(), "--dry-run"],
        &[("DATABASE_URL", url.as_str())],
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    let first_table = text.stdout.find("table").unwrap_or(usize::MAX);
    let warning = text.stdout.find("LOST UNIQUENESS").unwrap_or(usize::MAX);
    assert!(warning < first_table, "{}", text.stdout);
    let pool = PgPool::connect(&url).await.unwrap();
    let defs: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'p' AND indexname <> 'p_pkey' ORDER BY indexname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(defs.len(), 2, "{defs:?}");
    assert!(
        defs[0].contains("lower(email)") && defs[0].contains("WHERE (active = true)"),
        "{defs:?}"
    );
    assert!(defs[1].contains("length(email) DESC"), "{defs:?}");
    // The translated UNIQUE index still refuses what SQLite refused.
    let dup = sqlx::query("INSERT INTO p (email, active) VALUES ('a@X', true)")
        .execute(&pool)
        .await;
    assert!(dup.is_err(), "lower(email) is unique among active rows");
}
