//! Why a verification could not run at all (as opposed to a check that failed, which is a
//! result in the report): the trust store, the configured route mix, the load generator.
//! The command decides the exit code.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// `--ca-cert` (or `verify.ca_cert`) names a file that is not a PEM certificate bundle.
    #[error("the CA certificate {}", path.display())]
    CaCert {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("the CA certificate {}: no certificate in it (expected PEM, -----BEGIN CERTIFICATE-----)", path.display())]
    NoCertificate { path: PathBuf },
    /// rustls refused the trust store or the protocol versions.
    #[error("cannot build the TLS client configuration")]
    Tls(#[source] rustls::Error),
    #[error("cannot build the TLS client configuration: no usable trust anchors")]
    TrustAnchors(#[source] rustls::client::VerifierBuilderError),
    /// `verify.load.mix` in the configuration is not a usable mix.
    #[error("verify.load.mix: {0}")]
    Mix(String),
    /// The load generator refused its specification or a worker failed.
    #[error("the load: {0}")]
    Load(String),
}
