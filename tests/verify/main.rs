//! `provision verify` against real stacks: a good one passes every check and target;
//! broken ones fail the matching check with a clear message and the right exit code.
//! Load phases last at most 3 s.

#[path = "../support/certificate.rs"]
mod certificate;
mod common;
mod parts;
#[path = "../support/supervisord.rs"]
mod supervisord;

use common::{check, failed, Options, Stack};

const SHORT_LOAD: [&str; 8] = [
    "--rate",
    "100",
    "--duration",
    "2s",
    "--warmup",
    "1s",
    "--concurrency",
    "16",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_stack_passes_every_check_and_target() {
    let stack = Stack::start(Options::default()).await;
    let html = stack.dir.path().join("report.html");
    let mut args = SHORT_LOAD.to_vec();
    let html_arg = html.display().to_string();
    args.extend(["--report", &html_arg]);
    let (code, report, stderr) = stack.verify(&args);
    assert_eq!(
        code,
        0,
        "failed: {:?}\n{report:#}\n{stderr}",
        failed(&report)
    );
    assert_eq!(report["schema"], "provision.verify/v1");
    assert_eq!(report["passed"], true);
    for name in [
        "health via nginx",
        "ready via nginx",
        "security headers",
        "gzip",
        "/metrics refused publicly",
        "auth rate limit",
        "websocket via nginx",
        "tcp ports",
        "postgres login",
        "redis login",
        "health and ready per instance",
        "/metrics on loopback",
        "service active",
        ".env root-owned, not world-readable",
        "postgres and redis on loopback only",
    ] {
        assert_eq!(
            check(&report, name)["passed"],
            true,
            "{name}: {}",
            check(&report, name)
        );
    }
    assert!(check(&report, "websocket via nginx")["message"]
        .as_str()
        .unwrap()
        .contains("run_created"));
    let load = &report["load"];
    assert!(load["measured"].as_u64().unwrap() >= 150, "{load}");
    assert_eq!(load["dropped"], 0);
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 7, "{targets:#?}");
    assert!(targets.iter().all(|t| t["passed"] == true), "{targets:#?}");
    // The hit ratio, with PostgreSQL's uses per request beside it.
    let hits = targets
        .iter()
        .find(|t| t["name"] == "cache hit ratio")
        .expect("the cache hit ratio target");
    let actual = hits["actual"].as_str().unwrap();
    println!("cache hit ratio: {actual}");
    assert!(
        actual.contains("from memory") && actual.contains("PostgreSQL used"),
        "{actual}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Latency by percentile"));
    assert_eq!(page.matches("<polyline").count(), 3, "{page}");
    assert!(
        !page.contains("points=\"\""),
        "a chart without points: {page}"
    );
    assert!(page.contains("PASSED (exit 0)"), "{page}");
    assert!(
        !page.contains("http://cdn") && !page.contains("<script src"),
        "self-contained"
    );
    // No secret reaches the report.
    let text = report.to_string();
    assert!(
        !text.contains(&stack.token),
        "the token leaked into the report"
    );
    let password = url::Url::parse(&stack.database_url)
        .unwrap()
        .password()
        .unwrap()
        .to_string();
    assert!(
        !text.contains(&password),
        "the database password leaked into the report"
    );

    // The terminal table.
    let mut args = vec!["--format", "text"];
    args.extend(SHORT_LOAD);
    let (code, text, _) = stack.verify_raw(&args);
    println!("{text}");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("ok       postgres login")
            && text.contains("corrected")
            && text.ends_with("PASSED (exit 0)\n"),
        "{text}"
    );

    // JUnit for CI: one testcase per check and target, no failures.
    let (code, xml, _) = stack.verify_raw(&["--no-load", "--format", "junit"]);
    assert_eq!(code, 0, "{xml}");
    assert!(
        xml.contains("<testsuite ") && xml.contains("failures=\"0\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 17, "{xml}");
    assert!(
        xml.contains("<skipped message=\"plain http: no TLS configured\"/>"),
        "{xml}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_database_password_or_a_stopped_redis_fail_their_logins() {
    let stack = Stack::start(Options::default()).await;
    let good = stack.database_url.clone();
    let mut bad = url::Url::parse(&good).unwrap();
    bad.set_password(Some("wrong-password")).unwrap();
    stack.edit_env(|t| {
        t.replace(&good, bad.as_str())
            .replace(&stack.redis_url, "redis://127.0.0.1:1")
    });
    let (code, report, _) = stack.verify(&["--no-load"]);
    assert_eq!(code, 1, "{report:#}");
    let pg = check(&report, "postgres login");
    assert_eq!(pg["passed"], false);
    let msg = pg["message"].as_str().unwrap();
    assert!(
        msg.contains("password") && !msg.contains("wrong-password"),
        "{msg}"
    );
    let redis = check(&report, "redis login");
    assert_eq!(redis["passed"], false);
    assert!(
        redis["message"].as_str().unwrap().contains("127.0.0.1:1"),
        "{redis}"
    );
    assert_eq!(
        check(&report, "gzip")["passed"],
        true,
        "unrelated checks still pass"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_security_header_fails_that_check() {
    let stack = Stack::start(Options {
        edit_site: Some(Box::new(|s| {
            s.replace("    add_header X-Frame-Options \"DENY\" always;\n", "")
        })),
        ..Default::default()
    })
    .await;
    let (code, report, _) = stack.verify(&["--no-load"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failed(&report), vec!["security headers"], "{report:#}");
    assert!(check(&report, "security headers")["message"]
        .as_str()
        .unwrap()
        .contains("X-Frame-Options"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_rate_limit_fails_that_check() {
    let stack = Stack::start(Options {
        edit_site: Some(Box::new(|s| {
            s.replace("        limit_req zone=ld_auth burst=5 nodelay;\n", "")
        })),
        ..Default::default()
    })
    .await;
    let (code, report, _) = stack.verify(&["--no-load"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failed(&report), vec!["auth rate limit"], "{report:#}");
    assert!(check(&report, "auth rate limit")["message"]
        .as_str()
        .unwrap()
        .contains("no 429"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_fails_the_service_and_readiness() {
    let stack = Stack::start(Options::default()).await;
    let second = format!("live-dashboard-{}", stack.base_port + 2);
    provision::host::exec::Cmd::new(
        "supervisorctl",
        &[
            "-c",
            &stack.supervisor.config.display().to_string(),
            "stop",
            &second,
        ],
    )
    .run()
    .unwrap();
    let (code, report, _) = stack.verify(&["--no-load"]);
    assert_eq!(code, 1, "{report:#}");
    let failing = failed(&report);
    for name in [
        "service active",
        "tcp ports",
        "health and ready per instance",
    ] {
        assert!(
            failing.contains(&name.to_string()),
            "{name} should fail: {failing:?}"
        );
        let msg = check(&report, name)["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            msg.contains(&(stack.base_port + 2).to_string()),
            "{name}: {msg}"
        );
    }
    // --wait polls readiness first and gives up with exit 4.
    let started = std::time::Instant::now();
    let (code, report, _) = stack.verify(&["--no-load", "--wait", "2s"]);
    assert_eq!(code, 4, "{report:#}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert_eq!(check(&report, "ready within --wait")["passed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_misses_the_latency_targets_with_exit_3() {
    let stack = Stack::start(Options {
        upstream_delay_ms: Some(150),
        ..Default::default()
    })
    .await;
    let (code, report, _) = stack.verify(&SHORT_LOAD);
    assert_eq!(code, 3, "failed checks: {:?}\n{report:#}", failed(&report));
    let targets = report["targets"].as_array().unwrap();
    let p50 = targets.iter().find(|t| t["name"] == "p50 latency").unwrap();
    assert_eq!(p50["passed"], false, "{p50}");
    assert!(
        report["load"]["corrected"]["p50_ms"].as_f64().unwrap() >= 150.0,
        "{}",
        report["load"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_elsewhere_host_checks_are_not_run_and_fail_unless_remote_only() {
    let stack = Stack::start(Options::default()).await;
    // From elsewhere: through this host's non-loopback address, as a CI runner would.
    let public =
        provision::verify::public_address().expect("the test host has a non-loopback address");
    let url = format!(
        "http://{}",
        std::net::SocketAddr::new(public, stack.http_port)
    );
    let (code, report, _) = stack.verify(&["--url", &url, "--no-load"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(check(&report, "postgres login")["outcome"], "not_run");
    let (code, report, _) = stack.verify(&["--url", &url, "--no-load", "--remote-only"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(check(&report, "postgres login")["outcome"], "skipped");
    // A config error is exit 2.
    let (code, _, stderr) = stack.verify(&["--url", "ftp://x"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ftp://x"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_tls_the_site_its_redirect_and_the_load_are_verified() {
    let stack = Stack::start(Options {
        tls_days: Some(30),
        ..Default::default()
    })
    .await;
    let (code, report, stderr) = stack.verify(&SHORT_LOAD);
    assert_eq!(
        code,
        0,
        "failed: {:?}\n{report:#}\n{stderr}",
        failed(&report)
    );
    assert_eq!(
        report["url"],
        format!("https://localhost:{}", stack.https_port)
    );
    let tls = check(&report, "tls");
    assert_eq!(tls["passed"], true, "{tls}");
    let msg = tls["message"].as_str().unwrap();
    assert!(
        msg.contains("TLS 1.3") && (msg.contains("(29 days)") || msg.contains("(30 days)")),
        "{msg}"
    );
    assert_eq!(check(&report, "http redirects to https")["passed"], true);
    assert!(check(&report, "security headers")["message"]
        .as_str()
        .unwrap()
        .contains("Strict-Transport-Security"));
    assert!(report["load"]["measured"].as_u64().unwrap() >= 150);
    assert_eq!(
        report["load"]["by_class"][0][0], "ok2xx",
        "{}",
        report["load"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_about_to_expire_fails_the_tls_check() {
    let stack = Stack::start(Options {
        tls_days: Some(3),
        ..Default::default()
    })
    .await;
    let (code, report, _) = stack.verify(&["--no-load"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failed(&report), vec!["tls"], "{report:#}");
    let msg = check(&report, "tls")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("renew") && msg.contains("days"), "{msg}");
}
