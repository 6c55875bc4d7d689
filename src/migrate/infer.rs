//! Tables that are not the dashboard's: their PostgreSQL types are inferred from the
//! declared type and a scan of the actual values, choosing a type that holds every value
//! exactly (bigint; double precision only when every integer is exact in it, else numeric;
//! boolean only for 0/1; timestamptz; jsonb; bytea for text that is not UTF-8). Keys,
//! unique and plain indexes (DESC kept), foreign keys, identities and literal defaults are
//! recreated; what cannot be (partial and expression indexes, other defaults) is reported.
//! Identifiers are quoted everywhere, passed to pragma functions as bound parameters, and
//! shortened to PostgreSQL's 63 bytes with a hash suffix so two long names never collide.

use std::collections::HashSet;

use rusqlite::Connection;

use super::convert::Kind;
use super::dashboard::{Column, Table};
use super::ident::{pg_name, quote, unique_name, STAGE};
use super::keys;
use super::report::Skipped;
use super::types::{decide, Seen};

/// An inferred table: what to create, what to add after the load, what was decided.
#[derive(Debug, Clone)]
pub struct Inferred {
    pub table: Table,
    pub create: String,
    /// Primary key, unique and plain indexes (after the load; independent).
    pub indexes: Vec<String>,
    /// Foreign keys (after every table's keys): (SQL, description).
    pub foreign_keys: Vec<(String, String)>,
    /// Widenings, renames and objects not translated, for the report.
    pub notes: Vec<Skipped>,
    /// The identity column, when the table has an INTEGER PRIMARY KEY rowid alias.
    pub identity: Option<&'static str>,
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

struct SourceColumn {
    name: String,
    declared: String,
    notnull: bool,
    default: Option<String>,
    pk: i64,
    generated: bool,
}

/// Infers one table. `taken` holds the PostgreSQL names already used (tables and indexes).
pub fn infer(
    conn: &Connection,
    name: &str,
    taken: &mut HashSet<String>,
) -> rusqlite::Result<Inferred> {
    let mut notes = Vec::new();
    let cols = source_columns(conn, name)?;
    let without_rowid = without_rowid(conn, name);
    let seen = scan(conn, name, &cols)?;

    let table_pg = unique_name(name, taken);
    if table_pg != name {
        note(
            &mut notes,
            "table",
            name,
            format!("renamed to {table_pg} (PostgreSQL names are at most 63 bytes)"),
        );
    }
    let pk_cols: Vec<&SourceColumn> = {
        let mut v: Vec<&SourceColumn> = cols.iter().filter(|c| c.pk > 0).collect();
        v.sort_by_key(|c| c.pk);
        v
    };
    let rowid_alias =
        !without_rowid && pk_cols.len() == 1 && pk_cols[0].declared.eq_ignore_ascii_case("INTEGER");
    let mut columns = Vec::new();
    let mut defs = Vec::new();
    let mut used_cols = HashSet::new();
    let mut identity = None;
    for (c, s) in cols.iter().zip(&seen) {
        let is_identity_candidate = rowid_alias && c.pk == 1;
        let (def, column) = column(name, c, s, is_identity_candidate, &mut notes);
        if !used_cols.insert(column.name) {
            note(
                &mut notes,
                "column",
                &format!("{name}.{}", c.name),
                "two columns map to one PostgreSQL name".into(),
            );
        }
        if is_identity_candidate && column.kind == Kind::Int8 {
            identity = Some(column.name);
        }
        defs.push(def);
        columns.push(column);
    }
    let create = format!(
        "CREATE TABLE {STAGE}.{} ({})",
        quote(&table_pg),
        defs.join(", ")
    );
    let pk_names: Vec<String> = pk_cols.iter().map(|c| c.name.clone()).collect();
    let (indexes, foreign_keys) =
        keys::translate(conn, name, &table_pg, &pk_names, taken, &mut notes)?;
    Ok(Inferred {
        table: Table {
            name: leak(table_pg.clone()),
            columns,
            source: (table_pg != name).then(|| leak(name.to_string())),
            rowid: !without_rowid,
        },
        create,
        indexes,
        foreign_keys,
        notes,
        identity,
    })
}

fn note(notes: &mut Vec<Skipped>, kind: &str, n: &str, why: String) {
    notes.push(Skipped {
        kind: kind.into(),
        name: n.into(),
        why,
    })
}

/// The table's columns as SQLite declares them (generated columns included).
fn source_columns(conn: &Connection, name: &str) -> rusqlite::Result<Vec<SourceColumn>> {
    let mut stmt = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid",
    )?;
    let cols = stmt
        .query_map([name], |r| {
            Ok(SourceColumn {
                name: r.get(0)?,
                declared: r.get(1)?,
                notnull: r.get::<_, i64>(2)? != 0,
                default: r.get(3)?,
                pk: r.get(4)?,
                generated: r.get::<_, i64>(5)? >= 2,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(cols)
}

/// Whether the table is declared WITHOUT ROWID.
fn without_rowid(conn: &Connection, name: &str) -> bool {
    conn.query_row(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|w| w != 0)
    .unwrap_or(false)
}

/// One pass over the table's values: what each column actually holds.
fn scan(conn: &Connection, name: &str, cols: &[SourceColumn]) -> rusqlite::Result<Vec<Seen>> {
    let mut seen: Vec<Seen> = cols.iter().map(|_| Seen::new()).collect();
    if cols.is_empty() {
        return Ok(seen);
    }
    let list: Vec<String> = cols.iter().map(|c| quote(&c.name)).collect();
    let mut q = conn.prepare(&format!("SELECT {} FROM {}", list.join(", "), quote(name)))?;
    let mut rows = q.query([])?;
    while let Some(row) = rows.next()? {
        for (i, s) in seen.iter_mut().enumerate() {
            s.see(row.get_ref(i)?);
        }
    }
    Ok(seen)
}

/// One column's definition in the CREATE TABLE and its [`Column`]; renames, widenings,
/// generated columns and defaults not translated go to `notes`. An INTEGER PRIMARY KEY
/// (rowid alias) that stays bigint becomes an identity.
fn column(
    table: &str,
    c: &SourceColumn,
    seen: &Seen,
    rowid_alias: bool,
    notes: &mut Vec<Skipped>,
) -> (String, Column) {
    let (kind, widened) = decide(&c.declared, seen);
    let pg = pg_name(&c.name);
    let shown = format!("{table}.{}", c.name);
    if pg != c.name {
        note(notes, "column", &shown, format!("renamed to {pg}"));
    }
    if let Some(why) = &widened {
        note(notes, "column", &shown, format!("widened to {why}"));
    }
    if c.generated {
        note(
            notes,
            "column",
            &shown,
            "a generated column: its values are migrated as a plain column".into(),
        );
    }
    let is_identity = rowid_alias && kind == Kind::Int8;
    let mut def = format!("{} {}", quote(&pg), kind.sql());
    if is_identity {
        def.push_str(" GENERATED BY DEFAULT AS IDENTITY");
    }
    if c.notnull || is_identity {
        def.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        match translate_default(d, kind) {
            Some(sql) if !is_identity => def.push_str(&format!(" DEFAULT {sql}")),
            Some(_) => {}
            None => note(
                notes,
                "default",
                &shown,
                format!(
                    "DEFAULT {d} is not a literal this migration translates; the column has no default"
                ),
            ),
        }
    }
    let column = Column {
        name: leak(pg.clone()),
        source: (pg != c.name).then(|| leak(c.name.clone())),
        kind,
        nullable: !(c.notnull || is_identity),
        one_of: None,
        references: None,
        widen: widened.is_some(),
    };
    (def, column)
}

/// A SQLite column default as PostgreSQL SQL, when it is a literal we can translate.
fn translate_default(d: &str, kind: Kind) -> Option<String> {
    let t = d.trim();
    let upper = t.to_ascii_uppercase();
    if upper == "NULL" {
        return Some("NULL".into());
    }
    if upper == "CURRENT_TIMESTAMP" && kind == Kind::Timestamptz {
        return Some("now()".into());
    }
    let numeric = t.parse::<i64>().is_ok() || t.parse::<f64>().is_ok_and(|f| f.is_finite());
    match kind {
        Kind::Int8 if t.parse::<i64>().is_ok() => Some(t.into()),
        Kind::Float8 | Kind::Numeric if numeric => Some(t.into()),
        Kind::Bool if t == "0" || t == "1" => Some(if t == "1" { "true" } else { "false" }.into()),
        Kind::Bool if upper == "TRUE" || upper == "FALSE" => Some(upper.to_lowercase()),
        Kind::Text if t.starts_with('\'') && t.ends_with('\'') && t.len() >= 2 => Some(t.into()),
        Kind::Text if numeric => Some(format!("'{t}'")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_shortened_without_collisions() {
        let a = "a".repeat(70);
        let b = format!("{}b", "a".repeat(69));
        assert_eq!(pg_name("short"), "short");
        assert!(pg_name(&a).len() <= 63);
        assert_ne!(pg_name(&a), pg_name(&b));
        let multibyte = "é".repeat(40);
        assert!(pg_name(&multibyte).len() <= 63);
    }
}
