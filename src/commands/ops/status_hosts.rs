//! `provision status` across the inventory's hosts: each host's own `provision status`
//! (its parts: only what its roles hold), run there over ssh side by side, shown per host
//! and per part, with one exit code for all — the worst; a host that cannot be reached
//! counts as down and is named with ssh's reason.

use serde_json::Value;

use super::{CommandError, ExitStatus};
use crate::cli::{GlobalArgs, StatusArgs};
use crate::inventory::Inventory;
use crate::remote::Transport;

/// One host's answer: its report, or why there is none.
struct Answer {
    host: String,
    report: Result<Value, String>,
}

pub fn status(
    global: &GlobalArgs,
    args: &StatusArgs,
    inv: &Inventory,
) -> Result<ExitStatus, CommandError> {
    let transport = Transport::new(&args.hosts.state_dir.join("ssh"), false)?;
    let binary = crate::init::vars::BINARY;
    let answers = crate::remote::each(&inv.hosts, 8, |h| Answer {
        host: h.name.clone(),
        report: {
            let argv = [binary, "--json", "status"];
            transport
                .run_any(h, &argv)
                .and_then(|out| crate::remote::report(h, &argv, &out))
                .map_err(|e| crate::causes::line(&e))
        },
    });
    for h in &inv.hosts {
        transport.close(h);
    }
    let worst = answers
        .iter()
        .map(|a| match &a.report {
            Ok(r) => match r["state"].as_str() {
                Some("ok") => 0,
                Some("degraded") => 1,
                _ => 2,
            },
            Err(_) => 2,
        })
        .max()
        .unwrap_or(0);
    let json: Vec<Value> = answers
        .iter()
        .map(|a| match &a.report {
            Ok(r) => serde_json::json!({"host": a.host, "report": r}),
            Err(e) => serde_json::json!({"host": a.host, "state": "down", "error": e}),
        })
        .collect();
    crate::commands::output(global, &json, || print!("{}", text(&answers)));
    Ok(match worst {
        0 => ExitStatus::Success,
        1 => ExitStatus::Code(3),
        _ => ExitStatus::Failure,
    })
}

fn text(answers: &[Answer]) -> String {
    let mut t = crate::table::plain(&["host", "part", "state", "health"], &[]);
    let mut problems = Vec::new();
    for a in answers {
        match &a.report {
            Ok(r) => {
                for p in r["parts"].as_array().into_iter().flatten() {
                    let name = p["name"].as_str().unwrap_or("?");
                    t.add_row(vec![
                        a.host.clone(),
                        name.to_string(),
                        p["state"].as_str().unwrap_or("?").to_string(),
                        p["health"].as_str().unwrap_or("").to_string(),
                    ]);
                    for x in p["problems"].as_array().into_iter().flatten() {
                        problems.push(format!("  {} {name}: {}", a.host, x.as_str().unwrap_or("")));
                    }
                }
                // Prometheus' host: what fires, anywhere.
                for f in r["alerts"]["firing"].as_array().into_iter().flatten() {
                    problems.push(format!(
                        "  {} alert {} [{}] {}: {} — {}",
                        a.host,
                        f["name"].as_str().unwrap_or("?"),
                        f["severity"].as_str().unwrap_or("?"),
                        f["about"].as_str().unwrap_or(""),
                        f["summary"].as_str().unwrap_or(""),
                        f["action"].as_str().unwrap_or("")
                    ));
                }
                if let Some(e) = r["alerts"]["error"].as_str() {
                    problems.push(format!(
                        "  {} alerts: Prometheus cannot be asked ({e})",
                        a.host
                    ));
                }
                // An app host's view of the replicas it reads from.
                for rep in r["replicas"].as_array().into_iter().flatten() {
                    let serving = rep["serving"].as_bool().unwrap_or(false);
                    t.add_row(vec![
                        a.host.clone(),
                        format!("replica {}", rep["name"].as_str().unwrap_or("?")),
                        if serving { "ok" } else { "degraded" }.to_string(),
                        rep["lag_ms"]
                            .as_u64()
                            .map_or("lag unknown".into(), |ms| format!("{ms} ms behind")),
                    ]);
                }
                // The database's host: its backups, as a part of their own.
                let b = &r["backups"];
                if b.is_object() {
                    t.add_row(vec![
                        a.host.clone(),
                        "backups".into(),
                        b["state"].as_str().unwrap_or("?").to_string(),
                        b["last_success"]["at"]
                            .as_str()
                            .map_or("no backup yet".into(), |at| format!("last good {at}")),
                    ]);
                    for x in b["problems"].as_array().into_iter().flatten() {
                        problems.push(format!(
                            "  {} backups: {}",
                            a.host,
                            x.as_str().unwrap_or("")
                        ));
                    }
                }
            }
            Err(e) => {
                t.add_row(vec![
                    a.host.clone(),
                    "-".into(),
                    "down".into(),
                    "unreachable".into(),
                ]);
                problems.push(format!("  {e}"));
            }
        }
    }
    let mut out = crate::table::lines(&t);
    if !problems.is_empty() {
        out.push_str("\nproblems:\n");
        out.push_str(&problems.join("\n"));
        out.push('\n');
    }
    out
}
