//! Facts from fixture roots: every supported distribution, macOS, unknown hosts.
use super::*;

/// A fixture root: an os-release, empty files for binaries, optional PID 1.
fn root(os_release: &str, bins: &[&str], pid1: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("etc")).unwrap();
    if !os_release.is_empty() {
        std::fs::write(p.join("etc/os-release"), os_release).unwrap();
    }
    for b in bins {
        let f = p.join(b);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, "").unwrap();
    }
    if let Some(comm) = pid1 {
        std::fs::create_dir_all(p.join("proc/1")).unwrap();
        std::fs::write(p.join("proc/1/comm"), format!("{comm}\n")).unwrap();
    }
    std::fs::create_dir_all(p.join("proc")).unwrap();
    std::fs::write(
        p.join("proc/cpuinfo"),
        // As the kernel writes it: one block per CPU, a blank line after each.
        "processor\t: 0\nmodel name\t: Test CPU\n\n\
         processor\t: 1\nmodel name\t: Test CPU\n\n\
         processor\t: 2\nmodel name\t: Test CPU\n\n",
    )
    .unwrap();
    std::fs::write(p.join("proc/meminfo"), "MemTotal:        8000000 kB\n").unwrap();
    dir
}

/// What, os-release, binaries, PID 1, then the expected version, family, manager, init.
type Case = (
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
    &'static str,
    Family,
    PackageManager,
    InitSystem,
);

const APT: &[&str] = &["usr/bin/apt-get"];
const DNF: &[&str] = &["usr/bin/dnf", "usr/bin/yum"];

#[test]
fn linux_distributions() {
    let cases: Vec<Case> = vec![
        (
            "debian 12",
            "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
            APT,
            Some("systemd"),
            "12",
            Family::Debian,
            PackageManager::Apt,
            InitSystem::Systemd,
        ),
        (
            "debian 11",
            "ID=debian\nVERSION_ID=\"11\"\n",
            APT,
            Some("bash"),
            "11",
            Family::Debian,
            PackageManager::Apt,
            InitSystem::None,
        ),
        (
            "ubuntu 22.04",
            "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n",
            APT,
            Some("systemd"),
            "22.04",
            Family::Debian,
            PackageManager::Apt,
            InitSystem::Systemd,
        ),
        (
            "ubuntu 24.04",
            "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n",
            APT,
            None,
            "24.04",
            Family::Debian,
            PackageManager::Apt,
            InitSystem::None,
        ),
        (
            "rhel 9",
            "ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n",
            DNF,
            Some("systemd"),
            "9.4",
            Family::RedHat,
            PackageManager::Dnf,
            InitSystem::Systemd,
        ),
        (
            "rocky 9",
            "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n",
            DNF,
            Some("systemd"),
            "9.4",
            Family::RedHat,
            PackageManager::Dnf,
            InitSystem::Systemd,
        ),
        (
            "alma 9",
            "ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n",
            DNF,
            Some("systemd"),
            "9.4",
            Family::RedHat,
            PackageManager::Dnf,
            InitSystem::Systemd,
        ),
        (
            "fedora",
            "ID=fedora\nVERSION_ID=40\n",
            &["usr/bin/dnf5", "usr/bin/dnf"],
            Some("systemd"),
            "40",
            Family::RedHat,
            PackageManager::Dnf,
            InitSystem::Systemd,
        ),
        (
            "amazon 2023",
            "ID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n",
            DNF,
            Some("systemd"),
            "2023",
            Family::RedHat,
            PackageManager::Dnf,
            InitSystem::Systemd,
        ),
        (
            "centos 7 (yum only)",
            "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n",
            &["usr/bin/yum"],
            Some("systemd"),
            "7",
            Family::RedHat,
            PackageManager::Yum,
            InitSystem::Systemd,
        ),
        (
            "alpine",
            "ID=alpine\nVERSION_ID=3.19.1\n",
            &["sbin/apk", "sbin/openrc"],
            Some("init"),
            "3.19.1",
            Family::Alpine,
            PackageManager::Apk,
            InitSystem::OpenRc,
        ),
        (
            "arch",
            "ID=arch\nBUILD_ID=rolling\n",
            &["usr/bin/pacman"],
            Some("systemd"),
            "",
            Family::Arch,
            PackageManager::Pacman,
            InitSystem::Systemd,
        ),
        (
            "opensuse leap",
            "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.5\"\n",
            &["usr/bin/zypper"],
            Some("systemd"),
            "15.5",
            Family::Suse,
            PackageManager::Zypper,
            InitSystem::Systemd,
        ),
        (
            "derivative by ID_LIKE",
            "ID=mydistro\nID_LIKE=\"ubuntu debian\"\n",
            APT,
            None,
            "",
            Family::Debian,
            PackageManager::Apt,
            InitSystem::None,
        ),
    ];
    for (what, osr, bins, pid1, version, family, pm, init) in cases {
        let r = root(osr, bins, pid1);
        let f = detect(r.path()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            (f.family, f.package_manager, f.init),
            (family, pm, init),
            "{what}"
        );
        assert_eq!(f.version, version, "{what}");
        assert_eq!(f.cpus, 3);
        assert_eq!(f.memory_bytes, 8_000_000 * 1024);
    }
}

#[test]
fn macos_with_homebrew() {
    let plist = "<plist><dict><key>ProductName</key><string>macOS</string>\
                 <key>ProductVersion</key><string>14.5</string></dict></plist>";
    for (brew, prefix) in [
        ("opt/homebrew/bin/brew", "/opt/homebrew"),
        ("usr/local/bin/brew", "/usr/local"),
    ] {
        let r = root("", &[brew], None);
        let dir = r.path().join("System/Library/CoreServices");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("SystemVersion.plist"), plist).unwrap();
        let f = detect(r.path()).unwrap();
        assert_eq!(f.family, Family::MacOs);
        assert_eq!(f.version, "14.5");
        assert_eq!(f.init, InitSystem::Launchd);
        assert_eq!(f.homebrew_prefix.as_deref(), Some(Path::new(prefix)));
    }
}

#[test]
fn unknown_hosts_say_what_was_found() {
    let r = root(
        "ID=gentoo\nPRETTY_NAME=\"Gentoo Linux\"\n",
        &["usr/bin/emerge"],
        None,
    );
    let e = detect(r.path()).unwrap_err().to_string();
    assert!(
        e.contains("Gentoo Linux") && e.contains("ID=gentoo") && e.contains("none"),
        "{e}"
    );
    let r = root("ID=debian\n", &[], None);
    let e = detect(r.path()).unwrap_err().to_string();
    assert!(e.contains("package managers found: none"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = detect(empty.path()).unwrap_err().to_string();
    assert!(e.contains("no /etc/os-release"), "{e}");
    let r = root("", &[], None);
    let dir = r.path().join("System/Library/CoreServices");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("SystemVersion.plist"),
        "<key>ProductVersion</key><string>13.1</string>",
    )
    .unwrap();
    assert!(detect(r.path())
        .unwrap_err()
        .to_string()
        .contains("without Homebrew"));
}

#[test]
fn this_host() {
    // The project's machines (developers' and CI's) are Debian 12.
    let f = detect(Path::new("/")).unwrap();
    assert!(f.cpus >= 1 && f.memory_bytes > 0);
}
