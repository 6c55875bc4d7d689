//! What `init` decides for a host: names, ports, instances, TLS and the generated secrets.
//! Defaults are docs/architecture.md's conventions; init saves them in the config file so a re-run
//! asks nothing and changes nothing.

use crate::settings::Secret;

/// How nginx serves TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    Off,
    /// A certificate and key init makes (openssl), kept under the config directory.
    SelfSigned,
    /// Files the user gives.
    Files {
        cert: String,
        key: String,
    },
}

#[derive(Debug, Clone)]
pub struct Answers {
    pub db_name: String,
    pub db_user: String,
    pub db_password: Secret,
    pub redis_password: Secret,
    pub instances: u32,
    pub base_port: u16,
    /// nginx's `server_name`; `_` for any.
    pub domain: String,
    pub tls: Tls,
    pub http_port: u16,
    pub https_port: u16,
    pub redis_persistence: bool,
}

/// A generated password: 40 alphanumeric characters (safe in URLs and EnvironmentFile=).
pub fn generate_password() -> Secret {
    use rand::distributions::{Alphanumeric, DistString};
    Secret::new(Alphanumeric.sample_string(&mut rand::rngs::OsRng, 40))
}

impl Answers {
    /// The conventions' defaults, with fresh passwords.
    pub fn defaults() -> Self {
        Answers {
            db_name: "live_validation_dashboard".into(),
            db_user: "dashboard_user".into(),
            db_password: generate_password(),
            redis_password: generate_password(),
            instances: 2,
            base_port: 8000,
            domain: "_".into(),
            tls: Tls::Off,
            http_port: 80,
            https_port: 443,
            redis_persistence: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_alphanumeric_and_fresh() {
        let a = generate_password();
        assert_eq!(a.expose().len(), 40);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.expose(), generate_password().expose());
    }
}
