//! Where no init system runs (containers, the CI machine): the distribution's own
//! services (PostgreSQL, Redis, nginx, supervisord itself) through their SysV scripts in
//! `/etc/init.d`, which Debian's packages still ship, and everything else — the
//! dashboard's instances — under supervisord. Nothing starts at boot on such a host, so
//! "enabled" is taken as given.

use std::path::PathBuf;

use super::{Action, Cmd, Services, Supervisor};

pub struct Direct {
    pub supervisor: Supervisor,
    /// Where SysV scripts live (`/etc/init.d`).
    pub init_d: PathBuf,
}

impl Default for Direct {
    fn default() -> Self {
        Direct {
            supervisor: Supervisor::default(),
            init_d: PathBuf::from("/etc/init.d"),
        }
    }
}

impl Direct {
    /// The SysV script for `name`, if the distribution ships one.
    fn script(&self, name: &str) -> Option<String> {
        let p = self.init_d.join(name);
        p.is_file().then(|| p.display().to_string())
    }
}

impl Services for Direct {
    fn is_active(&self, name: &str) -> Cmd {
        match self.script(name) {
            Some(s) => Cmd::new(&s, &["status"]),
            None => self.supervisor.is_active(name),
        }
    }
    fn is_enabled(&self, _name: &str) -> Cmd {
        Cmd::new("true", &[])
    }
    fn action(&self, action: Action, name: &str) -> Cmd {
        let Some(s) = self.script(name) else {
            return self.supervisor.action(action, name);
        };
        let verb = match action {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Reload => "reload",
            Action::Enable | Action::Disable => return Cmd::new("true", &[]),
        };
        Cmd::new(&s, &[verb])
    }
    fn reload_definitions(&self) -> Option<Cmd> {
        // Only once supervisord runs (before that, a SysV service is being started and
        // there is nothing of supervisord's to re-read).
        let conf = self.supervisor.config.display().to_string();
        Some(Cmd::new(
            "sh",
            &[
                "-c",
                "supervisorctl -c \"$0\" pid >/dev/null 2>&1 || exit 0; supervisorctl -c \"$0\" update",
                &conf,
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysv_scripts_first_then_supervisord() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nginx"), "#!/bin/sh\n").unwrap();
        let d = Direct {
            supervisor: Supervisor::default(),
            init_d: dir.path().to_path_buf(),
        };
        let script = dir.path().join("nginx").display().to_string();
        assert_eq!(
            d.action(Action::Reload, "nginx").display(),
            format!("{script} reload")
        );
        assert_eq!(d.is_active("nginx").display(), format!("{script} status"));
        assert_eq!(
            d.action(Action::Restart, "live-dashboard-8001").display(),
            "supervisorctl -c /etc/supervisor/supervisord.conf restart live-dashboard-8001"
        );
        assert_eq!(d.is_enabled("nginx").display(), "true");
    }
}
