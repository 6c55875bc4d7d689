//! [`run`]: one migration, phase by phase. Each phase is a function of its own, in the
//! order it runs: open the source → plan → (scan, for `--dry-run` and `--strict`) →
//! connect and apply the schema → ask the ledger → prepare the staging tables → load,
//! with each wave's indexes and read-back beside the next wave → constraints and
//! identities → the swap, the ledger row and the quarantine in one transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use super::dashboard::Table;
use super::finish::{Finisher, Work};
use super::ident::STAGE;
use super::load::{self, Loaded};
use super::plan::{self, Plan};
use super::reader::ReadStats;
use super::report::{Outcome, Quarantined, Report, TableReport};
use super::source::Source;
use super::stage::{self, Ddl};
use super::{ledger, MigrateError, Options, Progress};
use crate::settings::{redact_url, Secret};

/// Runs a migration. `--dry-run` and `--strict` read the whole source before anything is
/// written; a normal run writes only to the staging schema until the final swap.
pub async fn run(opts: &Options) -> Result<Report, MigrateError> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let src = Arc::new(open(&opts.from).await?);
    let mut report = Report::new(opts.from.display().to_string(), Outcome::Migrated);
    // The dashboard schema goes only where the source is the legacy dashboard or the
    // target holds it already; a dry run without a target plans for an empty one.
    let target = match (&opts.to, opts.dry_run) {
        (None, true) => None,
        (to, _) => Some(Target::connect(to.as_ref()).await?),
    };
    let target_dashboard = match &target {
        Some(t) => t.holds_dashboard().await?,
        None => false,
    };
    let plan = plan::plan(&src, opts.schema, target_dashboard, &mut report)?;

    if opts.dry_run || opts.strict {
        let scanned = scan(&src, &plan, opts.strict).await?;
        if opts.dry_run {
            report.outcome = Outcome::Planned;
            report.tables = scanned.iter().map(table_report).collect();
            report.quarantine = quarantine(&scanned);
            report.timings.total_s = started.elapsed().as_secs_f64();
            return Ok(report);
        }
    }

    // Source checks beside the target's preparation, on one thread: the digest first (the
    // ledger needs it before the load), then the integrity check (needed before the swap).
    let (sha_tx, sha_rx) = tokio::sync::oneshot::channel();
    let checked = Arc::clone(&src);
    let quick_check = tokio::task::spawn_blocking(move || {
        let _ = sha_tx.send(checked.sha256());
        checked.quick_check()
    });

    let target = target.expect("a target unless --dry-run");
    target.apply_schema(plan.legacy || target_dashboard).await?;
    let sha = sha_rx
        .await
        .map_err(|e| MigrateError::Read(e.to_string()))??;
    report.source_sha256 = Some(sha.clone());
    let names = Names::of(&plan);
    let mut conn = target.conn().await?;
    if let Some(id) = ledger::decide(
        &mut conn,
        &sha,
        opts.replace,
        &names.dashboard,
        &names.inferred,
        &target.shown,
    )
    .await?
    {
        report.outcome = Outcome::AlreadyMigrated;
        report.migration_id = Some(id);
        report.timings.total_s = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    let ddl = prepare(&mut conn, &plan, &names, &target, &mut report).await?;
    drop(conn);
    let staged = Staged {
        src: &src,
        plan: &plan,
        ddl: &ddl,
        names: &names,
        target: &target,
        sha: &sha,
        opts,
        started,
        started_at,
    };
    let id = match staged.finish(&mut report, quick_check).await {
        Ok(id) => id,
        Err(e) => {
            // Nothing of a failed run stays: the staging schema goes before the error
            // (which is the one reported, whatever the clean-up meets).
            let cleaned = match target.conn().await {
                Ok(mut conn) => stage::discard(&mut conn).await.map_err(MigrateError::from),
                Err(why) => Err(why),
            };
            if let Err(cleanup) = cleaned {
                tracing::warn!("the failed run's staging schema stays: {cleanup}");
            }
            target.pool.close().await;
            return Err(e);
        }
    };
    report.migration_id = Some(id);
    // Every connection is back (close() waits for them).
    target.pool.close().await;
    Ok(report)
}

/// A run past its staging schema: what the phases from the load to the swap need.
struct Staged<'a> {
    src: &'a Arc<Source>,
    plan: &'a Plan,
    ddl: &'a Ddl,
    names: &'a Names,
    target: &'a Target,
    sha: &'a str,
    opts: &'a Options,
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl Staged<'_> {
    /// Load → indexes and read-back → constraints → the swap; the migration's id.
    async fn finish(
        &self,
        report: &mut Report,
        quick_check: tokio::task::JoinHandle<Result<(), super::source::SourceError>>,
    ) -> Result<i64, MigrateError> {
        let (src, plan, ddl, names, target) =
            (self.src, self.plan, self.ddl, self.names, self.target);

        let load_started = Instant::now();
        let (loaded, finisher) = load(src, plan, ddl, target, self.opts.progress.clone()).await?;
        report.timings.load_s = load_started.elapsed().as_secs_f64();
        let phase2 = Instant::now();
        let target_hashes = finisher.wait().await?;
        let mut conn = target.conn().await?;
        let next_ids = constrain(&mut conn, plan, ddl, names, target, report).await?;
        report.timings.index_and_verify_s = phase2.elapsed().as_secs_f64();
        joined(quick_check).await??;

        report.tables = loaded
            .iter()
            .map(|l| {
                let (t, s, _) = l;
                let mut r = table_report(l);
                let got = target_hashes.get(t.name);
                r.target_rows = got.map(|h| h.rows);
                r.target_hash = got.map(|h| h.hex());
                r.hash_ok = got.map(|h| *h == s.hash);
                r.next_id = next_ids.iter().find(|(n, _)| n == t.name).map(|(_, v)| *v);
                r
            })
            .collect();
        report.quarantine = quarantine(&loaded);
        let swap = Swap {
            sha: self.sha,
            source: &src.path.display().to_string(),
            started_at: self.started_at,
            replace: self.opts.replace,
        };
        let id = swap
            .commit(&mut conn, names, target, report, self.started)
            .await?;
        drop(conn);
        Ok(id)
    }
}

/// Opens the source off the async threads (it may read a whole WAL snapshot).
async fn open(path: &std::path::Path) -> Result<Source, MigrateError> {
    let path = path.to_path_buf();
    joined(tokio::task::spawn_blocking(move || Source::open(&path)))
        .await?
        .map_err(MigrateError::from)
}

/// A blocking or spawned task's result; a task that panicked or was cancelled is a
/// reading failure (the only tasks here read the source or the target).
async fn joined<T>(task: tokio::task::JoinHandle<T>) -> Result<T, MigrateError> {
    task.await.map_err(|e| MigrateError::Read(e.to_string()))
}

/// `--dry-run` and `--strict`: every table read and converted, nothing written. Under
/// `--strict`, the first value that cannot be migrated exactly refuses the run.
async fn scan(src: &Source, plan: &Plan, strict: bool) -> Result<Vec<Loaded>, MigrateError> {
    let scanned = load::load_all(src, plan, None, "", None, &mut |_| {}).await?;
    let quarantined = quarantine(&scanned);
    let kept: u64 = scanned.iter().map(|(_, s, _)| s.json_kept_as_string).sum();
    if strict && (!quarantined.is_empty() || kept > 0) {
        let first = match quarantined.first() {
            None => "a JSON column holds text that is not JSON (it would be kept as a JSON string)"
                .into(),
            Some(q) => format!(
                "table {}, row {}, column {}: {} (original {})",
                q.table,
                q.key,
                q.column.as_deref().unwrap_or("(whole row)"),
                q.reason,
                q.original
            ),
        };
        return Err(MigrateError::Strict {
            count: quarantined.len() + kept as usize,
            first,
        });
    }
    Ok(scanned)
}

/// The target: its pool, its connect options (for the helper pool) and its URL as shown
/// in messages (password masked).
struct Target {
    pool: PgPool,
    options: PgConnectOptions,
    shown: String,
}

impl Target {
    /// Connects to the target.
    async fn connect(url: Option<&Secret>) -> Result<Self, MigrateError> {
        let url = url.ok_or_else(|| {
            MigrateError::Unsupported(
                "no target: pass --to URL, set DATABASE_URL, or put it in the .env \
                 (--env-file) or the config file (database.url)"
                    .into(),
            )
        })?;
        let shown = redact_url(url.expose());
        let options: PgConnectOptions = url
            .expose()
            .parse()
            .map_err(MigrateError::at(&shown, "the URL does not parse"))?;
        let options = options
            .application_name("provision-migrate")
            .options([("TimeZone", "UTC"), ("maintenance_work_mem", "256MB")]);
        let pool = PgPoolOptions::new()
            .max_connections(6)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(MigrateError::at(&shown, "connecting"))?;
        Ok(Target {
            pool,
            options,
            shown,
        })
    }

    /// Whether the target holds the dashboard schema (its migrations table).
    async fn holds_dashboard(&self) -> Result<bool, MigrateError> {
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(MigrateError::at(
                &self.shown,
                "looking for the dashboard schema",
            ))
    }

    /// The dashboard schema (brought up to date), or — for any other database — only the
    /// migration ledger and quarantine. A target that holds an earlier migration of another
    /// database cannot take the dashboard's schema on top of it.
    async fn apply_schema(&self, dashboard: bool) -> Result<(), MigrateError> {
        let failed = |what: &str| {
            let (target, what) = (self.shown.clone(), what.to_string());
            move |e: sqlx::migrate::MigrateError| MigrateError::Target {
                target,
                what,
                source: sqlx::Error::Migrate(Box::new(e)),
            }
        };
        if !dashboard {
            return crate::schema::apply_ledger(&self.pool)
                .await
                .map_err(MigrateError::at(
                    &self.shown,
                    "creating the migration ledger",
                ));
        }
        let ledger_only: bool = sqlx::query_scalar(
            "SELECT to_regclass('public._sqlx_migrations') IS NULL \
             AND to_regclass('public.provision_migrations') IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(MigrateError::at(
            &self.shown,
            "looking for the dashboard schema",
        ))?;
        if ledger_only {
            return Err(MigrateError::Refused(format!(
                "{} holds a migration of another SQLite database (not the dashboard's): \
                 migrate the legacy dashboard into a database of its own",
                self.shown
            )));
        }
        crate::schema::apply(&self.pool)
            .await
            .map_err(failed("applying the dashboard schema"))
    }

    async fn conn(&self) -> Result<PoolConnection<Postgres>, MigrateError> {
        self.pool
            .acquire()
            .await
            .map_err(MigrateError::at(&self.shown, "connecting"))
    }

    /// Runs each statement in `sqls`, in order, on `conn`.
    async fn execute_all<'a>(
        &self,
        conn: &mut sqlx::PgConnection,
        sqls: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), MigrateError> {
        for sql in sqls {
            let t = Instant::now();
            sqlx::raw_sql(sql)
                .execute(&mut *conn)
                .await
                .map_err(MigrateError::at(&self.shown, format!("adding {sql}")))?;
            tracing::debug!(seconds = t.elapsed().as_secs_f64(), %sql, "statement done");
        }
        Ok(())
    }
}

/// The names the ledger and the swap work on.
struct Names {
    dashboard: Vec<Table>,
    inferred: Vec<&'static str>,
}

impl Names {
    fn of(plan: &Plan) -> Self {
        Names {
            dashboard: plan.dashboard_tables(),
            inferred: plan.inferred.iter().map(|i| i.table.name).collect(),
        }
    }
}

/// The staging tables, empty, with their CHECKs; returns what is built after the load.
async fn prepare(
    conn: &mut sqlx::PgConnection,
    plan: &Plan,
    names: &Names,
    target: &Target,
    report: &mut Report,
) -> Result<Ddl, MigrateError> {
    let creates: Vec<String> = plan.inferred.iter().map(|i| i.create.clone()).collect();
    stage::prepare(conn, &names.dashboard, &creates).await?;
    let mut ddl = stage::ddl(conn, &names.dashboard).await?;
    target.execute_all(conn, &ddl.checks).await?;
    // Translated partial and expression indexes: built with the others when PostgreSQL
    // accepts them on the empty staged table, reported otherwise.
    for i in &plan.inferred {
        for t in &i.tentative {
            match stage::try_index(conn, &t.sql).await? {
                None => ddl.indexes.push((i.table.name, t.sql.clone())),
                Some(refused) => {
                    let mut notes = Vec::new();
                    super::keys::untranslated(&mut notes, &t.name, t.unique, false);
                    for mut n in notes {
                        n.why = format!("{}; PostgreSQL refused {} ({refused})", n.why, t.sql);
                        if n.kind == super::keys::LOST_UNIQUENESS {
                            report.lost_uniqueness.push(n);
                        } else {
                            report.notes.push(n);
                        }
                    }
                }
            }
        }
    }
    Ok(ddl)
}

/// Loads every table; each wave's read-back and finishing work start as soon as the wave
/// is loaded (see [`finish`]). Returns the loaded tables and the work still running.
async fn load(
    src: &Source,
    plan: &Plan,
    ddl: &Ddl,
    target: &Target,
    progress: Option<Progress>,
) -> Result<(Vec<Loaded>, Finisher), MigrateError> {
    let mut work: HashMap<&'static str, Work> = HashMap::new();
    for (table, sql) in &ddl.indexes {
        work.entry(table).or_default().indexes.push(sql.clone());
    }
    for fk in &ddl.foreign_keys {
        work.entry(fk.table)
            .or_default()
            .foreign_keys
            .push(fk.clone());
    }
    for t in &plan.dashboard_tables() {
        work.entry(t.name).or_default().keys_first = true;
    }
    for i in &plan.inferred {
        let w = work.entry(i.table.name).or_default();
        w.indexes.extend(i.indexes.iter().cloned());
    }
    let mut finisher = Finisher::connect(&target.options, &target.shown, work).await?;
    let mut on_wave = |wave: &[Loaded]| {
        for (t, stats, _) in wave {
            finisher.loaded(t.name, plan.columns[t.name].clone(), stats.hash);
        }
    };
    let loaded = load::load_all(
        src,
        plan,
        Some(&target.pool),
        &target.shown,
        progress,
        &mut on_wave,
    )
    .await?;
    Ok((loaded, finisher))
}

/// Primary keys and unique constraints on their indexes (the dashboard's foreign keys and
/// statistics are already there, see [`Finisher`]), the inferred tables' foreign keys
/// (reported when they cannot hold), identities continued past the highest id; returns
/// each table's next id.
async fn constrain(
    conn: &mut sqlx::PgConnection,
    plan: &Plan,
    ddl: &Ddl,
    names: &Names,
    target: &Target,
    report: &mut Report,
) -> Result<Vec<(String, i64)>, MigrateError> {
    let set = format!("SET search_path = {STAGE}, public");
    sqlx::raw_sql(&set)
        .execute(&mut *conn)
        .await
        .map_err(MigrateError::at(&target.shown, "search_path"))?;
    target.execute_all(conn, &ddl.constraints).await?;
    sqlx::raw_sql("RESET search_path")
        .execute(&mut *conn)
        .await
        .map_err(MigrateError::at(&target.shown, "search_path"))?;
    for i in &plan.inferred {
        for (sql, what) in &i.foreign_keys {
            if let Some(note) = stage::add_inferred_fk(conn, sql, what).await? {
                report.notes.push(note);
            }
        }
    }
    let schema = &plan.schema;
    let next_ids =
        stage::continue_identities(conn, &plan.identities(), &|t| schema.sequence(t)).await?;
    stage::check_schema(conn, &names.dashboard).await?;
    Ok(next_ids)
}

/// The final transaction's inputs.
struct Swap<'a> {
    sha: &'a str,
    source: &'a str,
    started_at: chrono::DateTime<chrono::Utc>,
    replace: bool,
}

impl Swap<'_> {
    /// The swap, the ledger row and the quarantine in one transaction; the ledger is asked
    /// again under the lock, since another migration may have finished meanwhile.
    async fn commit(
        &self,
        conn: &mut sqlx::PgConnection,
        names: &Names,
        target: &Target,
        report: &mut Report,
        started: Instant,
    ) -> Result<i64, MigrateError> {
        let swap_started = Instant::now();
        let mut tx = sqlx::Acquire::begin(&mut *conn)
            .await
            .map_err(MigrateError::at(&target.shown, "starting the swap"))?;
        let again = ledger::decide(
            &mut tx,
            self.sha,
            self.replace,
            &names.dashboard,
            &names.inferred,
            &target.shown,
        )
        .await?;
        if again.is_some() {
            return Err(MigrateError::Refused(
                "the same source was migrated by another run while this one was loading".into(),
            ));
        }
        stage::swap(&mut tx, &names.dashboard, &names.inferred).await?;
        report.timings.swap_s = swap_started.elapsed().as_secs_f64();
        report.timings.total_s = started.elapsed().as_secs_f64();
        let id = ledger::record(
            &mut tx,
            self.sha,
            self.source,
            self.started_at,
            report,
            &report.quarantine,
        )
        .await
        .map_err(MigrateError::at(&target.shown, "recording the migration"))?;
        tx.commit()
            .await
            .map_err(MigrateError::at(&target.shown, "committing the swap"))?;
        Ok(id)
    }
}

/// Every quarantined value of the tables read.
fn quarantine(tables: &[Loaded]) -> Vec<Quarantined> {
    tables
        .iter()
        .flat_map(|(_, s, _)| s.quarantine.clone())
        .collect()
}

fn table_report((table, stats, seconds): &Loaded) -> TableReport {
    let stats: &ReadStats = stats;
    let seconds = *seconds;
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
