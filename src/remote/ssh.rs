//! The system's OpenSSH client, and nothing home-made: one multiplexed connection per host
//! (ControlMaster, reused for every command of a run), `BatchMode` (never a password
//! prompt), and host keys checked against the inventory's known_hosts file only
//! (`--accept-new-host-keys` is the one way to trust a key it does not hold yet).
//! Secrets and payloads go on stdin; argv carries only the remote command.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::host::exec::{shell_quote, Cmd, Output};
use crate::inventory::Host;
use crate::settings::Secret;

use super::RemoteError;

/// ssh's exit code when it could not connect or authenticate (the remote command's own
/// codes are passed through otherwise).
const SSH_FAILED: i32 = 255;

/// Runs an ssh command line to its end, whatever its exit code.
fn exec(host: &Host, cmd: &Cmd) -> Result<Output, RemoteError> {
    cmd.run_checked(true)
        .map_err(|source| RemoteError::Command {
            host: host.name.clone(),
            source,
        })
}

/// How the controller reaches hosts over ssh.
#[derive(Debug, Clone)]
pub struct Transport {
    /// Where the ControlMaster sockets live (0700; `%C` names keep paths short).
    pub control_dir: PathBuf,
    /// Trust a host key the known_hosts file does not hold yet (and record it).
    pub accept_new_host_keys: bool,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
}

/// What a command sends on the remote command's stdin.
pub enum Input<'a> {
    Nothing,
    Secret(Secret),
    File(&'a Path),
}

impl Transport {
    /// A transport whose sockets live in `control_dir`, created 0700 when missing.
    pub fn new(control_dir: &Path, accept_new_host_keys: bool) -> Result<Self, RemoteError> {
        crate::host::fs::private_dir(control_dir).map_err(|source| RemoteError::Local {
            path: control_dir.to_path_buf(),
            source,
        })?;
        Ok(Transport {
            control_dir: control_dir.to_path_buf(),
            accept_new_host_keys,
            connect_timeout: Duration::from_secs(10),
        })
    }

    /// The options every ssh command to `host` takes (the master's, and its clients').
    fn options(&self, host: &Host) -> Vec<String> {
        let strict = if self.accept_new_host_keys {
            "accept-new"
        } else {
            "yes"
        };
        let mut options = vec![
            "BatchMode=yes".to_string(),
            format!("StrictHostKeyChecking={strict}"),
            format!("UserKnownHostsFile={}", host.ssh.known_hosts.display()),
            "GlobalKnownHostsFile=/dev/null".into(),
            format!("ConnectTimeout={}", self.connect_timeout.as_secs().max(1)),
            "ServerAliveInterval=15".into(),
            "ControlMaster=auto".into(),
            format!("ControlPath={}/%C", self.control_dir.display()),
            "ControlPersist=120".into(),
            format!("Port={}", host.ssh.port),
            format!("User={}", host.ssh.user),
        ];
        if let Some(id) = &host.ssh.identity_file {
            options.push("IdentitiesOnly=yes".into());
            options.push(format!("IdentityFile={}", id.display()));
        }
        options
            .into_iter()
            .flat_map(|o| ["-o".to_string(), o])
            .collect()
    }

    /// The `ssh` command line that runs `remote` (words, quoted for the remote shell)
    /// on `host`.
    pub fn command(&self, host: &Host, remote: &[&str]) -> Cmd {
        let words: Vec<String> = remote.iter().map(|w| shell_quote(w)).collect();
        self.options(host)
            .into_iter()
            .fold(Cmd::new("ssh", &[]), Cmd::arg)
            .arg(host.address.clone())
            .arg("--")
            .arg(words.join(" "))
    }

    /// Runs `remote` on `host`: its output, or why it did not run or failed.
    pub fn run(
        &self,
        host: &Host,
        remote: &[&str],
        input: Input<'_>,
    ) -> Result<Output, RemoteError> {
        let cmd = self.command(host, remote);
        let cmd = match input {
            Input::Nothing => cmd,
            Input::Secret(s) => cmd.stdin(s),
            Input::File(p) => cmd.stdin_file(p),
        };
        let out = exec(host, &cmd)?;
        self.settle(host, &cmd, out)
    }

    /// Runs `remote` on `host` with `input` (a secret) on its stdin, handing each line of
    /// its stdout to `on_line` as it comes; its whole stdout and stderr when it ends.
    pub fn stream(
        &self,
        host: &Host,
        remote: &[&str],
        input: Secret,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<Output, RemoteError> {
        use std::io::{BufRead, Write};
        use std::process::Stdio;
        let cmd = self.command(host, remote);
        let failed_to_start = |e: std::io::Error| RemoteError::Command {
            host: host.name.clone(),
            source: crate::host::exec::ExecError {
                command: cmd.display(),
                code: None,
                stderr_tail: e.to_string(),
            },
        };
        let mut child = std::process::Command::new(&cmd.program)
            .args(&cmd.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(failed_to_start)?;
        let mut stdin = child.stdin.take().expect("piped");
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(input.expose().as_bytes());
        });
        let mut stderr_pipe = child.stderr.take().expect("piped");
        let stderr_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut s);
            s
        });
        let mut stdout = String::new();
        for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines() {
            let Ok(line) = line else { break };
            on_line(&line);
            stdout.push_str(&line);
            stdout.push('\n');
        }
        let status = child.wait().map_err(failed_to_start)?;
        let _ = feeder.join();
        let stderr = stderr_reader.join().unwrap_or_default();
        let out = Output {
            code: status.code(),
            stdout,
            stderr,
        };
        self.settle(host, &cmd, out)
    }

    /// Runs `remote` on `host` and hands back how it ended, whatever its exit code (a
    /// command whose codes carry a verdict, like `status`); only ssh's own failure is an
    /// error.
    pub fn run_any(&self, host: &Host, remote: &[&str]) -> Result<Output, RemoteError> {
        let out = exec(host, &self.command(host, remote))?;
        if out.code == Some(SSH_FAILED) {
            return Err(self.unreachable(host, &out.stderr));
        }
        Ok(out)
    }

    /// Copies the file `remote` on `host` to `local` (0600; written beside it and renamed
    /// when whole).
    pub fn fetch(&self, host: &Host, remote: &str, local: &Path) -> Result<(), RemoteError> {
        use std::os::unix::fs::OpenOptionsExt;
        let cmd = self.command(host, &["cat", "--", remote]);
        let partial = local.with_extension("provision-partial");
        let local_error = |source| RemoteError::Local {
            path: partial.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(local_error)?;
        let out = std::process::Command::new(&cmd.program)
            .args(&cmd.args)
            .stdin(std::process::Stdio::null())
            .stdout(file)
            .output()
            .map_err(local_error)?;
        let out = Output {
            code: out.status.code(),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        };
        if let Err(e) = self.settle(host, &cmd, out) {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, local).map_err(|source| RemoteError::Local {
            path: local.to_path_buf(),
            source,
        })
    }

    /// A finished ssh: its output when the remote command succeeded; ssh's own failure
    /// (exit 255) as unreachable; the remote command's failure with its code and stderr.
    fn settle(&self, host: &Host, cmd: &Cmd, out: Output) -> Result<Output, RemoteError> {
        match out.code {
            Some(0) => Ok(out),
            Some(SSH_FAILED) => Err(self.unreachable(host, &out.stderr)),
            code => Err(RemoteError::Command {
                host: host.name.clone(),
                source: crate::host::exec::ExecError {
                    command: cmd.display(),
                    code,
                    stderr_tail: crate::host::exec::tail(&out.stderr, 20),
                },
            }),
        }
    }

    fn unreachable(&self, host: &Host, stderr: &str) -> RemoteError {
        let hint = if stderr.contains("Host key verification failed")
            || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        {
            format!(
                "its host key is not the one {} holds: check the key with the host's owner, \
                 then add it to that file, or run with --accept-new-host-keys when the host \
                 is new",
                host.ssh.known_hosts.display()
            )
        } else if stderr.contains("Permission denied") {
            format!(
                "the key was refused: put the public key of {} in {}'s ~/.ssh/authorized_keys",
                host.ssh
                    .identity_file
                    .as_deref()
                    .map_or("your ssh key".to_string(), |p| p.display().to_string()),
                host.ssh.user
            )
        } else {
            format!(
                "check that sshd runs there and that port {} is open to this machine",
                host.ssh.port
            )
        };
        RemoteError::Unreachable {
            host: host.name.clone(),
            address: format!("{}:{}", host.address, host.ssh.port),
            stderr: crate::host::exec::tail(stderr, 5),
            hint,
        }
    }

    /// Closes the master connection to `host`, if one is open.
    pub fn close(&self, host: &Host) {
        let _ = self
            .options(host)
            .into_iter()
            .fold(Cmd::new("ssh", &["-O", "exit"]), Cmd::arg)
            .arg(host.address.clone())
            .run_checked(true);
    }
}
