//! Direct supervision by supervisord (Debian's `supervisor` package) where no init system
//! runs. Programs are `[program:NAME]` files in its include directory, with
//! `autorestart=true`: a crashed service is back within seconds, with supervisord's
//! backoff when it keeps failing to start, and its output goes to log files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Action, Cmd, Services};
use crate::host::exec::ExecError;

pub struct Supervisor {
    /// supervisord's configuration (what `supervisorctl -c` reads).
    pub config: PathBuf,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor {
            config: PathBuf::from("/etc/supervisor/supervisord.conf"),
        }
    }
}

impl Supervisor {
    fn ctl(&self, args: &[&str]) -> Cmd {
        let mut c = Cmd::new("supervisorctl", &["-c", &self.config.display().to_string()]);
        for a in args {
            c = c.arg(*a);
        }
        c
    }

    /// Starts supervisord itself if it does not answer (no init system started it), and
    /// waits until it does.
    pub fn ensure_running(&self) -> Result<(), ExecError> {
        if self.ctl(&["pid"]).run_checked(true)?.code == Some(0) {
            return Ok(());
        }
        Cmd::new("supervisord", &["-c", &self.config.display().to_string()]).run()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.ctl(&["pid"]).run_checked(true)?;
            if out.code == Some(0) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return self.ctl(&["pid"]).run().map(|_| ());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid of a running program, if any.
    pub fn pid(&self, name: &str) -> Result<Option<u32>, ExecError> {
        let out = self.ctl(&["pid", name]).run_checked(true)?;
        Ok(out.stdout.trim().parse().ok().filter(|p| *p != 0))
    }

    /// A `[program:NAME]` section: run `command` as `user`, restart it whenever it exits,
    /// log to `log_dir`.
    pub fn program(
        name: &str,
        command: &str,
        user: Option<&str>,
        log_dir: &Path,
        env: &[(&str, &str)],
    ) -> String {
        let mut s = format!(
            "[program:{name}]\ncommand={command}\nautostart=true\nautorestart=true\nstartsecs=1\n\
             startretries=10\nstopsignal=TERM\nstopwaitsecs=30\n\
             stdout_logfile={dir}/{name}.log\nstderr_logfile={dir}/{name}.err.log\n",
            dir = log_dir.display()
        );
        if let Some(u) = user {
            s.push_str(&format!("user={u}\n"));
        }
        if !env.is_empty() {
            let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            s.push_str(&format!("environment={}\n", pairs.join(",")));
        }
        s
    }
}

impl Services for Supervisor {
    fn is_active(&self, name: &str) -> Cmd {
        // supervisorctl status exits 0 only for RUNNING programs (supervisor >= 4).
        self.ctl(&["status", name])
    }
    fn is_enabled(&self, name: &str) -> Cmd {
        // autostart=true in its program file: known to supervisord once added.
        self.ctl(&["status", name])
    }
    fn action(&self, action: Action, name: &str) -> Cmd {
        match action {
            Action::Start => self.ctl(&["start", name]),
            Action::Stop => self.ctl(&["stop", name]),
            Action::Restart | Action::Reload => self.ctl(&["restart", name]),
            Action::Enable | Action::Disable => self.ctl(&["update"]),
        }
    }
    fn reload_definitions(&self) -> Option<Cmd> {
        Some(self.ctl(&["update"]))
    }
}
