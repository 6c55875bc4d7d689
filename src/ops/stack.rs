//! The deployed stack as the day-2 commands see it: what `init` left on this host, read
//! back from its config file, the `.env`, the host's facts and the distribution's data —
//! the instances and the manager that keeps them, the services of PostgreSQL, Redis and
//! nginx, the nginx site, where data and logs live. A host without init's config gets a
//! clear "never initialised" answer instead of guesses.

use std::path::{Path, PathBuf};

use crate::host::distro::{self, DistroData};
use crate::host::facts::{self, Facts, InitSystem};
use crate::host::services::{self, Direct, Services, Supervisor};
use crate::init::vars::{LOG_DIR, PROVISION_STATE_DIR};
use crate::settings::{
    Instance, Secret, ServiceManager, ServiceUrl, SettingsError, Sources, VerifyFlags,
    VerifySettings,
};

/// One part of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Postgres,
    Redis,
    Nginx,
    Server,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::Postgres,
        Component::Redis,
        Component::Nginx,
        Component::Server,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Component::Postgres => "postgres",
            Component::Redis => "redis",
            Component::Nginx => "nginx",
            Component::Server => "server",
        }
    }
}

/// Who keeps the instances running, resolved (never "detect").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    Systemd,
    OpenRc,
    Supervisor(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("this host was never initialised: there is no {} (init writes it first). Run `provision init`, or pass --config FILE if the config lives elsewhere", .0.display())]
    NotInitialised(PathBuf),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("reading this host's facts: {0}")]
    Facts(String),
    #[error("init's playbook for this host: {0}")]
    Playbook(String),
}

pub struct Stack {
    pub config_path: PathBuf,
    /// URLs, instances, credentials and the manager, as verify resolves them.
    pub settings: VerifySettings,
    pub manager: Manager,
    pub facts: Facts,
    pub distro: DistroData,
    /// Where provision keeps its run state (locks, pending handlers, logs, file history).
    pub state_dir: PathBuf,
    /// Each instance's database pool size, when the .env or the config says.
    pool_size: Option<u64>,
    /// The app's database and Redis URLs from the config file alone (root's, 0600): the
    /// commands that act as the database superuser take names from here, never from the
    /// `.env` or the environment.
    database_url: Option<Secret>,
    redis_url: Option<Secret>,
    cache_prefix: String,
    /// On a host of several: the parts it holds (None: every part, the single host).
    roles: Option<Vec<String>>,
    /// The scheduled backups' settings (`backups.*`).
    pub backups: crate::init::answers::BackupPolicy,
    /// Whether init set up monitoring (`monitoring`): the exporters here, and Prometheus
    /// when `prometheus_here` (the single host, or the first nginx host of several).
    pub monitoring: crate::init::answers::Monitoring,
    pub prometheus_here: bool,
    /// Streaming replicas (`database.replica_urls`, from the config file) and how far
    /// behind one may be (`backup --from-replica`).
    pub replica_urls: Vec<Secret>,
    pub max_replica_lag: std::time::Duration,
}

impl Stack {
    /// The stack described by the config file (which must exist) and the `.env`.
    pub fn load(config: Option<&Path>, env_file: Option<&Path>) -> Result<Stack, StackError> {
        let sources = Sources::load(config, env_file)?;
        let Some(config_path) = sources.config_path.clone() else {
            return Err(StackError::NotInitialised(crate::settings::config_path(
                config,
            )));
        };
        let settings = VerifySettings::resolve(VerifyFlags::default(), &sources)?;
        let facts = facts::detect(Path::new("/")).map_err(|e| StackError::Facts(e.to_string()))?;
        let manager = match &settings.service {
            ServiceManager::Systemd => Manager::Systemd,
            ServiceManager::OpenRc => Manager::OpenRc,
            ServiceManager::Supervisor(p) => Manager::Supervisor(p.clone()),
            ServiceManager::Detect => match facts.init {
                InitSystem::Systemd => Manager::Systemd,
                InitSystem::OpenRc => Manager::OpenRc,
                _ => Manager::Supervisor(PathBuf::from("/etc/supervisor/supervisord.conf")),
            },
        };
        let distro = distro::for_host(&facts);
        let pool_size = sources.pick_opt(
            None,
            "PROVISION_DB_POOL_SIZE",
            sources.config.database.pool_size.map(u64::from),
        )?;
        let cache_prefix = sources.pick(
            None,
            "PROVISION_CACHE_PREFIX",
            sources.config.redis.prefix.clone(),
            "ld:".to_string(),
        )?;
        let roles = sources.config.deployment.as_ref().map(|d| d.roles.clone());
        Ok(Stack {
            backups: crate::init::answers::BackupPolicy::from_config(&sources.config),
            monitoring: crate::init::answers::Monitoring::from_config(&sources.config),
            replica_urls: sources
                .config
                .database
                .replica_urls
                .clone()
                .unwrap_or_default(),
            max_replica_lag: std::time::Duration::from_millis(
                sources.config.database.max_replica_lag_ms.unwrap_or(1000),
            ),
            prometheus_here: sources
                .config
                .deployment
                .as_ref()
                .map_or(true, |d| d.prometheus),
            roles,
            pool_size,
            database_url: sources.config.database.url.clone(),
            redis_url: sources.config.redis.url.clone(),
            cache_prefix,
            config_path,
            settings,
            manager,
            facts,
            distro,
            state_dir: PathBuf::from(PROVISION_STATE_DIR),
        })
    }

    /// What init manages here (its files and handlers), from the config file as it is now.
    pub fn managed(&self) -> Result<crate::init::managed::Managed, StackError> {
        let (config, _) = crate::settings::ConfigFile::load(&self.config_path, true)?;
        crate::init::managed::Managed::for_host(&self.facts, &config, &self.config_path)
            .map_err(|e| StackError::Playbook(e.to_string()))
    }

    /// The driver for this stack's services: the init system, or — without one — the
    /// distribution's scripts for PostgreSQL, Redis and nginx and supervisord for the rest.
    pub fn services(&self) -> Box<dyn Services> {
        match &self.manager {
            Manager::Supervisor(conf) => Box::new(Direct {
                supervisor: Supervisor {
                    config: conf.clone(),
                },
                ..Direct::default()
            }),
            Manager::Systemd => services::for_init(InitSystem::Systemd),
            Manager::OpenRc => services::for_init(InitSystem::OpenRc),
        }
    }

    /// Whether this host runs `c` (on a host of several, only its roles' parts).
    pub fn holds(&self, c: Component) -> bool {
        let role = match c {
            Component::Server => "app",
            other => other.name(),
        };
        self.roles
            .as_ref()
            .map_or(true, |roles| roles.iter().any(|r| r == role))
    }

    pub fn pool_size(&self) -> Option<u64> {
        self.pool_size
    }

    /// The prefix of the server's Redis keys.
    pub fn cache_prefix(&self) -> &str {
        &self.cache_prefix
    }

    pub fn is_systemd(&self) -> bool {
        self.manager == Manager::Systemd
    }

    pub fn instances(&self) -> &[Instance] {
        &self.settings.instances
    }

    /// The service (unit or program) of one instance.
    pub fn instance_service(&self, i: &Instance) -> String {
        match self.manager {
            Manager::Systemd => i.unit(),
            _ => i.program(),
        }
    }

    /// The distribution's service name of PostgreSQL, Redis or nginx.
    pub fn service_of(&self, c: Component) -> String {
        let key = match c {
            Component::Postgres => "postgresql",
            Component::Redis => "redis",
            Component::Nginx => "nginx",
            Component::Server => return "live-dashboard".into(),
        };
        self.distro
            .services
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    }

    /// The nginx site init writes.
    pub fn nginx_site(&self) -> PathBuf {
        Path::new(&self.distro.nginx_sites).join("live-dashboard")
    }

    /// The app's database URL, from the config file only.
    pub fn database_url(&self) -> Option<&Secret> {
        self.database_url.as_ref()
    }

    /// The app's Redis URL, from the config file only.
    pub fn redis_url(&self) -> Option<&Secret> {
        self.redis_url.as_ref()
    }

    fn database_parts(&self) -> Option<ServiceUrl> {
        ServiceUrl::parse(self.database_url()?).ok()
    }

    /// PostgreSQL's port, from the app's URL (5432 when it names none).
    pub fn postgres_port(&self) -> u16 {
        self.database_parts().map_or(5432, |u| u.port_or(5432))
    }

    /// The app database's name, from its URL.
    pub fn database_name(&self) -> Option<String> {
        self.database_parts()?.database()
    }

    /// The app's role, from its URL.
    pub fn database_role(&self) -> Option<String> {
        self.database_parts()?.user()
    }

    /// Redis's port, from the app's URL (6379 when it names none).
    pub fn redis_port(&self) -> u16 {
        self.redis_url()
            .and_then(|s| ServiceUrl::parse(s).ok())
            .map_or(6379, |u| u.port_or(6379))
    }

    /// PostgreSQL's data directory (for free disk space).
    pub fn postgres_data_dir(&self) -> PathBuf {
        PathBuf::from(&self.distro.postgresql.data_dir)
    }

    /// Where backups go (root's, 0700).
    pub fn backup_dir(&self) -> PathBuf {
        super::backup::directory(None)
    }

    /// The instances' log files under direct supervision.
    pub fn instance_logs(&self, i: &Instance) -> Vec<PathBuf> {
        let p = i.program();
        vec![
            Path::new(LOG_DIR).join(format!("{p}.log")),
            Path::new(LOG_DIR).join(format!("{p}.err.log")),
        ]
    }
}
