//! Canonical forms for verification: the order-independent content hash of a table,
//! computed once from the converted SQLite values and once from what PostgreSQL returns
//! when the table is read back. Both sides encode each value through [`Canon`]; JSON is
//! compared by meaning (jsonb reorders keys and normalizes spacing), with numbers kept
//! as exact decimals, never as floats.

use xxhash_rust::xxh3::xxh3_128;

use super::json::{canonical_json, JsonProblem};

/// An order-independent multiset hash: the wrapping sum of per-row XXH3-128 hashes, and
/// the row count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableHash {
    pub sum: u128,
    pub rows: u64,
}

impl TableHash {
    pub fn add(&mut self, row_hash: u128) {
        self.sum = self.sum.wrapping_add(row_hash);
        self.rows += 1;
    }

    pub fn merge(&mut self, other: TableHash) {
        self.sum = self.sum.wrapping_add(other.sum);
        self.rows += other.rows;
    }

    pub fn hex(&self) -> String {
        format!("{:032x}", self.sum)
    }
}

/// Builds rows' canonical bytes in one reused buffer and hashes each row in one call.
#[derive(Default)]
pub struct RowHasher {
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl RowHasher {
    pub fn null(&mut self) {
        self.buf.push(0);
    }
    pub fn int(&mut self, v: i64) {
        self.buf.push(1);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn float(&mut self, v: f64) {
        self.buf.push(2);
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.extend_from_slice(&[3, v as u8]);
    }
    pub fn text(&mut self, v: &[u8]) {
        self.buf.push(4);
        self.buf.extend_from_slice(&(v.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(v);
    }
    /// Microseconds since 2000-01-01 UTC (PostgreSQL's epoch).
    pub fn timestamp(&mut self, pg_micros: i64) {
        self.buf.push(5);
        self.buf.extend_from_slice(&pg_micros.to_le_bytes());
    }
    /// JSON text (valid, as checked by [`check_json`]), hashed by meaning.
    pub fn json(&mut self, text: &str) -> Result<(), JsonProblem> {
        self.buf.push(6);
        self.scratch.clear();
        canonical_json(text, &mut self.scratch)?;
        self.buf
            .extend_from_slice(&(self.scratch.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(&self.scratch);
        Ok(())
    }
    /// An exact decimal in normalized form (see [`normalize_decimal`]).
    pub fn decimal(&mut self, digits: &str, exp: i64) {
        self.buf.push(7);
        self.buf
            .extend_from_slice(&(digits.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(digits.as_bytes());
        self.buf.extend_from_slice(&exp.to_le_bytes());
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.push(8);
        self.buf.extend_from_slice(&(v.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(v);
    }
    /// Forgets the row built so far.
    pub fn discard(&mut self) {
        self.buf.clear();
    }
    /// Hashes the row built so far and starts the next one.
    pub fn finish_row(&mut self) -> u128 {
        let h = xxh3_128(&self.buf);
        self.buf.clear();
        h
    }
}
