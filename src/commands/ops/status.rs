//! `provision status`: the stack's state as a table, or JSON with `--json` (across the
//! inventory's hosts: `status_hosts`).

use super::{load_stack, runtime, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, StatusArgs};
use crate::ops::status::{self, Report, State};

pub fn status(global: &GlobalArgs, args: &StatusArgs) -> Result<ExitStatus, CommandError> {
    if let Some(inv) =
        crate::commands::hosts::several_hosts(global, args.hosts.inventory.as_deref())?
    {
        return super::status_hosts::status(global, args, &inv);
    }
    let stack = load_stack(global)?;
    let report = runtime()?.block_on(status::gather(&stack));
    crate::commands::output(global, &report, || {
        print!("{}", text(&report));
    });
    Ok(match report.state {
        State::Ok => ExitStatus::Success,
        State::Down => ExitStatus::Failure,
        State::Degraded => ExitStatus::Code(3),
    })
}

fn duration(s: u64) -> String {
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn gib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

pub fn text(r: &Report) -> String {
    let mut out = format!(
        "{} — {} (instances under {})\n\n",
        r.url,
        r.state.as_str().to_uppercase(),
        r.manager
    );
    out.push_str(&parts_table(r));
    out.push('\n');
    out.push_str(&figures(r));
    if let Some(i) = &r.init {
        out.push_str(&format!("\ninit: {i}\n"));
    }
    if let Some(b) = &r.backups {
        out.push_str(&b.line());
    }
    if let Some(a) = &r.alerts {
        out.push_str(&a.text());
    }
    for replica in &r.replicas {
        out.push_str(&replica.line());
    }
    let problems: Vec<String> = r
        .parts
        .iter()
        .flat_map(|p| p.problems.iter().map(move |x| format!("  {}: {x}", p.name)))
        .chain(
            r.backups
                .iter()
                .flat_map(|b| b.problems.iter().map(|x| format!("  backups: {x}"))),
        )
        .collect();
    if !problems.is_empty() {
        out.push_str("\nproblems:\n");
        out.push_str(&problems.join("\n"));
        out.push('\n');
    }
    if !r.recent_errors.is_empty() {
        out.push_str(
            "\nerrors and warnings in the last hour (provision logs COMPONENT for more):\n",
        );
        for e in &r.recent_errors {
            out.push_str(&format!("  {:<8} {}\n", e.component.name(), e.line));
        }
    }
    out
}

/// One row per part: state, start at boot, version, uptime, where it listens, health.
fn parts_table(r: &Report) -> String {
    let mut table = crate::table::plain(
        &[
            "part",
            "state",
            "enabled",
            "version",
            "uptime",
            "listening",
            "health",
        ],
        &[],
    );
    for p in &r.parts {
        table.add_row(vec![
            p.name.clone(),
            p.state.as_str().to_string(),
            match p.enabled {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            }
            .to_string(),
            p.version.clone().unwrap_or_else(|| "?".into()),
            p.uptime_s.map(duration).unwrap_or_else(|| "-".into()),
            if p.listening.is_empty() {
                "-".to_string()
            } else {
                p.listening.join(" ")
            },
            p.health.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    crate::table::lines(&table)
}

/// The figures under the table: the pool, the cache, WebSockets, disks, refused requests.
fn figures(r: &Report) -> String {
    let mut out = String::new();
    if let Some(pool) = &r.pool {
        let used = pool.open.saturating_sub(pool.idle);
        out.push_str(&format!(
            "database pool: {used} busy, {} idle{}; {} waits for a connection since start\n",
            pool.idle,
            pool.max
                .map(|m| format!(
                    ", of {m} at most ({:.0} % in use)",
                    100.0 * used as f64 / m.max(1) as f64
                ))
                .unwrap_or_default(),
            pool.waits
        ));
    }
    match r.cache_hit_ratio {
        Some(h) => out.push_str(&format!(
            "cache hit ratio since start: {:.1} %\n",
            h * 100.0
        )),
        None => out.push_str("cache hit ratio: no cached reads yet\n"),
    }
    if let Some(ws) = r.websocket_clients {
        out.push_str(&format!("live WebSocket clients: {ws}\n"));
    }
    for d in &r.disks {
        out.push_str(&format!(
            "disk ({}, {}): {} free of {}\n",
            d.what,
            d.path,
            gib(d.free_bytes),
            gib(d.total_bytes)
        ));
    }
    if r.refused_last_hour > 0 {
        out.push_str(&format!(
            "requests refused by nginx's rate limits and access rules in the last hour: {}\n",
            r.refused_last_hour
        ));
    }
    out
}
