//! Monitoring across the hosts: `init --inventory --monitoring` (shortened intervals) puts
//! the node exporter and each role's exporter on every host's private address, admitted by
//! its firewall from the first nginx host only, where Prometheus scrapes them all; an
//! instance stopped on an app host fires its alert, which `status --inventory` shows, and
//! starting it again resolves it.

use std::time::{Duration, Instant};

use crate::bed::Bed;
use crate::deploy::reaches;
use crate::{init_run_with, on_inventory, show};

/// An instant query to Prometheus on lb1 (its loopback), through bash's /dev/tcp.
fn query(bed: &Bed, q: &str) -> Option<String> {
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let script = "exec 3<>/dev/tcp/127.0.0.1/9090 && printf 'GET %s HTTP/1.0\\r\\n\\r\\n' \"$1\" >&3 && cat <&3";
    let path = format!("/api/v1/query?query={encoded}");
    let o = bed.exec("lb1", &["bash", "-c", script, "q", &path]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(out.split("\r\n\r\n").nth(1)?).ok()?;
    v["data"]["result"][0]["value"][1]
        .as_str()
        .map(str::to_string)
}

fn until(what: &str, limit: Duration, mut check: impl FnMut() -> Option<String>) -> String {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn monitoring_across(bed: &Bed, inv: &std::path::Path) {
    let config = bed.dir.path().join("provision.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let edited = text
        .replace("scrape_interval_s: 15", "scrape_interval_s: 1")
        .replace("alert_after_s: 60", "alert_after_s: 2");
    assert_ne!(edited, text, "the config has a monitoring section");
    std::fs::write(&config, edited).unwrap();
    let ran = init_run_with(bed, inv, &["--monitoring"]);
    assert_eq!(ran.code, 0, "{}", show(&ran));
    // Five node exporters, PostgreSQL's, Redis's, nginx's, four instances, Prometheus.
    let up = until(
        "every target on every host up",
        Duration::from_secs(90),
        || {
            let n: u32 = query(bed, "count(up)")?.parse().ok()?;
            (n >= 13 && query(bed, "min(up)")? == "1").then(|| n.to_string())
        },
    );
    eprintln!("prometheus on lb1: {up} targets up");
    assert_eq!(
        query(bed, "sum(pg_up) + sum(redis_up) + sum(nginx_up)").as_deref(),
        Some("3")
    );
    // The exporters answer the Prometheus host, and nobody else.
    let db1 = bed.host("db1").address.clone();
    assert!(
        reaches(bed, "lb1", &db1, 9100),
        "lb1 cannot reach db1's node exporter"
    );
    assert!(
        !reaches(bed, "app2", &db1, 9100),
        "app2 reaches db1's node exporter"
    );
    assert!(
        !reaches(bed, "app2", &db1, 9187),
        "app2 reaches db1's postgres exporter"
    );

    let app1 = bed.host("app1").address.clone();
    let stop = bed.exec(
        "app1",
        &["systemctl", "stop", "live-dashboard@8001.service"],
    );
    assert!(stop.status.success());
    let about = format!("LiveDashboardInstanceDown [critical] {app1}:8001");
    let firing = until(
        "the instance's alert in status",
        Duration::from_secs(60),
        || {
            let st = on_inventory(bed, inv, &["status"]);
            (st.code != 0 && st.stdout.contains(&about)).then_some(st.stdout)
        },
    );
    eprintln!("{firing}");
    let start = bed.exec(
        "app1",
        &["systemctl", "start", "live-dashboard@8001.service"],
    );
    assert!(start.status.success());
    until("the alert resolved", Duration::from_secs(60), || {
        let st = on_inventory(bed, inv, &["status"]);
        (!st.stdout.contains(&about)).then_some(String::new())
    });
}
