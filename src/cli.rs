//! The command line (clap derive only; no I/O here).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::Secret;

mod hosts;
mod ops;
pub use hosts::{HostsArgs, InventoryArgs, PingArgs};
pub use ops::{
    AcrossHosts, BackupArgs, ClientArgs, LogComponent, LogsArgs, RestartArgs, RestoreArgs,
    RestorePhase, RollbackArgs, StatusArgs, UninstallArgs,
};

#[derive(Debug, Parser)]
#[command(
    name = "provision",
    version,
    about = "Takes a fresh Linux host to a verified Live Validation Dashboard, and serves it.",
    after_help = "Configuration: flags win over environment variables (PROVISION_*, DATABASE_URL, \
                  REDIS_URL), which win over the .env file, which wins over the config file."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file [default: /etc/live-dashboard/provision.yaml; env: PROVISION_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Server environment file [default: /etc/live-dashboard/.env; env: PROVISION_ENV_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// More log output (-v debug, -vv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Logs as JSON lines (env: PROVISION_LOG_FORMAT=json)
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the dashboard server (what the service unit runs)
    #[command(after_help = "Examples:\n  \
        DATABASE_URL=postgresql:///live_validation_dashboard?host=/run/postgresql \\\n    \
        provision serve --listen 127.0.0.1:8000\n  \
        provision serve --env-file /etc/live-dashboard/.env --listen 127.0.0.1:8001\n\n\
        Environment: DATABASE_URL, REDIS_URL, PROVISION_LISTEN, PROVISION_DB_POOL_SIZE,\n  \
        PROVISION_DB_ACQUIRE_TIMEOUT_MS, PROVISION_DB_STATEMENT_TIMEOUT_MS,\n  \
        PROVISION_REQUEST_TIMEOUT_MS, PROVISION_REDIS_TIMEOUT_MS, PROVISION_CACHE_PREFIX,\n  \
        PROVISION_CACHE_TTL_S, PROVISION_WORKERS, PROVISION_DB_WAIT_S, PROVISION_LOG")]
    Serve(ServeArgs),
    /// Move the legacy dashboard's SQLite data into PostgreSQL, verified, nothing lost
    #[command(after_help = "Examples:\n  \
        provision migrate --from /srv/legacy/dashboard.db            # target from DATABASE_URL or the .env\n  \
        provision migrate --from dashboard.db --dry-run               # the plan: rows, quarantines; writes nothing\n  \
        provision migrate --from dashboard.db --strict                # refuse if any value can't move exactly\n  \
        provision migrate --from new.db --replace --json              # replace an earlier migration's data\n\n\
        Every value arrives exactly or is quarantined (table provision_quarantine, with its original);\n\
        each table is read back and hashed before one transaction swaps it in. Re-running the same\n\
        file is a no-op.\n\n\
        Exit codes: 0 migrated (or already migrated), 1 failed (nothing swapped in), 2 usage,\n  \
        3 source unusable (missing, not SQLite, corrupt), 4 the target holds other data (see\n  \
        --replace), 5 --strict found values that would be quarantined")]
    Migrate(MigrateArgs),
    /// Write a legacy dashboard SQLite database of any size (tests, benchmarks, demos)
    #[command(after_help = "Examples:\n  \
        provision fixture --out legacy.db --runs 50000 --results 20\n  \
        provision fixture --out loose.db --runs 1000 --loose --seed 7")]
    Fixture(FixtureArgs),
    /// Show what provision detects about this host (or a root tree): distribution, family,
    /// package manager, init system, CPUs, memory, listening ports
    #[command(after_help = "Examples:\n  \
        provision facts\n  \
        provision --json facts\n  \
        provision facts --root /srv/chroots/bookworm\n\n\
        Exit codes: 0 a supported host, 1 an unsupported one (the message says what was found)")]
    Facts(FactsArgs),
    /// Run a playbook: each step checks the host first and changes only what differs
    #[command(after_help = "Examples:\n  \
        provision play site.yml\n  \
        provision play site.yml --check --diff        # what would change, with diffs; touches nothing\n  \
        provision play site.yml --tags nginx -e instances=4\n  \
        provision play site.yml --start-at 'render nginx site'\n\n\
        The last line is the recap: ok=N changed=N skipped=N failed=N. A full log is written under\n\
        the state directory (logs/). Handlers notified by a changed step are remembered there until\n\
        they have run, also across a failed run.\n\n\
        Exit codes: 0 done, 1 a step failed (or, with --check, something would change), 2 usage")]
    Play(PlayArgs),
    /// Take this host to a running, verified dashboard (idempotent: a re-run changes nothing)
    #[command(after_help = "Examples:\n  \
        provision init --yes --demo                   # defaults, demo data: the whole path on an empty host\n  \
        provision init --yes --sqlite /srv/legacy/dashboard.db --instances 4\n  \
        provision init --yes --domain dash.example.com --tls self-signed\n  \
        provision init --check --diff                 # what it would change, touching nothing\n\n\
        Installs and configures PostgreSQL, Redis and nginx from templates, creates the database\n\
        and its role, writes /etc/live-dashboard/.env (root:live-dashboard 0640) and the service definitions, starts\n\
        the instances (systemd, or supervisord where no init system runs), migrates legacy data,\n\
        creates an admin user and verify's token, and ends by running verify. Answers and\n\
        generated secrets are saved in the config file (0600); a re-run reads them and asks nothing.\n\n\
        Exit codes: 0 done and verified, 1 a step or verify failed (re-run to resume; pending\n  \
        reloads are kept), or with --check something would change; 2 usage or config error")]
    Init(InitArgs),
    /// What init would change, with diffs and secrets masked, touching nothing (= init --check --diff)
    #[command(after_help = "Examples:\n  \
        provision plan --yes\n  \
        provision plan --instances 4\n\n\
        Exit codes: 0 nothing would change, 1 something would, 2 usage or config error")]
    Plan(InitArgs),
    /// Check that this host serves the dashboard correctly, safely and fast enough
    #[command(after_help = "Examples:\n  \
        provision verify                                   # on the host: every check and the load\n  \
        provision verify --wait 60s --format junit > verify.xml\n  \
        provision verify --url https://dash.example.com --remote-only --no-load\n  \
        provision verify --rate 200 --duration 30s --report verify.html\n\n\
        Checks run at once, each with its own timeout: ports, PostgreSQL and Redis logins with the\n\
        app's credentials, /health and /ready direct and through nginx, security headers, gzip,\n\
        /metrics on loopback only, the auth rate limit (a burst of logins must see 429), a WebSocket\n\
        event after a write (with the verify token), the service, the .env's mode, PostgreSQL and\n\
        Redis on loopback only. Then an open-model load through nginx (loopback is exempt from\n\
        nginx's API rate limit, not from the auth one), judged against the targets in the config\n\
        (verify.targets; defaults p50 < 100 ms, p95 < 300 ms, p99 < 500 ms, success > 99 %,\n\
        >= 500 req/min, cache hit ratio >= 70 %, no waits for a database connection).\n\n\
        The verify token comes from the config (verify.token) or PROVISION_VERIFY_TOKEN, never argv.\n\n\
        Exit codes: 0 all passed, 1 a check failed, 2 usage or config error, 3 a load target\n  \
        missed, 4 not ready within --wait")]
    Verify(VerifyArgs),
    /// Run only the open-model load phase of verify against a URL and print its report
    #[command(after_help = "Examples:\n  \
        provision load --url http://127.0.0.1:8080/health --rate 2000 --duration 10s\n  \
        provision --json load --url http://127.0.0.1/api/runs --rate 50000 --concurrency 64\n\n\
        Latency is measured from each request's scheduled send time (corrected) and from the\n\
        actual send; late and dropped sends are counted. `--rate max` is the closed loop\n\
        (saturation, like wrk). `provision verify` runs this phase after its checks.")]
    Load(LoadArgs),
    /// One look at the whole stack: services, versions, health, pool, cache, disk, last errors
    #[command(after_help = "Examples:\n  \
        provision status\n  \
        provision --json status\n\n\
        For PostgreSQL, Redis, nginx and each instance: running, enabled (systemd), version,\n\
        listening address, health, uptime; the database pool's use and the cache hit ratio from\n\
        the instances' /metrics; free disk where data and logs live; the last hour's errors; an\n\
        init that stopped part-way.\n\n\
        Exit codes: 0 all ok, 1 something is down, 2 usage (or never initialised), 3 degraded\n  \
        (running, but e.g. Redis down, low disk, an unfinished init)")]
    Status(StatusArgs),
    /// The logs of the server, PostgreSQL, Redis or nginx (journald or files, whichever they use)
    #[command(after_help = "Examples:\n  \
        provision logs                      # the instances' last 100 lines\n  \
        provision logs postgres --since 10m\n  \
        provision logs nginx -f\n\n\
        Under systemd the instances log to journald; without an init system supervisord keeps\n\
        their output in /var/log/live-dashboard/. PostgreSQL, Redis and nginx write their own files.")]
    Logs(LogsArgs),
    /// psql on the app's database as its role (the password from the config, never shown)
    #[command(after_help = "Examples:\n  \
        provision psql\n  \
        provision psql -- -c 'SELECT count(*) FROM validation_runs'\n\n\
        Connects with database.url from provision.yaml (root's, 0600); the password reaches\n\
        psql as PGPASSWORD in its environment, never on a command line. Arguments after --\n\
        go to psql. The exit code is psql's.")]
    Psql(ClientArgs),
    /// redis-cli as the app's Redis user (the password from the config, never shown)
    #[command(
        name = "redis-cli",
        after_help = "Examples:\n  \
        provision redis-cli ping\n  \
        provision redis-cli -- --scan --pattern 'ld:*'\n\n\
        Connects with redis.url from provision.yaml (root's, 0600): its user (--user) and\n\
        database (-n); the password reaches redis-cli as REDISCLI_AUTH in its environment.\n\
        The app's user reaches only the app's keys. The exit code is redis-cli's."
    )]
    RedisCli(ClientArgs),
    /// Restart the server instances; --rolling does it one at a time with no failed request
    #[command(after_help = "Examples:\n  \
        provision restart --rolling\n  \
        provision restart                   # all at once (a short outage)\n\n\
        --rolling takes each instance out of nginx's upstream (marked down, nginx -t, graceful\n\
        reload), waits for nginx's old workers to finish, restarts it, waits for /ready, and puts\n\
        it back before the next. It needs two instances or more.\n\n\
        Exit codes: 0 done, 1 an instance did not come back (the others untouched), 2 refused")]
    Restart(RestartArgs),
    /// Back up the app database: pg_dump custom format, dated, with checksum and row counts
    #[command(after_help = "Examples:\n  \
        provision backup\n  \
        provision backup --list\n\n\
        Writes /var/backups/live-dashboard/DB-YYYYMMDDTHHMMSSZ.dump (0600) with .sha256 and\n\
        .json (rows per table, counted in the dump's own snapshot) beside it. `migrate --replace`\n\
        takes one first.\n\n\
        Exit codes: 0 done, 1 failed (nothing kept), 2 usage")]
    Backup(BackupArgs),
    /// Restore a backup: checked, loaded beside the live database, swapped in; nothing lost
    #[command(after_help = "Examples:\n  \
        provision restore /var/backups/live-dashboard/live_validation_dashboard-20261129T230000Z.dump\n\n\
        The checksum and the archive are checked, the dump is loaded into a new database and its\n\
        rows compared with the backup's; only then are the instances stopped, the new database\n\
        renamed in (the old one kept as DB_before_restore_TIMESTAMP), the cache invalidated and\n\
        the instances started.\n\n\
        Exit codes: 0 restored, 1 failed (the live database untouched), 2 usage or missing file,\n  \
        3 the backup is corrupt")]
    Restore(RestoreArgs),
    /// Put back the files of init's last change, check them (nginx -t) and reload what they affect
    #[command(after_help = "Examples:\n  \
        provision rollback\n\n\
        Every run of init keeps the previous version of each file it writes. rollback puts back\n\
        those of the newest change not yet rolled back, runs nginx -t before anything reloads\n\
        (undoing itself if nginx refuses), then the reloads and restarts that change had caused.\n\
        Run it again to go one change further back.\n\n\
        Exit codes: 0 done, 1 failed, 2 nothing to roll back")]
    Rollback(RollbackArgs),
    /// Remove what init made; the data stays unless --purge-data
    #[command(after_help = "Examples:\n  \
        provision uninstall\n  \
        provision uninstall --purge-data --yes\n\n\
        Stops the instances and removes their service definitions, the nginx site, the settings\n\
        files, the config and .env, the binary and the service user; files init had replaced\n\
        (pg_hba.conf, redis.conf, nginx's default site) go back to how they were. The packages\n\
        stay. --purge-data also drops the database and role and removes backups and logs: it\n\
        asks on a terminal, and needs --yes otherwise.\n\n\
        Exit codes: 0 done, 1 some step failed (the rest went on), 2 usage or never initialised")]
    Uninstall(UninstallArgs),
    /// Check the inventory and show its hosts, the order they are deployed in and each
    /// host's firewall
    #[command(after_help = "Examples:\n  \
        provision hosts --inventory hosts.yaml\n  \
        provision --json hosts --inventory hosts.yaml\n\n\
        The inventory is read whole and checked before anything runs: unknown keys or roles, no\n\
        (or a second) postgres or redis host, no app or nginx host, one address twice, an address\n\
        the other hosts cannot reach. Every problem is named by file and line.\n\n\
        Exit codes: 0 a usable inventory, 2 problems (listed) or no inventory")]
    Hosts(HostsArgs),
    /// Reach every host of the inventory over ssh, put provision's binary there and ask it
    /// for the host's facts
    #[command(after_help = "Examples:\n  \
        provision ping --inventory hosts.yaml\n  \
        provision ping --inventory hosts.yaml --accept-new-host-keys   # first contact: record host keys\n\n\
        ssh runs with BatchMode (no password prompts), one multiplexed connection per host, and\n\
        host keys checked against the inventory's known_hosts only. The binary is copied only\n\
        when the host's differs (sha256), after its architecture is checked.\n\n\
        Exit codes: 0 every host answered, 1 some did not (each is named, with ssh's error), 2 usage")]
    Ping(PingArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsArg {
    Off,
    SelfSigned,
    /// A certificate from an ACME server (Let's Encrypt unless --acme-directory), obtained
    /// and renewed by certbot through nginx; needs --domain
    Acme,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Take the defaults for everything not given (no questions)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Generate a legacy database and migrate it (the whole path with no input)
    #[arg(long, conflicts_with = "sqlite")]
    pub demo: bool,
    /// Migrate this legacy SQLite database
    #[arg(long, value_name = "PATH")]
    pub sqlite: Option<PathBuf>,
    /// Server instances (ports 8001..) [default 2]
    #[arg(long)]
    pub instances: Option<u32>,
    /// The site's name for nginx (server_name) and its certificate [default: any]
    #[arg(long)]
    pub domain: Option<String>,
    /// TLS: off or self-signed; or give --tls-cert and --tls-key
    #[arg(long, value_enum)]
    pub tls: Option<TlsArg>,
    /// Certificate file (PEM) for nginx
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key file (PEM) for nginx
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// --tls acme: the account's e-mail (expiry notices) [config: nginx.acme_email]
    #[arg(long, value_name = "EMAIL")]
    pub acme_email: Option<String>,
    /// --tls acme: the ACME directory URL [config: nginx.acme_directory; default: Let's
    /// Encrypt]
    #[arg(long, value_name = "URL")]
    pub acme_directory: Option<String>,
    /// --tls acme: a CA certificate to trust for a private ACME server (added to the host's
    /// trust store) [config: nginx.acme_ca_cert]
    #[arg(long, value_name = "FILE")]
    pub acme_ca_cert: Option<PathBuf>,
    /// Keep Redis's data across restarts (sessions survive)
    #[arg(long)]
    pub redis_persistence: bool,
    /// Prometheus with the node, PostgreSQL, Redis and nginx exporters on loopback, scraping
    /// every instance, with the dashboard's alert rules (saved: `monitoring` in the config)
    #[arg(long)]
    pub monitoring: bool,
    /// Show what would change and touch nothing (exit 1 when something would)
    #[arg(long, alias = "dry-run")]
    pub check: bool,
    /// With --check: show the differences (secrets masked)
    #[arg(long)]
    pub diff: bool,
    /// Run verify's load phase even when nothing changed
    #[arg(long)]
    pub load: bool,
    /// Templates here override the shipped ones by name
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Where runs keep their lock, pending handlers and logs
    #[arg(
        long,
        value_name = "DIR",
        default_value = crate::init::vars::PROVISION_STATE_DIR
    )]
    pub state_dir: PathBuf,
    /// Several hosts: the inventory naming them and their roles [env: PROVISION_INVENTORY;
    /// config: inventory]
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Several hosts: trust a host key the inventory's known_hosts does not hold yet
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Several hosts: app hosts deployed at once
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub forks: u16,
    /// Run one host's part of a deployment: the job on stdin, events as JSON lines
    /// (what the controller runs on each host over ssh)
    #[arg(long, hide = true)]
    pub agent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Junit,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Verify from elsewhere, through this public URL; on-host checks are then "not run"
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: on-host checks are not wanted (they don't count as failed)
    #[arg(long)]
    pub remote_only: bool,
    /// Poll readiness this long before anything else, like 60s (exit 4 if never ready)
    #[arg(long, value_parser = parse_duration)]
    pub wait: Option<std::time::Duration>,
    /// Only the checks, no load
    #[arg(long)]
    pub no_load: bool,
    /// Load rate: requests per second (200), per minute (500/min), or max [config: verify.load.rate; default 100]
    #[arg(long)]
    pub rate: Option<crate::settings::Rate>,
    /// Measured load duration, like 10s [default 10s]
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Unmeasured warm-up before it, like 2s [default 2s]
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<std::time::Duration>,
    /// Connections (requests in flight at most) [default 32]
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// A non-loopback address of this host to prove /metrics is refused from [default: the
    /// default route's source address]
    #[arg(long)]
    pub public_address: Option<std::net::IpAddr>,
    /// Trust the certificates in this PEM file too (a private CA or a self-signed site)
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Output format (--json is the same as --format json)
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Also write a self-contained HTML report here
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub hosts: AcrossHosts,
    /// On a host of several, for the controller: this host's own checks only
    #[arg(long, hide = true, conflicts_with_all = ["url", "remote_only"])]
    pub on_host: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The URL to request (http:// only)
    #[arg(long)]
    pub url: String,
    /// Requests per second (200), per minute (500/min), or `max` (closed loop: saturation)
    #[arg(long, default_value = "1000")]
    pub rate: crate::settings::Rate,
    /// How long, like 10s or 2m
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// Not measured at the start, like 1s
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: std::time::Duration,
    /// Requests in flight at most
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
}

/// The longest duration a flag takes: 366 days. Longer ones are typos, and a deadline
/// computed from them would overflow.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

/// `10s`, `500ms`, `2m`, `1h`, `1d` (humantime's units), at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration like 10s, 500ms, 2m, 1h or 1d ({e})"))?;
    if d > MAX_DURATION {
        return Err(format!("{s:?} is more than 366 days"));
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// The playbook (YAML)
    pub playbook: PathBuf,
    /// Only report what would change (alias --dry-run)
    #[arg(long, alias = "dry-run")]
    pub check: bool,
    /// Show unified diffs of the files that change (secrets masked)
    #[arg(long)]
    pub diff: bool,
    /// Only steps with one of these tags
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Skip the steps before this one
    #[arg(long, value_name = "STEP")]
    pub start_at: Option<String>,
    /// Set a variable (repeatable)
    #[arg(short = 'e', long = "extra-var", value_name = "KEY=VALUE")]
    pub extra_vars: Vec<String>,
    /// Where the run lock, pending handlers and logs live
    #[arg(
        long,
        value_name = "DIR",
        default_value = crate::init::vars::PROVISION_STATE_DIR
    )]
    pub state_dir: PathBuf,
    /// supervisord's config, where no init system runs
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/supervisor/supervisord.conf"
    )]
    pub supervisor_config: PathBuf,
}

#[derive(Debug, Args)]
pub struct FactsArgs {
    /// Read the host whose filesystem is at DIR (a chroot or fixture tree) [default: /]
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The legacy SQLite database (opened read-only, never changed)
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Target PostgreSQL URL [default: DATABASE_URL, then the .env, then the config file]
    #[arg(long, value_name = "URL")]
    pub to: Option<Secret>,
    /// Replace the data of an earlier migration of a different source
    #[arg(long)]
    pub replace: bool,
    /// With --replace: the backup taken first goes into a private subdirectory of DIR
    /// (live-dashboard-backups) [default: /var/backups/live-dashboard]
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// With --replace: replace without taking a backup first
    #[arg(long)]
    pub no_backup: bool,
    /// Abort before writing anything if any value would be quarantined
    #[arg(long)]
    pub strict: bool,
    /// Print the plan (rows, quarantines, skipped objects); write nothing
    #[arg(long, alias = "check")]
    pub dry_run: bool,
    /// Which target schema: auto (the legacy dashboard's tables into the dashboard's, other
    /// tables by type inference), dashboard (refuse anything else), infer (every table)
    #[arg(long, value_enum, default_value = "auto")]
    pub schema: SchemaArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaArg {
    /// The legacy dashboard's tables into the dashboard's, any other table by inference
    Auto,
    /// Only the legacy dashboard; refuse anything else
    Dashboard,
    /// Every table by type inference (a database of its own)
    Infer,
}

#[derive(Debug, Args)]
pub struct FixtureArgs {
    /// The file to create (must not exist)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Validation runs
    #[arg(long, default_value_t = 1000)]
    pub runs: u64,
    /// Results per run
    #[arg(long, default_value_t = 20)]
    pub results: u64,
    /// Suites
    #[arg(long, default_value_t = 12)]
    pub suites: u64,
    /// Users (each with one API token)
    #[arg(long, default_value_t = 8)]
    pub users: u64,
    /// Add realistic looseness: epoch and NULL timestamps, 'n/a' numbers, invalid JSON,
    /// bad statuses, orphans, invalid UTF-8
    #[arg(long)]
    pub loose: bool,
    /// Random seed (same seed, same file)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8000]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// PostgreSQL URL (prefer DATABASE_URL: argv is visible to every user)
    #[arg(long, value_name = "URL")]
    pub database_url: Option<Secret>,
    /// Redis URL (prefer REDIS_URL: argv is visible to every user)
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<Secret>,
    /// PostgreSQL pool size [default: 4 x CPUs, 4..32]
    #[arg(long, value_name = "N")]
    pub pool_size: Option<u32>,
    /// Runtime worker threads [default: number of CPUs]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_never_overflow() {
        assert_eq!(
            parse_duration("500ms"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration("2m"),
            Ok(std::time::Duration::from_secs(120))
        );
        assert_eq!(
            parse_duration("1d"),
            Ok(std::time::Duration::from_secs(86_400))
        );
        for bad in [
            "10",
            "x",
            "18446744073709551615s",
            "18446744073709551615d",
            "400d",
            "",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
