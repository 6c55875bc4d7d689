//! systemd: `systemctl`; `daemon-reload` after a unit file changes.

use super::{Action, Cmd, Services};

pub struct Systemd;

impl Services for Systemd {
    fn is_active(&self, name: &str) -> Cmd {
        Cmd::new("systemctl", &["is-active", "--quiet", name])
    }
    fn is_enabled(&self, name: &str) -> Cmd {
        Cmd::new("systemctl", &["is-enabled", "--quiet", name])
    }
    fn action(&self, action: Action, name: &str) -> Cmd {
        let verb = match action {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Reload => "reload",
            Action::Enable => "enable",
            Action::Disable => "disable",
        };
        Cmd::new("systemctl", &[verb, name])
    }
    fn reload_definitions(&self) -> Option<Cmd> {
        Some(Cmd::new("systemctl", &["daemon-reload"]))
    }
    fn forget_starts(&self, name: &str) -> Option<Cmd> {
        // Resets the unit's start rate counter (and a failed state).
        Some(Cmd::new("systemctl", &["reset-failed", name]))
    }
}
