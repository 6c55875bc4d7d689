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
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (how, body) = read(app, path).await;
        if how == "local" {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never answered from memory"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
