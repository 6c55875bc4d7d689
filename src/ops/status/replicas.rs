//! The streaming replicas' part of `status`, as the instances see them (their `/metrics`:
//! `ld_replica_lag_seconds` and `ld_replica_serving` per replica): the worst lag any
//! instance reports, and whether every instance reads from it. A replica that does not
//! serve reads makes the stack degraded (reads fall back to the primary: nothing fails,
//! but the primary carries them).

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Replica {
    /// host:port.
    pub name: String,
    /// The worst lag reported (None: unknown to some instance).
    pub lag_ms: Option<u64>,
    /// Whether every instance that reported it reads from it.
    pub serving: bool,
}

/// Per replica: (worst lag in seconds, -1 when unknown somewhere; serving everywhere).
#[derive(Debug, Default)]
pub struct Seen(BTreeMap<String, (f64, bool)>);

impl Seen {
    /// Adds one instance's `/metrics` text.
    pub fn add(&mut self, metrics: &str) {
        for line in metrics.lines() {
            let (metric, serving) = if let Some(r) = line.strip_prefix("ld_replica_lag_seconds{") {
                (r, false)
            } else if let Some(r) = line.strip_prefix("ld_replica_serving{") {
                (r, true)
            } else {
                continue;
            };
            let Some((labels, value)) = metric.split_once("} ") else {
                continue;
            };
            let Some(name) = labels
                .split(',')
                .find_map(|l| l.strip_prefix("replica=\""))
                .and_then(|v| v.strip_suffix('"'))
            else {
                continue;
            };
            let Ok(v) = value.trim().parse::<f64>() else {
                continue;
            };
            let e = self.0.entry(name.to_string()).or_insert((0.0, true));
            if serving {
                e.1 &= v >= 1.0;
            } else if v < 0.0 || e.0 < 0.0 {
                e.0 = -1.0;
            } else {
                e.0 = e.0.max(v);
            }
        }
    }

    pub fn replicas(&self) -> Vec<Replica> {
        self.0
            .iter()
            .map(|(name, (lag, serving))| Replica {
                name: name.clone(),
                lag_ms: (*lag >= 0.0).then(|| (lag * 1000.0).round() as u64),
                serving: *serving,
            })
            .collect()
    }
}

impl Replica {
    /// One line for the status text.
    pub fn line(&self) -> String {
        let lag = self
            .lag_ms
            .map_or("lag unknown".to_string(), |ms| format!("{ms} ms behind"));
        if self.serving {
            format!("replica {}: serving reads, {lag}\n", self.name)
        } else {
            format!(
                "replica {}: NOT serving reads ({lag}); the primary answers them\n",
                self.name
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_lag_and_whether_every_instance_reads_from_it() {
        let mut s = Seen::default();
        s.add(
            "ld_replica_lag_seconds{replica=\"192.0.2.11:5432\"} 0.012\n\
             ld_replica_serving{replica=\"192.0.2.11:5432\"} 1\n\
             ld_replica_lag_seconds{replica=\"192.0.2.12:5432\"} 0.5\n\
             ld_replica_serving{replica=\"192.0.2.12:5432\"} 1\n",
        );
        s.add(
            "# HELP x\nld_replica_lag_seconds{replica=\"192.0.2.11:5432\"} 0.030\n\
             ld_replica_serving{replica=\"192.0.2.11:5432\"} 1\n\
             ld_replica_lag_seconds{replica=\"192.0.2.12:5432\"} -1\n\
             ld_replica_serving{replica=\"192.0.2.12:5432\"} 0\n",
        );
        let r = s.replicas();
        assert_eq!(
            r,
            vec![
                Replica {
                    name: "192.0.2.11:5432".into(),
                    lag_ms: Some(30),
                    serving: true
                },
                Replica {
                    name: "192.0.2.12:5432".into(),
                    lag_ms: None,
                    serving: false
                },
            ]
        );
        assert_eq!(
            r[0].line(),
            "replica 192.0.2.11:5432: serving reads, 30 ms behind\n"
        );
        assert!(r[1].line().contains("NOT serving reads (lag unknown)"));
        assert!(Seen::default().replicas().is_empty());
    }
}
