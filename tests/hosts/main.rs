//! Several hosts: booted systemd containers on a bridge inside a network namespace the
//! test creates (192.0.2.0/24), reached over ssh by `provision` running in that namespace.
//! No traffic leaves the test's own namespaces.

#[path = "../support/bed.rs"]
mod bed;
#[path = "../support/container.rs"]
mod container;
#[path = "../support/helpers.rs"]
mod helpers;
#[path = "../support/load_report.rs"]
mod load_report;
#[path = "../support/root.rs"]
mod root;
#[path = "../support/sshd.rs"]
mod sshd;
#[path = "../support/stages.rs"]
mod stages;

mod day2;
mod deploy;
mod grow;
mod monitoring;
mod restore;
mod tls;
mod uninstall;

use bed::Bed;
use helpers::Ran;

/// Five hosts (database, cache, two app hosts, load balancer) in one bed, in phases that
/// report separately: reached over ssh, deployed with `init --inventory`, verified through
/// the load balancer, a second run that changes nothing, and the firewall between them.
#[test]
fn five_hosts() {
    let mut bed = Bed::start(&["db1", "cache1", "app1", "app2", "lb1"]);
    // The controller load-tests through the load balancer: nginx's per-address API limit
    // must not apply to it.
    let inv = bed.inventory(
        &["postgres", "redis", "app", "app", "nginx"],
        &format!("rate_limit_exempt: [{}]\n", bed::CONTROLLER),
    );
    let mut stages = stages::Stages::default();
    if !stages.run("ping", || deploy::ping(&bed, &inv)) {
        return stages.finish();
    }
    if !stages.run("init", || deploy::init(&bed, &inv)) {
        return stages.finish();
    }
    stages.run("second run", || deploy::second_run(&bed, &inv));
    stages.run("firewall", || deploy::firewall(&bed));
    stages.run("status", || day2::status_all_up(&bed, &inv));
    stages.run("verify across hosts", || day2::verify_across(&bed, &inv));
    stages.run("backup fetched", || day2::backup_fetched(&bed, &inv));
    stages.run("restore pushed", || restore::restore_pushed(&bed, &inv));
    stages.run("rolling restart under load", || {
        day2::rolling_under_load(&bed, &inv)
    });
    stages.run("one app host powered off", || {
        day2::power_off_app2(&mut bed, &inv)
    });
    stages.run("an app host leaves and comes back", || {
        grow::leaves_and_returns(&bed, &inv)
    });
    stages.run("TLS between the hosts", || {
        tls::tls_between_hosts(&bed, &inv)
    });
    stages.run("monitoring across the hosts", || {
        monitoring::monitoring_across(&bed, &inv)
    });
    stages.run("uninstall", || uninstall::uninstall_everywhere(&bed, &inv));
    stages.finish();
}

/// `provision ARGS --inventory INV --state-dir STATE` as the controller.
fn on_inventory(bed: &Bed, inv: &std::path::Path, args: &[&str]) -> Ran {
    let state = bed.dir.path().join("state");
    let mut all = args.to_vec();
    all.extend([
        "--inventory",
        inv.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    bed.provision(&all)
}

fn show(r: &Ran) -> String {
    format!(
        "exit {}\n--- stdout\n{}\n--- stderr\n{}",
        r.code, r.stdout, r.stderr
    )
}

/// `provision --config CONFIG init --yes --demo --inventory INV --state-dir STATE`, as the
/// controller in the bed's namespace.
fn init_run(bed: &Bed, inv: &std::path::Path) -> Ran {
    init_run_with(bed, inv, &[])
}

/// `init_run` with `extra` init flags.
fn init_run_with(bed: &Bed, inv: &std::path::Path, extra: &[&str]) -> Ran {
    let config = bed.dir.path().join("provision.yaml");
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "init",
        "--yes",
        "--demo",
    ];
    args.extend_from_slice(extra);
    on_inventory(bed, inv, &args)
}

/// What an init printed from its verify on: the report and the recap.
fn verify_tail(ran: &Ran) -> String {
    let tail: Vec<&str> = ran
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("provision verify"))
        .collect();
    tail.join("\n")
}

/// The recap's line for each host, after the `RECAP` heading.
fn recap_lines(ran: &Ran) -> Vec<String> {
    let recap = ran
        .stdout
        .split("\nRECAP\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no recap: {}", show(ran)));
    recap
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
