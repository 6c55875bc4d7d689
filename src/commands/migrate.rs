//! `provision migrate`: resolves the target, runs the migration, prints the report.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, MigrateArgs, SchemaArg};
use crate::migrate::{self, Options, Outcome, Progress, ProgressEvent, Report, SchemaMode};
use crate::settings::{url_has_password, Sources};

pub fn run(global: &GlobalArgs, args: MigrateArgs) -> Result<ExitStatus, CommandError> {
    if args
        .to
        .as_ref()
        .is_some_and(|u| url_has_password(u.expose()))
    {
        tracing::warn!(
            "--to carries a password, and argv is visible to every user of this host: prefer \
             DATABASE_URL or the .env file"
        );
    }
    let sources = Sources::load(global.config.as_deref(), global.env_file.as_deref())?;
    let to = sources.pick_opt(args.to, "DATABASE_URL", sources.config.database.url.clone())?;
    let opts = Options {
        from: args.from,
        to,
        replace: args.replace,
        strict: args.strict,
        dry_run: args.dry_run,
        schema: match args.schema {
            SchemaArg::Auto => SchemaMode::Auto,
            SchemaArg::Dashboard => SchemaMode::Dashboard,
            SchemaArg::Infer => SchemaMode::Infer,
        },
        progress: None,
    };
    // Bars per table on a terminal; nothing in CI, with --json or with -q.
    let bars = (std::io::stderr().is_terminal() && !global.json && !global.quiet)
        .then(indicatif::MultiProgress::new);
    let mut opts = opts;
    if let Some(multi) = bars.clone() {
        opts.progress = Some(progress_bars(multi));
    }
    let runtime = super::runtime()?;
    if opts.replace && !opts.dry_run && !args.no_backup {
        if let Some(to) = &opts.to {
            let dir = crate::ops::backup::directory(args.backup_dir.as_deref());
            runtime.block_on(backup_first(to, &dir))?;
        }
    }
    let result = runtime.block_on(migrate::run(&opts));
    if let Some(multi) = bars {
        let _ = multi.clear();
    }
    match result {
        Ok(report) => {
            if global.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serializes")
                );
            } else if !global.quiet {
                print!("{}", render(&report));
            }
            Ok(ExitStatus::Success)
        }
        Err(e) => {
            let code = exit_code(&e);
            if global.json {
                println!(
                    "{}",
                    serde_json::json!({"version": 1, "outcome": "failed", "exit_code": code, "error": e.to_string()})
                );
            }
            Err(CommandError {
                status: ExitStatus::Code(code),
                error: anyhow::Error::new(e),
            })
        }
    }
}

/// 1 failed (verification, database), 2 usage, 3 source unusable, 4 refused (the target
/// holds other data), 5 `--strict` found values to quarantine.
fn exit_code(e: &migrate::MigrateError) -> u8 {
    use migrate::MigrateError as E;
    match e {
        E::Source(_) => 3,
        E::Unsupported(_) => 2,
        E::Refused(_) => 4,
        E::Strict { .. } => 5,
        E::Verify(_) | E::Target { .. } | E::Stage(_) | E::Read(_) | E::Collision { .. } => 1,
    }
}

/// Before `--replace` swaps out an earlier migration's data, a backup of the database
/// (when it holds a migration's data at all); a failed backup stops the migration.
async fn backup_first(
    to: &crate::settings::Secret,
    dir: &std::path::Path,
) -> Result<(), CommandError> {
    use sqlx::Connection;
    let earlier = async {
        let mut c = sqlx::PgConnection::connect(to.expose()).await.ok()?;
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT CASE WHEN to_regclass('provision_migrations') IS NULL THEN 0 \
                    ELSE (SELECT count(*) FROM provision_migrations) END",
        )
        .fetch_one(&mut c)
        .await
        .ok();
        let _ = c.close().await;
        n
    }
    .await;
    if earlier.unwrap_or(0) == 0 {
        return Ok(());
    }
    let b = crate::ops::backup::backup(to, dir, "before migrate --replace")
        .await
        .map_err(|e| CommandError {
            status: ExitStatus::Failure,
            error: anyhow::anyhow!(
                "the backup before --replace failed, so nothing was replaced: {e} (--no-backup replaces without one)"
            ),
        })?;
    tracing::info!(
        "backed up the database before replacing its data: {} (sha256 {})",
        b.file.display(),
        b.manifest.sha256
    );
    Ok(())
}

/// One indicatif bar per table, fed by the migration's progress events.
fn progress_bars(multi: MultiProgress) -> Progress {
    let bars: Mutex<HashMap<String, ProgressBar>> = Mutex::new(HashMap::new());
    let style =
        ProgressStyle::with_template("{prefix:>20} {bar:30} {pos:>9}/{len:9} rows {elapsed:>4}")
            .expect("valid template");
    Arc::new(move |table: &str, event: ProgressEvent| {
        let mut bars = bars.lock().expect("progress lock");
        match event {
            ProgressEvent::Start(rows) => {
                let bar = multi.add(ProgressBar::new(rows));
                bar.set_style(style.clone());
                bar.set_prefix(table.to_string());
                bars.insert(table.to_string(), bar);
            }
            ProgressEvent::Rows(n) => {
                if let Some(bar) = bars.get(table) {
                    bar.inc(n);
                }
            }
            ProgressEvent::Done => {
                if let Some(bar) = bars.get(table) {
                    bar.finish();
                }
            }
        }
    })
}

/// The report as text: a table per table, then quarantines and skipped objects.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let head = match r.outcome {
        Outcome::Migrated => format!(
            "migrated {} → PostgreSQL (migration #{})",
            r.source,
            r.migration_id.unwrap_or(0)
        ),
        Outcome::AlreadyMigrated => {
            return format!(
                "{} was already migrated (migration #{}, sha256 {}): nothing to do\n",
                r.source,
                r.migration_id.unwrap_or(0),
                r.source_sha256.as_deref().unwrap_or("?")
            )
        }
        Outcome::Planned => format!("plan for {} (dry run: nothing written)", r.source),
    };
    out.push_str(&head);
    out.push('\n');
    if !r.lost_uniqueness.is_empty() {
        out.push_str(
            "\nLOST UNIQUENESS GUARANTEES (the target does not refuse what the source refused):\n",
        );
        for l in &r.lost_uniqueness {
            out.push_str(&format!("  {}: {}\n", l.name, l.why));
        }
        out.push('\n');
    }
    let mut table = crate::table::plain(
        &[
            "table",
            "source",
            "loaded",
            "q.rows",
            "q.cells",
            "json→str",
            "hash",
            "secs",
            "MB/s",
        ],
        &[1, 2, 3, 4, 5, 6, 7, 8],
    );
    for t in &r.tables {
        let hash = match t.hash_ok {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "-",
        };
        table.add_row(vec![
            t.table.clone(),
            t.source_rows.to_string(),
            t.loaded_rows.to_string(),
            t.quarantined_rows.to_string(),
            t.quarantined_cells.to_string(),
            t.json_kept_as_string.to_string(),
            hash.to_string(),
            format!("{:.2}", t.seconds),
            format!("{:.1}", t.mb_per_s),
        ]);
    }
    out.push_str(&crate::table::lines(&table));
    if !r.quarantine.is_empty() {
        out.push_str(&format!(
            "\n{} value(s) quarantined (originals kept in provision_quarantine):\n",
            r.quarantine.len()
        ));
        for q in r.quarantine.iter().take(10) {
            out.push_str(&format!(
                "  {} {} {}: {}\n",
                q.table,
                q.key,
                q.column.as_deref().unwrap_or("(row)"),
                q.reason
            ));
        }
        if r.quarantine.len() > 10 {
            out.push_str(&format!(
                "  … and {} more (see --json)\n",
                r.quarantine.len() - 10
            ));
        }
    }
    if !r.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in &r.notes {
            out.push_str(&format!("  {} {}: {}\n", n.kind, n.name, n.why));
        }
    }
    if !r.skipped.is_empty() {
        out.push_str("\nnot migrated:\n");
        for s in &r.skipped {
            out.push_str(&format!("  {} {}: {}\n", s.kind, s.name, s.why));
        }
    }
    let t = &r.timings;
    out.push_str(&format!(
        "\ntime: load {:.2} s, indexes + verification {:.2} s, swap {:.2} s, total {:.2} s\n",
        t.load_s, t.index_and_verify_s, t.swap_s, t.total_s
    ));
    out
}
