//! The dashboard's tables as `migrate` fills them: column types and nullability (they
//! mirror migrations/, and a test compares them with the catalog), the CHECK value sets,
//! the foreign keys, and the load order that lets a child see its parents' accepted ids.

use super::convert::Kind;
pub use crate::schema::ROLES;
use crate::schema::{RESULT_STATUSES, RUN_STATUSES};

#[derive(Debug, Clone)]
pub struct Column {
    pub name: &'static str,
    /// The SQLite column's name when it differs (an identifier shortened for PostgreSQL).
    pub source: Option<&'static str>,
    pub kind: Kind,
    pub nullable: bool,
    /// CHECK: the value must be one of these.
    pub one_of: Option<&'static [&'static str]>,
    /// Foreign key to this table's `id`.
    pub references: Option<&'static str>,
    /// Numbers may be written as text (a column widened to text or bytea by inference).
    pub widen: bool,
    /// A timestamp column whose integers are epoch milliseconds (inferred), not seconds.
    pub epoch_ms: bool,
}

impl Column {
    /// The name to read in SQLite.
    pub fn source_name(&self) -> &'static str {
        self.source.unwrap_or(self.name)
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: &'static str,
    pub columns: Vec<Column>,
    /// The SQLite table's name when it differs.
    pub source: Option<&'static str>,
    /// Whether the SQLite table has a rowid (not WITHOUT ROWID): used for keys and slices.
    pub rowid: bool,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const fn col(name: &'static str, kind: Kind, nullable: bool) -> Column {
    Column {
        name,
        kind,
        nullable,
        one_of: None,
        references: None,
        source: None,
        widen: false,
        epoch_ms: false,
    }
}

const fn fk(name: &'static str, nullable: bool, table: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Int8,
        nullable,
        one_of: None,
        references: Some(table),
        source: None,
        widen: false,
        epoch_ms: false,
    }
}

const fn check(name: &'static str, set: &'static [&'static str]) -> Column {
    Column {
        name,
        kind: Kind::Text,
        nullable: false,
        one_of: Some(set),
        references: None,
        source: None,
        widen: false,
        epoch_ms: false,
    }
}

/// Every table of the dashboard schema, parents before children. `migrate` swaps all of
/// them in together (sessions has no legacy counterpart and arrives empty).
pub fn tables() -> Vec<Table> {
    use Kind::*;
    vec![
        Table {
            name: "users",
            columns: vec![
                col("id", Int8, false),
                col("username", Text, false),
                col("email", Text, true),
                col("password_hash", Text, false),
                check("role", &ROLES),
                col("is_active", Bool, false),
                col("created_at", Timestamptz, true),
            ],
            source: None,
            rowid: true,
        },
        Table {
            name: "validation_suites",
            columns: vec![
                col("id", Int8, false),
                col("name", Text, false),
                col("description", Text, true),
                col("config", Jsonb, true),
                col("created_at", Timestamptz, true),
            ],
            source: None,
            rowid: true,
        },
        Table {
            name: "api_tokens",
            columns: vec![
                col("id", Int8, false),
                fk("user_id", false, "users"),
                col("token_hash", Text, false),
                col("label", Text, true),
                col("created_at", Timestamptz, true),
                col("last_used", Timestamptz, true),
                col("revoked_at", Timestamptz, true),
            ],
            source: None,
            rowid: true,
        },
        Table {
            name: "validation_runs",
            columns: vec![
                col("id", Int8, false),
                fk("suite_id", false, "validation_suites"),
                col("environment", Text, false),
                check("status", &RUN_STATUSES),
                fk("triggered_by", true, "users"),
                col("started_at", Timestamptz, true),
                col("finished_at", Timestamptz, true),
                col("total_checks", Int8, true),
                col("passed_checks", Int8, true),
                col("failed_checks", Int8, true),
                col("metadata", Jsonb, true),
            ],
            source: None,
            rowid: true,
        },
        Table {
            name: "validation_results",
            columns: vec![
                col("id", Int8, false),
                fk("run_id", false, "validation_runs"),
                col("check_name", Text, false),
                check("status", &RESULT_STATUSES),
                col("duration_ms", Float8, true),
                col("message", Text, true),
                col("details", Jsonb, true),
                col("created_at", Timestamptz, true),
            ],
            source: None,
            rowid: true,
        },
        Table {
            name: "sessions",
            columns: vec![
                col("id", Text, false),
                fk("user_id", false, "users"),
                col("expires_at", Timestamptz, false),
            ],
            source: None,
            rowid: true,
        },
    ]
}

/// Whether some dashboard table has a foreign key to `table`.
pub fn is_referenced(table: &str) -> bool {
    tables()
        .iter()
        .any(|t| t.columns.iter().any(|c| c.references == Some(table)))
}

/// The tables the legacy SQLite schema has (sessions is the server's own).
pub const LEGACY_TABLES: [&str; 5] = [
    "users",
    "api_tokens",
    "validation_suites",
    "validation_runs",
    "validation_results",
];
