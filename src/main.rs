//! The binary: parse → run → exit code; prints the error chain once.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = provision::cli::Cli::parse();
    provision::logging::init(cli.global.verbose, cli.global.quiet, cli.global.json);
    match provision::commands::run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) => {
            eprintln!("error: {:#}", e.error);
            ExitCode::from(e.status.code())
        }
    }
}
