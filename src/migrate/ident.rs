//! PostgreSQL identifiers as migrate writes them: quoted everywhere, cut to 63 bytes with
//! a hash suffix so long names stay distinct, unique among what a migration creates, and
//! the staging schema every table is loaded into before the swap. Used by every step of
//! the pipeline, so it depends on none of them.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

/// The schema tables are loaded into and verified in, before the swap into `public`.
pub const STAGE: &str = "provision_stage";

/// `ident` as a quoted PostgreSQL identifier.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A PostgreSQL identifier for `name`: itself when it fits in 63 bytes, else a prefix and
/// 8 hex digits of its sha256 (so distinct long names stay distinct).
pub fn pg_name(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_string();
    }
    let mut cut = 54;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let h = hex::encode(Sha256::digest(name.as_bytes()));
    format!("{}_{}", &name[..cut], &h[..8])
}

/// `base`, or `base` with a numeric suffix when taken (index and constraint names share
/// one namespace per schema in PostgreSQL).
pub fn unique_name(base: &str, taken: &mut HashSet<String>) -> String {
    let mut name = pg_name(base);
    let mut n = 1;
    while taken.contains(&name) {
        n += 1;
        name = pg_name(&format!("{base}_{n}"));
    }
    taken.insert(name.clone());
    name
}
