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
    use crate::init::vars::vars;

    fn steps(init: &str, tls: Tls) -> Vec<String> {
        let mut v = vars(
            &Answers {
                tls,
                ..Answers::defaults()
            },
            2,
            4096,
            init,
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
    }
}
