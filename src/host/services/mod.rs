//! Service managers: systemd, OpenRC, launchd through `brew services`, and — on hosts with
//! no init system (containers, the CI machine) — direct supervision by supervisord, a real
//! supervisor from the distribution that restarts a crashed service with backoff, outlives
//! `provision` and logs to files. One file per manager; each turns a request into commands.

mod brew;
mod direct;
mod openrc;
mod supervisor;
mod systemd;

pub use direct::Direct;
pub use supervisor::Supervisor;

use super::exec::{Cmd, ExecError};
use super::facts::InitSystem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
    Reload,
    /// Start at boot.
    Enable,
    /// Do not start at boot.
    Disable,
}

/// How one service manager is driven.
pub trait Services: Send + Sync {
    /// Exit status 0 when `name` is running.
    fn is_active(&self, name: &str) -> Cmd;
    /// Exit status 0 when `name` starts at boot.
    fn is_enabled(&self, name: &str) -> Cmd;
    fn action(&self, action: Action, name: &str) -> Cmd;
    /// Makes the manager re-read changed service definitions (unit files, program configs).
    fn reload_definitions(&self) -> Option<Cmd>;
    /// Forgets `name`'s recent starts before a restart an operator asked for, where the
    /// manager limits how often a service may start (systemd's StartLimitBurst: a crash
    /// loop guard, which would otherwise refuse the sixth deliberate restart in 10 s).
    fn forget_starts(&self, _name: &str) -> Option<Cmd> {
        None
    }
}

/// The driver for a detected init system; `None` gets supervisord with its default config.
pub fn for_init(init: InitSystem) -> Box<dyn Services> {
    match init {
        InitSystem::Systemd => Box::new(systemd::Systemd),
        InitSystem::OpenRc => Box::new(openrc::OpenRc),
        InitSystem::Launchd => Box::new(brew::BrewServices),
        InitSystem::None => Box::new(Supervisor::default()),
    }
}

/// Whether `name` runs. A manager that is not installed yet (a fresh host in check mode,
/// before the package step that brings it) answers "no", not an error.
pub fn is_active(s: &dyn Services, name: &str) -> Result<bool, ExecError> {
    answers_yes(s.is_active(name))
}

pub fn is_enabled(s: &dyn Services, name: &str) -> Result<bool, ExecError> {
    answers_yes(s.is_enabled(name))
}

fn answers_yes(cmd: Cmd) -> Result<bool, ExecError> {
    match cmd.run_checked(true) {
        Ok(out) => Ok(out.code == Some(0)),
        Err(e) if e.code.is_none() && e.stderr_tail.contains("No such file or directory") => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_per_init_system() {
        let cases = [
            (
                InitSystem::Systemd,
                "systemctl is-active --quiet live-dashboard@8000.service",
                "systemctl restart live-dashboard@8000.service",
                "systemctl enable live-dashboard@8000.service",
                Some("systemctl daemon-reload"),
            ),
            (
                InitSystem::OpenRc,
                "rc-service live-dashboard status",
                "rc-service live-dashboard restart",
                "rc-update add live-dashboard default",
                None,
            ),
            (
                InitSystem::Launchd,
                "sh -c 'brew services list | grep -Eq \"^$0 +started\"' live-dashboard",
                "brew services restart live-dashboard",
                "brew services start live-dashboard",
                None,
            ),
            (
                InitSystem::None,
                "supervisorctl -c /etc/supervisor/supervisord.conf status live-dashboard",
                "supervisorctl -c /etc/supervisor/supervisord.conf restart live-dashboard",
                "supervisorctl -c /etc/supervisor/supervisord.conf update",
                Some("supervisorctl -c /etc/supervisor/supervisord.conf update"),
            ),
        ];
        for (init, active, restart, enable, reload) in cases {
            let s = for_init(init);
            let name = if init == InitSystem::Systemd {
                "live-dashboard@8000.service"
            } else {
                "live-dashboard"
            };
            assert_eq!(s.is_active(name).display(), active, "{init:?}");
            assert_eq!(
                s.action(Action::Restart, name).display(),
                restart,
                "{init:?}"
            );
            assert_eq!(s.action(Action::Enable, name).display(), enable, "{init:?}");
            assert_eq!(
                s.reload_definitions().map(|c| c.display()).as_deref(),
                reload,
                "{init:?}"
            );
        }
    }
}
