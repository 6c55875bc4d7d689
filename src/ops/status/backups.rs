//! The backups' part of `status`, on the database's host: whether the daily schedule is
//! in place and running, the last good backup and its age, a failed last backup, and the
//! last restore drill (from `backup_record`). A failed backup or drill, a schedule that
//! is off when it should run, or no good backup for longer than a day and a bit make the
//! stack degraded.

use std::path::Path;

use chrono::Utc;
use serde::Serialize;

use super::State;
use crate::host::services::is_active;
use crate::ops::backup_record::{self, Outcome};
use crate::ops::stack::Stack;

/// The unit and file the schedule lives in.
pub const TIMER: &str = "live-dashboard-backup.timer";
pub const CRON_FILE: &str = "/etc/cron.d/live-dashboard-backup";

/// A daily backup older than this is late (the alert's bound too).
pub const STALE_AFTER_S: i64 = 26 * 3600;

#[derive(Debug, Clone, Serialize)]
pub struct Backups {
    pub scheduled: bool,
    /// `daily at HH:MM (unit or file)`.
    pub schedule: String,
    /// Whether the timer (or cron with its file) is in place and running.
    pub schedule_active: bool,
    pub last_success: Option<Outcome>,
    pub last_attempt: Option<Outcome>,
    pub last_drill: Option<Outcome>,
    pub problems: Vec<String>,
    pub state: State,
}

pub fn look(stack: &Stack) -> Backups {
    let r = backup_record::load(&stack.state_dir);
    let svc = stack.services();
    let (schedule_active, place, installed) = if stack.is_systemd() {
        let file = Path::new("/etc/systemd/system").join(TIMER);
        (
            is_active(svc.as_ref(), TIMER).unwrap_or(false),
            TIMER.to_string(),
            file,
        )
    } else {
        let cron = stack
            .distro
            .services
            .get("cron")
            .cloned()
            .unwrap_or_else(|| "cron".into());
        (
            Path::new(CRON_FILE).is_file() && is_active(svc.as_ref(), &cron).unwrap_or(false),
            format!("{CRON_FILE}, run by {cron}"),
            Path::new(CRON_FILE).to_path_buf(),
        )
    };
    let mut b = Backups {
        scheduled: stack.backups.scheduled,
        schedule: format!("daily at {} ({place})", stack.backups.at),
        schedule_active,
        last_success: r.last_success,
        last_attempt: r.last_attempt,
        last_drill: r.last_drill,
        problems: Vec::new(),
        state: State::Ok,
    };
    if b.scheduled && !b.schedule_active {
        b.problem(format!(
            "the daily backup is not scheduled: {place} is not in place and running (`provision init` puts it back)"
        ));
    }
    if let Some(a) = b.last_attempt.clone().filter(|a| !a.ok) {
        b.problem(format!(
            "the last backup ({}, at {}) FAILED: {}; fix it and run `provision backup`",
            a.reason,
            a.at,
            a.error.as_deref().unwrap_or("no reason recorded")
        ));
    } else if let Some(e) = b.last_attempt.as_ref().and_then(|a| a.error.clone()) {
        b.problem(format!("the last backup was taken, but {e}"));
    }
    if let Some(d) = b.last_drill.clone().filter(|d| !d.ok) {
        b.problem(format!(
            "the last restore drill (at {}) FAILED: {}",
            d.at,
            d.error.as_deref().unwrap_or("no reason recorded")
        ));
    }
    if b.scheduled {
        // Since the last good backup, or since the schedule was put in place.
        let since = b.last_success.as_ref().and_then(Outcome::time).or_else(|| {
            std::fs::metadata(&installed)
                .and_then(|m| m.modified())
                .ok()
                .map(chrono::DateTime::<Utc>::from)
        });
        if let Some(t) = since {
            let age = (Utc::now() - t).num_seconds();
            if age > STALE_AFTER_S {
                b.problem(format!(
                    "no good backup for {} h (the daily one is late); `provision logs` and the schedule's own log say why",
                    age / 3600
                ));
            }
        }
    }
    b
}

impl Backups {
    fn problem(&mut self, p: String) {
        self.problems.push(p);
        self.state = State::Degraded;
    }

    /// One line for the status text.
    pub fn line(&self) -> String {
        let schedule = if !self.scheduled {
            "not scheduled (backups.scheduled: false)".to_string()
        } else if self.schedule_active {
            self.schedule.clone()
        } else {
            format!("{} — NOT ACTIVE", self.schedule)
        };
        let last = match &self.last_success {
            Some(o) => format!("last good {} ({}, {} bytes)", o.at, o.reason, o.bytes),
            None => "no backup recorded yet".into(),
        };
        let drill = match &self.last_drill {
            Some(d) if d.ok => format!("; restore drill ok at {}", d.at),
            Some(d) => format!("; restore drill FAILED at {}", d.at),
            None => String::new(),
        };
        format!("backups: {schedule}; {last}{drill}\n")
    }
}
