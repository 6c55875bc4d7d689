//! Reads from a streaming replica (`database.replica_urls`): a write on the primary shows
//! on the replica within the bound, reads go to the replica while it is fresh, a writer's
//! reads stay on the primary, and a replica stopped under reads costs no request — the
//! primary answers them — until it is back.

use std::time::{Duration, Instant};

use crate::common::*;

async fn ready(app: &App) -> serde_json::Value {
    let r = app.get("/ready").await;
    assert_eq!(r.status(), 200, "a replica's state never makes /ready fail");
    body_json(r).await
}

/// Waits until /ready shows the replica as `want`.
async fn until_replica(app: &App, want: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = ready(app).await;
        if body["replicas"][0]["state"] == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never became {want}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `n` reads no cache can answer (a new cursor each), all expected 200.
async fn reads(app: &App, n: i64) {
    for i in 0..n {
        let path = format!("/api/runs?limit=5&env=dev&before={}", 1_000_000 + i);
        let r = app.get(&path).await;
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_a_fresh_replica_and_to_the_primary_when_it_stops() {
    let primary = OwnPostgres::start();
    let db_url = create_database_on(&primary.admin_url()).await;
    let db = db_url.rsplit('/').next().unwrap().to_string();
    let replica = primary.replica();
    let mut s = settings(&db_url, &required_env("PROVISION_TEST_REDIS"), &unique("r"));
    s.replica_urls = vec![provision::settings::Secret::new(with_database(
        &replica.admin_url(),
        &db,
    ))];
    let app = spawn_app_on(s).await;
    let body = until_replica(&app, "ok").await;
    assert_eq!(
        body["replicas"][0]["name"],
        format!("127.0.0.1:{}", replica.port)
    );
    assert!(
        body["replicas"][0]["lag_ms"].as_u64().unwrap() < 1000,
        "{body}"
    );

    // A write on the primary is on the replica within the bound.
    let user = seed_user(&app.pool, "w", "x", true).await;
    let token = seed_token(&app.pool, user).await;
    let run = create_run(&app, &token, "s", "dev").await;
    let written = Instant::now();
    let on_replica = sqlx::PgPool::connect(&with_database(&replica.admin_url(), &db))
        .await
        .unwrap();
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM validation_runs WHERE id = $1")
            .bind(run["id"].as_i64().unwrap())
            .fetch_one(&on_replica)
            .await
            .unwrap();
        if n == 1 {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(1),
            "the write is not on the replica 1 s later"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("the write reached the replica in {:?}", written.elapsed());
    on_replica.close().await;

    // Reads go to the replica; a writer's reads stay on the primary.
    let before = metric(&app, "ld_replica_reads_total").await;
    reads(&app, 20).await;
    let after = metric(&app, "ld_replica_reads_total").await;
    assert!(
        after - before >= 20.0,
        "{} replica reads of 20",
        after - before
    );
    let r = app
        .http
        .get(app.url("/api/runs?limit=5&env=dev&before=7"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(metric(&app, "ld_replica_reads_total").await, after);
    let lag = metric(
        &app,
        &format!(
            r#"ld_replica_lag_seconds{{replica="127.0.0.1:{}"}}"#,
            replica.port
        ),
    )
    .await;
    assert!((0.0..1.0).contains(&lag), "lag {lag}");
    // `provision status` reads the same /metrics: the replica, serving, under a second.
    let mut seen = provision::ops::status::replicas::Seen::default();
    seen.add(&app.get("/metrics").await.text().await.unwrap());
    let replicas = seen.replicas();
    assert_eq!(replicas.len(), 1, "{replicas:?}");
    assert_eq!(replicas[0].name, format!("127.0.0.1:{}", replica.port));
    assert!(
        replicas[0].serving && replicas[0].lag_ms.is_some_and(|ms| ms < 1000),
        "{replicas:?}"
    );

    // A replica behind a write the instance has already dropped from memory: its answer
    // (stale, within the bound) is given but not kept, so once the bound passes the
    // primary's answer is read, not a stale one kept for the cache's 60 s.
    let id = run["id"].as_i64().unwrap();
    let results = format!("/api/runs/{id}/results");
    let r = app.get(&results).await;
    assert_eq!(r.status(), 200);
    let paused = sqlx::PgPool::connect(&with_database(&replica.admin_url(), &db))
        .await
        .unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&paused)
        .await
        .unwrap();
    let r = app
        .post(
            &results,
            &token,
            serde_json::json!({"results": [{"check_name": "c", "status": "pass"}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let during = body_json(app.get(&results).await).await;
    println!(
        "right after the write, with the replica paused: {} result(s)",
        during["items"].as_array().unwrap().len()
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let later = body_json(app.get(&results).await).await;
    assert_eq!(
        later["items"].as_array().unwrap().len(),
        1,
        "a replica's answer older than a write was kept: {later}"
    );
    assert_eq!(until_replica(&app, "lagging").await["status"], "ok");
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&paused)
        .await
        .unwrap();
    paused.close().await;
    until_replica(&app, "ok").await;

    // The replica stops under reads: none fails, the primary answers them.
    let reader = {
        let app_url = app.url("");
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let (mut ok, mut failed) = (0, 0);
            let end = Instant::now() + Duration::from_secs(3);
            let mut i = 0;
            while Instant::now() < end {
                i += 1;
                let r = http
                    .get(format!(
                        "{app_url}/api/runs?limit=5&env=dev&before={}",
                        2_000_000 + i
                    ))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed)
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    replica.pg_ctl_stop();
    let (ok, failed) = reader.await.unwrap();
    println!("reads while the replica stopped: {ok} answered, {failed} failed");
    assert!(ok > 100, "{ok}");
    assert_eq!(failed, 0);
    let body = until_replica(&app, "down").await;
    assert_eq!(body["status"], "ok", "{body}");
    let serving = metric(
        &app,
        &format!(
            r#"ld_replica_serving{{replica="127.0.0.1:{}"}}"#,
            replica.port
        ),
    )
    .await;
    assert_eq!(serving, 0.0);

    // Back: reads go to it again.
    replica.pg_ctl_start();
    until_replica(&app, "ok").await;
    let before = metric(&app, "ld_replica_reads_total").await;
    reads(&app, 10).await;
    assert!(metric(&app, "ld_replica_reads_total").await - before >= 10.0);
    app.stop().await;
}

/// `backup --from-replica`'s source: the primary is passed over (not a standby), the
/// replica taken; the dump read there (its snapshot exported on the standby) holds the
/// primary's rows, counted and digested in that snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_from_the_replica_holds_the_primarys_rows() {
    use provision::ops::{backup, backup_source};
    use provision::settings::Secret;
    let primary = OwnPostgres::start();
    let db_url = create_database_on(&primary.admin_url()).await;
    let db = db_url.rsplit('/').next().unwrap().to_string();
    let pool = sqlx::PgPool::connect(&db_url).await.unwrap();
    sqlx::query("CREATE TABLE facts (id int PRIMARY KEY, note text)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO facts SELECT g, 'row ' || g FROM generate_series(1, 500) g")
        .execute(&pool)
        .await
        .unwrap();
    let replica = primary.replica();
    let on_replica = with_database(&replica.admin_url(), &db);
    let urls = [Secret::new(db_url.clone()), Secret::new(on_replica.clone())];
    let chosen = backup_source::replica(&urls, Duration::from_secs(5))
        .await
        .expect("the replica qualifies");
    assert_eq!(chosen.url.expose(), on_replica);
    let e = backup_source::replica(&urls[..1], Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a standby"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let b = backup::backup(&chosen.url, dir.path(), "manual")
        .await
        .expect("a dump from the standby");
    assert_eq!(b.manifest.tables.get("public.facts"), Some(&500));
    assert!(b.manifest.digests.contains_key("public.facts"));
    assert!(b.file.is_file());
}
