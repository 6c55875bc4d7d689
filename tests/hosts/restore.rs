//! A restore across the hosts: the backup fetched earlier pushed back to the database host
//! and restored there, the instances of every app host stopped around the swap; and a
//! damaged backup refused before anything stops.

use crate::bed::Bed;
use crate::day2::site_codes;
use crate::{on_inventory, show};

/// `psql -Atc SQL DATABASE` as postgres on db1: its output, trimmed.
pub fn psql(bed: &Bed, database: &str, sql: &str) -> String {
    let out = bed.exec(
        "db1",
        &[
            "runuser", "-u", "postgres", "--", "psql", "-Atc", sql, database,
        ],
    );
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const DB: &str = "live_validation_dashboard";

/// The dump `backup --fetch` copied to the controller.
fn fetched_dump(bed: &Bed) -> std::path::PathBuf {
    let dir = bed.dir.path().join("fetched");
    std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "dump"))
        .expect("the fetched dump")
}

/// A table made after the backup is gone once it is restored, and kept in the database it
/// replaced; every app host's instances were stopped around the swap and are back; the
/// site answers. A damaged copy is refused on the database host and nothing stops.
pub fn restore_pushed(bed: &Bed, inv: &std::path::Path) {
    let dump = fetched_dump(bed);
    psql(bed, DB, "CREATE TABLE restore_marker (x int)");

    // A damaged copy (one byte changed) with the original's checksum: refused, untouched.
    let bad_dir = bed.dir.path().join("damaged");
    std::fs::create_dir_all(&bad_dir).unwrap();
    let bad = bad_dir.join(dump.file_name().unwrap());
    let mut bytes = std::fs::read(&dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&bad, bytes).unwrap();
    for ext in ["json", "sha256"] {
        std::fs::copy(
            dump.with_extension(format!("dump.{ext}")),
            bad.with_extension(format!("dump.{ext}")),
        )
        .unwrap_or_else(|e| panic!("{ext}: {e}"));
    }
    let refused = on_inventory(bed, inv, &["restore", bad.to_str().unwrap(), "--push"]);
    assert_eq!(refused.code, 1, "{}", show(&refused));
    assert!(refused.stderr.contains("checksum"), "{}", show(&refused));
    assert!(
        !refused.stdout.contains("instances stopped"),
        "{}",
        show(&refused)
    );
    assert_eq!(
        psql(bed, DB, "SELECT to_regclass('restore_marker') IS NOT NULL"),
        "t"
    );

    let ran = on_inventory(bed, inv, &["restore", dump.to_str().unwrap(), "--push"]);
    eprintln!("restore across hosts:\n{}", ran.stdout);
    assert_eq!(ran.code, 0, "{}", show(&ran));
    let name = dump.file_name().unwrap().to_string_lossy().to_string();
    for line in [
        format!("db1  backup copied to /var/lib/provision/data/{name}"),
        "app1  instances stopped".into(),
        "app2  instances stopped".into(),
        "app1  cache invalidated".into(),
        "app1  instances started and ready".into(),
        "app2  instances started and ready".into(),
    ] {
        assert!(
            ran.stdout.lines().any(|l| l == line),
            "{line}: {}",
            show(&ran)
        );
    }
    let kept = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("db1  swapped in; the database it replaced is kept as "))
        .unwrap_or_else(|| panic!("no swap: {}", show(&ran)))
        .to_string();
    assert_eq!(
        psql(bed, DB, "SELECT to_regclass('restore_marker') IS NULL"),
        "t"
    );
    assert_eq!(
        psql(
            bed,
            &kept,
            "SELECT to_regclass('restore_marker') IS NOT NULL"
        ),
        "t"
    );
    let codes = site_codes(bed, 8);
    assert!(
        codes.iter().all(|c| c == "200"),
        "after the restore: {codes:?}"
    );
}
