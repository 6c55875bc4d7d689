//! `provision migrate`: the legacy dashboard's SQLite database → PostgreSQL, exactly.
//!
//! The pipeline: open the source read-only (a WAL file through one snapshot) → apply the
//! dashboard schema → refuse or no-op by the ledger → stage tables like the dashboard's
//! → binary COPY per table (parents first, so children see which parent ids arrived; big
//! tables in two slices), every value converted exactly or quarantined → indexes and
//! constraints built from the catalog while every table is read back and hashed →
//! identities continued → one transaction swaps the tables in with the ledger row and
//! the quarantine (each phase a function of `run.rs`). Nothing here prints: it returns a
//! [`Report`].

pub mod canonical;
pub mod convert;
pub mod dashboard;
mod error;
mod finish;
pub mod ident;
mod infer;
pub mod json;
mod keys;
mod ledger;
mod load;
mod numeric;
mod plan;
pub mod reader;
pub mod report;
mod run;
pub mod source;
mod sql_expr;
pub mod stage;
mod types;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;

use crate::settings::Secret;
pub use error::MigrateError;
pub use report::{Outcome, Report, TableReport};
pub use run::run;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaMode {
    /// The legacy dashboard's tables into the dashboard's; any other table by inference.
    Auto,
    /// Refuse anything but the legacy dashboard.
    Dashboard,
    /// Every table by inference, even the legacy dashboard's.
    Infer,
}

/// What a running migration reports as it reads each table (the command draws bars).
#[derive(Debug, Clone, Copy)]
pub enum ProgressEvent {
    /// The table's reading starts; it has this many rows.
    Start(u64),
    /// This many more rows were read.
    Rows(u64),
    Done,
}

pub type Progress = Arc<dyn Fn(&str, ProgressEvent) + Send + Sync>;

#[derive(Clone)]
pub struct Options {
    pub from: PathBuf,
    pub to: Option<Secret>,
    pub replace: bool,
    pub strict: bool,
    pub dry_run: bool,
    pub schema: SchemaMode,
    pub progress: Option<Progress>,
}
