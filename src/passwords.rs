//! Password hashes: the legacy werkzeug formats the Python dashboard stored, and the
//! server's own (werkzeug's current default, so either app can read the other's users).
//! The format of `users.password_hash`, shared by the server (login, as
//! `server::auth::password`), init (the admin user) and migrate (reporting absurd costs).
//!
//! - `pbkdf2:sha256:N$salt$hex`, `pbkdf2:sha512:N$salt$hex` (`N` optional: werkzeug 3's default)
//! - `scrypt:N:r:p$salt$hex` (64-byte key; `N:r:p` optional, werkzeug's 32768:8:1)

use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Iterations of the server's own PBKDF2-SHA256 hashes (werkzeug 3.0's default).
pub const OWN_ITERATIONS: u32 = 600_000;

/// Stored costs past these are not honoured: one login against such a hash would hold a
/// core for many seconds (or ask for gigabytes), so the hash counts as invalid.
pub const MAX_PBKDF2_ITERATIONS: u64 = 2_000_000;
pub const MAX_SCRYPT_MEMORY: u64 = 64 * 1024 * 1024;
pub const MAX_SCRYPT_P: u64 = 4;

/// Why a stored hash's cost is refused, or None when it is one this server computes.
/// Only the cost is read: a malformed hash is not this function's concern.
pub fn absurd_cost(stored: &str) -> Option<String> {
    let method = stored.split('$').next().unwrap_or("");
    let fields: Vec<&str> = method.split(':').collect();
    match fields.as_slice() {
        ["pbkdf2", _, n] => {
            let n: u64 = n.parse().ok()?;
            (n > MAX_PBKDF2_ITERATIONS).then(|| {
                format!("pbkdf2 with {n} iterations (at most {MAX_PBKDF2_ITERATIONS} are computed)")
            })
        }
        ["scrypt", n, r, p] => {
            let (n, r, p): (u64, u64, u64) = (n.parse().ok()?, r.parse().ok()?, p.parse().ok()?);
            let memory = 128u64.saturating_mul(r).saturating_mul(n);
            if memory > MAX_SCRYPT_MEMORY {
                Some(format!(
                    "scrypt needing {} MiB (N={n}, r={r}; at most {} MiB)",
                    memory / (1024 * 1024),
                    MAX_SCRYPT_MEMORY / (1024 * 1024)
                ))
            } else if p > MAX_SCRYPT_P {
                Some(format!("scrypt with p={p} (at most {MAX_SCRYPT_P})"))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A hash of the server's own format and cost that no password matches: an unknown user's
/// login is checked against it, so it costs what a known user's does.
pub fn dummy() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(16)
            .map(char::from)
            .collect();
        // Any 32 bytes: computing a match would need the preimage.
        format!("pbkdf2:sha256:{OWN_ITERATIONS}${salt}${}", "00".repeat(32))
    })
}

/// Whether `password` matches `stored`. Unknown or malformed formats, and absurd costs,
/// never match. CPU-heavy by design: call from a blocking thread.
pub fn verify(stored: &str, password: &str) -> bool {
    if absurd_cost(stored).is_some() {
        return false;
    }
    let mut parts = stored.splitn(3, '$');
    let (Some(method), Some(salt), Some(expected_hex)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(expected) = hex::decode(expected_hex) else {
        return false;
    };
    let Some(actual) = derive(method, salt, password) else {
        return false;
    };
    actual.len() == expected.len() && bool::from(actual.ct_eq(&expected))
}

fn derive(method: &str, salt: &str, password: &str) -> Option<Vec<u8>> {
    let fields: Vec<&str> = method.split(':').collect();
    match fields.as_slice() {
        ["pbkdf2", hash, rest @ ..] => {
            let iterations: u32 = match rest {
                [] => OWN_ITERATIONS,
                [n] => n.parse().ok().filter(|n| *n > 0)?,
                _ => return None,
            };
            match *hash {
                "sha256" => {
                    let mut out = vec![0u8; 32];
                    pbkdf2::pbkdf2_hmac::<Sha256>(
                        password.as_bytes(),
                        salt.as_bytes(),
                        iterations,
                        &mut out,
                    );
                    Some(out)
                }
                "sha512" => {
                    let mut out = vec![0u8; 64];
                    pbkdf2::pbkdf2_hmac::<Sha512>(
                        password.as_bytes(),
                        salt.as_bytes(),
                        iterations,
                        &mut out,
                    );
                    Some(out)
                }
                _ => None,
            }
        }
        ["scrypt", rest @ ..] => {
            let (n, r, p): (u64, u32, u32) = match rest {
                [] => (32768, 8, 1),
                [n, r, p] => (n.parse().ok()?, r.parse().ok()?, p.parse().ok()?),
                _ => return None,
            };
            if !n.is_power_of_two() || n < 2 {
                return None;
            }
            let log_n = n.trailing_zeros() as u8;
            let params = scrypt::Params::new(log_n, r, p, 64).ok()?;
            let mut out = vec![0u8; 64];
            scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut out).ok()?;
            Some(out)
        }
        _ => None,
    }
}

/// A new hash in the server's own format (`pbkdf2:sha256:600000$salt$hex`).
pub fn hash(password: &str) -> String {
    hash_with(password, OWN_ITERATIONS)
}

/// Like [`hash`] with a chosen iteration count (tests and fixtures use fewer).
pub fn hash_with(password: &str, iterations: u32) -> String {
    let salt: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    format!("pbkdf2:sha256:{iterations}${salt}${}", hex::encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with werkzeug 3.0.6's generate_password_hash('correct horse', method=...).
    const WZ_SHA256: &str = "pbkdf2:sha256:1000$WFT7ozF7rBzY$659ec75ef943e0492358381dc51ce26daba93b6f989bc330d2ae99ef4b17faba";
    const WZ_SHA512: &str = "pbkdf2:sha512:2000$re2iCN3dFgql$df7bc507da15efed3e4728b1a47d397177022de97ff23bfc21c8583f27fd4e349b1517d5e1e2b46ea628025f5aca9c6b01e07a7d874129bc98ec180fee03e0b0";
    const WZ_SCRYPT: &str = "scrypt:1024:8:1$d81RqQFtnC6K$508185ebe763bedb97b940183b0ef9cf7fab2934efea09bba9c533d7fb9432dae4caee96226f1e4cb4f5259f9b7eae70a439437fd826c4691de8e20bcc4aa1b8";
    // werkzeug 3.0.6, password 'pässwörd ☃', method 'scrypt:16384:8:1'.
    const WZ_SCRYPT_UNICODE: &str = "scrypt:16384:8:1$uZQpkkWqUT0kuTte$ac1d322b251b64b6c42ae29ef1c2f30ce8cdf2b49f0ab8bd05eb16d8e77b15395f412f722352618acf173f56cf13d019dc15b37c751ce72762a57832fe10ef45";

    #[test]
    fn werkzeug_hashes_verify() {
        for h in [WZ_SHA256, WZ_SHA512, WZ_SCRYPT] {
            assert!(verify(h, "correct horse"), "{h}");
            assert!(!verify(h, "correct horsE"), "{h}");
        }
        assert!(verify(WZ_SCRYPT_UNICODE, "pässwörd ☃"));
        assert!(!verify(WZ_SCRYPT_UNICODE, "passwörd ☃"));
    }

    #[test]
    fn malformed_hashes_never_match() {
        for h in [
            "",
            "plain",
            "pbkdf2:sha256:0$s$00",
            "pbkdf2:md5:1000$s$00",
            "scrypt:1000:8:1$s$00",
            "pbkdf2:sha256:1000$salt$zz",
            "pbkdf2:sha256:1000$WFT7ozF7rBzY$659ec75e",
        ] {
            assert!(!verify(h, "correct horse"), "{h}");
        }
    }

    #[test]
    fn absurd_costs_are_refused_without_computing() {
        for h in [
            "pbkdf2:sha256:2000001$s$00",
            "pbkdf2:sha512:4294967295$s$00",
            "scrypt:1048576:8:1$s$00",
            "scrypt:16384:8:5$s$00",
            "scrypt:4294967296:8:1$s$00",
        ] {
            assert!(absurd_cost(h).is_some(), "{h}");
            let t = std::time::Instant::now();
            assert!(!verify(h, "x"));
            assert!(
                t.elapsed() < std::time::Duration::from_secs(1),
                "{h} was computed"
            );
        }
        for h in [
            WZ_SHA256,
            WZ_SCRYPT,
            "pbkdf2:sha256:2000000$s$00",
            "scrypt:65536:8:4$s$00",
        ] {
            assert!(absurd_cost(h).is_none(), "{h}");
        }
        assert!(dummy().starts_with("pbkdf2:sha256:600000$"));
        assert!(absurd_cost(dummy()).is_none());
    }

    #[test]
    fn own_hashes_round_trip() {
        let h = hash_with("s3cret", 1000);
        assert!(h.starts_with("pbkdf2:sha256:1000$"));
        assert!(verify(&h, "s3cret"));
        assert!(!verify(&h, "s3cret "));
    }
}
