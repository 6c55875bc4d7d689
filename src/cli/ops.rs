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
pub struct ClientArgs {
    /// Arguments for the client, as they are
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
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
    /// With --take-out: an app host leaving the deployment (nothing saved to put back)
    #[arg(long, hide = true, requires = "take_out")]
    pub for_good: bool,
    /// On an app host leaving the deployment, for the controller: stop and disable its
    /// instances
    #[arg(long, hide = true, conflicts_with_all = ["take_out", "put_back", "rolling"])]
    pub retire: bool,
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
    /// What the daily timer (cron without systemd) runs, on this host: a backup, then the
    /// scheduled backups pruned to backups.keep_daily and keep_weekly (manual ones are never
    /// pruned); the outcome is recorded for `provision status` and the metrics
    #[arg(long, conflicts_with_all = ["list", "fetch", "verify_restore"])]
    pub scheduled: bool,
    /// Dump from a streaming replica (database.replica_urls: the first that is a standby
    /// within database.max_replica_lag_ms), so the dump's reads do not load the primary
    #[arg(long, conflicts_with_all = ["list", "verify_restore"])]
    pub from_replica: bool,
    /// The restore drill: the newest backup (or FILE) restored into a scratch database,
    /// each table's rows and content digest compared with its manifest, the scratch
    /// database dropped; the live database is not touched. Exit 3 if they differ
    #[arg(long, value_name = "FILE", num_args = 0..=1, conflicts_with_all = ["list", "fetch"])]
    pub verify_restore: Option<Option<PathBuf>>,
    #[command(flatten)]
    pub hosts: AcrossHosts,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup file (`provision backup --list` shows them); several hosts: a file on the
    /// postgres host, or on this machine with --push
    #[arg(required_unless_present = "phase")]
    pub file: Option<PathBuf>,
    /// Restore even without a matching .sha256 beside the file
    #[arg(long)]
    pub no_checksum: bool,
    /// Several hosts: FILE is on this machine; copy it with its manifest and checksum to
    /// the postgres host first
    #[arg(long)]
    pub push: bool,
    #[command(flatten)]
    pub hosts: AcrossHosts,
    /// One phase of a restore across hosts, run on a host by the controller
    #[arg(long, hide = true, value_enum)]
    pub phase: Option<RestorePhase>,
    /// The staged database the phase works on (swap, discard)
    #[arg(long, hide = true, value_name = "DATABASE")]
    pub staging: Option<String>,
}

/// The phases of a restore across hosts, each run where it belongs: the database host
/// stages, swaps or discards; the app hosts stop and start their instances; one app host
/// invalidates the shared cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RestorePhase {
    Stage,
    Swap,
    Discard,
    StopInstances,
    StartInstances,
    InvalidateCache,
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
    #[command(flatten)]
    pub hosts: AcrossHosts,
}
