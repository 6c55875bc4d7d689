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
    /// Partial and expression indexes translated, to be tried on the empty staged table.
    pub tentative: Vec<keys::Tentative>,
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
    // SQLite lets a PRIMARY KEY that is not the rowid hold NULLs (a long-standing quirk);
    // PostgreSQL's cannot: such a key becomes UNIQUE (NULLs distinct) and every row arrives.
    let null_keys: Vec<String> = cols
        .iter()
        .zip(&seen)
        .filter(|(c, s)| c.pk > 0 && s.nulls > 0)
        .map(|(c, s)| format!("{} in {} row(s)", c.name, s.nulls))
        .collect();
    if !null_keys.is_empty() {
        note(
            &mut notes,
            "primary key",
            name,
            format!(
                "holds NULL ({}), which SQLite allows in a PRIMARY KEY that is not INTEGER: every \
                 row arrives and the key is a UNIQUE constraint (NULLs distinct) instead",
                null_keys.join(", ")
            ),
        );
    }
    let (indexes, foreign_keys, tentative) = keys::translate(
        conn,
        (name, &table_pg, &columns),
        (&pk_names, !null_keys.is_empty()),
        taken,
        &mut notes,
    )?;
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
        tentative,
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
        "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) \
         WHERE hidden <> 1 ORDER BY cid",
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
    // Integers in a timestamp column are epoch seconds, or milliseconds when every one of
    // them has 13 digits; the report says which.
    let epoch_ms = kind == Kind::Timestamptz && seen.ints > 0 && seen.ints_epoch_ms;
    if kind == Kind::Timestamptz && seen.ints > 0 {
        let unit = if epoch_ms {
            "milliseconds (every integer there has 13 digits)"
        } else {
            "seconds"
        };
        note(
            notes,
            "column",
            &shown,
            format!("its integers are read as unix epoch {unit}"),
        );
    }
    let column = Column {
        name: leak(pg.clone()),
        source: (pg != c.name).then(|| leak(c.name.clone())),
        kind,
        nullable: !(c.notnull || is_identity),
        one_of: None,
        references: None,
        widen: widened.is_some(),
        epoch_ms,
    };
    (def, column)
}

/// A SQLite column default as PostgreSQL SQL, when it is one we can translate: literals
/// (numbers, quoted text, `X'…'` blobs, NULL, booleans) and the time of the insert
/// (`CURRENT_TIMESTAMP`, `CURRENT_DATE`, `CURRENT_TIME`, `datetime('now')`, `date('now')`,
/// `time('now')`, `strftime('%s','now')`), in the column's PostgreSQL type. SQLite's
/// text timestamps are UTC, and so are the defaults that stand for them.
fn translate_default(d: &str, kind: Kind) -> Option<String> {
    let t = unwrap_parens(d.trim());
    let upper = t.to_ascii_uppercase();
    let compact: String = upper.chars().filter(|c| !c.is_whitespace()).collect();
    if upper == "NULL" {
        return Some("NULL".into());
    }
    if let Some(now) = insert_time(&compact, kind) {
        return now;
    }
    if let Some(hex) = upper.strip_prefix("X'").and_then(|x| x.strip_suffix('\'')) {
        let hex_ok = hex.len() % 2 == 0 && hex.chars().all(|c| c.is_ascii_hexdigit());
        return (kind == Kind::Bytea && hex_ok)
            .then(|| format!("'\\x{}'::bytea", hex.to_lowercase()));
    }
    // A quoted literal (SQLite lets numbers and booleans be quoted too).
    let quoted = t
        .strip_prefix('\'')
        .and_then(|x| x.strip_suffix('\''))
        .filter(|x| !x.replace("''", "").contains('\''));
    let bare = quoted.unwrap_or(t);
    let integer = bare.parse::<i64>().is_ok();
    let numeric = integer || bare.parse::<f64>().is_ok_and(|f| f.is_finite());
    let lower = bare.to_ascii_lowercase();
    match kind {
        Kind::Int8 if integer => Some(bare.into()),
        Kind::Float8 | Kind::Numeric if numeric => Some(bare.into()),
        Kind::Bool => match lower.as_str() {
            "1" | "true" | "t" | "yes" => Some("true".into()),
            "0" | "false" | "f" | "no" => Some("false".into()),
            _ => None,
        },
        Kind::Text if quoted.is_some() => Some(t.into()),
        Kind::Text if numeric => Some(format!("'{t}'")),
        Kind::Bytea if quoted.is_some() => Some(format!("convert_to({t}, 'UTF8')")),
        Kind::Jsonb
            if quoted.is_some_and(|q| {
                serde_json::from_str::<serde_json::Value>(&q.replace("''", "'")).is_ok()
            }) =>
        {
            Some(format!("{t}::jsonb"))
        }
        Kind::Jsonb if numeric => Some(format!("'{bare}'::jsonb")),
        Kind::Timestamptz if quoted.is_some() && bare.len() >= 10 && bare.as_bytes()[4] == b'-' => {
            Some(format!("({t}::timestamp AT TIME ZONE 'UTC')"))
        }
        _ => None,
    }
}

/// `((x))` → `x`: the parentheses SQLite keeps around an expression default, when they
/// enclose all of it.
fn unwrap_parens(mut t: &str) -> &str {
    while let Some(inner) = t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        let mut depth = 0i32;
        let encloses = inner.chars().all(|c| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            depth >= 0
        });
        if !encloses || depth != 0 {
            break;
        }
        t = inner.trim();
    }
    t
}

/// The time of the insert, as SQLite's defaults name it, in `kind`; `Some(None)` for one
/// that has no meaning in that type.
fn insert_time(compact: &str, kind: Kind) -> Option<Option<String>> {
    let (timestamp, text_format) = match compact {
        "CURRENT_TIMESTAMP" | "DATETIME('NOW')" => ("now()", "YYYY-MM-DD HH24:MI:SS"),
        "CURRENT_DATE" | "DATE('NOW')" => (
            "(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
            "YYYY-MM-DD",
        ),
        "CURRENT_TIME" | "TIME('NOW')" => ("", "HH24:MI:SS"),
        "STRFTIME('%S','NOW')" => {
            let epoch = "(extract(epoch FROM now()))::bigint";
            return Some(match kind {
                Kind::Int8 => Some(epoch.into()),
                Kind::Float8 | Kind::Numeric => Some(format!("{epoch}::{}", kind.sql())),
                Kind::Text => Some(format!("{epoch}::text")),
                Kind::Timestamptz => Some("date_trunc('second', now())".into()),
                _ => None,
            });
        }
        _ => return None,
    };
    Some(match kind {
        Kind::Timestamptz if !timestamp.is_empty() => Some(timestamp.into()),
        Kind::Text => Some(format!(
            "to_char(now() AT TIME ZONE 'UTC', '{text_format}')"
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_become_their_postgresql_equivalents() {
        let cases: [(&str, Kind, Option<&str>); 18] = [
            ("''", Kind::Text, Some("''")),
            ("'it''s'", Kind::Text, Some("'it''s'")),
            ("-1", Kind::Int8, Some("-1")),
            ("(-1)", Kind::Int8, Some("-1")),
            ("'42'", Kind::Int8, Some("42")),
            ("-2.5e3", Kind::Float8, Some("-2.5e3")),
            ("X'00ff'", Kind::Bytea, Some("'\\x00ff'::bytea")),
            ("X'0'", Kind::Bytea, None),
            ("'yes'", Kind::Bool, Some("true")),
            ("CURRENT_TIMESTAMP", Kind::Timestamptz, Some("now()")),
            ("(datetime('now'))", Kind::Timestamptz, Some("now()")),
            (
                "CURRENT_TIMESTAMP",
                Kind::Text,
                Some("to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"),
            ),
            (
                "CURRENT_DATE",
                Kind::Text,
                Some("to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
            ),
            (
                "CURRENT_TIME",
                Kind::Text,
                Some("to_char(now() AT TIME ZONE 'UTC', 'HH24:MI:SS')"),
            ),
            ("CURRENT_TIME", Kind::Timestamptz, None),
            (
                "(strftime('%s', 'now'))",
                Kind::Int8,
                Some("(extract(epoch FROM now()))::bigint"),
            ),
            ("(random())", Kind::Int8, None),
            ("(1) + (2)", Kind::Int8, None),
        ];
        for (sqlite, kind, want) in cases {
            assert_eq!(
                translate_default(sqlite, kind).as_deref(),
                want,
                "{sqlite} as {kind:?}"
            );
        }
    }

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
