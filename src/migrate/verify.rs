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

    /// Consumes the complete tuples of `chunk` and keeps what is left for the next one.
    /// PostgreSQL sends a tuple per message, so a chunk is usually parsed where it is,
    /// without a copy.
    fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        if self.pos == self.buf.len() {
            let used = self.parse(chunk)?;
            self.buf.clear();
            self.buf.extend_from_slice(&chunk[used..]);
            self.pos = 0;
            return Ok(());
        }
        self.buf.extend_from_slice(chunk);
        let buf = std::mem::take(&mut self.buf);
        let used = self.parse(&buf[self.pos..]);
        self.buf = buf;
        self.pos += used?;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 1 << 20 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        Ok(())
    }

    /// Hashes the complete tuples at the start of `data` (after the header, once it is all
    /// there) in one pass; returns how many bytes they took. A tuple is hashed whole or
    /// not at all: one cut short is dropped from the row hasher and read again whole.
    fn parse(&mut self, data: &[u8]) -> Result<usize, String> {
        let int16 = |at: usize| i16::from_be_bytes([data[at], data[at + 1]]);
        let int32 = |at: usize| i32::from_be_bytes(data[at..at + 4].try_into().unwrap());
        let mut p = 0;
        if !self.header_done {
            if data.len() < 19 {
                return Ok(0);
            }
            if &data[..11] != b"PGCOPY\n\xff\r\n\0" {
                return Err("bad signature".into());
            }
            let ext = int32(15) as usize;
            if data.len() < 19 + ext {
                return Ok(0);
            }
            p = 19 + ext;
            self.header_done = true;
        }
        while !self.ended && data.len() >= p + 2 {
            let n = int16(p);
            if n == -1 {
                self.ended = true;
                return Ok(p + 2);
            }
            if n as usize != self.kinds.len() {
                return Err(format!("{n} fields, expected {}", self.kinds.len()));
            }
            let mut q = p + 2;
            for i in 0..n as usize {
                if data.len() < q + 4 {
                    self.row.discard();
                    return Ok(p);
                }
                let len = int32(q);
                q += 4;
                if len < 0 {
                    self.row.null();
                    continue;
                }
                let end = q + len as usize;
                if data.len() < end {
                    self.row.discard();
                    return Ok(p);
                }
                hash_field(self.kinds[i], &data[q..end], &mut self.row)?;
                q = end;
            }
            let row = self.row.finish_row();
            self.hash.add(row);
            p = q;
        }
        Ok(p)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY stream of `rows` (int8, text, jsonb; `None` is NULL).
    fn stream(rows: &[(i64, Option<&str>, &str)]) -> Vec<u8> {
        let mut b = b"PGCOPY\n\xff\r\n\0".to_vec();
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        for (id, text, json) in rows {
            b.extend_from_slice(&3i16.to_be_bytes());
            b.extend_from_slice(&8i32.to_be_bytes());
            b.extend_from_slice(&id.to_be_bytes());
            match text {
                Some(t) => {
                    b.extend_from_slice(&(t.len() as i32).to_be_bytes());
                    b.extend_from_slice(t.as_bytes());
                }
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            }
            b.extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
            b.push(1);
            b.extend_from_slice(json.as_bytes());
        }
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b
    }

    fn decoded(chunks: &[&[u8]]) -> TableHash {
        let mut d = Decoder::new(vec![Kind::Int8, Kind::Text, Kind::Jsonb]);
        for c in chunks {
            d.feed(c).unwrap();
        }
        assert!(d.ended, "the trailer was read");
        d.hash
    }

    #[test]
    fn tuples_cut_anywhere_hash_the_same_as_whole() {
        let rows = [
            (1, Some("pass"), r#"{"a": 1}"#),
            (2, None, "[]"),
            (3, Some("a longer message"), r#"{"b": [1, 2]}"#),
        ];
        let data = stream(&rows);
        let mut want = TableHash::default();
        let mut h = RowHasher::default();
        for (id, text, json) in rows {
            h.int(id);
            match text {
                Some(t) => h.text(t.as_bytes()),
                None => h.null(),
            }
            h.json(json).unwrap();
            want.add(h.finish_row());
        }
        assert_eq!(decoded(&[&data]), want);
        assert_eq!(want.rows, 3);
        for cut in 1..data.len() {
            assert_eq!(decoded(&[&data[..cut], &data[cut..]]), want, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(decoded(&bytes), want, "byte by byte");
    }
}
