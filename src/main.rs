//! The binary: parse → run → exit code; prints the error chain once.

use std::process::ExitCode;

use clap::Parser;

// The server allocates many small buffers per request; mimalloc measured faster than
// glibc's malloc under the benchmark's load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = provision::cli::Cli::parse();
    provision::logging::init(cli.global.verbose, cli.global.quiet, cli.global.json);
    match provision::commands::run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) => {
            eprintln!("error: {}", provision::commands::chain_once(&e.error));
            ExitCode::from(e.status.code())
        }
    }
}
