//! Settings: flags, environment, the `.env` file and the config file resolved into one
//! typed value per command. Precedence is owned here and only here:
//! flag > environment variable > `.env` file > config file > default.

mod config_file;
mod env_file;
mod rate;
mod secret;
mod serve;
mod service_url;
mod verify;

use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use config_file::{
    ConfigFile, DeploymentSection, LoadSection, MixEntry, MonitoringSection, MonitoringSetting,
    TargetsSection,
};
pub use env_file::EnvFile;
pub use rate::Rate;
pub use secret::{mask_all, redact_url, url_has_password, Secret};
pub use serve::{default_pool_size, Limits, ServeFlags, ServeSettings, MAX_POOL_SIZE};
pub use service_url::ServiceUrl;
pub use verify::{Instance, LoadSettings, ServiceManager, VerifyFlags, VerifySettings};

/// Default location of the config file (docs/architecture.md conventions).
pub const DEFAULT_CONFIG: &str = "/etc/live-dashboard/provision.yaml";
/// Default location of the server environment file.
pub const DEFAULT_ENV_FILE: &str = "/etc/live-dashboard/.env";

/// What is wrong with the settings; every variant names where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("invalid value for {source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
}

/// The two files every command may read, and where they came from.
#[derive(Debug, Default)]
pub struct Sources {
    pub config: ConfigFile,
    pub config_path: Option<PathBuf>,
    pub env_file: EnvFile,
}

impl Sources {
    /// Loads the config file and `.env`. Paths come from the flag, then
    /// `PROVISION_CONFIG` / `PROVISION_ENV_FILE`, then the defaults; a file the user named
    /// must exist, a default one may be absent.
    pub fn load(config: Option<&Path>, env_file: Option<&Path>) -> Result<Self, SettingsError> {
        let (config_path, config_required) =
            explicit_or_default(config, "PROVISION_CONFIG", DEFAULT_CONFIG);
        let (env_path, env_required) =
            explicit_or_default(env_file, "PROVISION_ENV_FILE", DEFAULT_ENV_FILE);
        let (config, config_path) = ConfigFile::load(&config_path, config_required)?;
        let env_file = EnvFile::load(&env_path, env_required)?;
        Ok(Sources {
            config,
            config_path,
            env_file,
        })
    }

    /// Resolves one value: `flag`, else the environment variable `env`, else the `.env`
    /// file's `env`, else `file` (the config file's value, already typed and checked with
    /// its line by the YAML parser), else `default`.
    pub fn pick<T: FromStr>(
        &self,
        flag: Option<T>,
        env: &str,
        file: Option<T>,
        default: T,
    ) -> Result<T, SettingsError>
    where
        T::Err: std::fmt::Display,
    {
        Ok(self.pick_opt(flag, env, file)?.unwrap_or(default))
    }

    /// Like [`Sources::pick`] without a default.
    pub fn pick_opt<T: FromStr>(
        &self,
        flag: Option<T>,
        env: &str,
        file: Option<T>,
    ) -> Result<Option<T>, SettingsError>
    where
        T::Err: std::fmt::Display,
    {
        if flag.is_some() {
            return Ok(flag);
        }
        if let Ok(value) = std::env::var(env) {
            return parse_named(&value, &format!("environment variable {env}")).map(Some);
        }
        if let Some((value, line)) = self.env_file.get(env) {
            let path = self.env_file.path.as_deref().unwrap_or(Path::new(".env"));
            return parse_named(value, &format!("{env} at {}:{line}", path.display())).map(Some);
        }
        Ok(file)
    }

    /// Where the config file's values came from, for messages.
    pub fn config_name(&self) -> String {
        self.config_path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(no config file)".into())
    }
}

/// The inventory's path: `--inventory`, else `PROVISION_INVENTORY`, else the config
/// file's `inventory:` (relative to that file), else none: the single local host.
pub fn inventory_path(flag: Option<&Path>, sources: &Sources) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("PROVISION_INVENTORY").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let p = sources.config.inventory.as_deref()?;
    let base = sources
        .config_path
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    Some(base.join(p))
}

/// The config file's path: `--config`, else `PROVISION_CONFIG`, else the default (the one
/// place this precedence lives).
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    explicit_or_default(flag, "PROVISION_CONFIG", DEFAULT_CONFIG).0
}

fn explicit_or_default(flag: Option<&Path>, env: &str, default: &str) -> (PathBuf, bool) {
    if let Some(p) = flag {
        return (p.to_path_buf(), true);
    }
    if let Ok(p) = std::env::var(env) {
        return (PathBuf::from(p), true);
    }
    (PathBuf::from(default), false)
}

fn parse_named<T: FromStr>(value: &str, name: &str) -> Result<T, SettingsError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| SettingsError::Invalid {
            source_name: name.to_string(),
            message: format!("{e} (got {:?})", mask_if_url(value)),
        })
}

fn mask_if_url(value: &str) -> String {
    if value.contains("://") {
        redact_url(value)
    } else {
        value.to_string()
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}
