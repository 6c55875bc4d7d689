//! Keys of an inferred table: its primary key, unique and plain indexes (DESC kept) and
//! foreign keys, translated from SQLite's pragmas; partial and expression indexes and
//! other collations are reported, not guessed.

use std::collections::HashSet;

use rusqlite::Connection;

use super::dashboard::Column;
use super::ident::{pg_name, quote, unique_name, STAGE};
use super::report::Skipped;

fn note(notes: &mut Vec<Skipped>, kind: &str, n: &str, why: String) {
    notes.push(Skipped {
        kind: kind.into(),
        name: n.into(),
        why,
    })
}

/// Statements run after the load, foreign keys as (statement, description), and the
/// translated partial and expression indexes, tried on the empty staged table first.
pub type Keys = (Vec<String>, Vec<(String, String)>, Vec<Tentative>);

/// A partial or expression index in PostgreSQL's words, trusted only once PostgreSQL
/// accepts it on the empty staged table.
#[derive(Debug, Clone)]
pub struct Tentative {
    pub sql: String,
    /// The SQLite index's name.
    pub name: String,
    pub unique: bool,
}

/// (statements run after the load: PK, unique and plain indexes; foreign keys with a
/// description) for SQLite table `name`, created as `table_pg`.
/// `(pk_cols, unique)`: the primary key's columns, and whether it must be a UNIQUE
/// constraint instead (it holds NULLs).
pub fn translate(
    conn: &Connection,
    (name, table_pg, columns): (&str, &str, &[Column]),
    (pk_cols, unique): (&[String], bool),
    taken: &mut HashSet<String>,
    notes: &mut Vec<Skipped>,
) -> rusqlite::Result<Keys> {
    let mut statements = Vec::new();
    if !pk_cols.is_empty() {
        let pk_name = unique_name(&format!("{table_pg}_pkey"), taken);
        let list: Vec<String> = pk_cols.iter().map(|c| col_pg(c)).collect();
        statements.push(format!(
            "ALTER TABLE {STAGE}.{} ADD CONSTRAINT {} {} ({})",
            quote(table_pg),
            quote(&pk_name),
            if unique { "UNIQUE" } else { "PRIMARY KEY" },
            list.join(", ")
        ));
    }
    let (plain, tentative) = indexes(conn, (name, table_pg, columns), taken, notes)?;
    statements.extend(plain);
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
    Ok((statements, foreign_keys, tentative))
}

/// A SQLite column name as a quoted PostgreSQL one.
fn col_pg(n: &str) -> String {
    quote(&pg_name(n))
}

/// One key column of an index: (column id, -1 or -2 for an expression; name; DESC;
/// collation).
type IndexPart = (i64, Option<String>, bool, Option<String>);

/// The table's unique and plain indexes (not its primary key) as CREATE INDEX
/// statements, and its partial and expression indexes translated where they can be
/// (`sql_expr`); the others are reported — a UNIQUE one as a lost uniqueness guarantee.
fn indexes(
    conn: &Connection,
    (name, table_pg, columns): (&str, &str, &[Column]),
    taken: &mut HashSet<String>,
    notes: &mut Vec<Skipped>,
) -> rusqlite::Result<(Vec<String>, Vec<Tentative>)> {
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
    let mut tentative = Vec::new();
    for (iname, unique, origin, partial) in idx {
        if origin == "pk" {
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
        if partial || parts.iter().any(|(cid, ..)| *cid < 0) {
            let pg_index = unique_name(&pg_name(&iname), taken);
            match translated(conn, &iname, unique, (&pg_index, table_pg, columns)) {
                Some(sql) => tentative.push(Tentative {
                    sql,
                    name: iname,
                    unique,
                }),
                None => untranslated(notes, &iname, unique, partial),
            }
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
    Ok((out, tentative))
}

/// A partial or expression index that was not translated, reported; a UNIQUE one as a
/// lost uniqueness guarantee (the report shows those first).
pub fn untranslated(notes: &mut Vec<Skipped>, index: &str, unique: bool, partial: bool) {
    let what = if partial {
        "a partial index"
    } else {
        "an expression index"
    };
    if unique {
        note(
            notes,
            LOST_UNIQUENESS,
            index,
            format!("{what} that is UNIQUE and could not be translated: create it by hand"),
        );
    } else {
        note(
            notes,
            "index",
            index,
            format!("{what}: not translated; create it by hand if needed"),
        );
    }
}

/// The kind of note the report moves to its top (`Report::lost_uniqueness`).
pub const LOST_UNIQUENESS: &str = "lost uniqueness";

/// The SQLite index `index` as a PostgreSQL CREATE INDEX named `pg_index` on the staged
/// `table_pg`, when every key and its WHERE clause translate.
fn translated(
    conn: &Connection,
    index: &str,
    unique: bool,
    (pg_index, table_pg, columns): (&str, &str, &[Column]),
) -> Option<String> {
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1",
            [index],
            |r| r.get(0),
        )
        .ok()?;
    let (keys, filter) = super::sql_expr::index_parts(&sql)?;
    let lookup = |n: &str| {
        columns
            .iter()
            .find(|c| c.source.unwrap_or(c.name) == n)
            .map(|c| (c.name.to_string(), c.kind))
    };
    let keys: Vec<String> = keys
        .iter()
        .map(|(expr, desc)| {
            super::sql_expr::translate(expr, &lookup)
                .map(|k| format!("({k}){}", if *desc { " DESC" } else { "" }))
        })
        .collect::<Option<_>>()?;
    let filter = match filter {
        Some(f) => format!(" WHERE {}", super::sql_expr::translate(&f, &lookup)?),
        None => String::new(),
    };
    Some(format!(
        "CREATE {}INDEX {} ON {STAGE}.{} ({}){filter}",
        if unique { "UNIQUE " } else { "" },
        quote(pg_index),
        quote(table_pg),
        keys.join(", ")
    ))
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
