//! Authentication: bearer tokens for writes, password hashes and sessions for login.

pub use crate::passwords as password;
pub mod session;
pub mod throttle;
pub mod token;

use sha2::{Digest, Sha256};

/// Lowercase sha256 hex of `s`: how tokens and session ids are stored.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}
