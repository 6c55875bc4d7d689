//! The day-2 commands' arguments (clap derive only; no I/O here).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogComponent {
    Server,
    Postgres,
    Redis,
    Nginx,
}

/// Where the day-2 commands find the inventory's hosts, and how to reach them.
#[derive(Debug, Args)]
pub struct AcrossHosts {
    /// Several hosts: the inventory [env: PROVISION_INVENTORY; config: inventory]
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Where the ssh connections' control sockets live (several hosts)
    #[arg(long, value_name = "DIR", default_value = crate::init::vars::PROVISION_STATE_DIR)]
    pub state_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub hosts: AcrossHosts,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Whose logs
    #[arg(value_enum, default_value = "server")]
    pub component: LogComponent,
    /// Keep printing new lines as they come
    #[arg(short, long)]
    pub follow: bool,
    /// Only lines from this long ago on (30s, 10m, 2h, 1d)
    #[arg(long, value_parser = super::parse_duration, value_name = "DURATION")]
    pub since: Option<std::time::Duration>,
    /// At most this many lines (the newest) [default: 100 without --since]
    #[arg(short = 'n', long, value_name = "N")]
    pub lines: Option<usize>,
    /// Several hosts: this host's logs, read there over ssh
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    #[command(flatten)]
    pub hosts: AcrossHosts,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// One instance at a time, each taken out of nginx's rotation and drained first
    /// (several hosts: one app host at a time, out of every nginx host's rotation)
    #[arg(long)]
    pub rolling: bool,
    #[command(flatten)]
    pub hosts: AcrossHosts,
    /// On a load balancer, for the controller: mark these upstreams (HOST:PORT,…) down
    #[arg(
        long,
        hide = true,
        value_name = "HOST:PORT,…",
        conflicts_with = "put_back"
    )]
    pub take_out: Option<String>,
    /// On a load balancer, for the controller: put the site back as it was
    #[arg(long, hide = true)]
    pub put_back: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// List the backups (newest first) with whether each one's checksum still matches
    #[arg(long)]
    pub list: bool,
    /// Backups go into a private subdirectory of DIR (live-dashboard-backups) [default:
    /// /var/backups/live-dashboard]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Several hosts: also copy the backup (taken on the postgres host), its manifest and
    /// checksum into DIR here, checked against its sha256
    #[arg(long, value_name = "DIR")]
    pub fetch: Option<PathBuf>,
    #[command(flatten)]
    pub hosts: AcrossHosts,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup file (`provision backup --list` shows them)
    pub file: PathBuf,
    /// Restore even without a matching .sha256 beside the file
    #[arg(long)]
    pub no_checksum: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Also drop the database and its role and remove backups and logs
    #[arg(long)]
    pub purge_data: bool,
    /// Confirm --purge-data without a question (needed when not on a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}
