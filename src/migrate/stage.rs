//! The staging schema and the swap. Tables are created in `provision_stage` like the
//! dashboard's own (columns, defaults, identities), loaded without indexes, then given
//! exactly the indexes and constraints the dashboard schema has — same names, read from
//! the catalog — and swapped into `public` in one transaction with the ledger row. A run
//! killed at any moment leaves `public` as it was; the next run drops the leftover stage.

use sqlx::{PgConnection, Row};

use super::dashboard::Table;
use super::ident::{quote as q, STAGE};

const MARK: &str = "provision migrate: staging area of an unfinished migration; safe to drop";

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(
        "schema {STAGE} exists and was not made by provision migrate; rename or drop it first"
    )]
    ForeignStage,
    #[error("{what}: {source}")]
    Db {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("the staged schema differs from the dashboard's: {0}")]
    Mismatch(String),
}

pub fn db(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StageError {
    let what = what.into();
    move |source| StageError::Db { what, source }
}

/// Whether PostgreSQL accepts `create_index` on the (still empty) staged table: tried in
/// a transaction that is rolled back. `Some(why)` when it refuses it.
pub async fn try_index(
    conn: &mut PgConnection,
    create_index: &str,
) -> Result<Option<String>, StageError> {
    use sqlx::Connection;
    let mut tx = conn
        .begin()
        .await
        .map_err(db("trying a translated index"))?;
    let tried = sqlx::raw_sql(create_index).execute(&mut *tx).await;
    tx.rollback()
        .await
        .map_err(db("trying a translated index"))?;
    Ok(match tried {
        Ok(_) => None,
        Err(sqlx::Error::Database(e)) => Some(e.message().to_string()),
        Err(e) => {
            return Err(StageError::Db {
                what: format!("trying {create_index}"),
                source: e,
            })
        }
    })
}

/// Planner statistics for a staged table before the swap (they move with the table), so
/// the first queries after a migration are not planned on empty statistics.
pub async fn analyze(pool: &sqlx::PgPool, table: &str) -> Result<(), StageError> {
    sqlx::query(&format!("ANALYZE {STAGE}.{}", q(table)))
        .execute(pool)
        .await
        .map_err(db(format!("ANALYZE {table}")))?;
    Ok(())
}

/// The staging schema of a run that failed, dropped (it holds nothing the target needs;
/// a `kill -9` leftover is dropped by the next run's [`prepare`] instead).
pub async fn discard(conn: &mut PgConnection) -> Result<(), StageError> {
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {STAGE} CASCADE"))
        .execute(&mut *conn)
        .await
        .map_err(db("dropping the staging schema of a failed run"))?;
    Ok(())
}

/// Drops a stage left by an interrupted run (only if it carries our mark), then creates
/// the stage tables: the dashboard's like the public ones, inferred ones by `creates`.
pub async fn prepare(
    conn: &mut PgConnection,
    tables: &[Table],
    creates: &[String],
) -> Result<(), StageError> {
    let existing: Option<Option<String>> = sqlx::query_scalar(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1",
    )
    .bind(STAGE)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("looking for a previous staging schema"))?;
    match existing {
        Some(Some(c)) if c == MARK => {
            sqlx::query(&format!("DROP SCHEMA {STAGE} CASCADE"))
                .execute(&mut *conn)
                .await
                .map_err(db("dropping the staging schema of an interrupted run"))?;
        }
        Some(_) => return Err(StageError::ForeignStage),
        None => {}
    }
    let mut ddl = format!("CREATE SCHEMA {STAGE}; COMMENT ON SCHEMA {STAGE} IS '{MARK}';");
    for t in tables {
        ddl.push_str(&format!(
            "CREATE TABLE {STAGE}.{0} (LIKE public.{0} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED);",
            t.name
        ));
    }
    for create in creates {
        ddl.push_str(create);
        ddl.push(';');
    }
    sqlx::raw_sql(&ddl)
        .execute(&mut *conn)
        .await
        .map_err(db("creating the staging tables"))?;
    Ok(())
}

/// The statements that give the staged tables the dashboard's indexes and constraints.
#[derive(Debug, Default)]
pub struct Ddl {
    /// `CREATE INDEX` statements by table; independent of each other.
    pub indexes: Vec<(&'static str, String)>,
    /// CHECK constraints: added before the load, so COPY checks each row as it arrives
    /// instead of a second pass over the table.
    pub checks: Vec<String>,
    /// Primary keys and unique constraints (on their indexes, once built).
    pub constraints: Vec<String>,
    /// Foreign keys: each once its table's and its parent's indexes are built.
    pub foreign_keys: Vec<ForeignKey>,
}

/// A foreign key of a staged table: the statement adding it and the table it references.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub table: &'static str,
    pub parent: String,
    pub sql: String,
}

/// Rewrites `public.<table>` references to the stage for every dashboard table.
fn to_stage(sql: &str, tables: &[Table]) -> String {
    let mut out = sql.to_string();
    for t in tables {
        for end in [" ", "(", ";"] {
            out = out.replace(
                &format!("public.{}{end}", t.name),
                &format!("{STAGE}.{}{end}", t.name),
            );
        }
        if out.ends_with(&format!("public.{}", t.name)) {
            let cut = out.len() - format!("public.{}", t.name).len();
            out.replace_range(cut.., &format!("{STAGE}.{}", t.name));
        }
    }
    out
}

/// Reads the public tables' index and constraint definitions from the catalog.
pub async fn ddl(conn: &mut PgConnection, tables: &[Table]) -> Result<Ddl, StageError> {
    // Fully qualified names in the definitions, whatever the session's search_path.
    sqlx::query("SET search_path = pg_catalog")
        .execute(&mut *conn)
        .await
        .map_err(db("setting search_path"))?;
    let mut out = Ddl::default();
    for t in tables {
        let rel = format!("public.{}", t.name);
        let indexes = sqlx::query(
            "SELECT pg_get_indexdef(x.indexrelid) AS def FROM pg_index x \
             WHERE x.indrelid = $1::regclass ORDER BY x.indexrelid",
        )
        .bind(&rel)
        .fetch_all(&mut *conn)
        .await
        .map_err(db(format!("reading the indexes of {rel}")))?;
        for row in indexes {
            let def: String = row.get("def");
            out.indexes.push((t.name, to_stage(&def, tables)));
        }
        let constraints = sqlx::query(
            "SELECT conname, contype::text AS contype, pg_get_constraintdef(oid) AS def, \
               (SELECT relname::text FROM pg_class WHERE oid = confrelid) AS parent \
             FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY oid",
        )
        .bind(&rel)
        .fetch_all(&mut *conn)
        .await
        .map_err(db(format!("reading the constraints of {rel}")))?;
        for row in constraints {
            let name: String = row.get("conname");
            let kind: String = row.get("contype");
            let def: String = row.get("def");
            let target = format!("ALTER TABLE {STAGE}.{} ADD CONSTRAINT \"{name}\"", t.name);
            match kind.as_str() {
                "p" => out
                    .constraints
                    .push(format!("{target} PRIMARY KEY USING INDEX \"{name}\"")),
                "u" => out
                    .constraints
                    .push(format!("{target} UNIQUE USING INDEX \"{name}\"")),
                "f" => out.foreign_keys.push(ForeignKey {
                    table: t.name,
                    parent: row.get::<Option<String>, _>("parent").unwrap_or_default(),
                    sql: format!("{target} {}", to_stage(&def, tables)),
                }),
                "c" => out.checks.push(format!("{target} {def}")),
                _ => out.constraints.push(format!("{target} {def}")),
            }
        }
    }
    sqlx::query("RESET search_path")
        .execute(&mut *conn)
        .await
        .map_err(db("resetting search_path"))?;
    Ok(out)
}

/// Sets each staged identity so new rows continue after the largest value and after
/// SQLite's AUTOINCREMENT high-water mark. `identities` holds (table, column, SQLite
/// table); returns (table, next value).
pub async fn continue_identities(
    conn: &mut PgConnection,
    identities: &[(&'static str, &'static str, String)],
    high_water: &dyn Fn(&str) -> i64,
) -> Result<Vec<(String, i64)>, StageError> {
    let mut next = Vec::new();
    for (table, column, source) in identities {
        let seq: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, $2)")
            .bind(format!("{STAGE}.{}", q(table)))
            .bind(*column)
            .fetch_one(&mut *conn)
            .await
            .map_err(db(format!("finding the identity of {table}")))?;
        let Some(seq) = seq else { continue };
        let max: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT max({}) FROM {STAGE}.{}",
            q(column),
            q(table)
        ))
        .fetch_one(&mut *conn)
        .await
        .map_err(db(format!("reading the largest {column} of {table}")))?;
        let last = max.unwrap_or(0).max(high_water(source));
        if last >= 1 {
            sqlx::query("SELECT setval($1::regclass, $2, true)")
                .bind(&seq)
                .bind(last)
                .execute(&mut *conn)
                .await
                .map_err(db(format!("setting the identity of {table}")))?;
        }
        next.push((table.to_string(), last.max(0) + 1));
    }
    Ok(next)
}

/// Compares the staged tables with the public ones: columns, types, NOT NULL, index and
/// constraint names, and that every constraint is validated.
pub async fn check_schema(conn: &mut PgConnection, tables: &[Table]) -> Result<(), StageError> {
    for t in tables {
        let shape = |schema: &'static str| {
            format!(
                "SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || \
                   CASE WHEN a.attnotnull THEN ' not null' ELSE '' END || \
                   CASE WHEN a.attidentity <> '' THEN ' identity' ELSE '' END, ', ' ORDER BY a.attnum) \
                 || ' | ' || coalesce((SELECT string_agg(i.relname::text, ',' ORDER BY i.relname) \
                      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), '') \
                 || ' | ' || coalesce((SELECT string_agg(conname || CASE WHEN convalidated THEN '' ELSE ' NOT VALID' END, \
                      ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = c.oid), '') \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 WHERE n.nspname = '{schema}' AND c.relname = $1 GROUP BY c.oid"
            )
        };
        let public: Option<String> = sqlx::query_scalar(&shape("public"))
            .bind(t.name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading the public schema"))?;
        let staged: Option<String> = sqlx::query_scalar(&shape(STAGE))
            .bind(t.name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading the staged schema"))?;
        if public != staged {
            return Err(StageError::Mismatch(format!(
                "{}: public has [{}], staged has [{}]",
                t.name,
                public.unwrap_or_default(),
                staged.unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// The swap, inside the caller's transaction: drops the public tables being replaced (no
/// CASCADE: an object outside the migration depending on them stops it with PostgreSQL's
/// message) and moves the staged ones in, keeping the previous owner. `dashboard` are the
/// dashboard's tables (replaced as a set), `inferred` other tables (replaced if present).
pub async fn swap(
    tx: &mut PgConnection,
    dashboard: &[Table],
    inferred: &[&'static str],
) -> Result<(), StageError> {
    let mut replaced: Vec<String> = dashboard.iter().map(|t| t.name.to_string()).collect();
    for name in inferred {
        let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(format!("public.{}", q(name)))
            .fetch_one(&mut *tx)
            .await
            .map_err(db("looking for tables to replace"))?;
        if exists.is_some() {
            replaced.push(name.to_string());
        }
    }
    let list: Vec<String> = replaced
        .iter()
        .map(|t| format!("public.{}", q(t)))
        .collect();
    let mut owners: Vec<(String, String)> = Vec::new();
    if !list.is_empty() {
        sqlx::query(&format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            list.join(", ")
        ))
        .execute(&mut *tx)
        .await
        .map_err(db("locking the tables being replaced"))?;
        owners = sqlx::query_as(
            "SELECT c.relname::text, pg_get_userbyid(c.relowner)::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = ANY($1)",
        )
        .bind(&replaced)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading the tables' owners"))?;
        sqlx::query(&format!("DROP TABLE {}", list.join(", ")))
            .execute(&mut *tx)
            .await
            .map_err(db(
                "replacing the tables (something outside the migration depends on them)",
            ))?;
    }
    for name in dashboard
        .iter()
        .map(|t| t.name)
        .chain(inferred.iter().copied())
    {
        sqlx::query(&format!(
            "ALTER TABLE {STAGE}.{} SET SCHEMA public",
            q(name)
        ))
        .execute(&mut *tx)
        .await
        .map_err(db(format!("moving {name} into public")))?;
    }
    for (table, owner) in owners {
        sqlx::query(&format!(
            "ALTER TABLE public.{} OWNER TO {}",
            q(&table),
            q(&owner)
        ))
        .execute(&mut *tx)
        .await
        .map_err(db(format!("giving {table} back to its owner {owner}")))?;
    }
    sqlx::query(&format!("DROP SCHEMA {STAGE}"))
        .execute(&mut *tx)
        .await
        .map_err(db("dropping the empty staging schema"))?;
    Ok(())
}

/// Builds one index (a phase-2 task; runs beside the other tables' loads and read-backs).
pub async fn build_index(
    pool: sqlx::PgPool,
    sql: String,
    target: String,
) -> Result<
    Option<(
        &'static str,
        super::canonical::TableHash,
        super::canonical::TableHash,
    )>,
    super::MigrateError,
> {
    let started = std::time::Instant::now();
    match sqlx::raw_sql(&sql).execute(&pool).await {
        Ok(_) => {}
        Err(e) => {
            if let Some(collision) = collision(&pool, &sql, &e).await {
                return Err(collision);
            }
            return Err(super::MigrateError::at(&target, format!("building {sql}"))(
                e,
            ));
        }
    }
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), %sql, "index built");
    Ok(None)
}

/// A unique index that failed on duplicates (23505): the table, PostgreSQL's key and the
/// colliding rows, read from the staged table by the index's own columns.
async fn collision(pool: &sqlx::PgPool, sql: &str, e: &sqlx::Error) -> Option<super::MigrateError> {
    let db = e.as_database_error()?;
    if db.code().as_deref() != Some("23505") {
        return None;
    }
    let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    let key = pg
        .detail()
        .unwrap_or("a key is duplicated")
        .trim_end_matches('.');
    // CREATE UNIQUE INDEX "name" ON provision_stage."table" (cols) [WHERE …]
    let (head, rest) = sql.split_once(&format!(" ON {STAGE}."))?;
    let index = head.rsplit(' ').next()?.trim_matches('"').to_string();
    let open = rest.find(" (")?;
    let table = &rest[..open];
    let (cols, tail) = split_group(&rest[open + 1..])?;
    let filter = tail
        .trim()
        .strip_prefix("WHERE ")
        .map(|w| format!("WHERE {w}"));
    let query = format!(
        "SELECT string_agg(row_to_json(t)::text, ' and ') FROM (SELECT * FROM {STAGE}.{table} s \
         {where_} {and_} ({cols}) IN (SELECT {cols} FROM {STAGE}.{table} {filter} GROUP BY {cols} \
         HAVING count(*) > 1 LIMIT 1) LIMIT 2) t",
        where_ = if filter.is_some() { "" } else { "WHERE" },
        and_ = match &filter {
            Some(f) => format!("{f} AND"),
            None => String::new(),
        },
        filter = filter.clone().unwrap_or_default(),
    );
    let rows: Option<String> = sqlx::query_scalar(&query)
        .fetch_one(pool)
        .await
        .ok()
        .flatten();
    Some(super::MigrateError::Collision {
        table: table.trim_matches('"').to_string(),
        index,
        key: key.to_string(),
        rows: rows.unwrap_or_else(|| "(they could not be read back)".into()),
    })
}

/// `(…) rest` → (`…`, `rest`), parentheses nested.
fn split_group(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('(')?;
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// Adds an inferred table's foreign key. Rows that violate it are migrated as they are
/// and the key is kept `NOT VALID` (reported); a key PostgreSQL cannot have (the parent
/// columns are not unique) is reported and left out.
pub async fn add_inferred_fk(
    conn: &mut PgConnection,
    sql: &str,
    what: &str,
) -> Result<Option<super::report::Skipped>, StageError> {
    let note = |why: String| {
        Some(super::report::Skipped {
            kind: "foreign key".into(),
            name: what.to_string(),
            why,
        })
    };
    match sqlx::raw_sql(sql).execute(&mut *conn).await {
        Ok(_) => Ok(None),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23503") => {
            sqlx::raw_sql(&format!("{sql} NOT VALID"))
                .execute(&mut *conn)
                .await
                .map_err(db(format!("adding {sql} NOT VALID")))?;
            Ok(note(format!(
                "some rows violate it ({}); they are migrated as they are and the key is NOT VALID \
                 (new rows are checked)",
                e.message()
            )))
        }
        Err(sqlx::Error::Database(e))
            if matches!(e.code().as_deref(), Some("42830") | Some("42804")) =>
        {
            Ok(note(format!("not created: {}", e.message())))
        }
        // SQLite accepts a key naming a table or column that does not exist (it checks
        // nothing until foreign_keys is on); PostgreSQL cannot have it.
        Err(sqlx::Error::Database(e))
            if matches!(e.code().as_deref(), Some("42P01") | Some("42703")) =>
        {
            Ok(note(format!(
                "not created: it names what the source does not have ({})",
                e.message()
            )))
        }
        Err(e) => Err(StageError::Db {
            what: format!("adding {sql}"),
            source: e,
        }),
    }
}
