//! TLS between the hosts: init again with the site's TLS on (self-signed). The load
//! balancer serves https, verify trusts the certificate it fetched from there, `pg_hba`
//! admits the app hosts with `hostssl` only, and every app connection to PostgreSQL is
//! encrypted.

use crate::bed::Bed;
use crate::restore::psql;
use crate::{init_run_with, show, verify_tail};

pub fn tls_between_hosts(bed: &Bed, inv: &std::path::Path) {
    let ran = init_run_with(bed, inv, &["--tls", "self-signed"]);
    eprintln!("init with TLS, verify:\n{}", verify_tail(&ran));
    assert_eq!(ran.code, 0, "{}", show(&ran));
    let lb = &bed.host("lb1").address;
    assert!(
        ran.stdout
            .contains(&format!("provision verify https://{lb} (remote)")),
        "{}",
        show(&ran)
    );
    assert!(
        ran.stdout
            .lines()
            .any(|l| l.starts_with("ok ") && l.split_whitespace().nth(1) == Some("tls")),
        "{}",
        show(&ran)
    );
    let hba = bed.exec(
        "db1",
        &[
            "grep",
            "-c",
            "^hostssl",
            "/etc/postgresql/15/main/pg_hba.conf",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&hba.stdout).trim(),
        "2",
        "one per app host"
    );
    // Every connection of the app role from another host is encrypted.
    let seen = psql(
        bed,
        "postgres",
        "SELECT count(*) FILTER (WHERE NOT s.ssl) || ' ' || count(*) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s USING (pid) WHERE a.usename = 'dashboard_user' \
         AND a.client_addr IS NOT NULL AND a.client_addr <> '127.0.0.1'",
    );
    let (plain, all) = seen.split_once(' ').unwrap();
    assert_eq!(plain, "0", "unencrypted app connections: {seen}");
    assert!(
        all.parse::<u32>().unwrap() > 0,
        "no app connection seen: {seen}"
    );
}
