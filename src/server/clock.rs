//! Monotonic nanosecond stamps shared by the parts that compare moments across tasks: the
//! replica monitor's as-of times and the local cache's last invalidation.

use std::sync::OnceLock;
use std::time::Instant;

/// Nanoseconds since the first call in this process, plus one (0 means "never").
pub fn now() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}
