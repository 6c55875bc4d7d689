//! One file per subcommand: the only layer that talks to the terminal.

pub mod facts;
pub mod fixture;
pub mod hosts;
pub mod init;
pub mod load;
pub mod migrate;
pub mod ops;
pub mod play;
pub mod serve;
pub mod verify;
mod verify_hosts;
mod verify_run;

use crate::cli::{Cli, Command, GlobalArgs};

/// How a command ended, as an exit code (docs/architecture.md: 0 ok, 1 found a problem, 2 usage or
/// configuration error, 3+ per command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failure,
    Usage,
    /// A command's own code (3 and up), documented in its --help.
    Code(u8),
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Code(c) => c,
        }
    }
}

/// The error and its causes on one line, each cause once (see [`crate::causes::line`]).
pub fn chain_once(e: &anyhow::Error) -> String {
    crate::causes::line(e.as_ref())
}

/// This provision binary, to copy to the inventory's hosts.
pub(crate) fn own_binary() -> Result<std::path::PathBuf, CommandError> {
    crate::host::fs::own_binary().map_err(|e| CommandError {
        status: ExitStatus::Failure,
        error: anyhow::Error::new(e).context("cannot find provision's own binary"),
    })
}

/// The async runtime the commands that do network work block on (serve builds its own,
/// sized by its settings).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError {
            status: ExitStatus::Failure,
            error: anyhow::Error::new(e).context("cannot start the async runtime"),
        })
}

/// Prints `value` as pretty JSON under `--json`, else its human form (`text`).
pub(crate) fn output<T: serde::Serialize>(global: &GlobalArgs, value: &T, text: impl FnOnce()) {
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("a report serializes")
        );
    } else {
        text();
    }
}

/// An error with the exit status it should produce.
#[derive(Debug)]
pub struct CommandError {
    pub status: ExitStatus,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for CommandError {
    fn from(e: E) -> Self {
        let error = e.into();
        let status = if error
            .downcast_ref::<crate::settings::SettingsError>()
            .is_some()
        {
            ExitStatus::Usage
        } else {
            ExitStatus::Failure
        };
        CommandError { status, error }
    }
}

pub fn run(cli: Cli) -> Result<ExitStatus, CommandError> {
    match cli.command {
        Command::Serve(args) => serve::run(&cli.global, args),
        Command::Migrate(args) => migrate::run(&cli.global, args),
        Command::Fixture(args) => fixture::run(&cli.global, args),
        Command::Facts(args) => facts::run(&cli.global, args),
        Command::Hosts(args) => hosts::hosts(&cli.global, args),
        Command::Ping(args) => hosts::ping(&cli.global, args),
        Command::Play(args) => play::run(&cli.global, args),
        Command::Load(args) => load::run(&cli.global, args),
        Command::Verify(args) => verify::run(&cli.global, args),
        Command::Init(args) => init::run(&cli.global, args),
        Command::Status(args) => ops::status(&cli.global, &args),
        Command::Logs(args) => ops::logs(&cli.global, args),
        Command::Psql(args) => ops::psql(&cli.global, args),
        Command::RedisCli(args) => ops::redis_cli(&cli.global, args),
        Command::Restart(args) => ops::restart(&cli.global, args),
        Command::Backup(args) => ops::backup(&cli.global, args),
        Command::Restore(args) => ops::restore(&cli.global, args),
        Command::Rollback(_) => ops::rollback(&cli.global),
        Command::Uninstall(args) => ops::uninstall(&cli.global, args),
        Command::Plan(mut args) => {
            args.check = true;
            args.diff = true;
            init::run(&cli.global, args)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("PostgreSQL at h:5432: connecting: {source} (create the database first)")]
    struct Quoting {
        #[source]
        source: Inner,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("database \"x\" does not exist")]
    struct Inner;

    #[test]
    fn each_cause_is_printed_once() {
        let e = anyhow::Error::new(Quoting { source: Inner }).context("migrating");
        assert_eq!(
            chain_once(&e),
            "migrating: PostgreSQL at h:5432: connecting: database \"x\" does not exist (create the database first)"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(chain_once(&plain), "outer: inner");
    }
}
