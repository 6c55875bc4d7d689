//! The plan: which dashboard tables the source has, which of their columns to read, and
//! what is not migrated (indexes replaced by the dashboard's, views, triggers).

use std::collections::HashMap;

use super::dashboard::{self, Column, Table};
use super::report::{self, Report};
use super::source::{self, Source};
use super::{MigrateError, SchemaMode};

/// The dashboard tables that exist in the source, and which of their columns to read.
pub struct Plan {
    pub tables: Vec<Table>,
    /// Per table (by name): the target columns present in the source, in target order.
    pub columns: HashMap<&'static str, Vec<Column>>,
    pub schema: source::Schema,
}

pub fn plan(src: &Source, mode: SchemaMode, report: &mut Report) -> Result<Plan, MigrateError> {
    let schema = src.describe()?;
    let tables = dashboard::tables();
    let missing: Vec<&str> = dashboard::LEGACY_TABLES
        .iter()
        .copied()
        .filter(|t| schema.table(t).is_none())
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "{} is not a legacy dashboard database: it lacks the table(s) {}",
            src.path.display(),
            missing.join(", ")
        );
        return Err(MigrateError::Unsupported(match mode {
            SchemaMode::Dashboard => why,
            SchemaMode::Auto => format!(
                "{why}. Migrating other SQLite databases (tables created by type inference) \
                 is not supported yet"
            ),
        }));
    }
    let mut extra = Vec::new();
    for t in &schema.tables {
        if t.virtual_table {
            continue;
        }
        match tables.iter().find(|d| d.name == t.name) {
            None => extra.push(format!("table {}", t.name)),
            Some(d) => {
                for c in &t.columns {
                    if d.column(c).is_none() {
                        extra.push(format!("column {}.{c}", t.name));
                    }
                }
            }
        }
    }
    if !extra.is_empty() {
        return Err(MigrateError::Unsupported(format!(
            "{} has {} that the dashboard schema has no place for, and dropping them is not an \
             option; migrating extra tables and columns (by type inference) is not supported yet",
            src.path.display(),
            extra.join(", ")
        )));
    }
    for t in schema.tables.iter().filter(|t| t.virtual_table) {
        report.skipped.push(report::Skipped {
            kind: "virtual table".into(),
            name: t.name.clone(),
            why: "virtual tables belong to a SQLite extension; their data is not migrated".into(),
        });
    }
    for o in &schema.others {
        let why = match o.kind.as_str() {
            "index" => "replaced by the dashboard schema's own indexes",
            "view" => "views are not migrated; recreate it in PostgreSQL if still needed",
            "trigger" => {
                "triggers are not migrated; SQLite trigger bodies do not run in PostgreSQL"
            }
            _ => "not migrated",
        };
        report.skip(o, why);
    }
    let mut columns = HashMap::new();
    for t in &tables {
        let present: Vec<Column> = match schema.table(t.name) {
            Some(st) => t
                .columns
                .iter()
                .filter(|c| st.columns.iter().any(|s| s == c.name))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        columns.insert(t.name, present);
    }
    Ok(Plan {
        tables,
        columns,
        schema,
    })
}
