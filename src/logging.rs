//! Log set-up: `tracing` to stderr, text or JSON lines, filtered by -v/-q or `PROVISION_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8, quiet: bool, json: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("PROVISION_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!("{default},sqlx=warn,sqlx::query=error,hyper=warn"))
    });
    let json = json || std::env::var("PROVISION_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
