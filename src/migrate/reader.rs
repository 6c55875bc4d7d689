//! Reading one table (or one rowid slice of it) from SQLite: every value converted
//! exactly or quarantined, accepted rows encoded as PostgreSQL binary COPY in chunks of
//! about 1 MiB (handed to a sink, so memory stays flat), and the content hash of what
//! was accepted, computed from the converted values.

use std::collections::HashSet;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::json;

use super::canonical::{RowHasher, TableHash};
use super::convert::{convert, convert_epoch_ms, convert_widened, Kind, Note, Out};
use super::dashboard::{Column, Table};
use super::ident::quote;
use super::report::Quarantined;

pub const CHUNK: usize = 1 << 20;

#[derive(Debug, Default)]
pub struct ReadStats {
    pub source_rows: u64,
    pub loaded_rows: u64,
    pub quarantined_rows: u64,
    pub quarantined_cells: u64,
    pub json_kept_as_string: u64,
    pub bytes: u64,
    pub hash: TableHash,
    pub quarantine: Vec<Quarantined>,
    /// Ids of the loaded rows, when asked for (parents of other tables).
    pub ids: HashSet<i64>,
}

/// Which parent ids were loaded, for foreign keys.
pub type Parents<'a> = &'a dyn Fn(&str) -> Option<&'a HashSet<i64>>;

/// What to read: the columns present in both the source and the target, in target order.
pub struct Job<'a> {
    pub table: &'a Table,
    pub columns: Vec<&'a Column>,
    /// Only rowids in this inclusive range.
    pub slice: Option<(i64, i64)>,
    pub collect_ids: bool,
    /// Called with the number of rows read since the last call (about every 1 MiB).
    pub progress: &'a (dyn Fn(u64) + Send + Sync),
}

/// A value as it was in SQLite, losslessly, for the quarantine table.
pub fn original(v: ValueRef<'_>) -> serde_json::Value {
    match v {
        ValueRef::Null => json!({"type": "null"}),
        ValueRef::Integer(i) => json!({"type": "integer", "value": i}),
        ValueRef::Real(f) => json!({"type": "real", "value": f}),
        ValueRef::Text(b) => match std::str::from_utf8(b) {
            Ok(s) if !s.contains('\0') => json!({"type": "text", "value": s}),
            _ => json!({"type": "text", "hex": hex::encode(b)}),
        },
        ValueRef::Blob(b) => json!({"type": "blob", "hex": hex::encode(b)}),
    }
}

/// Reads `job`, handing COPY chunks to `sink`, which gives back an empty buffer to fill
/// next (one the writer has finished with, so chunks do not cost fresh memory each
/// time), or `None` when the writer has gone and reading stops. Every chunk sequence
/// starts with the COPY header and ends with the trailer. `sink` may hand the same
/// buffer back for a scan (dry run, --strict).
pub fn read(
    conn: &Connection,
    job: &Job<'_>,
    parents: Parents<'_>,
    sink: &mut dyn FnMut(Vec<u8>) -> Option<Vec<u8>>,
) -> rusqlite::Result<ReadStats> {
    let cols: Vec<String> = job.columns.iter().map(|c| quote(c.source_name())).collect();
    // The key names a row in the quarantine: its rowid, or its position in a WITHOUT ROWID table.
    let key = if job.table.rowid { "rowid" } else { "NULL" };
    let mut sql = format!(
        "SELECT {key}, {} FROM {}",
        cols.join(", "),
        quote(job.table.source.unwrap_or(job.table.name))
    );
    if job.slice.is_some() {
        sql.push_str(" WHERE rowid BETWEEN ?1 AND ?2");
    }
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = match job.slice {
        Some((a, b)) => stmt.query([a, b])?,
        None => stmt.query([])?,
    };
    let mut stats = ReadStats::default();
    let mut buf = Vec::with_capacity(CHUNK + 64 * 1024);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
    let ncols = job.columns.len();
    let mut spare: Vec<Out<'static>> = Vec::with_capacity(ncols);
    let mut cells = Cells {
        problems: Vec::new(),
        row_problem: None,
        json_notes: 0,
    };
    let mut hasher = RowHasher::default();
    let mut reported = 0u64;

    while let Some(row) = rows.next()? {
        stats.source_rows += 1;
        let mut outs = reuse(std::mem::take(&mut spare));
        cells.convert(job, parents, row, &mut outs)?;
        if stats.quarantine_row(job, row, &mut cells)? {
            continue;
        }
        stats.json_kept_as_string += cells.json_notes;
        if job.collect_ids {
            if let Some(Out::Int(id)) = outs.first() {
                stats.ids.insert(*id);
            }
        }
        buf.extend_from_slice(&(ncols as i16).to_be_bytes());
        for (col, out) in job.columns.iter().zip(&outs) {
            encode(col.kind, out, &mut buf, &mut hasher);
        }
        spare = reuse(outs);
        stats.hash.add(hasher.finish_row());
        stats.loaded_rows += 1;
        if buf.len() >= CHUNK {
            (job.progress)(stats.source_rows - reported);
            reported = stats.source_rows;
            stats.bytes += buf.len() as u64;
            match sink(std::mem::take(&mut buf)) {
                Some(mut next) => {
                    next.clear();
                    next.reserve(CHUNK + 64 * 1024);
                    buf = next;
                }
                None => return Ok(stats),
            }
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    (job.progress)(stats.source_rows - reported);
    stats.bytes += buf.len() as u64;
    sink(buf);
    Ok(stats)
}

impl ReadStats {
    /// Records `row`'s problems in the quarantine with their originals: the whole row when
    /// it cannot be written (returns true: skip it), else each quarantined cell.
    fn quarantine_row(
        &mut self,
        job: &Job<'_>,
        row: &rusqlite::Row<'_>,
        cells: &mut Cells,
    ) -> rusqlite::Result<bool> {
        if cells.row_problem.is_none() && cells.problems.is_empty() {
            return Ok(false);
        }
        let key = match row.get::<_, Option<i64>>(0)? {
            Some(rowid) => format!("id={rowid}"),
            None => format!("row {}", self.source_rows),
        };
        if let Some(reason) = cells.row_problem.take() {
            let mut orig = serde_json::Map::new();
            for (i, col) in job.columns.iter().enumerate() {
                orig.insert(col.name.to_string(), original(row.get_ref(i + 1)?));
            }
            self.quarantined_rows += 1;
            self.quarantine.push(Quarantined {
                table: job.table.name.to_string(),
                key,
                column: None,
                original: serde_json::Value::Object(orig),
                reason,
            });
            return Ok(true);
        }
        for (i, reason) in cells.problems.drain(..) {
            self.quarantined_cells += 1;
            self.quarantine.push(Quarantined {
                table: job.table.name.to_string(),
                key: key.clone(),
                column: Some(job.columns[i].name.to_string()),
                original: original(row.get_ref(i + 1)?),
                reason,
            });
        }
        Ok(false)
    }
}

/// An empty vector on `v`'s allocation for values borrowing another row (the values
/// borrow their row, the allocation is kept across rows).
fn reuse<'b>(mut v: Vec<Out<'_>>) -> Vec<Out<'b>> {
    v.clear();
    v.into_iter().map(|_| Out::Null).collect()
}

/// What is wrong with one source row's cells: cells to quarantine (nullable columns,
/// written as NULL) or a reason to quarantine the whole row. Reused across rows.
struct Cells {
    problems: Vec<(usize, String)>,
    row_problem: Option<String>,
    json_notes: u64,
}

impl Cells {
    /// Converts `row`'s cells for `job` into `outs`, checking each against its CHECK
    /// vocabulary, its parent table's surviving ids and NOT NULL. The first row-level
    /// reason wins.
    fn convert<'r>(
        &mut self,
        job: &Job<'_>,
        parents: Parents<'_>,
        row: &'r rusqlite::Row<'_>,
        outs: &mut Vec<Out<'r>>,
    ) -> rusqlite::Result<()> {
        outs.clear();
        self.problems.clear();
        self.row_problem = None;
        self.json_notes = 0;
        for (i, col) in job.columns.iter().enumerate() {
            let v = row.get_ref(i + 1)?;
            let converted = if col.epoch_ms {
                convert_epoch_ms(v)
            } else if col.widen {
                convert_widened(col.kind, v)
            } else {
                convert(col.kind, v)
            };
            let mut out = match converted {
                Ok((out, note)) => {
                    if note == Some(Note::JsonKeptAsString) {
                        self.json_notes += 1;
                    }
                    out
                }
                Err(p) => {
                    if col.nullable {
                        self.problems.push((i, p.0));
                    } else {
                        self.row_problem
                            .get_or_insert(format!("{}: {}", col.name, p.0));
                    }
                    Out::Null
                }
            };
            if let (Some(set), Out::Text(s)) = (col.one_of, &out) {
                if !set.contains(&s.as_ref()) {
                    self.row_problem.get_or_insert(format!(
                        "{}: {s:?} is not one of {} (CHECK)",
                        col.name,
                        set.join(", ")
                    ));
                }
            }
            if let (Some(parent), Out::Int(id)) = (col.references, &out) {
                let known = parents(parent).is_some_and(|ids| ids.contains(id));
                if !known {
                    let why = format!(
                        "{}: {parent} {id} does not exist or was quarantined",
                        col.name
                    );
                    if col.nullable {
                        self.problems.push((i, why));
                        out = Out::Null;
                    } else {
                        self.row_problem.get_or_insert(why);
                    }
                }
            }
            if matches!(out, Out::Null) && !col.nullable && self.row_problem.is_none() {
                self.row_problem = Some(format!("{}: NULL where NOT NULL", col.name));
            }
            outs.push(out);
        }
        Ok(())
    }
}

/// Appends one field in binary COPY form and hashes the same value.
fn encode(kind: Kind, out: &Out, buf: &mut Vec<u8>, h: &mut RowHasher) {
    let field = |buf: &mut Vec<u8>, bytes: &[u8]| {
        buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        buf.extend_from_slice(bytes);
    };
    match out {
        Out::Null => {
            buf.extend_from_slice(&(-1i32).to_be_bytes());
            h.null();
        }
        Out::Int(i) => {
            field(buf, &i.to_be_bytes());
            h.int(*i);
        }
        Out::Float(f) => {
            field(buf, &f.to_bits().to_be_bytes());
            h.float(*f);
        }
        Out::Bool(b) => {
            field(buf, &[*b as u8]);
            h.bool(*b);
        }
        Out::Text(s) => {
            field(buf, s.as_bytes());
            h.text(s.as_bytes());
        }
        Out::Ts(t) => {
            field(buf, &t.to_be_bytes());
            h.timestamp(*t);
        }
        Out::Dec(digits, exp) => {
            field(buf, &super::numeric::encode(digits, *exp));
            h.decimal(digits, *exp);
        }
        Out::Bytes(b) => {
            field(buf, b);
            h.bytes(b);
        }
        Out::Json(s) => {
            debug_assert_eq!(kind, Kind::Jsonb);
            buf.extend_from_slice(&(s.len() as i32 + 1).to_be_bytes());
            buf.push(1);
            buf.extend_from_slice(s.as_bytes());
            h.json(s).expect("JSON was checked when converted");
        }
    }
}
