//! The config file's text as init writes it (`saved::render`): every answer, the
//! generated secrets and the sections the other commands read, in one YAML document that
//! `saved::read` reads back to the same answers.

use serde::Serialize;

use super::answers::{Answers, Tls};
use super::saved::{database_url, Credentials};

#[derive(Serialize)]
struct File<'a> {
    database: Db,
    redis: Url,
    server: Server,
    nginx: Nginx<'a>,
    service: Service<'a>,
    verify: Verify<'a>,
    init: Init<'a>,
    backups: Backups<'a>,
    monitoring: MonitoringFile,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment: Option<Deployment>,
}
/// A host of several: its name and roles (`status` looks only at what it holds).
#[derive(Serialize)]
struct Deployment {
    host: String,
    roles: Vec<&'static str>,
    /// Whether Prometheus runs here (monitoring: the first nginx host).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    prometheus: bool,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    acme_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acme_directory: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acme_ca_cert: Option<&'a str>,
}
#[derive(Serialize)]
struct Service<'a> {
    manager: &'a str,
    log_max_mb: u32,
    log_keep: u32,
}
#[derive(Serialize)]
struct Verify<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    token: &'a str,
    #[serde(skip_serializing_if = "crate::settings::LoadSection::is_empty")]
    load: &'a crate::settings::LoadSection,
    #[serde(skip_serializing_if = "crate::settings::TargetsSection::is_empty")]
    targets: &'a crate::settings::TargetsSection,
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
    monitor_password: &'a str,
}

#[derive(Serialize)]
struct MonitoringFile {
    enabled: bool,
    scrape_interval_s: u32,
    alert_after_s: u32,
}

#[derive(Serialize)]
struct Backups<'a> {
    scheduled: bool,
    at: &'a str,
    keep_daily: u32,
    keep_weekly: u32,
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
        Tls::Acme(_) => (
            "acme",
            Some(vars["tls_cert"].as_str()),
            Some(vars["tls_key"].as_str()),
        ),
    };
    let acme = match &a.tls {
        Tls::Acme(acme) => Some(acme),
        _ => None,
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
            acme_email: acme.and_then(|x| x.email.as_deref()),
            acme_directory: acme.map(|x| x.directory.as_str()),
            acme_ca_cert: acme.and_then(|x| x.ca_cert.as_deref()),
        },
        service: Service {
            manager,
            log_max_mb: a.log_max_mb,
            log_keep: a.log_keep,
        },
        verify: Verify {
            url: a.verify.url.as_deref(),
            token: c.verify_token.expose(),
            load: &a.verify.load,
            targets: &a.verify.targets,
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
            monitor_password: a.monitor_password.expose(),
        },
        monitoring: MonitoringFile {
            enabled: a.monitoring.enabled,
            scrape_interval_s: a.monitoring.scrape_interval_s,
            alert_after_s: a.monitoring.alert_after_s,
        },
        backups: Backups {
            scheduled: a.backups.scheduled,
            at: &a.backups.at,
            keep_daily: a.backups.keep_daily,
            keep_weekly: a.backups.keep_weekly,
        },
        deployment: Some(&vars["deployment_host"])
            .filter(|h| !h.is_empty())
            .map(|host| Deployment {
                prometheus: vars["monitoring"] == "true" && vars["prometheus_here"] == "true",
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

#[cfg(test)]
mod tests {
    use super::super::answers::{BackupPolicy, Monitoring, SiteLimits};
    use super::super::saved::{read, write};
    use super::*;
    use crate::settings::{ConfigFile, Secret};

    #[test]
    fn an_acme_answer_is_saved_and_read_back() {
        use super::super::answers::Acme;
        let a = Answers {
            domain: "dash.example.com".into(),
            tls: Tls::Acme(Acme {
                email: Some("ops@example.com".into()),
                directory: "https://acme.example.com/dir".into(),
                ca_cert: Some("/etc/ssl/private-ca.pem".into()),
            }),
            ..Answers::defaults()
        };
        let c = Credentials::generate();
        let v = super::super::vars::vars(&a, 2, 4096, "systemd");
        assert_eq!(
            (v["tls"].as_str(), v["tls_acme"].as_str()),
            ("true", "true")
        );
        let text = render(&a, &c, "systemd", &v);
        assert!(text.contains("tls: acme"), "{text}");
        let (a2, _, _) = read(&ConfigFile::parse(&text).unwrap());
        assert_eq!(a2.tls, a.tls);
    }

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
            verify: super::super::answers::VerifyKept {
                url: Some("https://dash.example.com".into()),
                load: crate::settings::LoadSection {
                    rate: Some("300".into()),
                    mix: Some(vec![crate::settings::MixEntry {
                        method: "GET".into(),
                        path: "/api/runs?limit=50".into(),
                        weight: 3,
                        body: None,
                    }]),
                    ..Default::default()
                },
                targets: crate::settings::TargetsSection {
                    p99_ms: Some(20.0),
                    ..Default::default()
                },
            },
            monitoring: Monitoring {
                enabled: true,
                scrape_interval_s: 2,
                alert_after_s: 5,
            },
            backups: BackupPolicy {
                scheduled: false,
                at: "22:05".into(),
                keep_daily: 3,
                keep_weekly: 0,
            },
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
        assert_eq!(a2.backups, a.backups);
        assert_eq!(a2.monitoring, a.monitoring);
        assert_eq!(a2.verify, a.verify, "verify's own settings are kept");
        assert_eq!(a2.monitor_password.expose(), a.monitor_password.expose());
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
}
