//! The alerts part of `status` where init set up monitoring: what Prometheus (on
//! loopback) says is firing, from its API (`/api/v1/alerts`). A firing alert degrades the
//! stack; Prometheus not answering is a problem of its own (nothing would alert).

use serde::{Deserialize, Serialize};

use super::State;
use crate::init::vars::PROMETHEUS_PORT;

#[derive(Debug, Clone, Serialize)]
pub struct Alerts {
    /// Where they were asked.
    pub url: String,
    pub firing: Vec<Alert>,
    /// Conditions that hold but not yet for long enough to fire.
    pub pending: usize,
    /// Why Prometheus could not be asked.
    pub error: Option<String>,
    pub state: State,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alert {
    pub name: String,
    pub severity: String,
    /// The instance, job, replica or mount point it is about.
    pub about: String,
    pub summary: String,
    pub action: String,
    pub since: String,
}

#[derive(Deserialize)]
struct Answer {
    data: Data,
}
#[derive(Deserialize)]
struct Data {
    alerts: Vec<Raw>,
}
#[derive(Deserialize)]
struct Raw {
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    state: String,
    #[serde(default, rename = "activeAt")]
    active_at: String,
}

/// Prometheus' alerts, from its API on loopback.
pub async fn look(client: Option<&reqwest::Client>) -> Alerts {
    let url = format!("http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/alerts");
    let mut a = Alerts {
        url: url.clone(),
        firing: Vec::new(),
        pending: 0,
        error: None,
        state: State::Ok,
    };
    let answer = match client {
        Some(c) => super::super::probes::probe(c, &url).await,
        None => Err("no HTTP client".to_string()),
    };
    match answer {
        Ok((200, text)) => match parse(&text) {
            Ok((firing, pending)) => {
                a.firing = firing;
                a.pending = pending;
            }
            Err(e) => a.error = Some(format!("{url}: {e}")),
        },
        Ok((code, _)) => a.error = Some(format!("{url} answered {code}")),
        Err(e) => a.error = Some(e),
    }
    if a.error.is_some() || !a.firing.is_empty() {
        a.state = State::Degraded;
    }
    a
}

/// The firing alerts (sorted, critical first) and the count of pending ones.
pub fn parse(text: &str) -> Result<(Vec<Alert>, usize), String> {
    let answer: Answer = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let pending = answer
        .data
        .alerts
        .iter()
        .filter(|r| r.state == "pending")
        .count();
    let mut firing: Vec<Alert> = answer
        .data
        .alerts
        .into_iter()
        .filter(|r| r.state == "firing")
        .map(|r| {
            let label = |k: &str| r.labels.get(k).cloned().unwrap_or_default();
            let about = ["instance", "replica", "mountpoint", "job"]
                .iter()
                .find_map(|k| r.labels.get(*k).cloned())
                .unwrap_or_default();
            Alert {
                name: label("alertname"),
                severity: label("severity"),
                about,
                summary: r.annotations.get("summary").cloned().unwrap_or_default(),
                action: r.annotations.get("action").cloned().unwrap_or_default(),
                since: r.active_at,
            }
        })
        .collect();
    firing.sort_by(|a, b| {
        (a.severity != "critical", &a.name, &a.about).cmp(&(
            b.severity != "critical",
            &b.name,
            &b.about,
        ))
    });
    Ok((firing, pending))
}

impl Alerts {
    /// The status text's lines.
    pub fn text(&self) -> String {
        if let Some(e) = &self.error {
            return format!("alerts: Prometheus cannot be asked ({e}); nothing would alert\n");
        }
        if self.firing.is_empty() {
            return format!(
                "alerts: none firing ({} pending) — Prometheus on 127.0.0.1:{PROMETHEUS_PORT}\n",
                self.pending
            );
        }
        let mut out = format!("alerts firing ({}):\n", self.firing.len());
        for a in &self.firing {
            out.push_str(&format!(
                "  {} [{}] {}: {} (since {}) — {}\n",
                a.name, a.severity, a.about, a.summary, a.since, a.action
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_alerts_are_read_critical_first_and_pending_ones_counted() {
        let text = r#"{"status":"success","data":{"alerts":[
          {"labels":{"alertname":"LiveDashboardPoolWaits","severity":"warning"},
           "annotations":{"summary":"requests wait","action":"pool_size"},
           "state":"firing","activeAt":"2026-12-07T10:00:00Z","value":"1e+00"},
          {"labels":{"alertname":"LiveDashboardInstanceDown","instance":"127.0.0.1:8002","job":"live-dashboard","severity":"critical"},
           "annotations":{"summary":"instance 127.0.0.1:8002 does not answer /metrics","action":"provision restart"},
           "state":"firing","activeAt":"2026-12-07T10:01:00Z","value":"0e+00"},
          {"labels":{"alertname":"LiveDashboardDiskLow","mountpoint":"/","severity":"critical"},
           "annotations":{},"state":"pending","activeAt":"2026-12-07T10:02:00Z","value":"0.05"}
        ]}}"#;
        let (firing, pending) = parse(text).unwrap();
        assert_eq!(pending, 1);
        assert_eq!(firing.len(), 2);
        assert_eq!(firing[0].name, "LiveDashboardInstanceDown");
        assert_eq!(firing[0].about, "127.0.0.1:8002");
        assert_eq!(firing[1].about, "", "no label to say what it is about");
        let a = Alerts {
            url: String::new(),
            firing,
            pending,
            error: None,
            state: State::Degraded,
        };
        let t = a.text();
        assert!(
            t.starts_with(
                "alerts firing (2):\n  LiveDashboardInstanceDown [critical] 127.0.0.1:8002"
            ),
            "{t}"
        );
        assert!(parse("{}").is_err());
    }
}
