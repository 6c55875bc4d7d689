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
mod error;
pub mod ident;
mod infer;
pub mod json;
mod keys;
mod ledger;
mod load;
mod numeric;
mod plan;
pub mod reader;
pub mod report;
pub mod source;
pub mod stage;
mod types;
pub mod verify;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::settings::{redact_url, Secret};
use dashboard::Table;
pub use error::MigrateError;
use ident::STAGE;
use reader::ReadStats;
use report::Quarantined;
pub use report::{Outcome, Report, TableReport};
use source::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaMode {
    /// The legacy dashboard's tables into the dashboard's; any other table by inference.
    Auto,
    /// Refuse anything but the legacy dashboard.
    Dashboard,
    /// Every table by inference, even the legacy dashboard's.
    Infer,
}

/// What a running migration reports as it reads each table (the command draws bars).
#[derive(Debug, Clone, Copy)]
pub enum ProgressEvent {
    /// The table's reading starts; it has this many rows.
    Start(u64),
    /// This many more rows were read.
    Rows(u64),
    Done,
}

pub type Progress = Arc<dyn Fn(&str, ProgressEvent) + Send + Sync>;

#[derive(Clone)]
pub struct Options {
    pub from: PathBuf,
    pub to: Option<Secret>,
    pub replace: bool,
    pub strict: bool,
    pub dry_run: bool,
    pub schema: SchemaMode,
    pub progress: Option<Progress>,
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
    let plan = plan::plan(&src, opts.schema, &mut report)?;

    if opts.dry_run || opts.strict {
        let scanned = load::load_all(&src, &plan, None, "", None, &mut |_| {}).await?;
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
        .connect_with(options.clone())
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
    let dashboard = plan.dashboard_tables();
    let inferred: Vec<&'static str> = plan.inferred.iter().map(|i| i.table.name).collect();
    if let Some(id) =
        ledger::decide(&mut conn, &sha, opts.replace, &dashboard, &inferred, &shown).await?
    {
        report.outcome = Outcome::AlreadyMigrated;
        report.migration_id = Some(id);
        report.timings.total_s = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    let creates: Vec<String> = plan.inferred.iter().map(|i| i.create.clone()).collect();
    stage::prepare(&mut conn, &dashboard, &creates).await?;
    let ddl = stage::ddl(&mut conn, &dashboard).await?;
    for sql in &ddl.checks {
        sqlx::raw_sql(sql)
            .execute(&mut *conn)
            .await
            .map_err(target_err(&format!("adding {sql}")))?;
    }
    drop(conn);

    // Load; each wave's indexes and read-back start as soon as the wave is loaded, on a
    // pool of their own so the loads never wait for them.
    let helpers = PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(std::time::Duration::from_secs(60))
        .connect_with(options.clone())
        .await
        .map_err(target_err("connecting"))?;
    let hook = std::env::var("PROVISION_TEST_HOOK_AFTER_LOAD").ok();
    let mut tasks = tokio::task::JoinSet::new();
    let load_started = Instant::now();
    let loaded = {
        let mut on_wave = |wave: &[load::Loaded]| {
            for (t, stats, _) in wave {
                let own = plan.inferred.iter().find(|i| i.table.name == t.name);
                let indexes = ddl
                    .indexes
                    .iter()
                    .filter(|(n, _)| *n == t.name)
                    .map(|(_, sql)| sql)
                    .chain(own.into_iter().flat_map(|i| &i.indexes));
                for sql in indexes {
                    tasks.spawn(stage::build_index(
                        helpers.clone(),
                        sql.clone(),
                        shown.clone(),
                    ));
                }
                tasks.spawn(verify::verify_table(
                    helpers.clone(),
                    hook.clone(),
                    t.name,
                    plan.columns[t.name].clone(),
                    stats.hash,
                    shown.clone(),
                ));
            }
        };
        load::load_all(
            &src,
            &plan,
            Some(&pool),
            &shown,
            opts.progress.clone(),
            &mut on_wave,
        )
        .await?
    };
    report.timings.load_s = load_started.elapsed().as_secs_f64();
    let phase2 = Instant::now();
    for (_, sql) in ddl
        .indexes
        .iter()
        .filter(|(n, _)| !loaded.iter().any(|(t, _, _)| t.name == *n))
    {
        tasks.spawn(stage::build_index(
            helpers.clone(),
            sql.clone(),
            shown.clone(),
        ));
    }
    let mut mismatches = Vec::new();
    let mut target_hashes = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        let Some((name, got, want)) = joined.map_err(|e| MigrateError::Read(e.to_string()))??
        else {
            continue;
        };
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
    helpers.close().await;
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
        let t = Instant::now();
        sqlx::raw_sql(sql)
            .execute(&mut *conn)
            .await
            .map_err(target_err(&format!("adding {sql}")))?;
        tracing::debug!(seconds = t.elapsed().as_secs_f64(), %sql, "constraint added");
    }
    sqlx::query("RESET search_path")
        .execute(&mut *conn)
        .await
        .map_err(target_err("search_path"))?;
    for i in &plan.inferred {
        for (sql, what) in &i.foreign_keys {
            if let Some(note) = stage::add_inferred_fk(&mut conn, sql, what).await? {
                report.notes.push(note);
            }
        }
    }
    let schema = &plan.schema;
    let next_ids =
        stage::continue_identities(&mut conn, &plan.identities(), &|t| schema.sequence(t)).await?;
    stage::check_schema(&mut conn, &dashboard).await?;
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
    if ledger::decide(&mut tx, &sha, opts.replace, &dashboard, &inferred, &shown)
        .await?
        .is_some()
    {
        return Err(MigrateError::Refused(
            "the same source was migrated by another run while this one was loading".into(),
        ));
    }
    stage::swap(&mut tx, &dashboard, &inferred).await?;
    report.timings.swap_s = swap_started.elapsed().as_secs_f64();
    report.timings.total_s = started.elapsed().as_secs_f64();
    let id = ledger::record(
        &mut tx,
        &sha,
        &src.path.display().to_string(),
        started_at,
        &report,
        &report.quarantine,
    )
    .await
    .map_err(target_err("recording the migration"))?;
    tx.commit()
        .await
        .map_err(target_err("committing the swap"))?;
    report.migration_id = Some(id);
    // Every connection back before closing: close() waits for them.
    drop(conn);
    pool.close().await;
    Ok(report)
}
