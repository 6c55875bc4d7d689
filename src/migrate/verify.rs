//! Verification by reading back: each staged table is read from PostgreSQL with
//! `COPY … TO STDOUT (FORMAT binary)` and hashed value by value in the same canonical
//! form as the source side, so a cell changed, lost or added after loading shows as a
//! mismatch. Independent of the writer's buffers: it decodes what PostgreSQL returns.

use futures_util::TryStreamExt;
use sqlx::PgConnection;

use super::canonical::{RowHasher, TableHash};
use super::convert::Kind;

/// Streaming decoder of PostgreSQL's binary COPY format.
struct Decoder {
    kinds: Vec<Kind>,
    buf: Vec<u8>,
    pos: usize,
    header_done: bool,
    ended: bool,
    hash: TableHash,
    row: RowHasher,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("reading {table} back from PostgreSQL failed: {source}")]
    Db {
        table: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{table}: the data read back is not valid binary COPY: {why}")]
    Format { table: String, why: String },
}

impl Decoder {
    fn new(kinds: Vec<Kind>) -> Self {
        Decoder {
            kinds,
            buf: Vec::new(),
            pos: 0,
            header_done: false,
            ended: false,
            hash: TableHash::default(),
            row: RowHasher::default(),
        }
    }

    fn need(&self, n: usize) -> bool {
        self.buf.len() - self.pos >= n
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    /// Consumes complete tuples from the buffer.
    fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        self.buf.extend_from_slice(chunk);
        if !self.header_done && !self.header()? {
            return Ok(());
        }
        while !self.ended && self.need(2) {
            let start = self.pos;
            let n = i16::from_be_bytes(self.take(2).try_into().unwrap());
            if n == -1 {
                self.ended = true;
                break;
            }
            if n as usize != self.kinds.len() {
                return Err(format!("{n} fields, expected {}", self.kinds.len()));
            }
            if !self.tuple_complete(n as usize) {
                self.pos = start;
                break;
            }
            for i in 0..n as usize {
                let len = i32::from_be_bytes(self.take(4).try_into().unwrap());
                if len < 0 {
                    self.row.null();
                    continue;
                }
                let (from, to) = (self.pos, self.pos + len as usize);
                self.pos = to;
                hash_field(self.kinds[i], &self.buf[from..to], &mut self.row)?;
            }
            let row = self.row.finish_row();
            self.hash.add(row);
        }
        if self.pos > 1 << 20 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        Ok(())
    }

    /// Skips the COPY header once it is all here; false while it is not.
    fn header(&mut self) -> Result<bool, String> {
        if !self.need(19) {
            return Ok(false);
        }
        if &self.buf[..11] != b"PGCOPY\n\xff\r\n\0" {
            return Err("bad signature".into());
        }
        let ext = i32::from_be_bytes(self.buf[15..19].try_into().unwrap()) as usize;
        if !self.need(19 + ext) {
            return Ok(false);
        }
        self.pos = 19 + ext;
        self.header_done = true;
        Ok(true)
    }

    /// Whether the `n` fields after the position are all in the buffer (a tuple is hashed
    /// whole or not at all).
    fn tuple_complete(&self, n: usize) -> bool {
        let mut p = self.pos;
        for _ in 0..n {
            if self.buf.len() < p + 4 {
                return false;
            }
            let len = i32::from_be_bytes(self.buf[p..p + 4].try_into().unwrap());
            p += 4 + len.max(0) as usize;
            if self.buf.len() < p {
                return false;
            }
        }
        true
    }
}

/// Hashes one non-NULL field of `kind`, decoded from PostgreSQL's binary form.
fn hash_field(kind: Kind, v: &[u8], h: &mut RowHasher) -> Result<(), String> {
    let fixed = |want: usize| {
        if v.len() == want {
            Ok(())
        } else {
            Err(format!("a {kind:?} field of {} bytes", v.len()))
        }
    };
    match kind {
        Kind::Int8 => {
            fixed(8)?;
            h.int(i64::from_be_bytes(v[..8].try_into().unwrap()))
        }
        Kind::Float8 => {
            fixed(8)?;
            h.float(f64::from_bits(u64::from_be_bytes(
                v[..8].try_into().unwrap(),
            )))
        }
        Kind::Bool => {
            fixed(1)?;
            h.bool(v[0] != 0)
        }
        Kind::Text => h.text(v),
        Kind::Bytea => h.bytes(v),
        Kind::Numeric => {
            let (neg, digits, exp) = super::numeric::decode(v)?;
            h.decimal(&format!("{}{digits}", if neg { "-" } else { "" }), exp);
        }
        Kind::Timestamptz => {
            fixed(8)?;
            h.timestamp(i64::from_be_bytes(v[..8].try_into().unwrap()))
        }
        Kind::Jsonb => {
            if v.first() != Some(&1) {
                return Err("unknown jsonb version".into());
            }
            let text = std::str::from_utf8(&v[1..]).map_err(|e| e.to_string())?;
            h.json(text).map_err(|e| e.0)?;
        }
    }
    Ok(())
}

/// Reads `schema.table` (columns `cols` of kinds `kinds`) back and hashes it.
pub async fn read_back(
    conn: &mut PgConnection,
    schema: &str,
    table: &str,
    cols: &[&str],
    kinds: Vec<Kind>,
) -> Result<TableHash, VerifyError> {
    let q = super::ident::quote;
    let list: Vec<String> = cols.iter().map(|c| q(c)).collect();
    let sql = format!(
        "COPY {}.{} ({}) TO STDOUT (FORMAT binary)",
        q(schema),
        q(table),
        list.join(", ")
    );
    let mut dec = Decoder::new(kinds);
    let mut stream = conn
        .copy_out_raw(&sql)
        .await
        .map_err(|source| VerifyError::Db {
            table: table.to_string(),
            source,
        })?;
    while let Some(chunk) = stream.try_next().await.map_err(|source| VerifyError::Db {
        table: table.to_string(),
        source,
    })? {
        dec.feed(&chunk).map_err(|why| VerifyError::Format {
            table: table.to_string(),
            why,
        })?;
    }
    if !dec.ended {
        return Err(VerifyError::Format {
            table: table.to_string(),
            why: "no trailer".into(),
        });
    }
    Ok(dec.hash)
}

/// One table's verification task: runs the test hook first when one is set (so a test
/// can change staged data between load and read-back), then reads the table back.
/// Returns (table, hash read back, hash of the source).
pub async fn verify_table(
    pool: sqlx::PgPool,
    hook: Option<String>,
    table: &'static str,
    columns: Vec<super::dashboard::Column>,
    want: TableHash,
    target: String,
) -> Result<Option<(&'static str, TableHash, TableHash)>, super::MigrateError> {
    let db = |what: &str| {
        let (target, what) = (target.clone(), what.to_string());
        move |source| super::MigrateError::Target {
            target,
            what,
            source,
        }
    };
    if let Some(sql) = hook {
        let stage = super::ident::STAGE;
        let script = format!("SET search_path = {stage}; {sql}; RESET search_path");
        sqlx::raw_sql(&script)
            .execute(&pool)
            .await
            .map_err(db("running the test hook"))?;
    }
    let mut conn = pool.acquire().await.map_err(db("connecting"))?;
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let kinds = columns.iter().map(|c| c.kind).collect();
    let started = std::time::Instant::now();
    let got = read_back(&mut conn, super::ident::STAGE, table, &names, kinds)
        .await
        .map_err(|e| super::MigrateError::Verify(e.to_string()))?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        table,
        "read back"
    );
    Ok(Some((table, got, want)))
}
