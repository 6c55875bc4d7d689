//! Dependencies failing: Redis frozen and killed (reads and writes go on without it),
//! PostgreSQL restarted under load (no read fails), PostgreSQL down for longer (503
//! while down, recovery without a restart of the server).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

async fn timed_reads(app: &App, path: &str, n: usize) -> (Vec<Duration>, Vec<String>) {
    let mut lat = Vec::with_capacity(n);
    let mut cache = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = app.get(path).await;
        lat.push(t.elapsed());
        assert_eq!(r.status(), 200, "read during the outage");
        cache.push(r.headers()["x-cache"].to_str().unwrap().to_string());
        r.bytes().await.unwrap();
    }
    (lat, cache)
}

async fn wait_for_text(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    within: Duration,
) -> Option<serde_json::Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_then_killed_keeps_reads_and_writes_working() {
    let mut redis = OwnRedis::start();
    let db = new_database().await;
    let app = spawn_app_on(settings(&db, &redis.url, &unique("c"))).await;
    let user = seed_user(
        &app.pool,
        "w",
        &provision::server::auth::password::hash_with("pw", 1000),
        true,
    )
    .await;
    let token = seed_token(&app.pool, user).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    wait_ws_clients(&app, 1.0).await;
    create_run(&app, &token, "r", "dev").await;
    wait_for_text(&mut ws, Duration::from_secs(5))
        .await
        .expect("event");
    assert_eq!(app.get("/api/summary").await.headers()["x-cache"], "miss");
    assert_eq!(app.get("/api/summary").await.headers()["x-cache"], "hit");

    // Frozen: connections stay open but nothing answers.
    redis.signal("STOP");
    let (mut lat, cache) = timed_reads(&app, "/api/summary", 200).await;
    let p99 = percentile(&mut lat, 99.0);
    println!(
        "summary reads with Redis frozen: p50 {:?} p99 {:?} max {:?}",
        percentile(&mut lat, 50.0),
        p99,
        lat[lat.len() - 1]
    );
    assert!(
        p99 < Duration::from_millis(50),
        "p99 {p99:?} with Redis frozen"
    );
    assert!(cache[1..].iter().all(|c| c == "bypass"), "{cache:?}");
    let r = app.get("/ready").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        body_json(r).await,
        json!({"status": "degraded", "checks": {"postgres": "ok", "redis": "down"}})
    );
    // Writes and live events go on.
    let run = create_run(&app, &token, "r", "dev").await;
    let ev = wait_for_text(&mut ws, Duration::from_secs(5))
        .await
        .expect("event while Redis is down");
    assert_eq!(ev["run"]["id"], run["id"]);
    let r = app
        .patch(
            &format!("/api/runs/{}", run["id"]),
            &token,
            json!({"status": "passed"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Login keeps working: the session goes to PostgreSQL.
    let r = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({"username": "w", "password": "pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);

    // Thawed: caching resumes, and nothing cached before the outage is served stale.
    redis.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(5);
    let body = loop {
        let r = app.get("/api/summary").await;
        let c = r.headers()["x-cache"].to_str().unwrap().to_string();
        if c != "bypass" {
            assert_eq!(c, "miss", "first read after Redis returns");
            break body_json(r).await;
        }
        assert!(
            Instant::now() < deadline,
            "caching did not resume within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["groups"][0]["runs"], 2);
    assert_eq!(body["groups"][0]["passed_runs"], 1);
    assert_eq!(app.get("/api/summary").await.headers()["x-cache"], "hit");

    // Killed: refused connections, same story.
    redis.kill();
    let (mut lat, cache) = timed_reads(&app, "/api/suites", 100).await;
    let p99 = percentile(&mut lat, 99.0);
    println!("suite reads with Redis dead: p99 {p99:?}");
    assert!(
        p99 < Duration::from_millis(50),
        "p99 {p99:?} with Redis dead"
    );
    assert!(cache[1..].iter().all(|c| c == "bypass"), "{cache:?}");
    assert_eq!(
        create_run(&app, &token, "r", "dev").await["status"],
        "running"
    );
    app.stop().await;
}

/// An instance on a PostgreSQL of the test's own (to stop and restart), and a writer's
/// token.
async fn app_on_own_postgres() -> (OwnPostgres, App, String) {
    let pg = OwnPostgres::start();
    let db = create_database_on(&pg.admin_url()).await;
    let app = spawn_app_on(settings(
        &db,
        &required_env("PROVISION_TEST_REDIS"),
        &unique("c"),
    ))
    .await;
    let user = seed_user(&app.pool, "w", "x", true).await;
    let token = seed_token(&app.pool, user).await;
    (pg, app, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_gives_503_then_recovers_by_itself() {
    let (pg, app, token) = app_on_own_postgres().await;
    create_run(&app, &token, "pg", "dev").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    app.pool.close().await;

    pg.pg_ctl_stop();
    let r = app.get("/api/runs").await;
    assert_eq!(assert_error(r, 503).await, "database_unavailable");
    let r = app.get("/api/runs/1").await;
    assert_eq!(assert_error(r, 503).await, "database_unavailable");
    let r = app.get("/ready").await;
    assert_eq!(r.status(), 503);
    let v = body_json(r).await;
    assert_eq!(v["status"], "down");
    assert_eq!(v["checks"]["postgres"], "down");
    assert_eq!(app.get("/health").await.status(), 200);
    let r = app
        .post(
            "/api/runs",
            &token,
            json!({"suite": "pg", "environment": "dev"}),
        )
        .await;
    assert_eq!(r.status(), 503);

    pg.pg_ctl_start();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.get("/api/runs").await;
        if r.status() == 200 {
            assert_eq!(body_json(r).await["items"].as_array().unwrap().len(), 1);
            break;
        }
        assert!(Instant::now() < deadline, "no recovery within 15 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/ready").await.status(), 200);
    // Live events resume: the listener reconnects by itself.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let run = create_run(&app, &token, "pg", "dev").await;
        if let Some(ev) = wait_for_text(&mut ws, Duration::from_secs(2)).await {
            assert_eq!(ev["type"], "run_created");
            assert!(ev["run"]["id"].as_i64().unwrap() <= run["id"].as_i64().unwrap());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "events did not resume within 15 s"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fast_restart_under_read_load_fails_no_read() {
    let (pg, app, token) = app_on_own_postgres().await;
    let run = create_run(&app, &token, "pg", "dev").await;
    let id = run["id"].as_i64().unwrap();
    app.pool.close().await;

    // About 300 reads a second (six clients, one read each 20 ms), from a second before
    // the restart to a second and a half after it; `no-cache`, so each reaches PostgreSQL
    // (not the instance's memory).
    let paths = [
        "/api/runs?limit=50".to_string(),
        format!("/api/runs/{id}"),
        format!("/api/runs/{id}/results"),
    ];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..6 {
        let (http, base, paths, stop) = (
            app.http.clone(),
            app.base.clone(),
            paths.clone(),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            let (mut sent, mut failed) = (0usize, Vec::new());
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                let path = &paths[(c + sent) % paths.len()];
                sent += 1;
                let read = http
                    .get(format!("{base}{path}"))
                    .header("cache-control", "no-cache");
                match read.send().await {
                    Ok(r) if r.status() == 200 => {}
                    Ok(r) => failed.push(format!("{path}: {}", r.status())),
                    Err(e) => failed.push(format!("{path}: {e}")),
                }
            }
            (sent, failed)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restarted = Instant::now();
    let pg = tokio::task::spawn_blocking(move || {
        pg.pg_ctl_restart();
        pg
    })
    .await
    .unwrap();
    println!("PostgreSQL restarted in {:?}", restarted.elapsed());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut sent, mut failed) = (0, Vec::new());
    for c in clients {
        let (s, f) = c.await.unwrap();
        sent += s;
        failed.extend(f);
    }
    let retries = metric(&app, "ld_db_retries_total").await;
    println!(
        "{sent} reads across the restart, {} failed, {retries} retried",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} of {sent} reads failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    assert!(sent > 500, "only {sent} reads were sent");
    // The restart did meet reads: they lost their connections and were retried.
    assert!(
        retries >= 1.0,
        "no read was retried: the restart met no read"
    );
    drop(pg);
    app.stop().await;
}
