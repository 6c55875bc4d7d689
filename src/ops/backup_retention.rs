//! Pruning the scheduled backups: the newest of each of the last `keep_daily` days that
//! have one, and of each of the last `keep_weekly` ISO weeks that have one, are kept (the
//! rule of restic's `--keep-daily`/`--keep-weekly`); the other scheduled backups go, each
//! with its `.sha256` and `.json`. Only files provision's scheduled backups made are
//! candidates: a `.dump` named `DB-YYYYMMDDTHHMMSSZ.dump` for this database whose
//! manifest says `scheduled`. Manual backups, the ones taken before a migration or a
//! restore, and anything else in the directory are never touched.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Local, NaiveDate, Utc};

use super::backup::{list, sidecar};
use crate::init::answers::BackupPolicy;

/// The reason a scheduled backup's manifest gives.
pub const SCHEDULED: &str = "scheduled";

/// Of `backups` (any order), the ones the policy does not keep. Days and weeks are the
/// host's local ones (the schedule's clock).
pub fn to_prune(backups: &[(PathBuf, DateTime<Utc>)], policy: &BackupPolicy) -> Vec<PathBuf> {
    let mut newest_first: Vec<&(PathBuf, DateTime<Utc>)> = backups.iter().collect();
    newest_first.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let (mut daily, mut weekly) = (policy.keep_daily, policy.keep_weekly);
    let (mut last_day, mut last_week): (Option<NaiveDate>, Option<(i32, u32)>) = (None, None);
    let mut out = Vec::new();
    for (i, (file, at)) in newest_first.into_iter().enumerate() {
        let local = at.with_timezone(&Local).date_naive();
        let week = (local.iso_week().year(), local.iso_week().week());
        // The newest backup is always kept, whatever the policy says.
        let mut keep = i == 0;
        if daily > 0 && last_day != Some(local) {
            daily -= 1;
            last_day = Some(local);
            keep = true;
        }
        if weekly > 0 && last_week != Some(week) {
            weekly -= 1;
            last_week = Some(week);
            keep = true;
        }
        if !keep {
            out.push(file.clone());
        }
    }
    out
}

/// The scheduled backups of `database` in `dir`, with when each was taken (from its name,
/// which the manifest must agree with).
pub fn scheduled(dir: &Path, database: &str) -> Vec<(PathBuf, DateTime<Utc>)> {
    list(dir)
        .into_iter()
        .filter_map(|(file, manifest, _)| {
            let m = manifest?;
            if m.reason != SCHEDULED || m.database != database {
                return None;
            }
            let stamp = file
                .file_name()?
                .to_str()?
                .strip_prefix(database)?
                .strip_prefix('-')?
                .strip_suffix(".dump")?;
            let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
                .ok()?
                .and_utc();
            let created = DateTime::parse_from_rfc3339(&m.created).ok()?;
            (created.with_timezone(&Utc) == at).then_some((file, at))
        })
        .collect()
}

/// Removes the scheduled backups of `database` in `dir` the policy does not keep; the
/// files removed (each dump with its two sidecars), or the first failure.
pub fn prune(dir: &Path, database: &str, policy: &BackupPolicy) -> Result<Vec<PathBuf>, String> {
    let mut removed = Vec::new();
    for file in to_prune(&scheduled(dir, database), policy) {
        for f in [
            sidecar(&file, "json"),
            sidecar(&file, "sha256"),
            file.clone(),
        ] {
            match std::fs::remove_file(&f) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("pruning {}: {e}", f.display())),
            }
        }
        removed.push(file);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(keep_daily: u32, keep_weekly: u32) -> BackupPolicy {
        BackupPolicy {
            keep_daily,
            keep_weekly,
            ..BackupPolicy::default()
        }
    }

    /// Backups at local noon on the given dates (so the day never depends on the zone).
    fn at(dates: &[&str]) -> Vec<(PathBuf, DateTime<Utc>)> {
        dates
            .iter()
            .map(|d| {
                let local = chrono::NaiveDateTime::parse_from_str(
                    &format!("{d} 12:00:00"),
                    "%Y-%m-%d %H:%M:%S",
                )
                .unwrap()
                .and_local_timezone(Local)
                .unwrap();
                (PathBuf::from(*d), local.with_timezone(&Utc))
            })
            .collect()
    }

    fn names(p: Vec<PathBuf>) -> Vec<String> {
        let mut v: Vec<String> = p.into_iter().map(|p| p.display().to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn the_newest_of_each_day_then_of_each_week() {
        // Two a day on Dec 7 (a Monday), then one a day back to Nov 20.
        let mut dates = vec!["2026-12-07", "2026-12-07"];
        let days: Vec<String> = (20..=30)
            .map(|d| format!("2026-11-{d}"))
            .chain((1..=6).map(|d| format!("2026-12-{d:02}")))
            .collect();
        dates.extend(days.iter().map(String::as_str));
        let mut b = at(&dates);
        // The two on Dec 7 differ by a minute: the later one is the day's.
        b[1].1 -= chrono::Duration::minutes(1);
        b[1].0 = PathBuf::from("2026-12-07-early");
        let gone = names(to_prune(&b, &policy(3, 3)));
        // Kept: Dec 7, 6, 5 (the days); weeks: Dec 7 (week 50), Dec 6 (week 49, already
        // kept), Nov 29 (week 48's newest).
        let kept: Vec<&str> = vec!["2026-12-07", "2026-12-06", "2026-12-05", "2026-11-29"];
        let mut want: Vec<String> = b
            .iter()
            .map(|(p, _)| p.display().to_string())
            .filter(|p| !kept.contains(&p.as_str()))
            .collect();
        want.sort();
        assert_eq!(gone, want);
        assert!(gone.contains(&"2026-12-07-early".to_string()));
    }

    #[test]
    fn days_without_a_backup_do_not_count_and_the_newest_always_stays() {
        // A month without backups: the keep counts are of days that have one.
        let b = at(&["2026-12-07", "2026-11-01", "2026-10-31", "2026-10-30"]);
        assert_eq!(names(to_prune(&b, &policy(3, 0))), vec!["2026-10-30"]);
        assert!(to_prune(&b, &policy(7, 4)).is_empty());
        // keep_weekly alone: one per week, the newest kept even so.
        let b = at(&["2026-12-07", "2026-12-06", "2026-12-05"]);
        assert_eq!(
            names(to_prune(&b, &policy(0, 1))),
            vec!["2026-12-05", "2026-12-06"]
        );
        assert_eq!(
            names(to_prune(&b, &policy(0, 0))),
            vec!["2026-12-05", "2026-12-06"]
        );
    }

    #[test]
    fn only_scheduled_backups_of_this_database_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let write = |name: &str, reason: &str, db: &str, created: &str| {
            let f = d.join(name);
            std::fs::write(&f, b"dump").unwrap();
            std::fs::write(sidecar(&f, "sha256"), "x").unwrap();
            let m = serde_json::json!({"schema": "provision.backup/v1", "database": db,
                "created": created, "reason": reason, "sha256": "x", "bytes": 4,
                "server_version": "15", "tables": {}});
            std::fs::write(sidecar(&f, "json"), m.to_string()).unwrap();
        };
        for day in 1..=9 {
            let stamp = format!("202611{day:02}T033000Z");
            let created = format!("2026-11-{day:02}T03:30:00Z");
            write(&format!("dash-{stamp}.dump"), SCHEDULED, "dash", &created);
        }
        // Not candidates: a manual backup, one before a migration, another database's,
        // a manifest that disagrees with the name, a dump without a manifest, a note.
        write(
            "dash-20261001T000000Z.dump",
            "manual",
            "dash",
            "2026-10-01T00:00:00Z",
        );
        write(
            "dash-20261002T000000Z.dump",
            "before migrate --replace",
            "dash",
            "2026-10-02T00:00:00Z",
        );
        write(
            "other-20261003T000000Z.dump",
            SCHEDULED,
            "other",
            "2026-10-03T00:00:00Z",
        );
        write(
            "dash-20261004T000000Z.dump",
            SCHEDULED,
            "dash",
            "2026-10-09T00:00:00Z",
        );
        std::fs::write(d.join("dash-20261005T000000Z.dump"), b"dump").unwrap();
        std::fs::write(d.join("notes.txt"), b"mine").unwrap();
        let before = std::fs::read_dir(d).unwrap().count();
        let removed = prune(d, "dash", &policy(2, 0)).unwrap();
        assert_eq!(removed.len(), 7, "{removed:?}");
        assert_eq!(std::fs::read_dir(d).unwrap().count(), before - 7 * 3);
        for day in [9, 8] {
            assert!(d
                .join(format!("dash-202611{day:02}T033000Z.dump"))
                .is_file());
        }
        for kept in [
            "dash-20261001T000000Z.dump",
            "dash-20261002T000000Z.dump",
            "other-20261003T000000Z.dump",
            "dash-20261004T000000Z.dump",
            "dash-20261005T000000Z.dump",
            "notes.txt",
        ] {
            assert!(d.join(kept).is_file(), "{kept} was pruned");
        }
        assert!(
            prune(d, "dash", &policy(2, 0)).unwrap().is_empty(),
            "a second run prunes nothing"
        );
    }
}
