//! The config file init writes (`/etc/live-dashboard/provision.yaml`, mode 0600): its
//! answers and generated secrets, plus the sections `serve`, `verify` and the other
//! commands read, so every command agrees with what init set up. Read back, it gives the
//! same answers: a re-run asks nothing and changes nothing.

use std::path::Path;

use super::answers::{
    generate_password, Acme, Answers, BackupPolicy, Monitoring, SiteLimits, Tls, VerifyKept,
    LETS_ENCRYPT,
};
use crate::settings::{ConfigFile, Secret};

/// The first credentials: an admin user for the dashboard and a token for verify.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub admin_user: String,
    pub admin_password: Secret,
    pub verify_token: Secret,
}

impl Credentials {
    pub fn generate() -> Self {
        Credentials {
            admin_user: "admin".into(),
            admin_password: generate_password(),
            verify_token: generate_password(),
        }
    }
}

/// The answers and credentials a config file holds. A value it lacks takes its default (a
/// fresh secret for a missing password), so a hand-written config with only some keys works;
/// the database name, user and password come from `database.url` when the `init` section
/// does not give them. The flag is whether the file gave any of init's answers at all (if
/// not, init may ask on a terminal).
pub fn read(c: &ConfigFile) -> (Answers, Credentials, bool) {
    let i = &c.init;
    let d = Answers::defaults();
    let fresh = Credentials::generate();
    let url = c
        .database
        .url
        .as_ref()
        .and_then(|u| url::Url::parse(u.expose()).ok());
    let from_url = |part: fn(&url::Url) -> Option<String>| url.as_ref().and_then(part);
    let url_user = from_url(|u| Some(u.username().to_string()).filter(|s| !s.is_empty()));
    let url_password = from_url(|u| u.password().map(str::to_string));
    let url_db =
        from_url(|u| Some(u.path().trim_start_matches('/').to_string()).filter(|s| !s.is_empty()));
    let tls = match (i.tls.as_deref(), &c.nginx.tls_cert, &c.nginx.tls_key) {
        (Some("self-signed"), _, _) => Tls::SelfSigned,
        (Some("acme"), _, _) => Tls::Acme(Acme {
            email: c.nginx.acme_email.clone(),
            directory: c
                .nginx
                .acme_directory
                .clone()
                .unwrap_or_else(|| LETS_ENCRYPT.to_string()),
            ca_cert: c
                .nginx
                .acme_ca_cert
                .as_ref()
                .map(|p| p.display().to_string()),
        }),
        (Some("off"), _, _) => Tls::Off,
        (_, Some(cert), Some(key)) => Tls::Files {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
        },
        _ => Tls::Off,
    };
    let given = i.db_name.is_some()
        || i.db_user.is_some()
        || i.db_password.is_some()
        || i.redis_password.is_some()
        || i.tls.is_some()
        || i.admin_user.is_some()
        || url.is_some();
    let answers = Answers {
        db_name: i.db_name.clone().or(url_db).unwrap_or(d.db_name),
        db_user: i.db_user.clone().or(url_user).unwrap_or(d.db_user),
        db_password: i
            .db_password
            .clone()
            .or(url_password.map(Secret::new))
            .unwrap_or(d.db_password),
        redis_password: i.redis_password.clone().unwrap_or(d.redis_password),
        instances: c.server.instances.map(u32::from).unwrap_or(d.instances),
        base_port: c.server.base_port.unwrap_or(d.base_port),
        domain: c.nginx.server_name.clone().unwrap_or(d.domain),
        tls,
        http_port: c.nginx.http_port.unwrap_or(d.http_port),
        https_port: c.nginx.https_port.unwrap_or(d.https_port),
        redis_persistence: i.redis_persistence.unwrap_or(false),
        log_max_mb: c.service.log_max_mb.unwrap_or(d.log_max_mb),
        log_keep: c.service.log_keep.unwrap_or(d.log_keep),
        replica_urls: c.database.replica_urls.clone().unwrap_or_default(),
        max_replica_lag_ms: c
            .database
            .max_replica_lag_ms
            .unwrap_or(d.max_replica_lag_ms),
        limits: SiteLimits {
            api_rate: c.nginx.api_rate.clone().unwrap_or(d.limits.api_rate),
            api_burst: c.nginx.api_burst.unwrap_or(d.limits.api_burst),
            auth_rate: c.nginx.auth_rate.clone().unwrap_or(d.limits.auth_rate),
            auth_burst: c.nginx.auth_burst.unwrap_or(d.limits.auth_burst),
            ws_per_address: c.nginx.ws_per_address.unwrap_or(d.limits.ws_per_address),
            exempt_loopback: c.nginx.exempt_loopback.unwrap_or(d.limits.exempt_loopback),
            max_body_kb: c.nginx.max_body_kb.unwrap_or(d.limits.max_body_kb),
        },
        backups: BackupPolicy::from_config(c),
        monitoring: Monitoring::from_config(c),
        verify: VerifyKept {
            url: c.verify.url.clone(),
            load: c.verify.load.clone(),
            targets: c.verify.targets.clone(),
        },
        monitor_password: i.monitor_password.clone().unwrap_or(d.monitor_password),
    };
    let creds = Credentials {
        admin_user: i.admin_user.clone().unwrap_or(fresh.admin_user),
        admin_password: i.admin_password.clone().unwrap_or(fresh.admin_password),
        verify_token: c.verify.token.clone().unwrap_or(fresh.verify_token),
    };
    (answers, creds, given)
}

/// The app's `DATABASE_URL` for these answers (what the config and the `.env` hold).
pub fn database_url(a: &Answers, vars: &std::collections::BTreeMap<String, String>) -> Secret {
    database_url_at(a, vars, &vars["db_host"])
}

/// The app's database URL with `host` (the database host's own loopback, say). Across
/// hosts with the site's TLS on, the connection must be encrypted (`pg_hba` is `hostssl`
/// for the app hosts): `sslmode=require`, as the `.env` template renders it too.
pub fn database_url_at(
    a: &Answers,
    vars: &std::collections::BTreeMap<String, String>,
    host: &str,
) -> Secret {
    let ssl = if vars["tls"] == "true" && host != "127.0.0.1" {
        "?sslmode=require"
    } else {
        ""
    };
    Secret::new(format!(
        "postgresql://{}:{}@{host}:{}/{}{ssl}",
        a.db_user,
        a.db_password.expose(),
        vars["pg_port"],
        a.db_name
    ))
}

/// Writes `text` to `path` atomically with mode 0600 (the mode is set before the file
/// appears, so the secrets are never readable by others). Unchanged content is left alone;
/// returns whether the file changed.
pub fn write(path: &Path, text: &str) -> std::io::Result<bool> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(false);
    }
    crate::host::fs::write_atomic(path, text.as_bytes(), 0o600, None)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_written_config_with_some_keys_keeps_them_and_fills_the_rest() {
        let text = "database:\n  url: postgresql://app:S3cret@127.0.0.1:5432/dash\nserver:\n  instances: 3\n";
        let (a, c, given) = read(&ConfigFile::parse(text).unwrap());
        assert!(given, "database.url is an answer");
        assert_eq!(
            (
                a.db_name.as_str(),
                a.db_user.as_str(),
                a.db_password.expose()
            ),
            ("dash", "app", "S3cret")
        );
        assert_eq!(a.instances, 3);
        assert_eq!(
            a.redis_password.expose().len(),
            40,
            "a missing secret is generated"
        );
        assert_eq!(c.admin_user, "admin");
        let (_, _, given) = read(&ConfigFile::default());
        assert!(!given, "an empty config answers nothing");
    }
}
