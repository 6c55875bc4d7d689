//! Contract tests: every route and field of docs/api.md against real PostgreSQL and Redis.

use provision::server::pages::{ResultsPage, RunsPage};
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_and_fallbacks() {
    let app = spawn_app().await;
    let r = app.get("/health").await;
    assert_eq!(r.status(), 200);
    let v = body_json(r).await;
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));

    let v = body_json(app.get("/ready").await).await;
    assert_eq!(
        v,
        json!({"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}})
    );

    assert_eq!(assert_error(app.get("/nope").await, 404).await, "not_found");
    let r = app.http.delete(app.url("/api/runs")).send().await.unwrap();
    assert_eq!(assert_error(r, 405).await, "method_not_allowed");
    let r = app.http.put(app.url("/health")).send().await.unwrap();
    assert_eq!(assert_error(r, 405).await, "method_not_allowed");
    assert_eq!(
        assert_error(app.get("/static/nope.js").await, 404).await,
        "not_found"
    );
    // Request ids are set and echoed.
    let r = app.get("/health").await;
    assert!(r.headers().get("x-request-id").is_some());
    let r = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_lifecycle_results_and_counters() {
    let (app, token, user) = app_with_token().await;
    let r = app
        .post(
            "/api/runs",
            &token,
            json!({"suite": "smoke", "environment": "staging", "metadata": {"commit": "abc", "n": 1}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let run = body_json(r).await;
    let id = run["id"].as_i64().unwrap();
    assert_eq!(run["suite"], "smoke");
    assert_eq!(run["environment"], "staging");
    assert_eq!(run["status"], "running");
    assert_eq!(run["triggered_by"], user);
    assert_eq!(run["finished_at"], serde_json::Value::Null);
    assert_eq!(run["metadata"], json!({"commit": "abc", "n": 1}));
    assert_eq!(run["total_checks"], 0);
    let started = run["started_at"].as_str().unwrap();
    assert!(started.ends_with('Z'), "{started}");
    chrono::DateTime::parse_from_rfc3339(started).unwrap();
    for key in [
        "id",
        "suite_id",
        "suite",
        "environment",
        "status",
        "triggered_by",
        "started_at",
        "finished_at",
        "total_checks",
        "passed_checks",
        "failed_checks",
        "metadata",
    ] {
        assert!(run.get(key).is_some(), "run lacks {key}");
    }
    assert_eq!(run.as_object().unwrap().len(), 12);

    // GET returns the same object.
    let got = body_json(app.get(&format!("/api/runs/{id}")).await).await;
    assert_eq!(got, run);

    // Results: counters count fail and error as failed.
    let results = json!({"results": [
        {"check_name": "a", "status": "pass", "duration_ms": 1.5},
        {"check_name": "b", "status": "fail", "message": "boom", "details": {"line": 3}},
        {"check_name": "c", "status": "error", "duration_ms": null, "message": null, "details": null},
        {"check_name": "d", "status": "skip"},
        {"check_name": "e", "status": "pass"}
    ]});
    let r = app
        .post(&format!("/api/runs/{id}/results"), &token, results)
        .await;
    assert_eq!(r.status(), 201);
    let v = body_json(r).await;
    assert_eq!(v["inserted"], 5);
    assert_eq!(v["run"]["total_checks"], 5);
    assert_eq!(v["run"]["passed_checks"], 2);
    assert_eq!(v["run"]["failed_checks"], 2);

    // Results pages: oldest first, keyset by id, status filter.
    let page = body_json(app.get(&format!("/api/runs/{id}/results?limit=2")).await).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["check_name"], "a");
    assert_eq!(items[0]["duration_ms"], 1.5);
    assert_eq!(items[0]["run_id"], id);
    assert_eq!(items[0].as_object().unwrap().len(), 8);
    assert!(items[0]["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(items[1]["details"], json!({"line": 3}));
    let after = page["next_after"].as_i64().expect("next_after");
    let page2 = body_json(
        app.get(&format!("/api/runs/{id}/results?limit=2&after={after}"))
            .await,
    )
    .await;
    let names: Vec<_> = page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["check_name"].clone())
        .collect();
    assert_eq!(names, vec![json!("c"), json!("d")]);
    let after = page2["next_after"].as_i64().unwrap();
    let page3 = body_json(
        app.get(&format!("/api/runs/{id}/results?limit=2&after={after}"))
            .await,
    )
    .await;
    assert_eq!(page3["items"].as_array().unwrap().len(), 1);
    assert_eq!(page3["next_after"], serde_json::Value::Null);
    let fails = body_json(
        app.get(&format!("/api/runs/{id}/results?status=fail"))
            .await,
    )
    .await;
    assert_eq!(fails["items"].as_array().unwrap().len(), 1);
    assert_eq!(fails["items"][0]["message"], "boom");

    // Finish, then finishing again is a conflict.
    let r = app.finish(&token, id, "failed").await;
    assert_eq!(r.status(), 200);
    let fin = body_json(r).await;
    assert_eq!(fin["status"], "failed");
    assert!(fin["finished_at"].as_str().unwrap().ends_with('Z'));
    let r = app.finish(&token, id, "passed").await;
    assert_eq!(assert_error(r, 409).await, "run_finished");

    // Unknown runs are 404 on GET, PATCH and POST results alike.
    assert_error(app.get("/api/runs/999999").await, 404).await;
    assert_error(app.get("/api/runs/999999/results").await, 404).await;
    let r = app
        .patch("/api/runs/999999", &token, json!({"status": "passed"}))
        .await;
    assert_error(r, 404).await;
    let r = app
        .post(
            "/api/runs/999999/results",
            &token,
            json!({"results": [{"check_name": "x", "status": "pass"}]}),
        )
        .await;
    assert_error(r, 404).await;
    // A run with no results yet has an empty page, not a 404.
    let other = create_run(&app, &token, "smoke", "prod").await;
    let empty = body_json(app.get(&format!("/api/runs/{}/results", other["id"])).await).await;
    assert_eq!(empty, json!({"items": [], "next_after": null}));
    app.stop().await;
}

/// Batches posted to one run at once all land, and the run's counters are their sums:
/// the write's UPDATE takes the run's row lock, so batches add up one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_to_one_run_add_up() {
    let (app, token, _) = app_with_token().await;
    let run = create_run(&app, &token, "busy", "dev").await;
    let id = run["id"].as_i64().unwrap();
    let posts = (0..24).map(|n| {
        let path = format!("/api/runs/{id}/results");
        let (app, token) = (&app, &token);
        async move {
            let r = app
                .post(
                    &path,
                    token,
                    json!({"results": [
                        {"check_name": format!("a{n}"), "status": "pass"},
                        {"check_name": format!("b{n}"), "status": "fail"},
                        {"check_name": format!("c{n}"), "status": "skip"}
                    ]}),
                )
                .await;
            assert_eq!(r.status(), 201);
        }
    });
    futures_util::future::join_all(posts).await;
    let after = body_json(app.get(&format!("/api/runs/{id}")).await).await;
    assert_eq!(after["total_checks"], 72, "{after}");
    assert_eq!(after["passed_checks"], 24, "{after}");
    assert_eq!(after["failed_checks"], 24, "{after}");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM validation_results WHERE run_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 72);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_filters_and_keyset_pages() {
    let (app, token, _) = app_with_token().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let suite = if i % 2 == 0 { "alpha" } else { "beta" };
        let env = if i < 4 { "dev" } else { "prod" };
        ids.push(
            create_run(&app, &token, suite, env).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    app.patch(
        &format!("/api/runs/{}", ids[6]),
        &token,
        json!({"status": "passed"}),
    )
    .await;

    // Newest first, three at a time.
    let mut seen = Vec::new();
    let mut path = "/api/runs?limit=3".to_string();
    loop {
        let page = body_json(app.get(&path).await).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap()),
        );
        match page["next_before"].as_i64() {
            Some(b) => path = format!("/api/runs?limit=3&before={b}"),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    let alpha = body_json(app.get("/api/runs").await).await["items"][0]["suite_id"]
        .as_i64()
        .unwrap();
    let page = body_json(app.get(&format!("/api/runs?suite={alpha}")).await).await;
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["suite_id"] == alpha));
    let page = body_json(app.get("/api/runs?env=dev").await).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    let page = body_json(app.get("/api/runs?status=passed").await).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], ids[6]);
    assert_eq!(page["next_before"], serde_json::Value::Null);
    let page = body_json(app.get("/api/runs?status=running&env=prod&limit=1").await).await;
    assert_eq!(page["items"][0]["id"], ids[5]);
    assert_eq!(page["next_before"], ids[5]);

    for bad in [
        "status=bogus",
        "limit=0",
        "limit=201",
        "limit=x",
        "before=0",
        "before=-1",
        "suite=abc",
        "before=99999999999999999999",
    ] {
        assert_error(app.get(&format!("/api/runs?{bad}")).await, 400).await;
    }
    for bad in ["limit=0", "limit=1001", "after=x", "status=passed"] {
        assert_error(
            app.get(&format!("/api/runs/{}/results?{bad}", ids[0]))
                .await,
            400,
        )
        .await;
    }
    assert_error(app.get("/api/runs/abc").await, 400).await;
    app.stop().await;
}

/// EXPLAIN of exactly the SQL a route sends (its page's `push_select`), with the same
/// bound values.
async fn explain(
    pool: &sqlx::PgPool,
    push: impl FnOnce(&mut sqlx::QueryBuilder<'_, sqlx::Postgres>),
) -> String {
    let mut qb = sqlx::QueryBuilder::new("EXPLAIN ");
    push(&mut qb);
    let rows: Vec<String> = qb.build_query_scalar().fetch_all(pool).await.unwrap();
    rows.join("\n")
}

/// A sequential scan of the paged tables (the suites joined in are a page or two, which a
/// planner may rightly read whole).
fn paged_table_scanned(plan: &str) -> bool {
    plan.contains("Seq Scan on validation_runs") || plan.contains("Seq Scan on validation_results")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_pages_are_index_range_scans() {
    let app = spawn_app().await;
    // Enough rows that the planner prefers the index honestly.
    sqlx::query(
        "INSERT INTO validation_suites (name) SELECT 'suite' || g FROM generate_series(1, 20) g",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO validation_runs (suite_id, environment, status, started_at) \
         SELECT 1 + g % 20, CASE WHEN g % 3 = 0 THEN 'prod' ELSE 'dev' END, \
                (ARRAY['queued','running','passed','failed','error'])[1 + g % 5], \
                now() - g * interval '1 minute' FROM generate_series(1, 20000) g",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO validation_results (run_id, check_name, status) \
         SELECT 1 + g / 20, 'check' || g % 50, (ARRAY['pass','fail','skip','error'])[1 + g % 4] \
         FROM generate_series(0, 399999) g",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&app.pool).await.unwrap();
    let runs = |f: fn(&mut RunsPage)| {
        let mut page = RunsPage {
            before: Some(15000),
            limit: 50,
            ..Default::default()
        };
        f(&mut page);
        page
    };
    let results = |status: Option<&str>| ResultsPage {
        run_id: 77,
        status: status.map(str::to_string),
        after: Some(10),
        limit: 100,
    };
    // The unfiltered pages, what the dashboard reads most: a range scan in index order.
    let strict = [
        explain(&app.pool, |qb| runs(|_| {}).push_select(qb)).await,
        explain(&app.pool, |qb| runs(|_| {}).push_ids(qb)).await,
        explain(&app.pool, |qb| results(None).push_select(qb)).await,
    ];
    for plan in &strict {
        println!("{plan}\n");
        assert!(
            plan.contains("Index Cond: ((run_id = '77'::bigint) AND (id > '10'::bigint))")
                || plan.contains("Index Cond: (id < '15000'::bigint)"),
            "the keyset bound is not an index condition:\n{plan}"
        );
        assert!(
            !plan.contains("Sort"),
            "sorts instead of reading the index in order:\n{plan}"
        );
        assert!(!paged_table_scanned(plan), "sequential scan:\n{plan}");
    }
    // Filtered pages: an index either way (the planner picks which), never a table scan.
    let filtered = [
        explain(&app.pool, |qb| runs(|p| p.suite = Some(3)).push_select(qb)).await,
        explain(&app.pool, |qb| {
            runs(|p| p.status = Some("failed".into())).push_select(qb)
        })
        .await,
        explain(&app.pool, |qb| {
            runs(|p| p.env = Some("prod".into())).push_select(qb)
        })
        .await,
        explain(&app.pool, |qb| results(Some("fail")).push_select(qb)).await,
        explain(&app.pool, |qb| runs(|p| p.suite = Some(3)).push_ids(qb)).await,
        explain(&app.pool, |qb| {
            runs(|p| p.status = Some("failed".into())).push_ids(qb)
        })
        .await,
    ];
    for plan in &filtered {
        println!("{plan}\n");
        assert!(plan.contains("Index"), "no index used:\n{plan}");
        assert!(!paged_table_scanned(plan), "sequential scan:\n{plan}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suites_are_listed_by_name_with_last_run_and_cached() {
    let (app, token, _) = app_with_token().await;
    sqlx::query("INSERT INTO validation_suites (name, description, config) VALUES ('zeta', 'last', '{\"k\": [1]}')")
        .execute(&app.pool).await.unwrap();
    let r1 = create_run(&app, &token, "alpha", "dev").await;
    let r2 = create_run(&app, &token, "alpha", "prod").await;
    let r = app.get("/api/suites").await;
    assert_eq!(r.headers()["x-cache"], "miss");
    let v = body_json(r).await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["name"], "alpha");
    assert_eq!(items[0]["last_run"]["id"], r2["id"]);
    assert_eq!(items[0]["last_run"]["status"], "running");
    assert!(items[0]["last_run"]["started_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(items[0].as_object().unwrap().len(), 6);
    assert_eq!(items[1]["name"], "zeta");
    assert_eq!(items[1]["config"], json!({"k": [1]}));
    assert_eq!(items[1]["description"], "last");
    assert_eq!(items[1]["last_run"], serde_json::Value::Null);
    assert_ne!(r1["id"], r2["id"]);

    let r = app.get("/api/suites").await;
    assert_eq!(r.headers()["x-cache"], "hit");
    assert_eq!(body_json(r).await, v);
    // A write invalidates.
    create_run(&app, &token, "beta", "dev").await;
    let r = app.get("/api/suites").await;
    assert_eq!(r.headers()["x-cache"], "miss");
    assert_eq!(body_json(r).await["items"].as_array().unwrap().len(), 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_groups_pass_rates_and_failing_checks() {
    let app = spawn_app().await;
    let pool = &app.pool;
    sqlx::query("INSERT INTO validation_suites (id, name) VALUES (1, 'api'), (2, 'ui')")
        .execute(pool)
        .await
        .unwrap();
    // api/prod: 4 runs in the window (3 passed), durations 10, 20, 30, 40 s; one run too old.
    sqlx::query(
        "INSERT INTO validation_runs (id, suite_id, environment, status, started_at, finished_at) VALUES \
         (1, 1, 'prod', 'passed', now() - interval '1 hour', now() - interval '1 hour' + interval '10 s'), \
         (2, 1, 'prod', 'passed', now() - interval '2 hour', now() - interval '2 hour' + interval '20 s'), \
         (3, 1, 'prod', 'failed', now() - interval '3 hour', now() - interval '3 hour' + interval '30 s'), \
         (4, 1, 'prod', 'passed', now() - interval '4 hour', now() - interval '4 hour' + interval '40 s'), \
         (5, 1, 'prod', 'failed', now() - interval '30 hour', now() - interval '30 hour' + interval '1 s'), \
         (6, 2, 'dev', 'running', now() - interval '10 minute', NULL)",
    )
    .execute(pool).await.unwrap();
    sqlx::query(
        "INSERT INTO validation_results (run_id, check_name, status) VALUES \
         (3, 'login', 'fail'), (3, 'login', 'error'), (3, 'search', 'fail'), (4, 'login', 'fail'), \
         (1, 'login', 'pass'), (5, 'ancient', 'fail'), (6, 'search', 'skip')",
    )
    .execute(pool)
    .await
    .unwrap();

    let r = app.get("/api/summary").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-cache"], "miss");
    let v = body_json(r).await;
    assert_eq!(v["window"], "24h");
    let end = chrono::DateTime::parse_from_rfc3339(v["window_end"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - end.to_utc()).num_seconds().abs() < 30);
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{v}");
    let api = &groups[0];
    assert_eq!(api["suite"], "api");
    assert_eq!(api["suite_id"], 1);
    assert_eq!(api["environment"], "prod");
    assert_eq!(api["runs"], 4);
    assert_eq!(api["passed_runs"], 3);
    assert_eq!(api["pass_rate"], 0.75);
    // percentile_cont(0.95) of 10,20,30,40 s = 38.5 s.
    let p95 = api["p95_duration_ms"].as_f64().unwrap();
    assert!((p95 - 38_500.0).abs() < 1.0, "{p95}");
    let ui = &groups[1];
    assert_eq!(ui["runs"], 1);
    assert_eq!(ui["passed_runs"], 0);
    assert_eq!(ui["pass_rate"], 0.0);
    assert_eq!(ui["p95_duration_ms"], serde_json::Value::Null);
    assert_eq!(
        v["failing_checks"],
        json!([
            {"check_name": "login", "failures": 3, "runs": 2},
            {"check_name": "search", "failures": 1, "runs": 1}
        ])
    );
    let r = app.get("/api/summary?window=24h").await;
    assert_eq!(r.headers()["x-cache"], "hit");
    // A longer window sees the old run.
    let v = body_json(app.get("/api/summary?window=2d").await).await;
    assert_eq!(v["window"], "2d");
    assert_eq!(v["groups"][0]["runs"], 5);
    for bad in ["0h", "59m", "31d", "1w", "abc", "24"] {
        assert_error(app.get(&format!("/api/summary?window={bad}")).await, 400).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_are_checked() {
    let (app, token, user) = app_with_token().await;
    let body = json!({"suite": "s", "environment": "dev"});
    let r = app
        .http
        .post(app.url("/api/runs"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_error(r, 401).await, "unauthorized");
    let r = app.post("/api/runs", "not-a-token", body.clone()).await;
    assert_error(r, 401).await;
    let r = app
        .http
        .post(app.url("/api/runs"))
        .header("authorization", format!("Basic {token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(r, 401).await;
    assert_eq!(
        app.post("/api/runs", &token, body.clone()).await.status(),
        201
    );
    // last_used is recorded.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_used FROM api_tokens WHERE user_id = $1")
            .bind(user)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(used.is_some());

    // Revoked.
    sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1")
        .bind(user)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_error(app.post("/api/runs", &token, body.clone()).await, 401).await;
    // Inactive user.
    let other = seed_user(&app.pool, "inactive", "x", true).await;
    let t2 = seed_token(&app.pool, other).await;
    assert_eq!(app.post("/api/runs", &t2, body.clone()).await.status(), 201);
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(other)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_error(app.post("/api/runs", &t2, body.clone()).await, 401).await;
    let r = app
        .patch("/api/runs/1", &t2, json!({"status": "passed"}))
        .await;
    assert_error(r, 401).await;
    app.stop().await;
}

// Made with werkzeug 3.0.6's generate_password_hash('correct horse', method=...).
const WZ: [&str; 3] = [
    "pbkdf2:sha256:1000$WFT7ozF7rBzY$659ec75ef943e0492358381dc51ce26daba93b6f989bc330d2ae99ef4b17faba",
    "pbkdf2:sha512:2000$re2iCN3dFgql$df7bc507da15efed3e4728b1a47d397177022de97ff23bfc21c8583f27fd4e349b1517d5e1e2b46ea628025f5aca9c6b01e07a7d874129bc98ec180fee03e0b0",
    "scrypt:1024:8:1$d81RqQFtnC6K$508185ebe763bedb97b940183b0ef9cf7fab2934efea09bba9c533d7fb9432dae4caee96226f1e4cb4f5259f9b7eae70a439437fd826c4691de8e20bcc4aa1b8",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_legacy_and_own_hashes_and_logout() {
    let app = spawn_app().await;
    for (i, hash) in WZ.iter().enumerate() {
        seed_user(&app.pool, &format!("legacy{i}"), hash, true).await;
    }
    seed_user(
        &app.pool,
        "own",
        &provision::server::auth::password::hash_with("s3cret!", 1000),
        true,
    )
    .await;
    seed_user(&app.pool, "gone", WZ[0], false).await;
    let login = |user: &str, pw: &str| {
        app.http
            .post(app.url("/auth/login"))
            .json(&json!({"username": user, "password": pw}))
            .send()
    };
    for i in 0..3 {
        let r = login(&format!("legacy{i}"), "correct horse").await.unwrap();
        assert_eq!(r.status(), 200, "legacy{i}");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(cookie.starts_with("ld_session="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "{cookie}");
        let v = body_json(r).await;
        assert_eq!(v["user"]["username"], format!("legacy{i}"));
        assert_eq!(v["user"]["role"], "engineer");
        assert!(v["user"]["id"].as_i64().is_some());
        assert_eq!(v["user"].as_object().unwrap().len(), 3);
        assert_error(
            login(&format!("legacy{i}"), "correct horsE").await.unwrap(),
            401,
        )
        .await;
    }
    let r = login("own", "s3cret!").await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let value = cookie.split(';').next().unwrap().to_string();
    assert_error(login("gone", "correct horse").await.unwrap(), 401).await;
    assert_error(login("nobody", "x").await.unwrap(), 401).await;
    // Behind TLS the cookie is Secure.
    let r = app
        .http
        .post(app.url("/auth/login"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"username": "own", "password": "s3cret!"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));
    // JSON only.
    let r = app
        .http
        .post(app.url("/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=own&password=s3cret!")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_error(r, 415).await;
    // Logout.
    let r = app
        .http
        .post(app.url("/auth/logout"))
        .header("cookie", &value)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_requests_pool_cache_and_websockets() {
    let (app, token, _) = app_with_token().await;
    create_run(&app, &token, "m", "dev").await;
    app.get("/api/runs").await;
    app.get("/api/summary").await;
    app.get("/api/summary").await;
    app.get("/nope").await;
    let (_ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    wait_ws_clients(&app, 1.0).await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    for needle in [
        r#"ld_http_requests_total{method="GET",route="/api/runs",status="200"} 1"#,
        r#"ld_http_requests_total{method="POST",route="/api/runs",status="201"} 1"#,
        r#"ld_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"ld_http_request_duration_seconds_bucket{le="0.0001",method="GET",route="/api/runs",status="200"}"#,
        "ld_db_pool_connections ",
        "ld_db_pool_idle ",
        "ld_db_pool_waiting 0",
        "ld_cache_hits_total 1",
        "ld_cache_misses_total 1",
        "ld_websocket_clients 1",
        "ld_events_published_total 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_page_and_assets_are_served() {
    let app = spawn_app().await;
    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("/static/app.js") && html.contains("/static/app.css"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    let js = app.get("/static/app.js").await;
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.text().await.unwrap().contains("/ws"));
    app.stop().await;
}
