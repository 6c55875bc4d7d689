//! `provision migrate`: the legacy dashboard's SQLite database → PostgreSQL, exactly.
//!
//! The pipeline: open the source read-only (a WAL file through one snapshot) → apply the
//! dashboard schema → refuse or no-op by the ledger → stage tables like the dashboard's
//! → binary COPY per table (parents first, so children see which parent ids arrived; big
//! tables in two slices), every value converted exactly or quarantined → indexes and
//! constraints built from the catalog while every table is read back and hashed →
//! identities continued → one transaction swaps the tables in with the ledger row and
//! the quarantine. Nothing here prints: it returns a [`Report`].

pub mod canonical;
pub mod convert;
pub mod dashboard;
pub mod reader;
pub mod report;
pub mod source;
pub mod stage;
pub mod verify;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::settings::{redact_url, Secret};
use dashboard::{Column, Table};
use reader::{Quarantined, ReadStats};
pub use report::{Outcome, Report, TableReport};
use source::{Source, SourceError};
use stage::{StageError, STAGE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaMode {
    Auto,
    Dashboard,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub from: PathBuf,
    pub to: Option<Secret>,
    pub replace: bool,
    pub strict: bool,
    pub dry_run: bool,
    pub schema: SchemaMode,
}

/// How a migration failed; each kind has its exit code (see [`MigrateError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Refused(String),
    #[error("--strict: {count} value(s) cannot be migrated exactly; nothing was written. First: {first}")]
    Strict { count: usize, first: String },
    #[error("verification failed, nothing was swapped in: {0}")]
    Verify(String),
    #[error("PostgreSQL at {target}: {what}: {source}")]
    Target {
        target: String,
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error("reading the source failed: {0}")]
    Read(String),
}

impl MigrateError {
    /// A SQLite error while reading `table`: corruption is the source's fault (exit 3).
    fn reading(src: &std::path::Path, table: &str, e: rusqlite::Error) -> Self {
        let msg = e.to_string();
        if msg.contains("malformed") || msg.contains("corrupt") {
            MigrateError::Source(SourceError::Corrupt(
                src.to_path_buf(),
                format!("{table}: {msg}"),
            ))
        } else {
            MigrateError::Read(format!("{table}: {msg}"))
        }
    }

    /// 1 failed (verification, database), 2 usage, 3 source unusable, 4 refused
    /// (the target holds other data), 5 `--strict` found values to quarantine.
    pub fn exit_code(&self) -> u8 {
        match self {
            MigrateError::Source(_) => 3,
            MigrateError::Unsupported(_) => 2,
            MigrateError::Refused(_) => 4,
            MigrateError::Strict { .. } => 5,
            _ => 1,
        }
    }
}

/// The dashboard tables that exist in the source, and which of their columns to read.
struct Plan {
    tables: Vec<Table>,
    /// Per table (by name): the target columns present in the source, in target order.
    columns: HashMap<&'static str, Vec<Column>>,
    schema: source::Schema,
}

fn plan(src: &Source, mode: SchemaMode, report: &mut Report) -> Result<Plan, MigrateError> {
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

/// Parents first: a table's foreign keys point only to tables in earlier waves.
const WAVES: [&[&str]; 3] = [
    &["users", "validation_suites"],
    &["api_tokens", "validation_runs"],
    &["validation_results"],
];

type ParentIds = Arc<HashMap<String, HashSet<i64>>>;

/// Rowid slices for a table: two halves when it is big enough to gain from two streams.
fn slices(src: &Source, table: &str) -> Result<Vec<Option<(i64, i64)>>, MigrateError> {
    let conn = src.connect()?;
    let (lo, hi, n): (Option<i64>, Option<i64>, i64) = conn
        .query_row(
            &format!("SELECT min(rowid), max(rowid), count(*) FROM \"{table}\""),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| MigrateError::reading(&src.path, table, e))?;
    match (lo, hi) {
        (Some(lo), Some(hi)) if n > 200_000 => {
            let mid = lo + (hi - lo) / 2;
            Ok(vec![Some((lo, mid)), Some((mid + 1, hi))])
        }
        _ => Ok(vec![None]),
    }
}

fn merge(into: &mut ReadStats, s: ReadStats) {
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
async fn run_slice(
    pool: Option<PgPool>,
    (source_path, read_path): (PathBuf, PathBuf),
    table: Table,
    columns: Vec<Column>,
    slice: Option<(i64, i64)>,
    parents: ParentIds,
    target: String,
) -> Result<ReadStats, MigrateError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let t = table.clone();
    let cols = columns.clone();
    let reader = tokio::task::spawn_blocking(move || -> Result<ReadStats, MigrateError> {
        let conn = source::connect(&read_path)?;
        let job = reader::Job {
            table: &t,
            columns: cols.iter().collect(),
            slice,
            collect_ids: true,
        };
        let lookup = |name: &str| parents.get(name);
        reader::read(&conn, &job, &lookup, &mut |chunk| {
            tx.blocking_send(chunk).is_ok()
        })
        .map_err(|e| MigrateError::reading(&source_path, t.name, e))
    });
    let Some(pool) = pool else {
        while rx.recv().await.is_some() {}
        return reader
            .await
            .map_err(|e| MigrateError::Read(e.to_string()))?;
    };
    let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
    let what = format!("loading {}", table.name);
    let err = |source| MigrateError::Target {
        target: target.clone(),
        what: what.clone(),
        source,
    };
    let mut conn = pool.acquire().await.map_err(err)?;
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {STAGE}.\"{}\" ({}) FROM STDIN (FORMAT binary)",
            table.name,
            names.join(", ")
        ))
        .await
        .map_err(err)?;
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = copy.send(chunk).await {
            drop(rx);
            let _ = reader.await;
            return Err(err(e));
        }
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

/// Reads every table (and loads it, with a pool), wave by wave.
async fn load_all(
    src: &Source,
    plan: &Plan,
    pool: Option<&PgPool>,
    target: &str,
) -> Result<Vec<(Table, ReadStats, f64)>, MigrateError> {
    let mut parents: HashMap<String, HashSet<i64>> = HashMap::new();
    let mut done = Vec::new();
    for wave in WAVES {
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
            for slice in slices(src, name)? {
                parts.push(tokio::spawn(run_slice(
                    pool.cloned(),
                    (src.path.clone(), src.read_path.clone()),
                    table.clone(),
                    columns.clone(),
                    slice,
                    Arc::clone(&shared),
                    target.to_string(),
                )));
            }
            jobs.push((table, started, parts));
        }
        for (table, started, parts) in jobs {
            let mut stats = ReadStats::default();
            for p in parts {
                let s = p.await.map_err(|e| MigrateError::Read(e.to_string()))??;
                merge(&mut stats, s);
            }
            done.push((table, stats, started.elapsed().as_secs_f64()));
        }
        parents = Arc::try_unwrap(shared).unwrap_or_else(|a| (*a).clone());
        for (table, stats, _) in done.iter_mut().filter(|(t, _, _)| wave.contains(&t.name)) {
            parents.insert(table.name.to_string(), std::mem::take(&mut stats.ids));
        }
    }
    Ok(done)
}

fn table_report(table: &Table, stats: &ReadStats, seconds: f64) -> TableReport {
    let mb = stats.bytes as f64 / 1e6;
    TableReport {
        table: table.name.to_string(),
        source_rows: stats.source_rows,
        loaded_rows: stats.loaded_rows,
        quarantined_rows: stats.quarantined_rows,
        quarantined_cells: stats.quarantined_cells,
        json_kept_as_string: stats.json_kept_as_string,
        source_hash: stats.hash.hex(),
        seconds,
        megabytes: mb,
        mb_per_s: if seconds > 0.0 { mb / seconds } else { 0.0 },
        ..Default::default()
    }
}

fn first_problem(q: &[Quarantined]) -> String {
    q.first()
        .map(|q| {
            format!(
                "table {}, row {}, column {}: {} (original {})",
                q.table,
                q.key,
                q.column.as_deref().unwrap_or("(whole row)"),
                q.reason,
                q.original
            )
        })
        .unwrap_or_default()
}

/// Runs a migration. `--dry-run` and `--strict` read the whole source before anything is
/// written; a normal run writes only to the staging schema until the final swap.
pub async fn run(opts: &Options) -> Result<Report, MigrateError> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let path = opts.from.clone();
    let src = tokio::task::spawn_blocking(move || Source::open(&path))
        .await
        .map_err(|e| MigrateError::Read(e.to_string()))??;
    let src = Arc::new(src);
    let mut report = Report::new(opts.from.display().to_string(), Outcome::Migrated);
    let plan = plan(&src, opts.schema, &mut report)?;

    if opts.dry_run || opts.strict {
        let scanned = load_all(&src, &plan, None, "").await?;
        let quarantine: Vec<Quarantined> = scanned
            .iter()
            .flat_map(|(_, s, _)| s.quarantine.clone())
            .collect();
        let kept: u64 = scanned.iter().map(|(_, s, _)| s.json_kept_as_string).sum();
        if opts.strict && (!quarantine.is_empty() || kept > 0) {
            let first = if quarantine.is_empty() {
                "a JSON column holds text that is not JSON (it would be kept as a JSON string)"
                    .into()
            } else {
                first_problem(&quarantine)
            };
            return Err(MigrateError::Strict {
                count: quarantine.len() + kept as usize,
                first,
            });
        }
        if opts.dry_run {
            report.outcome = Outcome::Planned;
            report.tables = scanned
                .iter()
                .map(|(t, s, secs)| table_report(t, s, *secs))
                .collect();
            report.quarantine = quarantine;
            report.timings.total_s = started.elapsed().as_secs_f64();
            return Ok(report);
        }
    }

    // Source checks beside the target's preparation.
    let (sha_src, check_src) = (Arc::clone(&src), Arc::clone(&src));
    let sha = tokio::task::spawn_blocking(move || sha_src.sha256());
    let quick_check = tokio::task::spawn_blocking(move || check_src.quick_check());

    let url = opts.to.clone().ok_or_else(|| {
        MigrateError::Unsupported(
            "no target: pass --to URL, set DATABASE_URL, or put it in the .env (--env-file) \
             or the config file (database.url)"
                .into(),
        )
    })?;
    let shown = redact_url(url.expose());
    let target_err = |what: &str| {
        let shown = shown.clone();
        let what = what.to_string();
        move |source| MigrateError::Target {
            target: shown,
            what,
            source,
        }
    };
    let options: PgConnectOptions = url
        .expose()
        .parse()
        .map_err(target_err("the URL does not parse"))?;
    let options = options
        .application_name("provision-migrate")
        .options([("TimeZone", "UTC"), ("maintenance_work_mem", "256MB")]);
    let pool = PgPoolOptions::new()
        .max_connections(6)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .connect_with(options)
        .await
        .map_err(target_err("connecting"))?;
    crate::schema::apply(&pool)
        .await
        .map_err(|e| MigrateError::Target {
            target: shown.clone(),
            what: "applying the dashboard schema".into(),
            source: sqlx::Error::Migrate(Box::new(e)),
        })?;

    let sha = sha.await.map_err(|e| MigrateError::Read(e.to_string()))??;
    report.source_sha256 = Some(sha.clone());
    let mut conn = pool.acquire().await.map_err(target_err("connecting"))?;
    if let Some(id) = ledger_decision(&mut conn, &sha, opts.replace, &plan.tables, &shown).await? {
        report.outcome = Outcome::AlreadyMigrated;
        report.migration_id = Some(id);
        report.timings.total_s = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    stage::prepare(&mut conn, &plan.tables).await?;
    let ddl = stage::ddl(&mut conn, &plan.tables).await?;
    drop(conn);

    // Load.
    let load_started = Instant::now();
    let loaded = load_all(&src, &plan, Some(&pool), &shown).await?;
    report.timings.load_s = load_started.elapsed().as_secs_f64();
    if let Ok(sql) = std::env::var("PROVISION_TEST_HOOK_AFTER_LOAD") {
        // Test hook: lets a test change the staged data to prove verification notices.
        sqlx::raw_sql(&format!(
            "SET search_path = {STAGE}; {sql}; RESET search_path"
        ))
        .execute(&pool)
        .await
        .map_err(target_err("running the test hook"))?;
    }

    // Indexes and constraints, while every table is read back and hashed.
    let phase2 = Instant::now();
    let builds = futures_util::stream::iter(ddl.indexes.iter().cloned())
        .map(|sql| {
            let pool = pool.clone();
            async move {
                sqlx::raw_sql(&sql)
                    .execute(&pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| (sql, e))
            }
        })
        .buffer_unordered(3)
        .collect::<Vec<_>>();
    let plan_columns = &plan.columns;
    let checks = futures_util::stream::iter(loaded.iter())
        .map(|(table, stats, _)| {
            let pool = pool.clone();
            let shown = shown.clone();
            async move {
                let cols = &plan_columns[table.name];
                let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
                let kinds = cols.iter().map(|c| c.kind).collect();
                let mut conn = pool
                    .acquire()
                    .await
                    .map_err(|source| MigrateError::Target {
                        target: shown.clone(),
                        what: "connecting".into(),
                        source,
                    })?;
                let got = verify::read_back(&mut conn, STAGE, table.name, &names, kinds)
                    .await
                    .map_err(|e| MigrateError::Verify(e.to_string()))?;
                Ok::<_, MigrateError>((table.name, got, stats.hash))
            }
        })
        .buffer_unordered(2)
        .collect::<Vec<_>>();
    let (built, verified) = tokio::join!(builds, checks);
    for b in built {
        b.map_err(|(sql, source)| MigrateError::Target {
            target: shown.clone(),
            what: format!("building {sql}"),
            source,
        })?;
    }
    let mut mismatches = Vec::new();
    let mut target_hashes = HashMap::new();
    for v in verified {
        let (name, got, want) = v?;
        if got != want {
            mismatches.push(format!(
                "{name}: source {} rows hash {}, target {} rows hash {}",
                want.rows,
                want.hex(),
                got.rows,
                got.hex()
            ));
        }
        target_hashes.insert(name, got);
    }
    if !mismatches.is_empty() {
        return Err(MigrateError::Verify(mismatches.join("; ")));
    }
    let mut conn = pool.acquire().await.map_err(target_err("connecting"))?;
    let stage_path = format!("SET search_path = {STAGE}, public");
    sqlx::query(&stage_path)
        .execute(&mut *conn)
        .await
        .map_err(target_err("search_path"))?;
    for sql in ddl.constraints.iter().chain(&ddl.foreign_keys) {
        sqlx::raw_sql(sql)
            .execute(&mut *conn)
            .await
            .map_err(target_err(&format!("adding {sql}")))?;
    }
    sqlx::query("RESET search_path")
        .execute(&mut *conn)
        .await
        .map_err(target_err("search_path"))?;
    let schema = &plan.schema;
    let next_ids =
        stage::continue_identities(&mut conn, &plan.tables, &|t| schema.sequence(t)).await?;
    stage::check_schema(&mut conn, &plan.tables).await?;
    report.timings.index_and_verify_s = phase2.elapsed().as_secs_f64();
    quick_check
        .await
        .map_err(|e| MigrateError::Read(e.to_string()))??;

    // The swap, the ledger and the quarantine in one transaction.
    report.tables = loaded
        .iter()
        .map(|(t, s, secs)| {
            let mut r = table_report(t, s, *secs);
            let got = target_hashes.get(t.name);
            r.target_rows = got.map(|h| h.rows);
            r.target_hash = got.map(|h| h.hex());
            r.hash_ok = got.map(|h| *h == s.hash);
            r.next_id = next_ids.iter().find(|(n, _)| n == t.name).map(|(_, v)| *v);
            r
        })
        .collect();
    report.quarantine = loaded
        .iter()
        .flat_map(|(_, s, _)| s.quarantine.clone())
        .collect();
    let swap_started = Instant::now();
    let mut tx = sqlx::Acquire::begin(&mut *conn)
        .await
        .map_err(target_err("starting the swap"))?;
    // Re-checked under the lock: another migration may have finished meanwhile.
    if ledger_decision(&mut tx, &sha, opts.replace, &plan.tables, &shown)
        .await?
        .is_some()
    {
        return Err(MigrateError::Refused(
            "the same source was migrated by another run while this one was loading".into(),
        ));
    }
    stage::swap(&mut tx, &plan.tables).await?;
    report.timings.swap_s = swap_started.elapsed().as_secs_f64();
    report.timings.total_s = started.elapsed().as_secs_f64();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO provision_migrations (source_sha256, source_path, started_at, report) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(&sha)
    .bind(src.path.display().to_string())
    .bind(started_at)
    .bind(sqlx::types::Json(&report))
    .fetch_one(&mut *tx)
    .await
    .map_err(target_err("recording the migration"))?;
    if !report.quarantine.is_empty() {
        let q = &report.quarantine;
        sqlx::query(
            "INSERT INTO provision_quarantine (migration_id, table_name, row_key, column_name, original, reason) \
             SELECT $1, t, k, c, o::jsonb, r FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
             AS u(t, k, c, o, r)",
        )
        .bind(id)
        .bind(q.iter().map(|x| x.table.clone()).collect::<Vec<_>>())
        .bind(q.iter().map(|x| x.key.clone()).collect::<Vec<_>>())
        .bind(q.iter().map(|x| x.column.clone()).collect::<Vec<_>>())
        .bind(q.iter().map(|x| x.original.to_string()).collect::<Vec<_>>())
        .bind(q.iter().map(|x| x.reason.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .map_err(target_err("recording the quarantine"))?;
    }
    tx.commit()
        .await
        .map_err(target_err("committing the swap"))?;
    report.migration_id = Some(id);
    pool.close().await;
    Ok(report)
}

/// Decides from the ledger and the tables' contents: `Some(id)` when this source was
/// already migrated (a no-op), `None` to go ahead, or a refusal.
async fn ledger_decision(
    conn: &mut sqlx::PgConnection,
    sha: &str,
    replace: bool,
    tables: &[Table],
    target: &str,
) -> Result<Option<i64>, MigrateError> {
    let err = |source| MigrateError::Target {
        target: target.to_string(),
        what: "reading the migration ledger".into(),
        source,
    };
    let same: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM provision_migrations WHERE source_sha256 = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(sha)
    .fetch_optional(&mut *conn)
    .await
    .map_err(err)?;
    if same.is_some() && !replace {
        return Ok(same);
    }
    let previous: Option<(i64, String)> =
        sqlx::query_as("SELECT id, source_path FROM provision_migrations ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(err)?;
    let mut nonempty = Vec::new();
    for t in tables {
        let any: bool =
            sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM public.{})", t.name))
                .fetch_one(&mut *conn)
                .await
                .map_err(err)?;
        if any {
            nonempty.push(t.name);
        }
    }
    match (previous, nonempty.is_empty(), replace) {
        (_, true, _) => Ok(None),
        (Some(_), false, true) => Ok(None),
        (Some((id, path)), false, false) => Err(MigrateError::Refused(format!(
            "{target} already holds the data of migration #{id} (from {path}), a different \
             source; pass --replace to replace it (the dashboard tables are swapped whole)"
        ))),
        (None, false, _) => Err(MigrateError::Refused(format!(
            "{target} already has dashboard data that no migration created (in {}); migrate \
             never replaces it — back it up and empty those tables first",
            nonempty.join(", ")
        ))),
    }
}
