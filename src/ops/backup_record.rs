//! The outcome of the last backup and of the last restore drill, kept where `status`
//! reads it (`backup-status.json` in provision's state directory) and where Prometheus'
//! node exporter reads it (its textfile directory, when there is one): a scheduled backup
//! that failed at 03:30 is visible in the morning, and the alert on the age of the last
//! good backup has a number to read.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::init::vars::TEXTFILE_DIR;
const RECORD: &str = "backup-status.json";
pub const METRICS: &str = "live_dashboard_backup.prom";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The last `provision backup` of any kind that ran to an end.
    pub last_attempt: Option<Outcome>,
    /// The last one that succeeded.
    pub last_success: Option<Outcome>,
    /// The last `backup --verify-restore`.
    pub last_drill: Option<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// RFC 3339, UTC.
    pub at: String,
    pub ok: bool,
    /// `scheduled`, `manual`, or the drill's.
    pub reason: String,
    /// The backup file made or checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default)]
    pub bytes: u64,
    /// What went wrong (never a secret: errors carry redacted URLs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Scheduled runs: the backups pruned after this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<String>,
}

impl Outcome {
    pub fn now(ok: bool, reason: &str) -> Outcome {
        Outcome {
            at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ok,
            reason: reason.into(),
            file: None,
            bytes: 0,
            error: None,
            pruned: Vec::new(),
        }
    }

    pub fn time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The record in `state_dir` (an empty one when there is none yet or it cannot be read).
pub fn load(state_dir: &Path) -> Record {
    std::fs::read_to_string(state_dir.join(RECORD))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// `o` kept for `status` and the metrics (a drill's as the last drill, any other as the
/// last backup); failing to keep it is logged, not fatal: the outcome itself stands.
pub fn record(stack: &super::stack::Stack, o: Outcome) {
    let textfile = Path::new(TEXTFILE_DIR);
    let kept = if o.reason == super::restore_drill::REASON {
        drill_ran(&stack.state_dir, textfile, o)
    } else {
        backup_ran(&stack.state_dir, textfile, o)
    };
    if let Err(e) = kept {
        tracing::warn!("the outcome was not recorded for `provision status`: {e}");
    }
}

/// Adds a backup's outcome to the record in `state_dir` and rewrites the metrics in
/// `textfile_dir` when that directory exists. A failure to record is returned for the
/// caller to show; the backup's own outcome stands either way.
pub fn backup_ran(state_dir: &Path, textfile_dir: &Path, o: Outcome) -> Result<(), String> {
    let mut r = load(state_dir);
    if o.ok {
        r.last_success = Some(o.clone());
    }
    r.last_attempt = Some(o);
    save(state_dir, textfile_dir, &r)
}

/// Adds a restore drill's outcome (see [`backup_ran`]).
pub fn drill_ran(state_dir: &Path, textfile_dir: &Path, o: Outcome) -> Result<(), String> {
    let mut r = load(state_dir);
    r.last_drill = Some(o);
    save(state_dir, textfile_dir, &r)
}

fn save(state_dir: &Path, textfile_dir: &Path, r: &Record) -> Result<(), String> {
    let path = state_dir.join(RECORD);
    let text = serde_json::to_string_pretty(r).expect("a record serializes");
    crate::host::fs::write_atomic(&path, text.as_bytes(), 0o600, None)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if textfile_dir.is_dir() {
        let path: PathBuf = textfile_dir.join(METRICS);
        crate::host::fs::write_atomic(&path, metrics(r).as_bytes(), 0o644, None)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The record in Prometheus' text format.
pub fn metrics(r: &Record) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: Option<f64>| {
        if let Some(v) = value {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            ));
        }
    };
    let ts = |o: &Option<Outcome>| {
        o.as_ref()
            .and_then(Outcome::time)
            .map(|t| t.timestamp() as f64)
    };
    let ok = |o: &Option<Outcome>| o.as_ref().map(|o| if o.ok { 1.0 } else { 0.0 });
    gauge(
        "live_dashboard_backup_last_attempt_timestamp_seconds",
        "When the last backup (scheduled or manual) ran.",
        ts(&r.last_attempt),
    );
    gauge(
        "live_dashboard_backup_last_attempt_success",
        "1 if the last backup succeeded, 0 if it failed.",
        ok(&r.last_attempt),
    );
    gauge(
        "live_dashboard_backup_last_success_timestamp_seconds",
        "When the last successful backup was taken.",
        ts(&r.last_success),
    );
    gauge(
        "live_dashboard_backup_last_success_bytes",
        "The size of the last successful backup.",
        r.last_success.as_ref().map(|o| o.bytes as f64),
    );
    gauge(
        "live_dashboard_backup_restore_drill_timestamp_seconds",
        "When the last restore drill (backup --verify-restore) ran.",
        ts(&r.last_drill),
    );
    gauge(
        "live_dashboard_backup_restore_drill_success",
        "1 if the last restore drill matched its backup, 0 if not.",
        ok(&r.last_drill),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_the_last_success_and_both_reach_the_metrics() {
        let state = tempfile::tempdir().unwrap();
        let textfile = tempfile::tempdir().unwrap();
        assert_eq!(load(state.path()), Record::default());
        let mut good = Outcome::now(true, "scheduled");
        good.at = "2026-12-06T03:30:00Z".into();
        good.bytes = 1234;
        good.file = Some("/b/dash-20261206T033000Z.dump".into());
        backup_ran(state.path(), textfile.path(), good.clone()).unwrap();
        let mut bad = Outcome::now(false, "scheduled");
        bad.at = "2026-12-07T03:30:00Z".into();
        bad.error = Some("postgresql://dash:****@127.0.0.1/dash: connection refused".into());
        backup_ran(state.path(), textfile.path(), bad.clone()).unwrap();
        let r = load(state.path());
        assert_eq!(r.last_success, Some(good));
        assert_eq!(r.last_attempt, Some(bad));
        let m = std::fs::read_to_string(textfile.path().join(METRICS)).unwrap();
        assert!(
            m.contains("\nlive_dashboard_backup_last_attempt_success 0\n"),
            "{m}"
        );
        assert!(
            m.contains("\nlive_dashboard_backup_last_success_timestamp_seconds 1796527800\n"),
            "{m}"
        );
        assert!(
            m.contains("\nlive_dashboard_backup_last_success_bytes 1234\n"),
            "{m}"
        );
        assert!(!m.contains("drill"), "no drill yet: {m}");
        drill_ran(state.path(), textfile.path(), Outcome::now(true, "drill")).unwrap();
        let m = std::fs::read_to_string(textfile.path().join(METRICS)).unwrap();
        assert!(
            m.contains("\nlive_dashboard_backup_restore_drill_success 1\n"),
            "{m}"
        );
        // Without the node exporter's directory, only the record is written.
        let state2 = tempfile::tempdir().unwrap();
        let none = state2.path().join("no-such-dir");
        backup_ran(state2.path(), &none, Outcome::now(true, "manual")).unwrap();
        assert!(!none.exists());
    }
}
