//! The instance's own cache: reads served from memory, every write dropping what it
//! changes on every instance (by its event, long before the bound), a writer's reads
//! never from memory, and `/metrics` saying how each read was answered.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

async fn read(app: &App, path: &str) -> (String, serde_json::Value) {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    let how = r.headers()["x-cache"].to_str().unwrap().to_string();
    (how, body_json(r).await)
}

/// Reads `path` until it is answered from memory (the event listener may still be
/// connecting when the instance starts: nothing is kept until it listens).
async fn until_local(app: &App, path: &str) -> serde_json::Value {
    until(app, path, "local").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_come_from_memory_and_every_write_reaches_every_instance_by_its_event() {
    let db = new_database().await;
    let redis = required_env("PROVISION_TEST_REDIS");
    let a = spawn_app_on(settings(&db, &redis, &unique("c"))).await;
    // B answers from memory for a minute without a heartbeat (its entries live 30 s):
    // only the write's event can make it drop one in time.
    let mut slow = settings(&db, &redis, &unique("c"));
    slow.local_cache_bound = Duration::from_secs(60);
    let b = spawn_app_on(slow).await;
    let user = seed_user(&a.pool, "w", "x", true).await;
    let token = seed_token(&a.pool, user).await;
    let first = create_run(&a, &token, "s", "dev").await;
    let id = first["id"].as_i64().unwrap();

    let page = until_local(&b, "/api/runs?limit=50").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let one = until_local(&b, &format!("/api/runs/{id}")).await;
    assert_eq!(one["total_checks"], 0);
    until_local(&b, &format!("/api/runs/{id}/results")).await;

    // Writes through A: a new run, and results to the first one.
    let second = create_run(&a, &token, "s", "dev").await;
    let r = a
        .post(
            &format!("/api/runs/{id}/results"),
            &token,
            json!({"results": [{"check_name": "c1", "status": "pass"}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let written = Instant::now();
    let deadline = written + Duration::from_secs(2);
    loop {
        let (_, page) = read(&b, "/api/runs?limit=50").await;
        let (_, one) = read(&b, &format!("/api/runs/{id}")).await;
        let (_, results) = read(&b, &format!("/api/runs/{id}/results")).await;
        if page["items"][0]["id"] == second["id"]
            && one["total_checks"] == 1
            && results["items"].as_array().unwrap().len() == 1
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B still answers from before the writes 2 s later (its entries live 60 s)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("the writes reached B's memory in {:?}", written.elapsed());

    // The writer reads what it wrote at once on its instance, and a read with its token
    // or with no-cache is never answered from memory.
    let (_, mine) = read(&a, &format!("/api/runs/{id}")).await;
    assert_eq!(mine["total_checks"], 1);
    let r = b
        .http
        .get(b.url(&format!("/api/runs/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-cache"], "bypass");
    let r = b
        .http
        .get(b.url("/api/runs?limit=50"))
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-cache"], "bypass");

    // /metrics: how reads were answered, per route, and the uses of PostgreSQL.
    let local = metric(
        &b,
        r#"ld_cache_lookups_total{route="/api/runs",result="local"}"#,
    )
    .await;
    let bypass = metric(
        &b,
        r#"ld_cache_lookups_total{route="/api/runs/{id}",result="bypass"}"#,
    )
    .await;
    assert!(
        local >= 1.0 && bypass >= 1.0,
        "local {local}, bypass {bypass}"
    );
    let uses = metric(&b, "ld_db_uses_total").await;
    let before = uses;
    for _ in 0..20 {
        read(&b, &format!("/api/runs/{id}/results")).await;
    }
    let after = metric(&b, "ld_db_uses_total").await;
    assert!(
        after - before <= 1.0,
        "20 reads of one page used PostgreSQL {} times",
        after - before
    );
    a.stop().await;
    b.stop().await;
}

/// Reads `path` until it is answered as `how`.
async fn until(app: &App, path: &str, how: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (got, body) = read(app, path).await;
        if got == how {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never answered as {how} (last: {got})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfiltered_runs_pages_are_assembled_from_memory_and_learn_new_runs_by_their_event() {
    let db = new_database().await;
    let redis = required_env("PROVISION_TEST_REDIS");
    let a = spawn_app_on(settings(&db, &redis, &unique("i"))).await;
    let mut slow = settings(&db, &redis, &unique("i"));
    slow.local_cache_bound = Duration::from_secs(60);
    let b = spawn_app_on(slow).await;
    let user = seed_user(&a.pool, "w", "x", true).await;
    let token = seed_token(&a.pool, user).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            create_run(&a, &token, "s", "dev").await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    // The first page loads B's run index (in the background) and its runs' JSON.
    until_local(&b, "/api/runs?limit=50").await;
    // Another cursor, never read: assembled from the index and the runs' JSON, with no
    // use of PostgreSQL.
    let path = format!("/api/runs?limit=2&before={}", ids[2]);
    let uses = metric(&b, "ld_db_uses_total").await;
    let page = until(&b, &path, "assembled").await;
    let got: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, vec![ids[1], ids[0]]);
    assert_eq!(page["next_before"], serde_json::Value::Null);
    assert_eq!(
        metric(&b, "ld_db_uses_total").await,
        uses,
        "an assembled page used PostgreSQL"
    );
    // A filtered page is not the index's: its ids come from PostgreSQL.
    let (how, _) = read(&b, &format!("/api/runs?limit=2&env=dev&before={}", ids[2])).await;
    assert_eq!(how, "miss");

    // A run created through A reaches B's index by its event (B's bound is a minute, its
    // index is not loaded again for 30 s): a page below a cursor above it lists it.
    let new = create_run(&a, &token, "s", "dev").await["id"]
        .as_i64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let (_, page) = read(&b, &format!("/api/runs?limit=1&before={}", new + 1)).await;
        if page["items"][0]["id"] == new {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B's runs pages do not list run {new} 2 s after it was created"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let page = until(
        &b,
        &format!("/api/runs?limit=2&before={}", new + 1),
        "assembled",
    )
    .await;
    assert_eq!(page["items"][0]["id"], new);
    assert_eq!(page["next_before"], new - 1);
    let assembled = metric(
        &b,
        r#"ld_cache_lookups_total{route="/api/runs",result="assembled"}"#,
    )
    .await;
    assert!(assembled >= 2.0, "assembled {assembled}");
    a.stop().await;
    b.stop().await;
}
