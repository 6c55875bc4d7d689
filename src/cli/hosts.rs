//! The arguments of the commands that work on the inventory's hosts (clap derive only).

use std::path::PathBuf;

use clap::Args;

/// Which inventory, and how to reach its hosts.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// The inventory: hosts, their roles and SSH settings [env: PROVISION_INVENTORY;
    /// config: inventory]
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HostsArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,
    /// App instances' first port minus one (instance i listens on BASE+i)
    #[arg(long, value_name = "PORT", default_value_t = 8000)]
    pub base_port: u16,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,
    /// Trust a host key the inventory's known_hosts does not hold yet, and record it there
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Hosts worked on at once
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub forks: u16,
    /// Where provision's binary goes on each host
    #[arg(long, value_name = "PATH", default_value = crate::init::vars::BINARY)]
    pub remote_binary: String,
    /// Where the ssh connections' control sockets live (under provision's state)
    #[arg(long, value_name = "DIR", default_value = crate::init::vars::PROVISION_STATE_DIR)]
    pub state_dir: PathBuf,
}
