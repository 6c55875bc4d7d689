//! The migration report: what was read, loaded, quarantined, skipped and verified, per
//! table and in total. Serialized as the `--json` output and into the ledger.

use serde::Serialize;

use super::source::Object;

/// A value that could not be placed exactly, with its original.
#[derive(Debug, Clone, Serialize)]
pub struct Quarantined {
    pub table: String,
    pub key: String,
    /// None when the whole row is quarantined.
    pub column: Option<String>,
    pub original: serde_json::Value,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TableReport {
    pub table: String,
    pub source_rows: u64,
    pub loaded_rows: u64,
    pub target_rows: Option<u64>,
    pub quarantined_rows: u64,
    pub quarantined_cells: u64,
    pub json_kept_as_string: u64,
    pub source_hash: String,
    pub target_hash: Option<String>,
    pub hash_ok: Option<bool>,
    pub seconds: f64,
    pub megabytes: f64,
    pub mb_per_s: f64,
    pub next_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Timings {
    pub load_s: f64,
    pub index_and_verify_s: f64,
    pub swap_s: f64,
    pub total_s: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Loaded, verified and swapped in.
    Migrated,
    /// The same source was migrated before: nothing done.
    AlreadyMigrated,
    /// `--dry-run`: the plan only.
    Planned,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub kind: String,
    pub name: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: u32,
    pub outcome: Outcome,
    pub source: String,
    pub source_sha256: Option<String>,
    pub mode: String,
    pub migration_id: Option<i64>,
    /// UNIQUE indexes (partial or on expressions) that could not be translated: the
    /// target no longer refuses what the source refused. First, since it matters most.
    pub lost_uniqueness: Vec<Skipped>,
    pub tables: Vec<TableReport>,
    /// The quarantined values (all of them are in provision_quarantine in the target).
    pub quarantine: Vec<Quarantined>,
    pub skipped: Vec<Skipped>,
    /// Decisions about what was migrated: widened columns, renamed identifiers, indexes or
    /// defaults not translated, foreign keys left NOT VALID.
    pub notes: Vec<Skipped>,
    pub timings: Timings,
}

impl Report {
    pub fn new(source: String, outcome: Outcome) -> Self {
        Report {
            version: 1,
            outcome,
            source,
            source_sha256: None,
            mode: "dashboard".into(),
            migration_id: None,
            lost_uniqueness: Vec::new(),
            tables: Vec::new(),
            quarantine: Vec::new(),
            skipped: Vec::new(),
            notes: Vec::new(),
            timings: Timings::default(),
        }
    }

    pub fn skip(&mut self, o: &Object, why: &str) {
        self.skipped.push(Skipped {
            kind: o.kind.clone(),
            name: o.name.clone(),
            why: why.into(),
        });
    }
}
