//! Waiting for a graceful reload to take effect. nginx answers a reload by starting new
//! workers and letting the old ones finish; for a moment an old worker can still accept a
//! connection and answer with the old configuration. A check made right after a reload
//! (init's verify) waits until every worker of the master started after `since`.

use std::path::Path;
use std::time::{Duration, Instant};

pub use super::proc::now_ticks;

use super::proc::start_ticks;

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Waits until the master in `pid_file` has workers and all of them started at or after
/// `since` (ticks). False when that did not happen within `timeout`, or there is no master.
pub fn wait_workers_since(pid_file: &Path, since: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let master: Option<u32> = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        if let Some(master) = master {
            let kids = children(master);
            if !kids.is_empty()
                && kids
                    .iter()
                    .all(|k| start_ticks(*k).is_some_and(|t| t >= since))
            {
                return true;
            }
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_started_before_now() {
        let me = std::process::id();
        let started = start_ticks(me).unwrap();
        assert!(started <= now_ticks().unwrap());
        assert!(children(me).is_empty() || !children(me).is_empty());
    }
}
