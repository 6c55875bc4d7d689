//! The last phase: the stack taken away from every host by `uninstall --inventory`, the
//! load balancer first and the database host last; the data kept.

use crate::bed::Bed;
use crate::{on_inventory, show};

pub fn uninstall_everywhere(bed: &Bed, inv: &std::path::Path) {
    let config = bed.dir.path().join("provision.yaml");
    let ran = on_inventory(
        bed,
        inv,
        &["--config", config.to_str().unwrap(), "uninstall"],
    );
    eprintln!("uninstall across hosts:\n{}", ran.stdout);
    assert_eq!(ran.code, 0, "{}", show(&ran));
    let first = |host: &str| {
        ran.stdout
            .lines()
            .position(|l| l.starts_with(&format!("{host}  ")))
            .unwrap_or_else(|| panic!("{host}: {}", show(&ran)))
    };
    assert!(
        first("lb1") < first("app1")
            && first("app2") < first("cache1")
            && first("cache1") < first("db1"),
        "the load balancer first, the database host last: {}",
        show(&ran)
    );
    assert!(
        ran.stdout
            .contains("db1  kept      the database live_validation_dashboard"),
        "{}",
        show(&ran)
    );
    for h in ["db1", "cache1", "app1", "app2", "lb1"] {
        for gone in [
            "/usr/local/bin/provision",
            "/var/lib/provision/bin/provision",
        ] {
            let out = bed.exec(h, &["test", "-e", gone]);
            assert!(!out.status.success(), "{h}: {gone} is still there");
        }
        let table = bed.exec(h, &["nft", "list", "table", "inet", "live_dashboard"]);
        assert!(!table.status.success(), "{h}: the firewall is still loaded");
    }
    let instance = bed.exec("app1", &["systemctl", "is-active", "live-dashboard@8001"]);
    assert!(!instance.status.success(), "app1's instance still runs");
    let nginx = bed.exec("lb1", &["nginx", "-T"]);
    assert!(
        !String::from_utf8_lossy(&nginx.stdout).contains("upstream live_dashboard"),
        "lb1 still has the site"
    );
    let kept = bed.exec(
        "db1",
        &[
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-Atc",
            "SELECT count(*) FROM pg_database WHERE datname = 'live_validation_dashboard'",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&kept.stdout).trim(), "1");
    let records: Vec<_> = walk(&bed.dir.path().join("state/deployments"))
        .into_iter()
        .filter(|p| p.ends_with("hosts.json"))
        .collect();
    assert!(
        records.is_empty(),
        "the deployment's record stays: {records:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            all.extend(walk(&p));
        } else {
            all.push(p);
        }
    }
    all
}
