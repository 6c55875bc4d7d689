//! launchd through Homebrew (`brew services`): a started service is registered to start at
//! login/boot, so enabling is starting.

use super::{Action, Cmd, Services};

pub struct BrewServices;

impl Services for BrewServices {
    fn is_active(&self, name: &str) -> Cmd {
        Cmd::new(
            "sh",
            &["-c", "brew services list | grep -Eq \"^$0 +started\"", name],
        )
    }
    fn is_enabled(&self, name: &str) -> Cmd {
        self.is_active(name)
    }
    fn action(&self, action: Action, name: &str) -> Cmd {
        let verb = match action {
            Action::Start | Action::Enable => "start",
            Action::Disable => "stop",
            Action::Stop => "stop",
            Action::Restart | Action::Reload => "restart",
        };
        Cmd::new("brew", &["services", verb, name])
    }
    fn reload_definitions(&self) -> Option<Cmd> {
        None
    }
}
