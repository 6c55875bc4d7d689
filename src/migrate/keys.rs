//! Keys of an inferred table: its primary key, unique and plain indexes (DESC kept) and
//! foreign keys, translated from SQLite's pragmas; partial and expression indexes and
//! other collations are reported, not guessed.

use std::collections::HashSet;

use rusqlite::Connection;

use super::ident::{pg_name, quote, unique_name, STAGE};
use super::report::Skipped;

fn note(notes: &mut Vec<Skipped>, kind: &str, n: &str, why: String) {
    notes.push(Skipped {
        kind: kind.into(),
        name: n.into(),
        why,
    })
}

/// Statements run after the load, and foreign keys as (statement, description).
pub type Keys = (Vec<String>, Vec<(String, String)>);

/// (statements run after the load: PK, unique and plain indexes; foreign keys with a
/// description) for SQLite table `name`, created as `table_pg`.
pub fn translate(
    conn: &Connection,
    name: &str,
    table_pg: &str,
    pk_cols: &[String],
    taken: &mut HashSet<String>,
    notes: &mut Vec<Skipped>,
) -> rusqlite::Result<Keys> {
    let mut statements = Vec::new();
    if !pk_cols.is_empty() {
        let pk_name = unique_name(&format!("{table_pg}_pkey"), taken);
        let list: Vec<String> = pk_cols.iter().map(|c| col_pg(c)).collect();
        statements.push(format!(
            "ALTER TABLE {STAGE}.{} ADD CONSTRAINT {} PRIMARY KEY ({})",
            quote(table_pg),
            quote(&pk_name),
            list.join(", ")
        ));
    }
    statements.extend(indexes(conn, name, table_pg, taken, notes)?);
    let foreign_keys = foreign_keys(conn, name, table_pg, taken)?;
    if !foreign_keys.is_empty() && declares_deferrable(conn, name) {
        note(
            notes,
            "foreign key",
            name,
            "the table declares DEFERRABLE foreign keys; they were created NOT DEFERRABLE \
             (checked at each statement): alter them by hand if the application relies on deferral"
                .into(),
        );
    }
    Ok((statements, foreign_keys))
}

/// A SQLite column name as a quoted PostgreSQL one.
fn col_pg(n: &str) -> String {
    quote(&pg_name(n))
}

/// One key column of an index: (column id, -1 or -2 for an expression; name; DESC;
/// collation).
type IndexPart = (i64, Option<String>, bool, Option<String>);

/// The table's unique and plain indexes (not its primary key) as CREATE INDEX
/// statements; partial and expression indexes are reported instead.
fn indexes(
    conn: &Connection,
    name: &str,
    table_pg: &str,
    taken: &mut HashSet<String>,
    notes: &mut Vec<Skipped>,
) -> rusqlite::Result<Vec<String>> {
    let mut il = conn.prepare(
        "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1) ORDER BY seq",
    )?;
    let idx: Vec<(String, bool, String, bool)> = il
        .query_map([name], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? != 0,
                r.get(2)?,
                r.get::<_, i64>(3)? != 0,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (iname, unique, origin, partial) in idx {
        if origin == "pk" {
            continue;
        }
        if partial {
            note(
                notes,
                "index",
                &iname,
                "a partial index (WHERE …): not translated; create it by hand if needed".into(),
            );
            continue;
        }
        let mut ix = conn.prepare(
            "SELECT cid, name, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno",
        )?;
        let parts: Vec<IndexPart> = ix
            .query_map([&iname], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        if parts.iter().any(|(cid, ..)| *cid < 0) {
            note(
                notes,
                "index",
                &iname,
                "an expression index: not translated; create it by hand if needed".into(),
            );
            continue;
        }
        if parts
            .iter()
            .any(|(.., coll)| coll.as_deref().is_some_and(|c| c != "BINARY"))
        {
            note(notes, "index", &iname, "its collation (e.g. NOCASE) has no PostgreSQL equivalent here; built with the default".into());
        }
        let cols_sql: Vec<String> = parts
            .iter()
            .map(|(_, n, desc, _)| {
                format!(
                    "{}{}",
                    col_pg(n.as_deref().unwrap_or("")),
                    if *desc { " DESC" } else { "" }
                )
            })
            .collect();
        let base = if origin == "u" {
            let names: Vec<String> = parts
                .iter()
                .map(|(_, n, ..)| n.clone().unwrap_or_default())
                .collect();
            format!("{table_pg}_{}_key", names.join("_"))
        } else {
            iname.clone()
        };
        let pg_index = unique_name(&pg_name(&base), taken);
        out.push(format!(
            "CREATE {}INDEX {} ON {STAGE}.{} ({})",
            if unique { "UNIQUE " } else { "" },
            quote(&pg_index),
            quote(table_pg),
            cols_sql.join(", ")
        ));
    }
    Ok(out)
}

/// One row of `pragma_foreign_key_list`: (id, parent table, from, to, on update, on
/// delete).
type FkRow = (i64, String, String, Option<String>, String, String);

/// The table's foreign keys as (ALTER TABLE statement, description); a key whose parent
/// columns are not named references the parent's primary key.
fn foreign_keys(
    conn: &Connection,
    name: &str,
    table_pg: &str,
    taken: &mut HashSet<String>,
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut fl = conn.prepare(
        "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
    )?;
    let fk_rows: Vec<FkRow> = fl
        .query_map([name], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut foreign_keys = Vec::new();
    let mut i = 0;
    while i < fk_rows.len() {
        let id = fk_rows[i].0;
        let group: Vec<_> = fk_rows.iter().filter(|r| r.0 == id).collect();
        i += group.len();
        let parent = &group[0].1;
        let from: Vec<String> = group.iter().map(|r| col_pg(&r.2)).collect();
        let to: Vec<String> = if group.iter().all(|r| r.3.is_some()) {
            group
                .iter()
                .map(|r| col_pg(r.3.as_deref().unwrap()))
                .collect()
        } else {
            let mut pk =
                conn.prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?;
            let names = pk
                .query_map([parent], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            names.iter().map(|n| col_pg(n)).collect()
        };
        let fk_name = unique_name(&pg_name(&format!("{table_pg}_fk{id}")), taken);
        let sql = format!(
            "ALTER TABLE {STAGE}.{} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {STAGE}.{} ({}) ON UPDATE {} ON DELETE {}",
            quote(table_pg),
            quote(&fk_name),
            from.join(", "),
            quote(&pg_name(parent)),
            to.join(", "),
            action(&group[0].4),
            action(&group[0].5)
        );
        let columns: Vec<&str> = group.iter().map(|r| r.2.as_str()).collect();
        foreign_keys.push((sql, format!("{name}({}) → {parent}", columns.join(", "))));
    }
    Ok(foreign_keys)
}

/// A foreign key's ON UPDATE / ON DELETE action as PostgreSQL spells it.
fn action(a: &str) -> &'static str {
    match a.to_ascii_uppercase().as_str() {
        "CASCADE" => "CASCADE",
        "SET NULL" => "SET NULL",
        "SET DEFAULT" => "SET DEFAULT",
        "RESTRICT" => "RESTRICT",
        _ => "NO ACTION",
    }
}

/// Whether the table's SQL declares a DEFERRABLE key (`pragma_foreign_key_list` does
/// not say).
fn declares_deferrable(conn: &Connection, name: &str) -> bool {
    let sql: String = conn
        .query_row(
            "SELECT coalesce(sql, '') FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap_or_default();
    sql.to_ascii_uppercase().contains("DEFERRABLE")
}
