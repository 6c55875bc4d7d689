//! Playbooks: YAML steps run by the engine. Each step queries the live host (matched /
//! create / modify with a diff / run) and is applied only outside check mode; handlers
//! are persisted when notified; a recap line ends every run. Uses `host` only.

pub mod engine;
pub mod history;
pub mod model;
pub mod state;
pub mod steps;
mod templated;
pub mod when;

pub use engine::{run, Event, Options, Recap, Status};
pub use model::{Playbook, PlaybookError};
