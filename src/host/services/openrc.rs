//! OpenRC (Alpine): `rc-service`, and `rc-update` for the default runlevel.

use super::{Action, Cmd, Services};

pub struct OpenRc;

impl Services for OpenRc {
    fn is_active(&self, name: &str) -> Cmd {
        Cmd::new("rc-service", &[name, "status"])
    }
    fn is_enabled(&self, name: &str) -> Cmd {
        // Exit 0 when the service is in the default runlevel.
        Cmd::new(
            "sh",
            &["-c", "rc-update show default | grep -Eq \"^ *$0 \"", name],
        )
    }
    fn action(&self, action: Action, name: &str) -> Cmd {
        match action {
            Action::Enable => Cmd::new("rc-update", &["add", name, "default"]),
            Action::Disable => Cmd::new("rc-update", &["del", name, "default"]),
            Action::Start => Cmd::new("rc-service", &[name, "start"]),
            Action::Stop => Cmd::new("rc-service", &[name, "stop"]),
            Action::Restart => Cmd::new("rc-service", &[name, "restart"]),
            Action::Reload => Cmd::new("rc-service", &[name, "reload"]),
        }
    }
    fn reload_definitions(&self) -> Option<Cmd> {
        None
    }
}
