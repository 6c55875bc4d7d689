//! `provision facts`: prints the detected host facts as a table or JSON.

use super::{CommandError, ExitStatus};
use crate::cli::{FactsArgs, GlobalArgs};
use crate::host::distro;
use crate::host::facts::{self, Facts};

pub fn run(global: &GlobalArgs, args: FactsArgs) -> Result<ExitStatus, CommandError> {
    match facts::detect(&args.root) {
        Ok(f) => {
            let data = distro::for_host(&f);
            if global.json {
                let v = serde_json::json!({"facts": f, "distro": data});
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("facts serialize")
                );
            } else if !global.quiet {
                print!("{}", render(&f));
                println!(
                    "{:<16} postgresql {} ({}), services {}",
                    "distro data",
                    data.postgresql.version,
                    data.postgresql.conf_dir,
                    data.services
                        .values()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(ExitStatus::Success)
        }
        Err(e) => {
            if global.json {
                println!(
                    "{}",
                    serde_json::json!({"supported": false, "error": e.to_string()})
                );
            }
            Err(CommandError {
                status: ExitStatus::Failure,
                error: e.into(),
            })
        }
    }
}

fn render(f: &Facts) -> String {
    let lower = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
    let mut out = String::new();
    let mut row = |k: &str, v: String| out.push_str(&format!("{k:<16} {v}\n"));
    row(
        "distribution",
        format!("{} {} ({})", f.distribution, f.version, f.pretty_name),
    );
    row("family", lower(&f.family));
    row("package manager", lower(&f.package_manager));
    row("init system", lower(&f.init));
    row("cpus", f.cpus.to_string());
    row(
        "memory",
        format!("{:.1} GiB", f.memory_bytes as f64 / (1u64 << 30) as f64),
    );
    if let Some(p) = &f.homebrew_prefix {
        row("homebrew", p.display().to_string());
    }
    let ports: Vec<String> = f
        .listening
        .iter()
        .map(|l| format!("{}:{}", l.address, l.port))
        .collect();
    row(
        "listening",
        if ports.is_empty() {
            "-".into()
        } else {
            ports.join(" ")
        },
    );
    out
}
