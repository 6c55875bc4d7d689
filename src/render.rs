//! Tera templates: the ones in `templates/` are embedded in the binary, and a directory
//! given by the user overrides any of them by name. Values are strings (the playbook's
//! vars); templates convert with `| int` where they need numbers.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every template shipped with provision: (name, text). The name is its path under
/// `templates/`.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "nginx/live-dashboard.conf",
        include_str!("../templates/nginx/live-dashboard.conf"),
    ),
    (
        "postgresql/live-dashboard.conf",
        include_str!("../templates/postgresql/live-dashboard.conf"),
    ),
    (
        "postgresql/pg_hba.conf",
        include_str!("../templates/postgresql/pg_hba.conf"),
    ),
    (
        "redis/redis.conf",
        include_str!("../templates/redis/redis.conf"),
    ),
    (
        "systemd/live-dashboard@.service",
        include_str!("../templates/systemd/live-dashboard@.service"),
    ),
    (
        "supervisor/live-dashboard.conf",
        include_str!("../templates/supervisor/live-dashboard.conf"),
    ),
    (
        "live-dashboard/env",
        include_str!("../templates/live-dashboard/env"),
    ),
    (
        "nftables/live-dashboard.nft",
        include_str!("../templates/nftables/live-dashboard.nft"),
    ),
    (
        "systemd/live-dashboard.target",
        include_str!("../templates/systemd/live-dashboard.target"),
    ),
    (
        "systemd/live-dashboard-firewall.service",
        include_str!("../templates/systemd/live-dashboard-firewall.service"),
    ),
    (
        "systemd/live-dashboard-backup.service",
        include_str!("../templates/systemd/live-dashboard-backup.service"),
    ),
    (
        "systemd/live-dashboard-backup.timer",
        include_str!("../templates/systemd/live-dashboard-backup.timer"),
    ),
    (
        "certbot/deploy-hook",
        include_str!("../templates/certbot/deploy-hook"),
    ),
    (
        "cron/live-dashboard-backup",
        include_str!("../templates/cron/live-dashboard-backup"),
    ),
    (
        "prometheus/prometheus.yml",
        include_str!("../templates/prometheus/prometheus.yml"),
    ),
    (
        "prometheus/live-dashboard.rules.yml",
        include_str!("../templates/prometheus/live-dashboard.rules.yml"),
    ),
    (
        "prometheus/prometheus.default",
        include_str!("../templates/prometheus/prometheus.default"),
    ),
    (
        "prometheus/node-exporter.default",
        include_str!("../templates/prometheus/node-exporter.default"),
    ),
    (
        "prometheus/postgres-exporter.default",
        include_str!("../templates/prometheus/postgres-exporter.default"),
    ),
    (
        "prometheus/redis-exporter.default",
        include_str!("../templates/prometheus/redis-exporter.default"),
    ),
    (
        "prometheus/redis-exporter.json",
        include_str!("../templates/prometheus/redis-exporter.json"),
    ),
    (
        "prometheus/nginx-exporter.default",
        include_str!("../templates/prometheus/nginx-exporter.default"),
    ),
    (
        "prometheus/blackbox.yml",
        include_str!("../templates/prometheus/blackbox.yml"),
    ),
    (
        "prometheus/blackbox-exporter.default",
        include_str!("../templates/prometheus/blackbox-exporter.default"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no template {name:?} (shipped: {known}){}", .dir.as_ref().map(|d| format!(" and none in {}", d.display())).unwrap_or_default())]
    Unknown {
        name: String,
        known: String,
        dir: Option<PathBuf>,
    },
    #[error("cannot read template {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("template {name}: {message}")]
    Render { name: String, message: String },
}

/// Where templates come from: the embedded set, each overridable from `dir`.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    pub dir: Option<PathBuf>,
}

impl Templates {
    pub fn new(dir: Option<&Path>) -> Self {
        Templates {
            dir: dir.map(Path::to_path_buf),
        }
    }

    /// The text of template `name`: the override file when there is one, else the
    /// embedded text.
    pub fn source(&self, name: &str) -> Result<Cow<'static, str>, RenderError> {
        if let Some(dir) = &self.dir {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok(Cow::Owned(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(RenderError::Read {
                        path,
                        message: e.to_string(),
                    })
                }
            }
        }
        EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| Cow::Borrowed(*text))
            .ok_or_else(|| RenderError::Unknown {
                name: name.to_string(),
                known: EMBEDDED
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
                dir: self.dir.clone(),
            })
    }

    /// Renders template `name` with `vars`.
    pub fn render(
        &self,
        name: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<String, RenderError> {
        render_text(&self.source(name)?, vars, name)
    }
}

/// Renders `text` with `vars`; errors carry Tera's whole chain (the line and the cause).
pub fn render_text(
    text: &str,
    vars: &BTreeMap<String, String>,
    name: &str,
) -> Result<String, RenderError> {
    let mut context = tera::Context::new();
    for (k, v) in vars {
        context.insert(k.as_str(), v);
    }
    tera::Tera::one_off(text, &context, false).map_err(|e| {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        RenderError::Render {
            name: name.to_string(),
            message,
        }
    })
}

/// The nginx site's variables with the conventions' defaults (docs/architecture.md): ports 80/443,
/// instances on 127.0.0.1:8001.., API 100/min and auth 10/min per address.
pub fn nginx_defaults() -> BTreeMap<String, String> {
    [
        ("http_port", "80"),
        ("https_port", "443"),
        ("ipv6", "true"),
        ("server_name", "_"),
        ("tls", "false"),
        ("tls_cert", ""),
        ("tls_key", ""),
        ("base_port", "8000"),
        ("instances", "2"),
        ("access_log", "/var/log/nginx/live_dashboard_access.log"),
        ("api_rate", "100r/m"),
        ("api_burst", "50"),
        ("auth_rate", "10r/m"),
        ("auth_burst", "5"),
        ("ws_per_address", "20"),
        ("exempt_loopback", "true"),
        ("max_body_kb", "1024"),
        // Monitoring's loopback stub_status server (off unless init turns it on).
        ("monitoring", "false"),
        ("tls_acme", "false"),
        ("acme_webroot", "/var/www/live-dashboard-acme"),
        ("nginx_status_port", "9180"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nginx_site_lists_every_upstream() {
        let mut vars = nginx_defaults();
        vars.insert(
            "upstreams".into(),
            "127.0.0.1:8001 192.0.2.21:8001 [2001:db8::5]:8002".into(),
        );
        let text = Templates::default()
            .render("nginx/live-dashboard.conf", &vars)
            .unwrap();
        for upstream in ["127.0.0.1:8001", "192.0.2.21:8001", "[2001:db8::5]:8002"] {
            assert!(
                text.contains(&format!("    server {upstream} max_fails=3")),
                "{text}"
            );
        }
        assert_eq!(text.matches(" max_fails=3 ").count(), 3);
        assert!(!text.contains("ssl_certificate"));
        assert!(!text.contains("Strict-Transport-Security"));
    }

    #[test]
    fn rate_limit_exemptions_join_loopback() {
        let mut vars = nginx_defaults();
        vars.insert("upstreams".into(), "127.0.0.1:8001".into());
        vars.insert("api_exempt".into(), "192.0.2.1 2001:db8::/64".into());
        let text = Templates::default()
            .render("nginx/live-dashboard.conf", &vars)
            .unwrap();
        assert!(
            text.contains(
                "    127.0.0.0/8 1;\n    ::1 1;\n    192.0.2.1 1;\n    2001:db8::/64 1;\n}"
            ),
            "{text}"
        );
    }

    #[test]
    fn tls_adds_the_redirect_the_certificate_and_hsts() {
        let mut vars = nginx_defaults();
        vars.insert("upstreams".into(), "127.0.0.1:8001".into());
        vars.insert("tls".into(), "true".into());
        vars.insert("tls_cert".into(), "/etc/x/cert.pem".into());
        vars.insert("tls_key".into(), "/etc/x/key.pem".into());
        let text = Templates::default()
            .render("nginx/live-dashboard.conf", &vars)
            .unwrap();
        assert!(
            text.contains("return 301 https://$host$request_uri;"),
            "{text}"
        );
        assert!(text.contains("listen 443 ssl;"));
        assert!(text.contains("ssl_certificate /etc/x/cert.pem;"));
        assert!(text.contains("Strict-Transport-Security"));
    }

    #[test]
    fn an_override_directory_wins_and_unknown_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("nginx")).unwrap();
        std::fs::write(
            dir.path().join("nginx/live-dashboard.conf"),
            "port {{ http_port }}",
        )
        .unwrap();
        let t = Templates::new(Some(dir.path()));
        assert_eq!(
            t.render("nginx/live-dashboard.conf", &nginx_defaults())
                .unwrap(),
            "port 80"
        );
        let err = t
            .render("nope.conf", &nginx_defaults())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nope.conf") && err.contains("nginx/live-dashboard.conf"),
            "{err}"
        );
    }
}
