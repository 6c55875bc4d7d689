//! A self-signed certificate for tests (openssl, as init's `--tls self-signed` does).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A self-signed certificate for localhost and 127.0.0.1 (openssl, as init's
/// `--tls self-signed` does); returns (cert, key) paths.
pub fn self_signed(dir: &Path, days: u32) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args([
            "-keyout",
            &key.display().to_string(),
            "-out",
            &cert.display().to_string(),
        ])
        .args(["-days", &days.to_string(), "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}
