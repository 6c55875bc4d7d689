//! Monitoring in a test container, the same on the supervisord path and under systemd:
//! init with `--monitoring` (shortened intervals) installs Prometheus and the exporters,
//! every one listening on loopback only; every target is scraped and each exporter reaches
//! its service; the backups' figures reach Prometheus through the node exporter; a second
//! init changes nothing; stopping an instance makes its alert fire (Prometheus' API, and
//! `provision status`), and starting it again resolves it.

use std::time::{Duration, Instant};

use crate::container::Container;
use crate::day2::{phase, run, Manager};

/// Prometheus' HTTP API from inside the container (bash's /dev/tcp: no curl there).
fn prometheus(c: &Container, path_and_query: &str) -> serde_json::Value {
    // The path goes as an argument: in printf's format, its %XX would be conversions.
    let script = "exec 3<>/dev/tcp/127.0.0.1/9090 && printf 'GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' \"$1\" >&3 && cat <&3";
    let o = c.exec(&["bash", "-c", script, "prometheus", path_and_query]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// The value of an instant query's single result, if there is one.
fn query(c: &Container, q: &str) -> Option<String> {
    let encoded: String = url_encode(q);
    let v = prometheus(c, &format!("/api/v1/query?query={encoded}"));
    v["data"]["result"][0]["value"][1]
        .as_str()
        .map(str::to_string)
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `check` every half second until it holds or `limit` passes.
fn until(what: &str, limit: Duration, check: impl FnMut() -> Option<String>) -> String {
    until_or(what, limit, check, String::new)
}

/// [`until`], with `why` saying what was seen when it does not hold in time.
fn until_or(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<String>,
    why: impl Fn() -> String,
) -> String {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("{what}: not within {limit:?}\n{}", why());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Each target's health and last error, and the logs' tails.
fn diagnose(c: &Container) -> String {
    let t = prometheus(c, "/api/v1/targets");
    let mut out = format!("targets ({}):\n", t.to_string().len());
    for a in t["data"]["activeTargets"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {} {} {} {}\n",
            a["labels"]["job"], a["scrapeUrl"], a["health"], a["lastError"]
        ));
    }
    let o = c.exec(&[
        "sh",
        "-c",
        "tail -n 5 /var/log/prometheus/*.log 2>&1; journalctl -u 'prometheus*' -n 30 --no-pager 2>&1 | tail -n 30",
    ]);
    out + &String::from_utf8_lossy(&o.stdout)
}

/// The TCP listeners of the container: (address in /proc's hex, port).
fn listeners(c: &Container) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let o = c.exec(&["cat", table]);
        for line in String::from_utf8_lossy(&o.stdout).lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 3 && f[3] == "0A" {
                let (addr, port) = f[1].split_once(':').unwrap();
                out.push((addr.to_string(), u16::from_str_radix(port, 16).unwrap()));
            }
        }
    }
    out
}

fn firing(c: &Container) -> serde_json::Value {
    let (_, json) = run(c, &["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|_| panic!("{json}"));
    v["alerts"].clone()
}

pub fn monitoring_and_an_alert(c: &Container, m: &Manager) {
    let t = Instant::now();
    // Short intervals for the test: scrape every second, fire after two.
    let config = c.merged.join("etc/live-dashboard/provision.yaml");
    let text_before = std::fs::read_to_string(&config).unwrap();
    let edited = text_before
        .replace("scrape_interval_s: 15", "scrape_interval_s: 1")
        .replace("alert_after_s: 60", "alert_after_s: 2");
    assert_ne!(edited, text_before, "the config has a monitoring section");
    std::fs::write(&config, edited).unwrap();
    let (code, out) = run(c, &["init", "--yes", "--monitoring"]);
    assert_eq!(code, 0, "{out}");
    // Every port of monitoring listens on loopback only (127.0.0.1 is 0100007F in /proc).
    let ports = [9090u16, 9100, 9187, 9121, 9113, 9180];
    let l = listeners(c);
    for port in ports {
        let on: Vec<&String> = l
            .iter()
            .filter(|(_, p)| *p == port)
            .map(|(a, _)| a)
            .collect();
        assert!(!on.is_empty(), "nothing listens on {port}: {l:?}");
        assert!(
            on.iter().all(|a| *a == "0100007F"),
            "{port} listens beyond loopback: {on:?}"
        );
    }
    // Every target up, each exporter reaching its service.
    let targets = until_or(
        "every target scraped and up",
        Duration::from_secs(60),
        || {
            let n = query(c, "count(up)")?;
            (query(c, "min(up)")? == "1" && n.parse::<u32>().ok()? >= 7).then_some(n)
        },
        || diagnose(c),
    );
    println!("prometheus: {targets} targets up");
    let reached = query(c, "sum(pg_up) + sum(redis_up) + sum(nginx_up)");
    assert_eq!(
        reached.as_deref(),
        Some("3"),
        "an exporter does not reach its service"
    );
    // A backup's figures reach Prometheus through the node exporter's textfile directory.
    let (code, out) = run(c, &["backup"]);
    assert_eq!(code, 0, "{out}");
    until(
        "the backup's figures in Prometheus",
        Duration::from_secs(30),
        || query(c, "live_dashboard_backup_last_success_timestamp_seconds"),
    );
    let (code, out) = run(c, &["init", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("changed=0"),
        "a second init changed something:\n{out}"
    );
    let a = until(
        "status reads Prometheus with nothing firing",
        Duration::from_secs(60),
        || {
            let a = firing(c);
            (a["error"].is_null() && a["firing"].as_array()?.is_empty()).then(|| a.to_string())
        },
    );
    println!("alerts before: {a}");
    phase("monitoring set up", t);

    let t = Instant::now();
    m.stop(c, 8002);
    let fired = until(
        "the instance's alert fires",
        Duration::from_secs(60),
        || {
            let v = prometheus(c, "/api/v1/alerts");
            v["data"]["alerts"].as_array()?.iter().find_map(|a| {
                (a["labels"]["alertname"] == "LiveDashboardInstanceDown"
                    && a["labels"]["instance"] == "127.0.0.1:8002"
                    && a["state"] == "firing")
                    .then(|| a.to_string())
            })
        },
    );
    println!("fired: {fired}");
    let (code, out) = run(c, &["status"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("alerts firing")
            && out.contains("LiveDashboardInstanceDown [critical] 127.0.0.1:8002"),
        "{out}"
    );
    m.start(c, 8002);
    until("the alert resolves", Duration::from_secs(60), || {
        let a = firing(c);
        a["firing"].as_array()?.is_empty().then_some(String::new())
    });
    let (code, out) = run(c, &["status"]);
    assert_eq!(code, 0, "{out}");
    phase("an instance down fires its alert", t);
}
