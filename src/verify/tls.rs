//! TLS for verify: one rustls client configuration (the system's roots, plus the
//! configured certificate, so a self-signed one verifies on its own host) shared by the
//! checks' HTTP client, the TLS check and the load generator; and the TLS check itself
//! (the handshake verifies, the protocol is TLS 1.2 or 1.3, days until the certificate
//! expires).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use super::check::{Passed, Verdict};
use super::error::VerifyError;

/// A certificate expiring sooner than this fails the check: time to renew.
pub const MIN_DAYS_LEFT: i64 = 7;

/// The client configuration: the system's trust store plus every certificate in `extra`
/// (a PEM file): each is trusted as a CA, and also pinned, so a self-signed site
/// certificate verifies as itself even when it is marked as a CA (openssl's default for
/// `req -x509`, which WebPKI refuses as a server certificate).
pub fn client_config(extra: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, VerifyError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    let mut pinned = Vec::new();
    if let Some(path) = extra {
        let unreadable = |source| VerifyError::CaCert {
            path: path.to_path_buf(),
            source,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(unreadable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unreadable)?;
        if certs.is_empty() {
            return Err(VerifyError::NoCertificate {
                path: path.to_path_buf(),
            });
        }
        for cert in certs {
            let _ = roots.add(cert.clone());
            pinned.push(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    // A host without trust anchors (no ca-certificates) can still verify over plain
    // http, or a certificate --ca-cert pins; any other certificate is refused then.
    let webpki = if roots.is_empty() {
        None
    } else {
        Some(
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            )
            .build()
            .map_err(VerifyError::TrustAnchors)?,
        )
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(VerifyError::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedOrWebPki {
            webpki,
            pinned,
            algorithms,
        }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// WebPKI verification, except that a server certificate byte-identical to one the user
/// named is accepted as it is (its expiry is still judged by [`check`]).
#[derive(Debug)]
struct PinnedOrWebPki {
    /// None on a host with no trust anchors.
    webpki: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        match &self.webpki {
            Some(w) => {
                w.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::General(
                "this host has no trust anchors (install ca-certificates), and the \
                 certificate is not the one --ca-cert names"
                    .into(),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Connects to `connect` (`host:port`), handshakes as `name` and reports the protocol and
/// the certificate's remaining days.
pub async fn check(name: &str, connect: &str, config: Arc<rustls::ClientConfig>) -> Verdict {
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|e| format!("{name:?} is not a TLS server name: {e}"))?;
    let tcp = tokio::net::TcpStream::connect(connect)
        .await
        .map_err(|e| format!("{connect}: {e}"))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(server_name, tcp)
        .await
        .map_err(|e| {
            format!("{name} ({connect}): the TLS handshake failed: {e}; the certificate must be valid for {name} and trusted (on its own host, nginx.tls_cert is trusted; from elsewhere, pass --ca-cert)")
        })?;
    let (_, conn) = stream.get_ref();
    let protocol = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        other => {
            return Err(format!(
                "{name}: negotiated {other:?}; allow only TLSv1.2 and TLSv1.3 (ssl_protocols)"
            ))
        }
    };
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| format!("{name}: no certificate was presented"))?;
    let expires = not_after(leaf.as_ref())
        .ok_or_else(|| format!("{name}: the certificate's validity could not be read"))?;
    let days = (expires - chrono::Utc::now()).num_days();
    if days < MIN_DAYS_LEFT {
        return Err(format!(
            "{name}: the certificate expires {} ({days} days): renew it and reload nginx",
            expires.format("%Y-%m-%d")
        ));
    }
    Ok(Passed::Saw(format!(
        "{name}: {protocol}, certificate verified, expires {} ({days} days)",
        expires.format("%Y-%m-%d")
    )))
}

/// One DER element: (tag, contents, the rest).
fn tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The `notAfter` of an X.509 certificate (RFC 5280 §4.1): Certificate → tbsCertificate →
/// [version] serial signature issuer validity{notBefore notAfter}.
pub fn not_after(der: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version
    }
    for _ in 0..3 {
        rest = tlv(rest)?.2; // serial, signature, issuer
    }
    let (_, validity, _) = tlv(rest)?;
    let (_, _, after) = tlv(validity)?;
    let (tag, time, _) = tlv(after)?;
    let text = std::str::from_utf8(time).ok()?;
    let full = match tag {
        0x17 => {
            // UTCTime: YYMMDDHHMMSSZ; years 50..99 are 19xx.
            let yy: u32 = text.get(..2)?.parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 => text.to_string(),
        _ => return None,
    };
    let naive =
        chrono::NaiveDateTime::parse_from_str(full.trim_end_matches('Z'), "%Y%m%d%H%M%S").ok()?;
    Some(naive.and_utc())
}
