//! Loading: one SQLite reader thread per table slice feeding one binary COPY stream each,
//! through a bounded channel (memory stays flat), wave by wave so a child table sees
//! which parent ids were loaded.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use sqlx::PgPool;

use super::dashboard::{Column, Table};
use super::ident::{quote, STAGE};
use super::plan::Plan;
use super::reader::{self, ReadStats};
use super::source::{self, Source};
use super::{MigrateError, Progress, ProgressEvent};

/// A loaded table: its read statistics and the seconds its load took.
pub type Loaded = (Table, ReadStats, f64);

type ParentIds = Arc<HashMap<String, HashSet<i64>>>;

/// An inclusive rowid range, or the whole table.
type Slice = Option<(i64, i64)>;

/// Everything one slice's reader and writer need.
struct SliceJob {
    pool: Option<PgPool>,
    source_path: PathBuf,
    read_path: PathBuf,
    table: Table,
    columns: Vec<Column>,
    slice: Slice,
    parents: ParentIds,
    target: String,
    progress: Option<Progress>,
}

/// Rowid slices for a table: two halves when it is big enough to gain from two streams.
/// Also returns the table's row count.
fn slices(src: &Source, table: &Table) -> Result<(Vec<Slice>, u64), MigrateError> {
    let conn = src.connect()?;
    let name = table.source.unwrap_or(table.name);
    if !table.rowid {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {}", quote(name)), [], |r| {
                r.get(0)
            })
            .map_err(|e| MigrateError::reading(&src.path, name, e))?;
        return Ok((vec![None], n as u64));
    }
    let (lo, hi, n): (Option<i64>, Option<i64>, i64) = conn
        .query_row(
            &format!(
                "SELECT min(rowid), max(rowid), count(*) FROM {}",
                quote(name)
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| MigrateError::reading(&src.path, name, e))?;
    match (lo, hi) {
        (Some(lo), Some(hi)) if n > 200_000 => {
            let mid = lo + (hi - lo) / 2;
            Ok((vec![Some((lo, mid)), Some((mid + 1, hi))], n as u64))
        }
        _ => Ok((vec![None], n as u64)),
    }
}

pub fn merge(into: &mut ReadStats, s: ReadStats) {
    into.source_rows += s.source_rows;
    into.loaded_rows += s.loaded_rows;
    into.quarantined_rows += s.quarantined_rows;
    into.quarantined_cells += s.quarantined_cells;
    into.json_kept_as_string += s.json_kept_as_string;
    into.bytes += s.bytes;
    into.hash.merge(s.hash);
    into.quarantine.extend(s.quarantine);
    into.ids.extend(s.ids);
}

/// Reads one slice; with a pool, streams it into the staged table by binary COPY.
async fn run_slice(job: SliceJob) -> Result<ReadStats, MigrateError> {
    let SliceJob {
        pool,
        source_path,
        read_path,
        table,
        columns,
        slice,
        parents,
        target,
        progress,
    } = job;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    // Buffers the writer has sent, back to the reader to fill again.
    let (spent, reuse) = std::sync::mpsc::channel::<Vec<u8>>();
    let t = table.clone();
    let cols = columns.clone();
    // Only parents' ids are kept (children check their foreign keys against them).
    let is_parent = super::dashboard::is_referenced(table.name);
    let reader = tokio::task::spawn_blocking(move || -> Result<ReadStats, MigrateError> {
        let conn = source::connect(&read_path)?;
        let job = reader::Job {
            table: &t,
            columns: cols.iter().collect(),
            slice,
            collect_ids: is_parent,
            progress: &|rows| {
                if let Some(p) = &progress {
                    p(t.name, ProgressEvent::Rows(rows));
                }
            },
        };
        let lookup = |name: &str| parents.get(name);
        reader::read(&conn, &job, &lookup, &mut |chunk| {
            tx.blocking_send(chunk).ok()?;
            Some(reuse.try_recv().unwrap_or_default())
        })
        .map_err(|e| MigrateError::reading(&source_path, t.name, e))
    });
    let Some(pool) = pool else {
        while let Some(chunk) = rx.recv().await {
            let _ = spent.send(chunk);
        }
        return reader
            .await
            .map_err(|e| MigrateError::Read(e.to_string()))?;
    };
    let names: Vec<String> = columns.iter().map(|c| quote(c.name)).collect();
    let what = format!("loading {}", table.name);
    let err = |source| MigrateError::Target {
        target: target.clone(),
        what: what.clone(),
        source,
    };
    let mut conn = pool.acquire().await.map_err(err)?;
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {STAGE}.{} ({}) FROM STDIN (FORMAT binary)",
            quote(table.name),
            names.join(", ")
        ))
        .await
        .map_err(err)?;
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = copy.send(&chunk[..]).await {
            drop(rx);
            let _ = reader.await;
            return Err(err(e));
        }
        let _ = spent.send(chunk);
    }
    let stats = match reader
        .await
        .map_err(|e| MigrateError::Read(e.to_string()))?
    {
        Ok(s) => s,
        Err(e) => {
            let _ = copy.abort("the source could not be read").await;
            return Err(e);
        }
    };
    let rows = copy.finish().await.map_err(err)?;
    if rows != stats.loaded_rows {
        return Err(MigrateError::Verify(format!(
            "{}: COPY reported {rows} rows, {} were sent",
            table.name, stats.loaded_rows
        )));
    }
    Ok(stats)
}

/// Reads every table (and loads it, with a pool), wave by wave; `wave_done` sees each
/// wave's tables as soon as they are loaded (to start their indexes and verification).
pub async fn load_all(
    src: &Source,
    plan: &Plan,
    pool: Option<&PgPool>,
    target: &str,
    progress: Option<Progress>,
    wave_done: &mut dyn FnMut(&[Loaded]),
) -> Result<Vec<Loaded>, MigrateError> {
    let mut parents: HashMap<String, HashSet<i64>> = HashMap::new();
    let mut done = Vec::new();
    for wave in plan.waves() {
        let shared: ParentIds = Arc::new(std::mem::take(&mut parents));
        let mut jobs = Vec::new();
        for name in wave.iter() {
            let table = plan
                .tables
                .iter()
                .find(|t| t.name == *name)
                .expect("known table")
                .clone();
            let columns = plan.columns[name].clone();
            let started = Instant::now();
            let mut parts = Vec::new();
            let (parts_of, rows) = slices(src, &table)?;
            if let Some(p) = &progress {
                p(name, ProgressEvent::Start(rows));
            }
            for slice in parts_of {
                parts.push(tokio::spawn(run_slice(SliceJob {
                    pool: pool.cloned(),
                    source_path: src.path.clone(),
                    read_path: src.read_path.clone(),
                    table: table.clone(),
                    columns: columns.clone(),
                    slice,
                    parents: Arc::clone(&shared),
                    target: target.to_string(),
                    progress: progress.clone(),
                })));
            }
            jobs.push((table, started, parts));
        }
        let first = done.len();
        for (table, started, parts) in jobs {
            let mut stats = ReadStats::default();
            for p in parts {
                let s = p.await.map_err(|e| MigrateError::Read(e.to_string()))??;
                merge(&mut stats, s);
            }
            if let Some(p) = &progress {
                p(table.name, ProgressEvent::Done);
            }
            done.push((table, stats, started.elapsed().as_secs_f64()));
        }
        wave_done(&done[first..]);
        parents = Arc::try_unwrap(shared).unwrap_or_else(|a| (*a).clone());
        for (table, stats, _) in done.iter_mut().filter(|(t, _, _)| wave.contains(&t.name)) {
            parents.insert(table.name.to_string(), std::mem::take(&mut stats.ids));
        }
    }
    Ok(done)
}
