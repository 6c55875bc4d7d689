//! Tables that are not the dashboard's: their PostgreSQL types are inferred from the
//! declared type and a scan of the actual values, choosing a type that holds every value
//! exactly (bigint; double precision only when every integer is exact in it, else numeric;
//! boolean only for 0/1; timestamptz; jsonb; bytea for text that is not UTF-8). Keys,
//! unique and plain indexes (DESC kept), foreign keys, identities and literal defaults are
//! recreated; what cannot be (partial and expression indexes, other defaults) is reported.
//! Identifiers are quoted everywhere, passed to pragma functions as bound parameters, and
//! shortened to PostgreSQL's 63 bytes with a hash suffix so two long names never collide.

use std::collections::HashSet;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::canonical::check_json;
use super::convert::{parse_timestamp, Kind};
use super::dashboard::{Column, Table};
use super::report::Skipped;
use super::stage::STAGE;

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

pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A PostgreSQL identifier for `name`: itself when it fits in 63 bytes, else a prefix and
/// 8 hex digits of its sha256 (so distinct long names stay distinct).
pub fn pg_name(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_string();
    }
    let mut cut = 54;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let h = hex::encode(Sha256::digest(name.as_bytes()));
    format!("{}_{}", &name[..cut], &h[..8])
}

#[derive(Default, Debug)]
struct Seen {
    ints: u64,
    reals: u64,
    texts: u64,
    blobs: u64,
    all_01: bool,
    ints_exact_in_double: bool,
    texts_utf8: bool,
    texts_timestamps: bool,
    texts_json: bool,
    reals_integral_epoch_ok: bool,
}

impl Seen {
    /// Nothing seen yet: every "all values are …" flag holds until a value breaks it.
    fn new() -> Self {
        Seen {
            all_01: true,
            ints_exact_in_double: true,
            texts_utf8: true,
            texts_timestamps: true,
            texts_json: true,
            reals_integral_epoch_ok: true,
            ..Default::default()
        }
    }
}

fn affinity(declared: &str) -> String {
    declared.to_ascii_uppercase()
}

/// The type that holds every value of a column exactly, and whether numbers are widened.
fn decide(declared: &str, s: &Seen) -> (Kind, Option<String>) {
    let d = affinity(declared);
    let timeish = d.contains("DATE") || d.contains("TIME");
    let boolish = d.contains("BOOL");
    let jsonish = d.contains("JSON");
    let numbers = s.ints + s.reals;
    if s.blobs > 0 || (s.texts > 0 && !s.texts_utf8) {
        let why = if numbers > 0 {
            Some("bytea: it holds BLOBs or non-UTF-8 text beside numbers (numbers kept as their text)".into())
        } else if s.texts > 0 {
            Some("bytea: it holds BLOBs or text that is not valid UTF-8".into())
        } else {
            None
        };
        return (Kind::Bytea, why);
    }
    if s.texts > 0 {
        if timeish && s.texts_timestamps && (s.reals == 0 || s.reals_integral_epoch_ok) {
            return (Kind::Timestamptz, None);
        }
        if numbers == 0 && jsonish && s.texts_json {
            return (Kind::Jsonb, None);
        }
        let why = (numbers > 0).then(|| {
            "text: it holds numbers beside text (numbers kept as their exact text)".to_string()
        });
        return (Kind::Text, why);
    }
    if numbers == 0 {
        // Only NULLs: the declared type decides.
        let k = if d.contains("INT") {
            Kind::Int8
        } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
            Kind::Float8
        } else if boolish {
            Kind::Bool
        } else if timeish {
            Kind::Timestamptz
        } else if jsonish {
            Kind::Jsonb
        } else if d.contains("BLOB") {
            Kind::Bytea
        } else if d.contains("NUM") || d.contains("DEC") {
            Kind::Numeric
        } else {
            Kind::Text
        };
        return (k, None);
    }
    if timeish && (s.reals == 0 || s.reals_integral_epoch_ok) {
        return (Kind::Timestamptz, None);
    }
    if s.reals == 0 {
        if boolish && s.all_01 {
            return (Kind::Bool, None);
        }
        return (Kind::Int8, None);
    }
    if s.ints == 0 || s.ints_exact_in_double {
        let why = (s.ints > 0 && d.contains("INT"))
            .then(|| "double precision: declared INTEGER but holds REAL values".to_string());
        return (Kind::Float8, why);
    }
    (
        Kind::Numeric,
        Some("numeric: integers beyond 2^53 beside REAL values (exact decimals)".into()),
    )
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
    let note = |notes: &mut Vec<Skipped>, kind: &str, n: &str, why: String| {
        notes.push(Skipped {
            kind: kind.into(),
            name: n.into(),
            why,
        })
    };
    let mut stmt = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid",
    )?;
    let cols: Vec<SourceColumn> = stmt
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
    let without_rowid: bool = conn
        .query_row(
            "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .map(|w| w != 0)
        .unwrap_or(false);

    // One pass over the values.
    let list: Vec<String> = cols.iter().map(|c| quote(&c.name)).collect();
    let mut seen: Vec<Seen> = cols.iter().map(|_| Seen::new()).collect();
    if !cols.is_empty() {
        let mut q = conn.prepare(&format!("SELECT {} FROM {}", list.join(", "), quote(name)))?;
        let mut rows = q.query([])?;
        while let Some(row) = rows.next()? {
            for (i, s) in seen.iter_mut().enumerate() {
                match row.get_ref(i)? {
                    ValueRef::Null => {}
                    ValueRef::Integer(v) => {
                        s.ints += 1;
                        s.all_01 &= v == 0 || v == 1;
                        s.ints_exact_in_double &= v.unsigned_abs() <= 1 << 53;
                    }
                    ValueRef::Real(f) => {
                        s.reals += 1;
                        let micros = (f * 1e6).round();
                        s.reals_integral_epoch_ok &= micros.is_finite() && micros / 1e6 == f;
                    }
                    ValueRef::Text(b) => {
                        s.texts += 1;
                        match std::str::from_utf8(b) {
                            Ok(t) if !t.contains('\0') => {
                                if s.texts_timestamps && parse_timestamp(t).is_err() {
                                    s.texts_timestamps = false;
                                }
                                if s.texts_json && check_json(t).is_err() {
                                    s.texts_json = false;
                                }
                            }
                            _ => s.texts_utf8 = false,
                        }
                    }
                    ValueRef::Blob(_) => s.blobs += 1,
                }
            }
        }
    }

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
        let (kind, widened) = decide(&c.declared, s);
        let pg = pg_name(&c.name);
        if !used_cols.insert(pg.clone()) {
            note(
                &mut notes,
                "column",
                &format!("{name}.{}", c.name),
                "two columns map to one PostgreSQL name".into(),
            );
        }
        if pg != c.name {
            note(
                &mut notes,
                "column",
                &format!("{name}.{}", c.name),
                format!("renamed to {pg}"),
            );
        }
        if let Some(why) = &widened {
            note(
                &mut notes,
                "column",
                &format!("{name}.{}", c.name),
                format!("widened to {why}"),
            );
        }
        if c.generated {
            note(
                &mut notes,
                "column",
                &format!("{name}.{}", c.name),
                "a generated column: its values are migrated as a plain column".into(),
            );
        }
        let is_identity = rowid_alias && c.pk == 1 && kind == Kind::Int8;
        let mut def = format!("{} {}", quote(&pg), kind.sql());
        if is_identity {
            def.push_str(" GENERATED BY DEFAULT AS IDENTITY");
            identity = Some(leak(pg.clone()));
        }
        if c.notnull || is_identity {
            def.push_str(" NOT NULL");
        }
        if let Some(d) = &c.default {
            match translate_default(d, kind) {
                Some(sql) if !is_identity => def.push_str(&format!(" DEFAULT {sql}")),
                Some(_) => {}
                None => note(&mut notes, "default", &format!("{name}.{}", c.name),
                    format!("DEFAULT {d} is not a literal this migration translates; the column has no default")),
            }
        }
        defs.push(def);
        columns.push(Column {
            name: leak(pg.clone()),
            source: (pg != c.name).then(|| leak(c.name.clone())),
            kind,
            nullable: !(c.notnull || is_identity),
            one_of: None,
            references: None,
            widen: widened.is_some(),
        });
    }
    let create = format!(
        "CREATE TABLE {STAGE}.{} ({})",
        quote(&table_pg),
        defs.join(", ")
    );
    let col_pg = |n: &str| quote(&pg_name(n));

    let mut indexes = Vec::new();
    if !pk_cols.is_empty() {
        let pk_name = unique_name(&format!("{table_pg}_pkey"), taken);
        let list: Vec<String> = pk_cols.iter().map(|c| col_pg(&c.name)).collect();
        indexes.push(format!(
            "ALTER TABLE {STAGE}.{} ADD CONSTRAINT {} PRIMARY KEY ({})",
            quote(&table_pg),
            quote(&pk_name),
            list.join(", ")
        ));
    }
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
    for (iname, unique, origin, partial) in idx {
        if origin == "pk" {
            continue;
        }
        if partial {
            note(
                &mut notes,
                "index",
                &iname,
                "a partial index (WHERE …): not translated; create it by hand if needed".into(),
            );
            continue;
        }
        let mut ix = conn.prepare(
            "SELECT cid, name, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno",
        )?;
        let parts: Vec<(i64, Option<String>, bool, Option<String>)> = ix
            .query_map([&iname], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        if parts.iter().any(|(cid, ..)| *cid < 0) {
            note(
                &mut notes,
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
            note(&mut notes, "index", &iname, "its collation (e.g. NOCASE) has no PostgreSQL equivalent here; built with the default".into());
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
        indexes.push(format!(
            "CREATE {}INDEX {} ON {STAGE}.{} ({})",
            if unique { "UNIQUE " } else { "" },
            quote(&pg_index),
            quote(&table_pg),
            cols_sql.join(", ")
        ));
    }

    let mut fl = conn.prepare(
        "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
    )?;
    let fk_rows: Vec<(i64, String, String, Option<String>, String, String)> = fl
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
        let action = |a: &str| match a.to_ascii_uppercase().as_str() {
            "CASCADE" => "CASCADE",
            "SET NULL" => "SET NULL",
            "SET DEFAULT" => "SET DEFAULT",
            "RESTRICT" => "RESTRICT",
            _ => "NO ACTION",
        };
        let sql = format!(
            "ALTER TABLE {STAGE}.{} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {STAGE}.{} ({}) ON UPDATE {} ON DELETE {}",
            quote(&table_pg),
            quote(&fk_name),
            from.join(", "),
            quote(&pg_name(parent)),
            to.join(", "),
            action(&group[0].4),
            action(&group[0].5)
        );
        foreign_keys.push((
            sql,
            format!(
                "{name}({}) → {parent}",
                group
                    .iter()
                    .map(|r| r.2.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
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

/// `base`, or `base` with a numeric suffix when taken (index and constraint names share
/// one namespace per schema in PostgreSQL).
fn unique_name(base: &str, taken: &mut HashSet<String>) -> String {
    let mut name = pg_name(base);
    let mut n = 1;
    while taken.contains(&name) {
        n += 1;
        name = pg_name(&format!("{base}_{n}"));
    }
    taken.insert(name.clone());
    name
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

    #[test]
    fn types_hold_every_value() {
        type Case = (&'static str, fn(&mut Seen), Kind);
        let cases: [Case; 10] = [
            ("INTEGER", |x| x.ints = 3, Kind::Int8),
            ("BOOLEAN", |x| x.ints = 3, Kind::Bool),
            ("BOOLEAN", |x| (x.ints, x.all_01) = (3, false), Kind::Int8),
            ("REAL", |x| (x.ints, x.reals) = (1, 2), Kind::Float8),
            (
                "",
                |x| (x.ints, x.reals, x.ints_exact_in_double) = (1, 2, false),
                Kind::Numeric,
            ),
            (
                "DATETIME",
                |x| (x.texts, x.ints) = (2, 1),
                Kind::Timestamptz,
            ),
            ("TEXT", |x| (x.texts, x.ints) = (2, 1), Kind::Text),
            ("JSON", |x| x.texts = 2, Kind::Jsonb),
            (
                "TEXT",
                |x| (x.texts, x.texts_utf8) = (2, false),
                Kind::Bytea,
            ),
            ("DOUBLE", |_| {}, Kind::Float8),
        ];
        for (declared, set, want) in cases {
            let mut seen = Seen::new();
            set(&mut seen);
            assert_eq!(decide(declared, &seen).0, want, "{declared} {seen:?}");
        }
    }
}
