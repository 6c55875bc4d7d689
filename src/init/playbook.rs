//! `playbooks/init.yml`, embedded, read with init's variables and the host's facts.

use std::collections::BTreeMap;

use crate::playbook::{Playbook, PlaybookError};

pub const INIT_YML: &str = include_str!("../../playbooks/init.yml");

/// The init playbook rendered for this host. Templates resolve to the embedded ones unless
/// `templates_dir` has a file of the same name.
pub fn load(
    facts: &BTreeMap<String, String>,
    vars: &BTreeMap<String, String>,
    templates_dir: Option<&std::path::Path>,
) -> Result<Playbook, PlaybookError> {
    let mut book = Playbook::parse_templated(INIT_YML, "playbooks/init.yml", facts, vars)?;
    book.vars.extend(vars.clone());
    // Without --templates, only the embedded templates: never files of the current
    // directory, which another local user may have written.
    book.dir = templates_dir.map(|d| d.to_path_buf());
    Ok(book)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::answers::{Answers, Tls};

    fn steps(init: &str, tls: Tls) -> Vec<String> {
        steps_for(init, tls, None)
    }

    /// Monitoring adds Prometheus and every exporter of the host's parts (and the
    /// certificate probe with TLS), after nginx; without it, none of them.
    #[test]
    fn monitoring_adds_its_steps_only_when_on() {
        let names = |monitoring: bool, tls: Tls| {
            let mut a = Answers {
                tls,
                ..Answers::defaults()
            };
            a.monitoring.enabled = monitoring;
            let book = book_for(&a, "systemd", None);
            let handlers: Vec<String> = book.handlers.iter().map(|h| h.name.clone()).collect();
            (
                book.steps
                    .iter()
                    .map(|s| s.name.clone())
                    .collect::<Vec<_>>(),
                handlers,
            )
        };
        let (on, handlers) = names(true, Tls::SelfSigned);
        for step in [
            "monitoring packages",
            "postgres exporter role",
            "redis exporter password",
            "nginx exporter running",
            "blackbox exporter running",
            "alert rules",
            "prometheus ready",
        ] {
            assert!(on.contains(&step.to_string()), "{step}: {on:?}");
        }
        let pos = |n: &str| on.iter().position(|s| s == n).unwrap();
        assert!(pos("nginx running") < pos("nginx exporter running"));
        assert!(
            pos("alert rules") < pos("prometheus settings"),
            "promtool checks the rules the config names"
        );
        assert!(handlers.contains(&"restart prometheus".to_string()));
        let (plain, _) = names(true, Tls::Off);
        assert!(!plain.iter().any(|s| s.contains("blackbox")), "{plain:?}");
        let acme = Tls::Acme(crate::init::answers::Acme {
            email: None,
            directory: crate::init::answers::LETS_ENCRYPT.into(),
            ca_cert: Some("/etc/ssl/ca.pem".into()),
        });
        let (with_acme, handlers) = names(false, acme);
        for step in [
            "self-signed certificate",
            "acme webroot",
            "acme server trusted",
            "acme certificate",
            "certificate renewal",
        ] {
            assert!(
                with_acme.contains(&step.to_string()),
                "{step}: {with_acme:?}"
            );
        }
        let at = |n: &str| with_acme.iter().position(|s| s == n).unwrap();
        assert!(
            at("nginx running") < at("acme certificate"),
            "the challenge is served first"
        );
        assert!(handlers.contains(&"update trusted certificates".to_string()));
        let (off, handlers) = names(false, Tls::SelfSigned);
        assert!(
            !off.iter()
                .any(|s| s.contains("prometheus") || s.contains("exporter")),
            "{off:?}"
        );
        assert!(!handlers.iter().any(|h| h.contains("prometheus")));
    }

    fn steps_for(
        init: &str,
        tls: Tls,
        deployment: Option<&crate::init::deployment::Deployment>,
    ) -> Vec<String> {
        let a = Answers {
            tls,
            ..Answers::defaults()
        };
        let book = book_for(&a, init, deployment);
        book.steps.iter().map(|s| s.name.clone()).collect()
    }

    /// The playbook for these answers under `init`, with stand-ins for the host's paths.
    fn book_for(
        a: &Answers,
        init: &str,
        deployment: Option<&crate::init::deployment::Deployment>,
    ) -> Playbook {
        let mut v = crate::init::vars::vars_for(a, 2, 4096, init, deployment);
        v.insert("packages".into(), "postgresql, redis-server, nginx".into());
        for k in [
            "pg_conf_dir",
            "pg_socket_dir",
            "pg_service",
            "redis_conf",
            "redis_service",
            "nginx_service",
            "nginx_sites",
            "supervisor_conf_dir",
            "instance_service_suffix",
            "supervisor_config",
            "cron_service",
        ] {
            v.insert(k.into(), format!("/x/{k}"));
        }
        v.insert("instance_ports".into(), "8001 8002".into());
        v.insert("instance_service_prefix".into(), "live-dashboard-".into());
        v.insert(
            "restart_instances".into(),
            "\"restart instance 8001\", \"restart instance 8002\"".into(),
        );
        // Self-signed, or ACME's self-signed placeholder: init's own certificate paths.
        let own = v["tls_cert"].starts_with("/etc/live-dashboard/tls/");
        v.insert("tls_self_signed".into(), own.to_string());
        v.insert("tls_common_name".into(), "localhost".into());
        let facts: BTreeMap<String, String> = [("init".to_string(), init.to_string())].into();
        load(&facts, &v, None).unwrap()
    }

    #[test]
    fn the_init_playbook_reads_for_every_shape() {
        let none = steps("none", Tls::Off);
        assert!(
            none.contains(&"supervised instances".to_string()),
            "{none:?}"
        );
        assert!(none.contains(&"instance 8002 ready".to_string()));
        assert!(!none.contains(&"service unit".to_string()));
        assert!(!none.contains(&"self-signed certificate".to_string()));
        let systemd = steps("systemd", Tls::SelfSigned);
        assert!(systemd.contains(&"service unit".to_string()), "{systemd:?}");
        assert!(systemd.contains(&"self-signed certificate".to_string()));
        assert!(!systemd.contains(&"supervised instances".to_string()));
        assert!(!systemd.iter().any(|s| s.starts_with("firewall")));
    }

    /// Several hosts: each host's playbook holds its roles' steps, the binary and the
    /// firewall, and nothing of the others.
    #[test]
    fn each_host_gets_its_roles_steps() {
        let inv = crate::inventory::Inventory::parse(
            std::path::Path::new("/srv/hosts.yaml"),
            "hosts:\n  db1: {address: 192.0.2.10, roles: [postgres, redis]}\n  \
             app1: {address: 192.0.2.21, roles: [app]}\n  \
             lb1: {address: 192.0.2.30, roles: [nginx]}\n",
        )
        .unwrap();
        let of = |name: &str| {
            let d = crate::init::deployment::Deployment::of(&inv, inv.host(name).unwrap(), 8000);
            steps_for("systemd", Tls::SelfSigned, Some(&d))
        };
        let has = |steps: &[String], name: &str| steps.iter().any(|s| s == name);
        let common = [
            "provision binary",
            "firewall rules",
            "firewall at boot",
            "firewall loaded",
        ];
        let db = of("db1");
        for name in common.iter().chain(&["database role", "redis settings"]) {
            assert!(has(&db, name), "db1 lacks {name}: {db:?}");
        }
        for name in ["service unit", "nginx site", "self-signed certificate"] {
            assert!(!has(&db, name), "db1 has {name}");
        }
        let app = of("app1");
        for name in common
            .iter()
            .chain(&["server environment", "instance 8002 ready"])
        {
            assert!(has(&app, name), "app1 lacks {name}: {app:?}");
        }
        for name in ["database role", "redis settings", "nginx site"] {
            assert!(!has(&app, name), "app1 has {name}");
        }
        let lb = of("lb1");
        for name in common
            .iter()
            .chain(&["nginx site", "self-signed certificate"])
        {
            assert!(has(&lb, name), "lb1 lacks {name}: {lb:?}");
        }
        for name in [
            "database role",
            "server environment",
            "instance 8001 running",
        ] {
            assert!(!has(&lb, name), "lb1 has {name}");
        }
    }
}
