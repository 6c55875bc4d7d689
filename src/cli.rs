//! The command line (clap derive only; no I/O here).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::Secret;

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
