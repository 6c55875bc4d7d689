//! Two instances on one database: live events cross instances, the cache is shared and
//! honest, and shutdown closes WebSockets with a close frame.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

async fn two_instances() -> (App, App, String) {
    let db = new_database().await;
    let redis = required_env("PROVISION_TEST_REDIS");
    let prefix = unique("c");
    let a = spawn_app_on(settings(&db, &redis, &prefix)).await;
    let b = spawn_app_on(settings(&db, &redis, &prefix)).await;
    let user = seed_user(&a.pool, "writer", "x", true).await;
    let token = seed_token(&a.pool, user).await;
    (a, b, token)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_event(ws: &mut Ws) -> serde_json::Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an event within 5 s")
            .expect("socket open")
            .expect("frame");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_instance_reaches_websocket_clients_of_the_other() {
    let (a, b, token) = two_instances().await;
    let (mut ws_b, _) = tokio_tungstenite::connect_async(b.ws_url()).await.unwrap();
    let (mut ws_a, _) = tokio_tungstenite::connect_async(a.ws_url()).await.unwrap();
    wait_ws_clients(&a, 1.0).await;
    wait_ws_clients(&b, 1.0).await;

    let run = create_run(&a, &token, "live", "prod").await;
    let id = run["id"].as_i64().unwrap();
    let ev = next_event(&mut ws_b).await;
    assert_eq!(ev["type"], "run_created");
    assert_eq!(ev["run"], run, "the event carries what GET returns");
    assert_eq!(next_event(&mut ws_a).await["type"], "run_created");

    let r = a
        .post(
            &format!("/api/runs/{id}/results"),
            &token,
            json!({"results": [{"check_name": "c", "status": "fail"}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ev = next_event(&mut ws_b).await;
    assert_eq!(ev["type"], "results_added");
    assert_eq!(ev["run"]["failed_checks"], 1);
    assert_eq!(
        ev["run"],
        body_json(b.get(&format!("/api/runs/{id}")).await).await
    );

    // A write through B reaches A's client too.
    let r = b.finish(&token, id, "failed").await;
    assert_eq!(r.status(), 200);
    next_event(&mut ws_a).await; // results_added
    let ev = next_event(&mut ws_a).await;
    assert_eq!(ev["type"], "run_finished");
    assert_eq!(ev["run"]["status"], "failed");
    assert!(ev["run"]["finished_at"].is_string());
    // An event only: a failed write publishes nothing.
    let r = b.finish(&token, id, "passed").await;
    assert_eq!(r.status(), 409);
    assert_eq!(next_event(&mut ws_b).await["type"], "run_finished");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), ws_b.next())
            .await
            .is_err()
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_is_shared_and_honest_across_instances() {
    let (a, b, token) = two_instances().await;
    let run = create_run(&a, &token, "honest", "prod").await;
    let id = run["id"].as_i64().unwrap();

    let r = b.get("/api/summary").await;
    assert_eq!(r.headers()["x-cache"], "miss");
    let before = body_json(r).await;
    assert_eq!(before["groups"][0]["runs"], 1);
    assert_eq!(before["groups"][0]["passed_runs"], 0);
    // A shares B's entry.
    let r = a.get("/api/summary").await;
    assert_eq!(r.headers()["x-cache"], "hit");
    assert_eq!(body_json(r).await, before);

    // Write through A; the next read through B is a miss that shows it.
    let r = a.finish(&token, id, "passed").await;
    assert_eq!(r.status(), 200);
    let r = b.get("/api/summary").await;
    assert_eq!(r.headers()["x-cache"], "miss");
    let after = body_json(r).await;
    assert_eq!(after["groups"][0]["passed_runs"], 1);
    assert_eq!(after["groups"][0]["pass_rate"], 1.0);

    // The same for results, which change failing_checks.
    let run2 = create_run(&b, &token, "honest", "prod").await;
    b.get("/api/summary").await;
    assert_eq!(a.get("/api/summary").await.headers()["x-cache"], "hit");
    let r = a
        .post(
            &format!("/api/runs/{}/results", run2["id"]),
            &token,
            json!({"results": [{"check_name": "flaky", "status": "fail"}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = b.get("/api/summary").await;
    assert_eq!(r.headers()["x-cache"], "miss");
    assert_eq!(
        body_json(r).await["failing_checks"][0]["check_name"],
        "flaky"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_websockets_with_a_close_frame_and_finishes_requests() {
    let (app, token, _) = app_with_token().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    wait_ws_clients(&app, 1.0).await;
    // A request in flight when the drain starts still completes: hold the run's row lock
    // so the results insert waits, start the drain, then release the lock.
    let run = create_run(&app, &token, "drain", "dev").await;
    let id = run["id"].as_i64().unwrap();
    next_event(&mut ws).await;
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM validation_runs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let http = app.http.clone();
    let url = app.url(&format!("/api/runs/{id}/results"));
    let tok = token.clone();
    let inflight = tokio::spawn(async move {
        http.post(url)
            .bearer_auth(tok)
            .json(&json!({"results": [{"check_name": "late", "status": "pass"}]}))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(app.stop());
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("close frame")
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let frame = close.expect("close frame has a code");
    assert_eq!(u16::from(frame.code), 1001);
    tokio::time::sleep(Duration::from_millis(100)).await;
    blocker.rollback().await.unwrap();
    assert_eq!(
        inflight.await.unwrap().expect("in-flight request answered"),
        201
    );
    stopping.await.unwrap();
}
