//! What the controller sends a host (on the ssh channel's stdin: it holds the secrets) and
//! what the host sends back (JSON lines on stdout): the host's part of the playbook run by
//! the same engine there, each step's event as it happens, and a recap at the end.

use std::path::PathBuf;

use crate::init::deployment::Deployment;
use crate::playbook::engine::{Event, Recap};

/// One host's part of a deployment.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// The controller's config file (answers and generated secrets): the host's own is
    /// made from it, with its addresses.
    pub config: String,
    pub deployment: Deployment,
    /// Legacy data, migrated on the database host. (`--check` and `--diff` travel as the
    /// agent's own flags.)
    pub data: JobData,
}

/// Legacy data for the database host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobData {
    None,
    /// Generated there once (the demo), then migrated.
    Demo,
    /// A SQLite file the controller copied there.
    Sqlite(PathBuf),
}

/// One line a host sends back.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Line {
    /// A step's or handler's outcome.
    Event(Event),
    /// Something changed outside the playbook (the config, data, credentials).
    Changed(String),
    /// A line that is none of these, shown as it is.
    Text(String),
    /// The host's counts, last.
    Recap {
        ok: usize,
        changed: usize,
        skipped: usize,
        failed: usize,
    },
}

impl Line {
    pub fn recap(r: &Recap) -> Line {
        Line::Recap {
            ok: r.ok,
            changed: r.changed,
            skipped: r.skipped,
            failed: r.failed,
        }
    }

    /// A line as a host printed it: one of ours, an engine event (the engine prints
    /// those itself), or text.
    pub fn parse(text: &str) -> Line {
        serde_json::from_str::<Line>(text)
            .or_else(|_| serde_json::from_str::<Event>(text).map(Line::Event))
            .unwrap_or_else(|_| Line::Text(text.to_string()))
    }

    /// The line as sent: one JSON object.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a line serializes")
    }
}
