//! The config file init writes (`/etc/live-dashboard/provision.yaml`, mode 0600): its
//! answers and generated secrets, plus the sections `serve`, `verify` and the other
//! commands read, so every command agrees with what init set up. Read back, it gives the
//! same answers: a re-run asks nothing and changes nothing.

use std::path::Path;

use serde::Serialize;

use super::answers::{generate_password, Answers, SiteLimits, Tls};
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
    };
    let creds = Credentials {
        admin_user: i.admin_user.clone().unwrap_or(fresh.admin_user),
        admin_password: i.admin_password.clone().unwrap_or(fresh.admin_password),
        verify_token: c.verify.token.clone().unwrap_or(fresh.verify_token),
    };
    (answers, creds, given)
}

#[derive(Serialize)]
struct File<'a> {
    database: Db,
    redis: Url,
    server: Server,
    nginx: Nginx<'a>,
    service: Service<'a>,
    verify: Verify<'a>,
    init: Init<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment: Option<Deployment>,
}
/// A host of several: its name and roles (`status` looks only at what it holds).
#[derive(Serialize)]
struct Deployment {
    host: String,
    roles: Vec<&'static str>,
}
#[derive(Serialize)]
struct Db {
    url: String,
    pool_size: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    replica_urls: Vec<String>,
    max_replica_lag_ms: u64,
}
#[derive(Serialize)]
struct Url {
    url: String,
}
#[derive(Serialize)]
struct Server {
    instances: u32,
    base_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<String>,
}
#[derive(Serialize)]
struct Nginx<'a> {
    http_port: u16,
    https_port: u16,
    server_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key: Option<&'a str>,
    api_rate: &'a str,
    api_burst: u32,
    auth_rate: &'a str,
    auth_burst: u32,
    ws_per_address: u32,
    exempt_loopback: bool,
    max_body_kb: u32,
}
#[derive(Serialize)]
struct Service<'a> {
    manager: &'a str,
    log_max_mb: u32,
    log_keep: u32,
}
#[derive(Serialize)]
struct Verify<'a> {
    token: &'a str,
}
#[derive(Serialize)]
struct Init<'a> {
    db_name: &'a str,
    db_user: &'a str,
    db_password: &'a str,
    redis_password: &'a str,
    tls: &'a str,
    redis_persistence: bool,
    admin_user: &'a str,
    admin_password: &'a str,
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

/// The config file's text for these answers. `vars` gives the rendered paths (TLS files).
pub fn render(
    a: &Answers,
    c: &Credentials,
    manager: &str,
    vars: &std::collections::BTreeMap<String, String>,
) -> String {
    let (tls, cert, key) = match &a.tls {
        Tls::Off => ("off", None, None),
        Tls::SelfSigned => (
            "self-signed",
            Some(vars["tls_cert"].as_str()),
            Some(vars["tls_key"].as_str()),
        ),
        Tls::Files { cert, key } => ("files", Some(cert.as_str()), Some(key.as_str())),
    };
    let file = File {
        database: Db {
            url: database_url(a, vars).expose().to_string(),
            pool_size: vars["pool_size"].parse().unwrap_or(8),
            replica_urls: a
                .replica_urls
                .iter()
                .map(|u| u.expose().to_string())
                .collect(),
            max_replica_lag_ms: a.max_replica_lag_ms,
        },
        redis: Url {
            url: format!(
                "redis://{}:{}@{}:{}/0",
                vars["redis_user"],
                a.redis_password.expose(),
                vars["redis_host"],
                vars["redis_port"]
            ),
        },
        server: Server {
            instances: a.instances,
            base_port: a.base_port,
            host: Some(vars["instance_listen"].trim_matches(['[', ']']).to_string())
                .filter(|h| h != "127.0.0.1"),
        },
        nginx: Nginx {
            http_port: a.http_port,
            https_port: a.https_port,
            server_name: &a.domain,
            tls_cert: cert,
            tls_key: key,
            api_rate: &a.limits.api_rate,
            api_burst: a.limits.api_burst,
            auth_rate: &a.limits.auth_rate,
            auth_burst: a.limits.auth_burst,
            ws_per_address: a.limits.ws_per_address,
            exempt_loopback: a.limits.exempt_loopback,
            max_body_kb: a.limits.max_body_kb,
        },
        service: Service {
            manager,
            log_max_mb: a.log_max_mb,
            log_keep: a.log_keep,
        },
        verify: Verify {
            token: c.verify_token.expose(),
        },
        init: Init {
            db_name: &a.db_name,
            db_user: &a.db_user,
            db_password: a.db_password.expose(),
            redis_password: a.redis_password.expose(),
            tls,
            redis_persistence: a.redis_persistence,
            admin_user: &c.admin_user,
            admin_password: c.admin_password.expose(),
        },
        deployment: Some(&vars["deployment_host"])
            .filter(|h| !h.is_empty())
            .map(|host| Deployment {
                host: host.clone(),
                roles: ["postgres", "redis", "app", "nginx"]
                    .into_iter()
                    .filter(|r| vars[&format!("role_{r}")] == "true")
                    .collect(),
            }),
    };
    format!(
        "# Written by `provision init`: its answers and generated secrets (mode 0600). Every\n\
         # provision command reads it; edit a value and re-run init to apply it.\n{}",
        serde_yaml_ng::to_string(&file).expect("the config serializes")
    )
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
    fn what_init_writes_it_reads_back() {
        let a = Answers {
            instances: 3,
            tls: Tls::SelfSigned,
            domain: "dash.example.com".into(),
            replica_urls: vec![Secret::new("postgresql://app:pw@192.0.2.11:5432/dash")],
            max_replica_lag_ms: 500,
            limits: SiteLimits {
                auth_burst: 9,
                exempt_loopback: false,
                ..SiteLimits::default()
            },
            log_keep: 4,
            ..Answers::defaults()
        };
        let c = Credentials::generate();
        let v = super::super::vars::vars(&a, 2, 4096, "none");
        let text = render(&a, &c, "supervisor", &v);
        let file = ConfigFile::parse(&text).unwrap();
        let (a2, c2, given) = read(&file);
        assert!(given);
        assert_eq!(a2.instances, 3);
        assert_eq!(a2.tls, Tls::SelfSigned);
        assert_eq!(a2.limits, a.limits);
        assert_eq!((a2.log_keep, a2.max_replica_lag_ms), (4, 500));
        assert_eq!(a2.replica_urls[0].expose(), a.replica_urls[0].expose());
        // The instances' .env carries the replicas.
        let env = crate::render::Templates::default()
            .render("live-dashboard/env", &v)
            .unwrap();
        assert!(
            env.contains("\nPROVISION_DB_REPLICA_URLS=postgresql://app:pw@192.0.2.11:5432/dash\n")
                && env.contains("\nPROVISION_DB_MAX_REPLICA_LAG_MS=500\n"),
            "{env}"
        );
        assert_eq!(a2.db_password.expose(), a.db_password.expose());
        assert_eq!(c2.verify_token.expose(), c.verify_token.expose());
        assert_eq!(
            render(&a2, &c2, "supervisor", &v),
            text,
            "a re-run writes the same file"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provision.yaml");
        assert!(write(&path, &text).unwrap());
        assert!(
            !write(&path, &text).unwrap(),
            "unchanged content is left alone"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        ) & 0o777;
        assert_eq!(mode, 0o600);
    }

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
