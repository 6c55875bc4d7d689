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

    fn steps_for(
        init: &str,
        tls: Tls,
        deployment: Option<&crate::init::deployment::Deployment>,
    ) -> Vec<String> {
        let mut v = crate::init::vars::vars_for(
            &Answers {
                tls,
                ..Answers::defaults()
            },
            2,
            4096,
            init,
            deployment,
        );
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
        v.insert(
            "tls_self_signed".into(),
            (tls_is_self_signed(&v)).to_string(),
        );
        v.insert("tls_common_name".into(), "localhost".into());
        let facts: BTreeMap<String, String> = [("init".to_string(), init.to_string())].into();
        let book = load(&facts, &v, None).unwrap();
        book.steps.iter().map(|s| s.name.clone()).collect()
    }

    fn tls_is_self_signed(v: &BTreeMap<String, String>) -> bool {
        v["tls_cert"].starts_with("/etc/live-dashboard/tls/")
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
