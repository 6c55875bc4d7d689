//! The plan: which dashboard tables the source has, which of their columns to read, and
//! what is not migrated (indexes replaced by the dashboard's, views, triggers).

use std::collections::{HashMap, HashSet};

use super::dashboard::{self, Column, Table};
use super::infer;
use super::report::{self, Report};
use super::source::{self, Source};
use super::{MigrateError, SchemaMode};

/// The dashboard tables that exist in the source, and which of their columns to read.
pub struct Plan {
    pub tables: Vec<Table>,
    /// Per table (by name): the target columns present in the source, in target order.
    pub columns: HashMap<&'static str, Vec<Column>>,
    pub schema: source::Schema,
    /// Whether the source is the legacy dashboard (its tables land in the dashboard's).
    pub legacy: bool,
    pub inferred: Vec<infer::Inferred>,
}

/// Users whose stored hash has a cost the server refuses to compute (see
/// `passwords::absurd_cost`): migrated as they are, and reported, since they
/// cannot log in until they get a new password.
fn absurd_password_hashes(
    conn: &rusqlite::Connection,
) -> Result<Vec<report::Skipped>, MigrateError> {
    let read = |e: rusqlite::Error| MigrateError::Read(format!("reading users.password_hash: {e}"));
    let mut stmt = conn
        .prepare("SELECT id, CAST(password_hash AS TEXT) FROM users WHERE typeof(password_hash) = 'text'")
        .map_err(read)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, rusqlite::types::Value>(0)?,
                r.get::<_, String>(1)?,
            ))
        })
        .map_err(read)?;
    let mut notes = Vec::new();
    for row in rows {
        let (id, hash) = row.map_err(read)?;
        if let Some(why) = crate::passwords::absurd_cost(&hash) {
            let id = match id {
                rusqlite::types::Value::Integer(n) => n.to_string(),
                other => format!("{other:?}"),
            };
            notes.push(report::Skipped {
                kind: "password hash".into(),
                name: format!("users id {id}"),
                why: format!("{why}: the server refuses such a hash, so this user cannot log in until given a new password"),
            });
        }
    }
    Ok(notes)
}

pub fn plan(
    src: &Source,
    mode: SchemaMode,
    target_dashboard: bool,
    report: &mut Report,
) -> Result<Plan, MigrateError> {
    let schema = src.describe()?;
    let dashboard_tables = dashboard::tables();
    let legacy = is_legacy(src, &schema, mode)?;
    let to_infer = sort_tables(src, &schema, &dashboard_tables, legacy, target_dashboard)?;
    let conn = src.connect()?;
    if legacy {
        report.notes.extend(absurd_password_hashes(&conn)?);
    }
    let mut taken = HashSet::new();
    let mut inferred = Vec::new();
    for name in &to_infer {
        let i = infer::infer(&conn, name, &mut taken)
            .map_err(|e| MigrateError::Read(format!("inferring the types of {name}: {e}")))?;
        for n in &i.notes {
            if n.kind == super::keys::LOST_UNIQUENESS {
                report.lost_uniqueness.push(n.clone());
            } else {
                report.notes.push(n.clone());
            }
        }
        inferred.push(i);
    }
    report_skipped(&schema, &dashboard_tables, legacy, report);
    let mut tables = if legacy { dashboard_tables } else { Vec::new() };
    let mut columns = present_columns(&tables, &schema);
    for i in &inferred {
        columns.insert(i.table.name, i.table.columns.clone());
        tables.push(i.table.clone());
    }
    report.mode = match (legacy, inferred.is_empty()) {
        (true, true) => "dashboard",
        (true, false) => "dashboard+inferred",
        (false, _) => "inferred",
    }
    .into();
    Ok(Plan {
        tables,
        columns,
        schema,
        legacy,
        inferred,
    })
}

/// Whether the source is the legacy dashboard: it has every legacy table and the mode
/// allows it. `--schema dashboard` on anything else is refused, naming what is missing.
fn is_legacy(
    src: &Source,
    schema: &source::Schema,
    mode: SchemaMode,
) -> Result<bool, MigrateError> {
    let missing: Vec<&str> = dashboard::LEGACY_TABLES
        .iter()
        .copied()
        .filter(|t| schema.table(t).is_none())
        .collect();
    let legacy = missing.is_empty() && mode != SchemaMode::Infer;
    if mode == SchemaMode::Dashboard && !legacy {
        return Err(MigrateError::Unsupported(format!(
            "{} is not a legacy dashboard database: it lacks the table(s) {} (--schema auto \
             migrates any SQLite database by type inference)",
            src.path.display(),
            missing.join(", ")
        )));
    }
    Ok(legacy)
}

/// The source's tables that are not the dashboard's own, whose types are inferred. Into a
/// target that holds the dashboard schema, a dashboard-named table of another shape is
/// refused; into one that does not, it is a table like any other. A legacy table with
/// columns the dashboard has no place for is refused: nothing is dropped silently.
fn sort_tables(
    src: &Source,
    schema: &source::Schema,
    dashboard_tables: &[Table],
    legacy: bool,
    target_dashboard: bool,
) -> Result<Vec<String>, MigrateError> {
    let mut extra_columns = Vec::new();
    let mut to_infer = Vec::new();
    for t in schema
        .tables
        .iter()
        .filter(|t| !t.virtual_table || t.readable_virtual())
    {
        match dashboard_tables.iter().find(|d| d.name == t.name) {
            Some(d) if legacy => extra_columns.extend(
                t.columns
                    .iter()
                    .filter(|c| d.column(c).is_none())
                    .map(|c| format!("{}.{c}", t.name)),
            ),
            Some(_) if target_dashboard => {
                return Err(MigrateError::Unsupported(format!(
                    "{}: table {} has the name of one of the dashboard's own tables but not its \
                     shape, and the target holds the dashboard schema: migrate this database \
                     into a database of its own",
                    src.path.display(),
                    t.name
                )))
            }
            Some(_) | None => to_infer.push(t.name.clone()),
        }
    }
    if !extra_columns.is_empty() {
        return Err(MigrateError::Unsupported(format!(
            "{} has column(s) {} that the dashboard schema has no place for, and dropping them \
             is not an option: add them to the dashboard schema first, or migrate with \
             --schema infer into a database of its own",
            src.path.display(),
            extra_columns.join(", ")
        )));
    }
    Ok(to_infer)
}

/// What is not migrated, with why: virtual tables, views, triggers, and the legacy
/// tables' indexes (the dashboard schema brings its own).
fn report_skipped(
    schema: &source::Schema,
    dashboard_tables: &[Table],
    legacy: bool,
    report: &mut Report,
) {
    for t in schema.tables.iter().filter(|t| t.virtual_table) {
        let (kind, why) = match t.module.as_deref() {
            Some(m) if t.readable_virtual() && m.starts_with("fts") => (
                "full-text index",
                format!(
                    "its rows arrive as a plain table of its columns; the {m} index itself is \
                     not migrated: in PostgreSQL, add a tsvector column and a GIN index, e.g. \
                     ALTER TABLE {0} ADD COLUMN search tsvector GENERATED ALWAYS AS \
                     (to_tsvector('simple', {1})) STORED; CREATE INDEX ON {0} USING gin (search)",
                    super::ident::quote(&t.name),
                    t.columns
                        .iter()
                        .map(|c| format!("coalesce({}, '')", super::ident::quote(c)))
                        .collect::<Vec<_>>()
                        .join(" || ' ' || ")
                ),
            ),
            Some(m) if t.readable_virtual() => (
                "spatial index",
                format!(
                    "its rows (id and bounds) arrive as a plain table; the {m} index itself is \
                     not migrated (PostgreSQL's box type or PostGIS with a GiST index replaces it)"
                ),
            ),
            _ => (
                "virtual table",
                "virtual tables belong to a SQLite extension; their data is not migrated".into(),
            ),
        };
        report.skipped.push(report::Skipped {
            kind: kind.into(),
            name: t.name.clone(),
            why,
        });
    }
    for o in &schema.others {
        let why = match o.kind.as_str() {
            "index" if legacy && dashboard_tables.iter().any(|d| d.name == o.table) => {
                "replaced by the dashboard schema's own indexes"
            }
            "index" => continue, // inferred tables' indexes are translated (or noted) by infer
            "view" => "views are not migrated; recreate it in PostgreSQL if still needed",
            "shadow table" => {
                "a virtual table's own storage: its rows arrive through the virtual table"
            }
            "trigger" => {
                "triggers are not migrated; SQLite trigger bodies do not run in PostgreSQL"
            }
            _ => "not migrated",
        };
        report.skip(o, why);
    }
}

/// Per dashboard table: the target columns the source has, in target order.
fn present_columns(
    tables: &[Table],
    schema: &source::Schema,
) -> HashMap<&'static str, Vec<Column>> {
    tables
        .iter()
        .map(|t| {
            let present = match schema.table(t.name) {
                Some(st) => t
                    .columns
                    .iter()
                    .filter(|c| st.columns.iter().any(|s| s == c.name))
                    .cloned()
                    .collect(),
                None => Vec::new(),
            };
            (t.name, present)
        })
        .collect()
}

impl Plan {
    /// Load order: the dashboard's parents-first waves, then every inferred table at once
    /// (their foreign keys are checked by PostgreSQL after the load).
    pub fn waves(&self) -> Vec<Vec<&'static str>> {
        let mut waves: Vec<Vec<&'static str>> = Vec::new();
        if self.legacy {
            waves.extend(DASHBOARD_WAVES.iter().map(|w| w.to_vec()));
        }
        if !self.inferred.is_empty() {
            waves.push(self.inferred.iter().map(|i| i.table.name).collect());
        }
        waves
    }

    /// The dashboard's own tables in this migration (none for a non-legacy source).
    pub fn dashboard_tables(&self) -> Vec<Table> {
        if self.legacy {
            self.tables
                .iter()
                .filter(|t| self.inferred.iter().all(|i| i.table.name != t.name))
                .cloned()
                .collect()
        } else {
            Vec::new()
        }
    }

    /// (table, identity column, SQLite table) for every table with an identity.
    pub fn identities(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut out: Vec<_> = self
            .dashboard_tables()
            .iter()
            .map(|t| (t.name, "id", t.name.to_string()))
            .collect();
        for i in &self.inferred {
            if let Some(col) = i.identity {
                out.push((
                    i.table.name,
                    col,
                    i.table.source.unwrap_or(i.table.name).to_string(),
                ));
            }
        }
        out
    }
}

/// Parents first: a table's foreign keys point only to tables in earlier waves.
const DASHBOARD_WAVES: [&[&str]; 3] = [
    &["users", "validation_suites"],
    &["api_tokens", "validation_runs"],
    &["validation_results"],
];
