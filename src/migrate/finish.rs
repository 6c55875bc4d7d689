//! Finishing each table beside the load. As soon as a wave of tables is loaded, each
//! table's read-back and index builds start on a pool of their own (the loads never wait
//! for them). Once a table's indexes are built, its foreign keys are validated — each
//! after the indexes of the table it references — and its statistics are taken, while
//! later tables still load and earlier read-backs run: none of these locks conflicts
//! with a read-back. Only primary keys and unique constraints put on their indexes (an
//! exclusive lock, instant) wait for the end (`run::constrain`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::canonical::TableHash;
use super::dashboard::Column;
use super::stage::{self, ForeignKey};
use super::{verify, MigrateError};

/// What a finishing task hands back: a read-back's (table, hash read back, source hash).
pub type Checked = Option<(&'static str, TableHash, TableHash)>;

/// One table's finishing work: its indexes (independent of each other), its foreign
/// keys and `ANALYZE`, in the order [`finish`] explains.
#[derive(Debug, Default)]
pub struct Work {
    pub indexes: Vec<String>,
    pub foreign_keys: Vec<ForeignKey>,
    /// Foreign keys and statistics before the indexes (the dashboard's tables).
    pub keys_first: bool,
}

/// The finishing tasks of a run, on their own pool.
pub struct Finisher {
    pool: PgPool,
    tasks: JoinSet<Result<Checked, MigrateError>>,
    shown: String,
    /// The work of tables not started yet.
    work: HashMap<&'static str, Work>,
    /// Per table, set once its indexes are built; foreign keys to it wait for that.
    indexed: HashMap<&'static str, (Option<watch::Sender<bool>>, watch::Receiver<bool>)>,
    /// SQL a test runs on the staged table before its read-back.
    hook: Option<String>,
}

impl Finisher {
    /// A pool of four connections (a big table's three or so index builds beside its
    /// read-back); an index build is never split over parallel workers, which would only
    /// compete with the other builds for the same cores.
    pub async fn connect(
        options: &PgConnectOptions,
        shown: &str,
        work: HashMap<&'static str, Work>,
    ) -> Result<Self, MigrateError> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(
                options
                    .clone()
                    .options([("max_parallel_maintenance_workers", "0")]),
            )
            .await
            .map_err(MigrateError::at(shown, "connecting"))?;
        let indexed = work
            .keys()
            .map(|name| {
                let (tx, rx) = watch::channel(false);
                (*name, (Some(tx), rx))
            })
            .collect();
        Ok(Finisher {
            pool,
            tasks: JoinSet::new(),
            shown: shown.to_string(),
            work,
            indexed,
            hook: std::env::var("PROVISION_TEST_HOOK_AFTER_LOAD").ok(),
        })
    }

    /// A table just loaded: its read-back against `hash` (the source's), and its work.
    pub fn loaded(&mut self, table: &'static str, columns: Vec<Column>, hash: TableHash) {
        self.tasks.spawn(verify::verify_table(
            self.pool.clone(),
            self.hook.clone(),
            table,
            columns,
            hash,
            self.shown.clone(),
        ));
        self.start(table);
    }

    /// Starts `table`'s work (once).
    fn start(&mut self, table: &'static str) {
        let Some(work) = self.work.remove(table) else {
            return;
        };
        let ready = self
            .indexed
            .get_mut(table)
            .and_then(|(tx, _)| tx.take())
            .expect("every table with work has its signal");
        let parents = work
            .foreign_keys
            .iter()
            .map(|fk| {
                self.indexed
                    .get(fk.parent.as_str())
                    .map(|(_, rx)| rx.clone())
            })
            .collect();
        self.tasks.spawn(finish(
            self.pool.clone(),
            table,
            work,
            ready,
            parents,
            self.shown.clone(),
        ));
    }

    /// Starts the work of tables that loaded nothing, then waits for every task; a table
    /// whose read-back differs from its source fails the run. Returns the hashes read back.
    pub async fn wait(mut self) -> Result<HashMap<&'static str, TableHash>, MigrateError> {
        let rest: Vec<&'static str> = self.work.keys().copied().collect();
        for table in rest {
            self.start(table);
        }
        let mut mismatches = Vec::new();
        let mut target_hashes = HashMap::new();
        while let Some(joined) = self.tasks.join_next().await {
            let joined = joined.map_err(|e| MigrateError::Read(e.to_string()))?;
            let Some((name, got, want)) = joined? else {
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
        self.pool.close().await;
        if !mismatches.is_empty() {
            return Err(MigrateError::Verify(mismatches.join("; ")));
        }
        Ok(target_hashes)
    }
}

/// One table's work. A dashboard table's foreign keys are validated and its statistics
/// taken first (neither needs the table's own indexes, and each excludes index builds),
/// then its indexes are built side by side: the builds of different lengths pack the
/// cores at the end better than one long foreign-key scan would. A table inferred from the
/// source may have expression indexes, whose statistics `ANALYZE` gathers only once they
/// exist: its indexes come first. Foreign keys wait for their parent's indexes; a parent
/// whose work failed ends this quietly (the parent's error is the one reported).
async fn finish(
    pool: PgPool,
    table: &'static str,
    work: Work,
    ready: watch::Sender<bool>,
    parents: Vec<Option<watch::Receiver<bool>>>,
    shown: String,
) -> Result<Checked, MigrateError> {
    let Work {
        indexes,
        foreign_keys,
        keys_first,
    } = work;
    let indexes = || async {
        let builds = indexes
            .iter()
            .map(|sql| stage::build_index(pool.clone(), sql.clone(), shown.clone()));
        futures_util::future::try_join_all(builds).await?;
        ready.send_replace(true);
        Ok::<_, MigrateError>(())
    };
    if !keys_first {
        indexes().await?;
    }
    for (fk, parent) in foreign_keys.iter().zip(parents) {
        if let Some(mut parent) = parent {
            if parent.wait_for(|built| *built).await.is_err() {
                return Ok(None);
            }
        }
        let started = Instant::now();
        sqlx::raw_sql(&fk.sql)
            .execute(&pool)
            .await
            .map_err(MigrateError::at(&shown, format!("adding {}", fk.sql)))?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), sql = %fk.sql, "foreign key added");
    }
    let started = Instant::now();
    stage::analyze(&pool, table).await?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), table, "analyzed");
    if keys_first {
        indexes().await?;
    }
    Ok(None)
}
