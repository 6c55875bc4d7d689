//! The load generator's arrival rate, as flags, the environment and the config file give
//! it (`200`, `500/min`, `max`). It lives with the settings that parse it; `verify::load`
//! uses it.

use serde::Serialize;

/// The arrival rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rate {
    /// Requests per second, scheduled in advance (open model).
    PerSecond(f64),
    /// As fast as the connections allow (closed model; saturation).
    Max,
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Rate::Max);
        }
        let per_min = s.strip_suffix("/min");
        let n: f64 = per_min
            .unwrap_or(s.strip_suffix("/s").unwrap_or(s))
            .parse()
            .map_err(|_| format!("{s:?}: give requests per second (like 200), N/min or max"))?;
        let n = if per_min.is_some() { n / 60.0 } else { n };
        if !(n.is_finite() && n > 0.0) {
            return Err(format!("{s:?}: the rate must be above 0"));
        }
        Ok(Rate::PerSecond(n))
    }
}
