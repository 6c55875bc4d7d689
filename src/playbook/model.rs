//! The playbook file: YAML (serde_yaml_ng), unknown fields rejected, errors pointing at
//! file:line:column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub name: String,
    /// Values for templates and `when`; `-e key=value` overrides them.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Names of vars whose values are secrets: masked in diffs, logs and output.
    #[serde(default)]
    pub secrets: Vec<String>,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub handlers: Vec<Handler>,
    /// The playbook's directory: templates and relative sources are found there first.
    /// None (init's embedded playbook without `--templates`): only the embedded templates,
    /// never files of the current directory.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub notify: Vec<String>,
    // Exactly one of these (checked when the playbook is read).
    #[serde(default)]
    package: Option<PackageStep>,
    #[serde(default)]
    template: Option<TemplateStep>,
    #[serde(default)]
    file: Option<FileStep>,
    #[serde(default)]
    user: Option<UserStep>,
    #[serde(default)]
    group: Option<GroupStep>,
    #[serde(default)]
    command: Option<CommandStep>,
    #[serde(default)]
    service: Option<ServiceStep>,
    #[serde(default)]
    postgres_role: Option<PostgresRoleStep>,
    #[serde(default)]
    postgres_database: Option<PostgresDatabaseStep>,
    #[serde(default)]
    wait_for: Option<WaitForStep>,
    #[serde(default)]
    binary: Option<BinaryStep>,
    /// `flush_handlers: [names]` (or `true` for all): run those pending handlers here
    /// rather than at the end.
    #[serde(default)]
    flush_handlers: Option<Flush>,
    #[serde(skip)]
    pub kind: Option<Kind>,
}

impl Step {
    fn resolve(&mut self) -> Result<(), String> {
        let mut kinds = Vec::new();
        macro_rules! take {
            ($($field:ident => $variant:ident),* $(,)?) => {
                $(if let Some(k) = self.$field.take() {
                    kinds.push(Kind::$variant(k));
                })*
            };
        }
        take!(
            package => Package,
            template => Template,
            file => File,
            user => User,
            group => Group,
            command => Command,
            service => Service,
            postgres_role => PostgresRole,
            postgres_database => PostgresDatabase,
            wait_for => WaitFor,
            binary => Binary,
        );
        match self.flush_handlers.take() {
            Some(Flush::All(true)) => kinds.push(Kind::FlushHandlers(None)),
            Some(Flush::Named(names)) => kinds.push(Kind::FlushHandlers(Some(names))),
            Some(Flush::All(false)) | None => {}
        }
        if kinds.len() != 1 {
            return Err(format!(
                "step {:?} must have exactly one of package, template, file, user, group, command, service, postgres_role, postgres_database, wait_for, binary, flush_handlers (it has {})",
                self.name,
                kinds.len()
            ));
        }
        self.kind = kinds.pop();
        Ok(())
    }

    pub fn kind(&self) -> &Kind {
        self.kind
            .as_ref()
            .expect("resolved when the playbook was read")
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    pub name: String,
    /// A service action (restart by default) …
    #[serde(default)]
    pub service: Option<ServiceStep>,
    /// … or a command (like `supervisorctl update`, which restarts only the programs whose
    /// definitions changed).
    #[serde(default)]
    pub command: Option<CommandStep>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Package(PackageStep),
    Template(TemplateStep),
    File(FileStep),
    User(UserStep),
    Group(GroupStep),
    Command(CommandStep),
    Service(ServiceStep),
    PostgresRole(PostgresRoleStep),
    PostgresDatabase(PostgresDatabaseStep),
    WaitFor(WaitForStep),
    Binary(BinaryStep),
    /// Run the pending handlers now — all, or the named ones (the engine does it; the step
    /// itself is a no-op).
    FlushHandlers(Option<Vec<String>>),
}

impl Kind {
    /// The file this step writes or removes (what the run's history keeps a copy of).
    pub fn writes(&self) -> Option<&std::path::Path> {
        match self {
            Kind::Template(t) => Some(&t.dest),
            Kind::File(f) if f.state != FileState::Directory => Some(&f.path),
            Kind::Binary(b) => Some(&b.dest),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Flush {
    All(bool),
    Named(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryStep {
    /// A path (relative to the playbook) or `self`, the running provision binary.
    pub src: String,
    pub dest: PathBuf,
    #[serde(default)]
    pub mode: Option<String>,
}

fn default_socket_dir() -> String {
    "/var/run/postgresql".into()
}

fn default_pg_port() -> u16 {
    5432
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresRoleStep {
    pub name: String,
    /// The var holding the password (list it under `secrets:`).
    #[serde(default)]
    pub password_var: Option<String>,
    /// Roles it is granted (`pg_monitor`, say).
    #[serde(default)]
    pub member_of: Vec<String>,
    #[serde(default = "default_socket_dir")]
    pub socket_dir: String,
    #[serde(default = "default_pg_port")]
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresDatabaseStep {
    pub name: String,
    pub owner: String,
    #[serde(default = "default_socket_dir")]
    pub socket_dir: String,
    #[serde(default = "default_pg_port")]
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForStep {
    /// `host:port` that must accept TCP connections.
    #[serde(default)]
    pub port: Option<String>,
    /// An `http://` URL that must answer 2xx or 3xx.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "default_wait")]
    pub timeout_s: u64,
}

fn default_wait() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageStep {
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateStep {
    /// Relative to the playbook's directory.
    pub src: String,
    pub dest: PathBuf,
    #[serde(default)]
    pub mode: Option<String>,
    /// `user` or `user:group`.
    #[serde(default)]
    pub owner: Option<String>,
    /// A command run after the new file is in place (like `[nginx, -t]`); when it fails,
    /// the previous file is put back and the step fails with its output.
    #[serde(default)]
    pub validate: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    Directory,
    File,
    Absent,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStep {
    pub path: PathBuf,
    pub state: FileState,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// For `state: file`: the exact content (templated).
    #[serde(default)]
    pub content: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserStep {
    pub name: String,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub home: Option<PathBuf>,
    #[serde(default)]
    pub shell: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupStep {
    pub name: String,
    #[serde(default)]
    pub system: bool,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandStep {
    pub argv: Vec<String>,
    /// Skip when this path exists.
    #[serde(default)]
    pub creates: Option<PathBuf>,
    /// Skip when this command succeeds.
    #[serde(default)]
    pub unless: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceStep {
    pub name: String,
    #[serde(default)]
    pub state: Option<ServiceState>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Why a playbook cannot be read; names the file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

pub(super) fn syntax(shown: &str, e: &serde_yaml_ng::Error) -> PlaybookError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    PlaybookError::Syntax {
        path: shown.to_string(),
        line,
        column,
        message: e.to_string(),
    }
}

impl Playbook {
    pub fn load(path: &Path) -> Result<Playbook, PlaybookError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PlaybookError::Io {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut p = Self::parse(&text, &shown)?;
        p.dir = Some(
            path.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        );
        Ok(p)
    }

    pub fn parse(text: &str, shown: &str) -> Result<Playbook, PlaybookError> {
        let mut p: Playbook = serde_yaml_ng::from_str(text).map_err(|e| syntax(shown, &e))?;
        for step in &mut p.steps {
            step.resolve().map_err(|message| PlaybookError::Invalid {
                path: shown.to_string(),
                message,
            })?;
        }
        for h in &p.handlers {
            if h.service.is_some() == h.command.is_some() {
                return Err(PlaybookError::Invalid {
                    path: shown.to_string(),
                    message: format!(
                        "handler {:?} must have exactly one of service and command",
                        h.name
                    ),
                });
            }
        }
        let handler_names: Vec<&str> = p.handlers.iter().map(|h| h.name.as_str()).collect();
        for s in &p.steps {
            for n in &s.notify {
                if !handler_names.contains(&n.as_str()) {
                    return Err(PlaybookError::Invalid {
                        path: shown.to_string(),
                        message: format!(
                            "step {:?} notifies {n:?}, which is not a handler",
                            s.name
                        ),
                    });
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for s in &p.steps {
            if !seen.insert(&s.name) {
                return Err(PlaybookError::Invalid {
                    path: shown.to_string(),
                    message: format!(
                        "two steps are named {:?} (names must be unique for --start-at)",
                        s.name
                    ),
                });
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_points_at_errors() {
        let ok = "name: demo\nsteps:\n  - name: pkg\n    package:\n      names: [hello]\n    notify: [r]\nhandlers:\n  - name: r\n    service: {name: x, state: restarted}\n";
        let p = Playbook::parse(ok, "p.yml").unwrap();
        assert!(matches!(p.steps[0].kind(), Kind::Package(_)));
        let unknown = "name: demo\nsteps:\n  - name: pkg\n    package:\n      names: [hello]\n      version: 2\n";
        let e = Playbook::parse(unknown, "p.yml").unwrap_err().to_string();
        assert!(e.starts_with("p.yml:"), "{e}");
        assert!(e.contains("version"), "{e}");
        let bad_notify =
            "name: d\nsteps:\n  - name: a\n    command: {argv: [true]}\n    notify: [nope]\n";
        assert!(Playbook::parse(bad_notify, "p.yml")
            .unwrap_err()
            .to_string()
            .contains("nope"));
        let tabs = "name: d\nsteps:\n\t- bad\n";
        let e = Playbook::parse(tabs, "p.yml").unwrap_err().to_string();
        assert!(e.starts_with("p.yml:3:"), "{e}");
    }
}
