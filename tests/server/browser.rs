//! The dashboard page in headless Chromium (Debian's package), driven over the DevTools
//! protocol: it shows seeded data, draws the trend, and shows a run POSTed during the
//! test within 2 s without a reload. Keeps a screenshot in target/screenshots/.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    port: u16,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn launch_chromium() -> Browser {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--window-size=1280,900",
            "--remote-debugging-port=0",
            &format!("--user-data-dir={}", profile.path().display()),
            "about:blank",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium (scripts/test installs Debian's chromium package)");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("DevTools listening on ws://127.0.0.1:").nth(1) {
                let port: u16 = rest.split('/').next().unwrap().parse().unwrap();
                let _ = tx.send(port);
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("chromium printed its DevTools address within 30 s");
    Browser {
        child,
        _profile: profile,
        port,
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Page {
    ws: Ws,
    next_id: u64,
}

impl Page {
    async fn open(browser: &Browser) -> Page {
        let targets: Value = reqwest::get(format!("http://127.0.0.1:{}/json/list", browser.port))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string();
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Page { ws, next_id: 1 }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::Text(msg)).await.unwrap();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .expect("DevTools answered")
                .unwrap()
                .unwrap();
            if let Message::Text(t) = frame {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }
    }

    async fn eval(&mut self, expr: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Polls `expr` until it is true; returns how long that took.
    async fn wait_for(&mut self, expr: &str, within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if self.eval(expr).await == Value::Bool(true) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "page never satisfied {expr} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_data_and_updates_live_in_chromium() {
    let (app, token, _) = app_with_token().await;
    // Seeded data: a suite with a history of finished runs (a trend) and failures.
    for i in 0..8 {
        let run = create_run(&app, &token, "checkout-flow", "staging").await;
        let id = run["id"].as_i64().unwrap();
        let status = if i % 3 == 0 { "fail" } else { "pass" };
        app.post(&format!("/api/runs/{id}/results"), &token,
            json!({"results": [{"check_name": "pay-with-card", "status": status}, {"check_name": "cart", "status": "pass"}]}))
            .await;
        let fin = if status == "fail" { "failed" } else { "passed" };
        app.patch(&format!("/api/runs/{id}"), &token, json!({"status": fin}))
            .await;
    }
    let browser = launch_chromium();
    let mut page = Page::open(&browser).await;
    page.call("Page.enable", json!({})).await;
    page.call("Page.navigate", json!({"url": app.url("/")}))
        .await;

    page.wait_for(
        "document.querySelector('#live')?.textContent === 'live'",
        Duration::from_secs(10),
    )
    .await;
    page.wait_for(
        "document.querySelectorAll('#runs tbody tr').length === 8",
        Duration::from_secs(10),
    )
    .await;
    page.wait_for(
        "!!document.querySelector('.card[data-suite=\"checkout-flow\"] svg polyline')",
        Duration::from_secs(10),
    )
    .await;
    let rate = page
        .eval("document.querySelector('.card .rate').textContent")
        .await;
    assert_eq!(rate, "62.5 %", "5 of 8 runs passed");
    let failing = page
        .eval("document.querySelector('#failing').innerText")
        .await;
    assert!(
        failing.as_str().unwrap().contains("pay-with-card"),
        "{failing}"
    );

    // A run POSTed now appears without a reload.
    let marker = unique("appeared");
    let posted = Instant::now();
    let run = create_run(&app, &token, &marker, "prod").await;
    let seen = page
        .wait_for(
            &format!("document.querySelector('#runs tbody').innerText.includes('{marker}')"),
            Duration::from_secs(2),
        )
        .await;
    println!(
        "run {} appeared on the page {:?} after the POST returned ({:?} after it was sent)",
        run["id"],
        seen,
        posted.elapsed()
    );
    assert!(posted.elapsed() < Duration::from_secs(2));
    let reloaded = page
        .eval("performance.getEntriesByType('navigation').length")
        .await;
    assert_eq!(reloaded, 1, "the page did not reload");

    let shot = page
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dashboard.png"), &png).unwrap();
    drop(browser);
    app.stop().await;
}
