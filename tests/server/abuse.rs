//! What an anonymous client can make one instance do, each attack of SECURITY.md performed
//! and shown to fail: user enumeration by login timing, brute force past nginx (per user,
//! per address, across instances, with Redis down), stored hashes of absurd cost, huge or
//! endless WebSocket traffic, bodies nested without end or padded without end, and metric
//! labels without end.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;
use provision::server::auth::password;

async fn login(app: &App, user: &str, pw: &str, real_ip: Option<&str>) -> reqwest::Response {
    let mut r = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({"username": user, "password": pw}));
    if let Some(ip) = real_ip {
        r = r.header("x-real-ip", ip);
    }
    r.send().await.unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_costs_what_a_known_one_costs() {
    let app = spawn_app().await;
    seed_user(&app.pool, "known", &password::hash("right"), true).await;
    // The dummy hash is made on first use; warm it so it is not timed.
    assert_eq!(login(&app, "warm-up", "x", None).await.status(), 401);
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..3 {
        let t = Instant::now();
        assert_eq!(login(&app, "known", "wrong", None).await.status(), 401);
        known.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(
            login(&app, &format!("nobody{i}"), "wrong", None)
                .await
                .status(),
            401
        );
        unknown.push(t.elapsed());
    }
    let (k, u) = (median(known), median(unknown));
    println!("login with a wrong password: known user {k:?}, unknown user {u:?}");
    assert!(
        u * 2 >= k && k * 2 >= u,
        "an unknown user's login ({u:?}) tells itself apart from a known one's ({k:?})"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_user_and_per_address_across_instances() {
    let db = new_database().await;
    let redis = required_env("PROVISION_TEST_REDIS");
    let prefix = unique("c");
    let mut s = settings(&db, &redis, &prefix);
    s.limits.login_failures_per_user = 3;
    s.limits.login_failures_per_address = 6;
    let a = spawn_app_on(s.clone()).await;
    let b = spawn_app_on(s.clone()).await;
    let cheap = |pw: &str| password::hash_with(pw, 1000);
    seed_user(&a.pool, "victim", &cheap("right"), true).await;
    seed_user(&a.pool, "other", &cheap("right"), true).await;
    // One address guessing one user's password: three tries, then refused on every
    // instance (the count is in Redis), even with the right password.
    for _ in 0..3 {
        assert_eq!(
            login(&a, "victim", "guess", Some("192.0.2.1"))
                .await
                .status(),
            401
        );
    }
    for app in [&a, &b] {
        let r = login(app, "victim", "right", Some("192.0.2.2")).await;
        assert_eq!(
            r.status(),
            429,
            "the victim's account is still open to guesses"
        );
        assert!(r.headers().contains_key("retry-after"));
        let code = assert_error(r, 429).await;
        assert_eq!(code, "too_many_failed_logins");
    }
    // Another user from the same address is not held up by the victim's count...
    assert_eq!(
        login(&b, "other", "right", Some("192.0.2.1"))
            .await
            .status(),
        200
    );
    // ...but many users from one address are: 3 failures so far, 3 more, then refused.
    for i in 0..3 {
        assert_eq!(
            login(&b, &format!("u{i}"), "x", Some("192.0.2.1"))
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        login(&a, "other", "right", Some("192.0.2.1"))
            .await
            .status(),
        429
    );
    assert_eq!(
        login(&a, "other", "right", Some("192.0.2.3"))
            .await
            .status(),
        200
    );
    // A client that is not on loopback cannot choose its address with X-Real-IP: only
    // nginx on this host is believed (unit-tested in auth::throttle); here every client
    // is on loopback, so the header stands for nginx's.
    a.stop().await;
    b.stop().await;

    // Redis down: each instance still counts in memory.
    let mut s = settings(&db, "redis://127.0.0.1:1/0", &unique("c"));
    s.limits.login_failures_per_user = 3;
    let c = spawn_app_on(s).await;
    seed_user(&c.pool, "victim2", &cheap("right"), true).await;
    for _ in 0..3 {
        assert_eq!(login(&c, "victim2", "guess", None).await.status(), 401);
    }
    assert_eq!(login(&c, "victim2", "right", None).await.status(), 429);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_hashes_of_absurd_cost_are_refused_at_once() {
    let app = spawn_app().await;
    for (user, hash) in [
        (
            "slow-pbkdf2",
            format!("pbkdf2:sha256:2000000000$salt${}", "00".repeat(32)),
        ),
        (
            "huge-scrypt",
            format!("scrypt:1073741824:8:1$salt${}", "00".repeat(64)),
        ),
        (
            "wide-scrypt",
            format!("scrypt:16384:8:64$salt${}", "00".repeat(64)),
        ),
    ] {
        seed_user(&app.pool, user, &hash, true).await;
        let t = Instant::now();
        let r = login(&app, user, "anything", None).await;
        let took = t.elapsed();
        assert_eq!(r.status(), 401, "{user}");
        // Computing any of these takes minutes or gigabytes; refusing takes nothing.
        assert!(
            took < Duration::from_secs(3),
            "{user}: {took:?}: the hash was computed"
        );
    }
    assert_eq!(app.get("/health").await.status(), 200);
    app.stop().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Whether the server ended this connection within `within` (a close frame, an error or
/// the end of the stream).
async fn ended(ws: &mut Ws, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_are_bounded_in_size_count_and_patience() {
    let db = new_database().await;
    let mut s = settings(&db, &required_env("PROVISION_TEST_REDIS"), &unique("c"));
    s.limits.ws_max_clients = 2;
    s.limits.ws_send_timeout = Duration::from_millis(300);
    let app = spawn_app_on(s).await;
    let user = seed_user(&app.pool, "writer", "x", true).await;
    let token = seed_token(&app.pool, user).await;

    // A 48 MB message is not read: the connection ends.
    let (mut big, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    let payload = "x".repeat(48 * 1024 * 1024);
    let _ = big.send(Message::Text(payload)).await;
    assert!(
        ended(&mut big, Duration::from_secs(10)).await,
        "a 48 MB message was read"
    );
    drop(big);

    // Two clients at most; a third is refused with 503 until one leaves.
    let (mut one, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    let (two, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    match tokio_tungstenite::connect_async(app.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        other => panic!("a third client was let in: {other:?}"),
    }
    drop(two);
    let deadline = Instant::now() + Duration::from_secs(5);
    let third = loop {
        match tokio_tungstenite::connect_async(app.ws_url()).await {
            Ok((ws, _)) => break ws,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("a client left, but a new one is still refused: {e}"),
        }
    };
    drop(third);

    // A client that stops reading is dropped once a send waits past the timeout: events
    // of ~60 KB each fill the socket's buffers.
    let metadata = json!({"pad": "y".repeat(60 * 1024)});
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0;
    while ws_clients(&app).await > 0.0 {
        assert!(
            Instant::now() < deadline,
            "a client that reads nothing was kept through {sent} events"
        );
        for _ in 0..20 {
            let r = app
                .post(
                    "/api/runs",
                    &token,
                    json!({"suite": "s", "environment": "e", "metadata": metadata}),
                )
                .await;
            assert_eq!(r.status(), 201);
            sent += 1;
        }
    }
    println!("the client that stopped reading was dropped after {sent} events");
    assert!(ended(&mut one, Duration::from_secs(30)).await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_nested_or_padded_without_end_are_refused() {
    let (app, token, _) = app_with_token().await;
    let nested = |depth: usize| {
        let mut v = json!(1);
        for _ in 0..depth {
            v = json!({ "a": v });
        }
        v
    };
    for depth in [70, 3000] {
        let body = format!(
            r#"{{"suite":"s","environment":"e","metadata":{}}}"#,
            "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth)
        );
        let r = app
            .http
            .post(app.url("/api/runs"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(r, 422).await;
    }
    // 63 levels under the top-level object: 64 in all, accepted.
    let r = app
        .post(
            "/api/runs",
            &token,
            json!({"suite": "s", "environment": "e", "metadata": nested(63)}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let run = body_json(r).await;
    // 65 KiB of metadata, or of one result's details: refused, naming the field.
    let big = json!({"pad": "z".repeat(65 * 1024)});
    let r = app
        .post(
            "/api/runs",
            &token,
            json!({"suite": "s", "environment": "e", "metadata": big}),
        )
        .await;
    assert!(assert_error_message(r, 422).await.contains("metadata"));
    let r = app
        .post(
            &format!("/api/runs/{}/results", run["id"]),
            &token,
            json!({"results": [{"check_name": "c", "status": "pass", "details": big}]}),
        )
        .await;
    assert!(assert_error_message(r, 422)
        .await
        .contains("results[0].details"));
    app.stop().await;
}

async fn assert_error_message(resp: reqwest::Response, status: u16) -> String {
    assert_eq!(resp.status().as_u16(), status);
    let v = body_json(resp).await;
    v["error"]["message"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_methods_share_one_metrics_label() {
    let app = spawn_app().await;
    for i in 0..20 {
        let m = reqwest::Method::from_bytes(format!("PROBE{i}").as_bytes()).unwrap();
        let r = app
            .http
            .request(m, app.url("/api/runs"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405);
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        !text.contains("PROBE"),
        "each odd method made a series:\n{text}"
    );
    assert!(text.contains(r#"method="OTHER""#), "{text}");
    app.stop().await;
}
