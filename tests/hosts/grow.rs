//! The inventory changing under a running site: an app host leaves (drained first, under
//! load, not one request failed; its instances stopped and disabled) and comes back (in
//! the rotation again, the other app host's instances not restarted).

use crate::bed::Bed;
use crate::day2::{site_codes, under_load};
use crate::{init_run, recap_lines, show};

/// The instances' main PIDs on `host` (a restart would change them).
fn main_pids(bed: &Bed, host: &str) -> String {
    let out = bed.exec(
        host,
        &[
            "systemctl",
            "show",
            "-p",
            "MainPID",
            "--value",
            "live-dashboard@8001",
            "live-dashboard@8002",
        ],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `systemctl is-active` and `is-enabled` of app2's instances, one word each.
fn app2_units(bed: &Bed) -> String {
    let mut words = Vec::new();
    for verb in ["is-active", "is-enabled"] {
        let out = bed.exec(
            "app2",
            &[
                "systemctl",
                verb,
                "live-dashboard@8001",
                "live-dashboard@8002",
            ],
        );
        words.push(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    words.join(" / ")
}

/// nginx's configuration on the load balancer, as it runs.
fn lb_config(bed: &Bed) -> String {
    let out = bed.exec("lb1", &["nginx", "-T"]);
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// app2 leaves the inventory and `init` runs under load: app2 drained first, its instances
/// stopped and disabled, out of nginx's upstream, not one request failed. Back in the
/// inventory: in the rotation again, and app1's instances were not restarted either time.
pub fn leaves_and_returns(bed: &Bed, inv: &std::path::Path) {
    let full = std::fs::read_to_string(inv).unwrap();
    let block = format!(
        "  app2:\n    address: {}\n    roles: [app]\n",
        bed.host("app2").address
    );
    assert!(full.contains(&block), "{full}");
    let app1 = main_pids(bed, "app1");
    let app2 = format!("server {}:", bed.host("app2").address);
    assert!(lb_config(bed).contains(&app2));

    std::fs::write(inv, full.replace(&block, "")).unwrap();
    let ran = under_load(bed, "app2 leaving", || init_run(bed, inv));
    eprintln!(
        "app2 left:\n{}",
        ran.stdout
            .lines()
            .filter(|l| l.contains("rotation") || l.contains("left the inventory"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(ran.code, 0, "{}", show(&ran));
    assert!(
        ran.stdout.lines().any(|l| l.starts_with("app2 ")
            && l.ends_with("left the inventory: drained, its instances stopped and disabled")),
        "{}",
        show(&ran)
    );
    let addr = &bed.host("app2").address;
    assert!(
        ran.stdout.lines().any(|l| l.starts_with("lb1 ")
            && l.contains(&format!("{addr}:8001, {addr}:8002 out of rotation"))),
        "{}",
        show(&ran)
    );
    assert_eq!(recap_lines(&ran).len(), 4, "{}", show(&ran));
    assert_eq!(app2_units(bed), "inactive inactive / disabled disabled");
    assert!(
        !lb_config(bed).contains(&app2),
        "app2 still in nginx's upstream"
    );

    std::fs::write(inv, &full).unwrap();
    let back = init_run(bed, inv);
    assert_eq!(back.code, 0, "{}", show(&back));
    assert!(
        !back.stdout.contains("left the inventory"),
        "{}",
        show(&back)
    );
    assert_eq!(app2_units(bed), "active active / enabled enabled");
    assert!(
        lb_config(bed).contains(&app2),
        "app2 not back in nginx's upstream"
    );
    assert_eq!(
        main_pids(bed, "app1"),
        app1,
        "app1's instances were restarted"
    );
    let codes = site_codes(bed, 8);
    assert!(
        codes.iter().all(|c| c == "200"),
        "with app2 back: {codes:?}"
    );
}
