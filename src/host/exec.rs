//! Running external commands: argv never carries a secret (they go on stdin or in the
//! environment), output is captured, and a failure shows the command line, its exit code
//! and the tail of its stderr — with every secret masked, everywhere.

use std::fmt;

use crate::settings::{mask_all, Secret};

/// A command to run. Secrets are only ever stdin or environment values.
#[derive(Clone, Default)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    secret_env: Vec<(String, Secret)>,
    stdin: Option<Secret>,
    /// Standard input read from a file instead (a binary sent over ssh).
    stdin_file: Option<std::path::PathBuf>,
    /// Values to mask wherever this command is shown.
    masks: Vec<Secret>,
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

impl Cmd {
    pub fn new(program: &str, args: &[&str]) -> Self {
        Cmd {
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// An environment variable holding a secret (masked when shown).
    pub fn secret_env(mut self, k: &str, v: Secret) -> Self {
        self.masks.push(v.clone());
        self.secret_env.push((k.into(), v));
        self
    }

    /// Standard input, treated as secret (SQL with a password, say).
    pub fn stdin(mut self, input: Secret) -> Self {
        self.stdin = Some(input);
        self
    }

    /// Standard input read from `path` (its bytes as they are).
    pub fn stdin_file(mut self, path: &std::path::Path) -> Self {
        self.stdin_file = Some(path.to_path_buf());
        self
    }

    /// Also mask `value` in everything shown about this command.
    pub fn mask(mut self, value: Secret) -> Self {
        self.masks.push(value);
        self
    }

    fn masked(&self, text: &str) -> String {
        mask_all(text, &self.masks)
    }

    /// The command line as a shell would show it, masked.
    pub fn display(&self) -> String {
        let quote = |s: &str| shell_quote(s);
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        parts.extend(self.secret_env.iter().map(|(k, _)| format!("{k}=****")));
        parts.push(quote(&self.program));
        parts.extend(self.args.iter().map(|a| quote(a)));
        self.masked(&parts.join(" "))
    }

    /// Runs to completion, capturing output. A non-zero exit is an [`ExecError`] unless
    /// `allow_failure`; then the caller reads `code`.
    pub fn run_checked(&self, allow_failure: bool) -> Result<Output, ExecError> {
        let mut expr = duct::cmd(&self.program, &self.args)
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        for (k, v) in &self.env {
            expr = expr.env(k, v);
        }
        for (k, v) in &self.secret_env {
            expr = expr.env(k, v.expose());
        }
        expr = match (&self.stdin, &self.stdin_file) {
            (Some(s), _) => expr.stdin_bytes(s.expose().as_bytes().to_vec()),
            (None, Some(path)) => expr.stdin_path(path),
            (None, None) => expr.stdin_null(),
        };
        let out = expr.run().map_err(|e| ExecError {
            command: self.display(),
            code: None,
            stderr_tail: self.masked(&e.to_string()),
        })?;
        let output = Output {
            code: out.status.code(),
            stdout: self.masked(&String::from_utf8_lossy(&out.stdout)),
            stderr: self.masked(&String::from_utf8_lossy(&out.stderr)),
        };
        if !allow_failure && output.code != Some(0) {
            return Err(ExecError {
                command: self.display(),
                code: output.code,
                stderr_tail: tail(&output.stderr, 20),
            });
        }
        Ok(output)
    }

    pub fn run(&self) -> Result<Output, ExecError> {
        self.run_checked(false)
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    /// None when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A command that failed: what ran (masked), how it ended, and the end of its stderr.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` {}{}", match code { Some(c) => format!("exited with {c}"), None => "could not run or was killed".into() }, if stderr_tail.is_empty() { String::new() } else { format!("; stderr ends with:\n{stderr_tail}") })]
pub struct ExecError {
    pub command: String,
    pub code: Option<i32>,
    pub stderr_tail: String,
}

/// `s` as one word for a POSIX shell: as it is when it holds nothing the shell reads
/// specially, else single-quoted.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The last `n` non-empty lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show() {
        let pw = Secret::new("hunter2");
        let cmd = Cmd::new("sh", &["-c", "cat; echo \"$PGPASSWORD\" >&2; exit 3"])
            .secret_env("PGPASSWORD", pw.clone())
            .stdin(Secret::new("ALTER ROLE x PASSWORD 'hunter2';\n"))
            .mask(pw);
        let shown = cmd.display();
        assert!(
            shown.contains("PGPASSWORD=****") && !shown.contains("hunter2"),
            "{shown}"
        );
        let err = cmd.run().unwrap_err();
        assert_eq!(err.code, Some(3));
        let msg = err.to_string();
        assert!(
            msg.contains("exited with 3") && msg.contains("****"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"), "{msg}");
        let out = cmd.run_checked(true).unwrap();
        assert_eq!(out.stdout, "ALTER ROLE x PASSWORD '****';\n");
    }

    #[test]
    fn missing_programs_and_quoting() {
        let err = Cmd::new("/nonexistent/tool", &["a b"]).run().unwrap_err();
        assert_eq!(err.code, None);
        assert!(err.command.contains("'a b'"), "{}", err.command);
        assert_eq!(tail("a\n\nb\nc\n", 2), "b\nc");
        assert_eq!(Cmd::new("echo", &["hi"]).run().unwrap().stdout, "hi\n");
    }
}
