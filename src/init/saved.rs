//! The config file init writes (`/etc/live-dashboard/provision.yaml`, mode 0600): its
//! answers and generated secrets, plus the sections `serve`, `verify` and the other
//! commands read, so every command agrees with what init set up. Read back, it gives the
//! same answers: a re-run asks nothing and changes nothing.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::Serialize;

use super::answers::{generate_password, Answers, Tls};
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

/// The answers and credentials a config file holds; `None` when init never wrote it.
pub fn read(c: &ConfigFile) -> Option<(Answers, Credentials)> {
    let i = &c.init;
    let d = Answers::defaults();
    let tls = match i.tls.as_deref()? {
        "self-signed" => Tls::SelfSigned,
        "files" => Tls::Files {
            cert: c.nginx.tls_cert.as_ref()?.display().to_string(),
            key: c.nginx.tls_key.as_ref()?.display().to_string(),
        },
        _ => Tls::Off,
    };
    let answers = Answers {
        db_name: i.db_name.clone()?,
        db_user: i.db_user.clone()?,
        db_password: i.db_password.clone()?,
        redis_password: i.redis_password.clone()?,
        instances: c.server.instances.map(u32::from).unwrap_or(d.instances),
        base_port: c.server.base_port.unwrap_or(d.base_port),
        domain: c.nginx.server_name.clone().unwrap_or(d.domain),
        tls,
        http_port: c.nginx.http_port.unwrap_or(d.http_port),
        https_port: c.nginx.https_port.unwrap_or(d.https_port),
        redis_persistence: i.redis_persistence.unwrap_or(false),
    };
    let creds = Credentials {
        admin_user: i.admin_user.clone()?,
        admin_password: i.admin_password.clone()?,
        verify_token: c.verify.token.clone()?,
    };
    Some((answers, creds))
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
}
#[derive(Serialize)]
struct Db {
    url: String,
    pool_size: u32,
}
#[derive(Serialize)]
struct Url {
    url: String,
}
#[derive(Serialize)]
struct Server {
    instances: u32,
    base_port: u16,
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
}
#[derive(Serialize)]
struct Service<'a> {
    manager: &'a str,
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
            url: format!(
                "postgresql://{}:{}@127.0.0.1:{}/{}",
                a.db_user,
                a.db_password.expose(),
                vars["pg_port"],
                a.db_name
            ),
            pool_size: vars["pool_size"].parse().unwrap_or(8),
        },
        redis: Url {
            url: format!(
                "redis://:{}@127.0.0.1:{}/0",
                a.redis_password.expose(),
                vars["redis_port"]
            ),
        },
        server: Server {
            instances: a.instances,
            base_port: a.base_port,
        },
        nginx: Nginx {
            http_port: a.http_port,
            https_port: a.https_port,
            server_name: &a.domain,
            tls_cert: cert,
            tls_key: key,
        },
        service: Service { manager },
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
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
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
            ..Answers::defaults()
        };
        let c = Credentials::generate();
        let v = super::super::vars::vars(&a, 2, 4096, "none");
        let text = render(&a, &c, "supervisor", &v);
        let file = ConfigFile::parse(&text).unwrap();
        let (a2, c2) = read(&file).unwrap();
        assert_eq!(a2.instances, 3);
        assert_eq!(a2.tls, Tls::SelfSigned);
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
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
