//! Host facts, the way `ansible -m setup` gathers them: distribution and family from
//! os-release (macOS from SystemVersion.plist), corrected by probing which package
//! manager binaries exist; the init system actually running; CPUs, memory and listening
//! ports from `/proc`. Everything is read under a root path, so fixture trees test every
//! distribution here; nothing relies on tools a minimal host lacks (`ss`, `ip`, `sudo`,
//! `lsb_release`). An unknown host is an error that says what was found.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::os_release::OsRelease;
use super::proc::{self, Listener};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Debian,
    RedHat,
    Alpine,
    Arch,
    Suse,
    MacOs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    Apt,
    Dnf,
    Yum,
    Apk,
    Pacman,
    Zypper,
    Brew,
}

impl PackageManager {
    /// The binary whose presence says this manager is installed, and where it is looked for.
    fn probes(self) -> &'static [&'static str] {
        match self {
            PackageManager::Apt => &["usr/bin/apt-get"],
            PackageManager::Dnf => &["usr/bin/dnf", "usr/bin/dnf5"],
            PackageManager::Yum => &["usr/bin/yum"],
            PackageManager::Apk => &["sbin/apk", "usr/sbin/apk"],
            PackageManager::Pacman => &["usr/bin/pacman"],
            PackageManager::Zypper => &["usr/bin/zypper"],
            PackageManager::Brew => &["opt/homebrew/bin/brew", "usr/local/bin/brew"],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitSystem {
    /// systemd is PID 1.
    Systemd,
    OpenRc,
    Launchd,
    /// No service manager runs (containers, this CI machine): direct supervision.
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// os-release ID (`debian`, `ubuntu`, `rocky`, …) or `macos`.
    pub distribution: String,
    pub version: String,
    pub pretty_name: String,
    pub family: Family,
    pub package_manager: PackageManager,
    pub init: InitSystem,
    pub cpus: usize,
    pub memory_bytes: u64,
    pub listening: Vec<Listener>,
    /// Homebrew's prefix on macOS (`/opt/homebrew` on Apple silicon, `/usr/local` on Intel).
    pub homebrew_prefix: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("unsupported host under {root}: {found}. Supported: Debian, Ubuntu, RHEL, Rocky, Alma, Fedora, Amazon Linux, CentOS, Alpine, Arch, openSUSE and macOS with Homebrew")]
    Unsupported { root: String, found: String },
}

fn exists(root: &Path, rel: &str) -> bool {
    root.join(rel).exists()
}

fn family_of(id: &str, like: &[&str]) -> Option<Family> {
    let f = |s: &str| match s {
        "debian" | "ubuntu" | "raspbian" | "linuxmint" | "pop" => Some(Family::Debian),
        "rhel" | "fedora" | "centos" | "rocky" | "almalinux" | "amzn" | "ol" => {
            Some(Family::RedHat)
        }
        "alpine" => Some(Family::Alpine),
        "arch" | "archarm" | "manjaro" | "endeavouros" => Some(Family::Arch),
        s if s.starts_with("opensuse") || s == "sles" || s == "suse" => Some(Family::Suse),
        _ => None,
    };
    f(id).or_else(|| like.iter().find_map(|l| f(l)))
}

/// Reads the facts of the host whose filesystem is at `root` (`/` for this host).
pub fn detect(root: &Path) -> Result<Facts, FactsError> {
    let shown = root.display().to_string();
    let cpus = proc::cpus(root)
        .or_else(|| {
            (root == Path::new("/"))
                .then(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        })
        .unwrap_or(1);
    let hardware = Hardware {
        cpus,
        memory_bytes: proc::memory_bytes(root).unwrap_or(0),
        listening: proc::listeners(root),
    };
    // macOS: no os-release, a SystemVersion.plist and (for us) Homebrew.
    let plist = root.join("System/Library/CoreServices/SystemVersion.plist");
    if let Ok(text) = std::fs::read_to_string(&plist) {
        return macos(root, &text, hardware);
    }
    let text = std::fs::read_to_string(root.join("etc/os-release"))
        .or_else(|_| std::fs::read_to_string(root.join("usr/lib/os-release")))
        .map_err(|_| FactsError::Unsupported {
            root: shown.clone(),
            found: "no /etc/os-release or /usr/lib/os-release, and not macOS".into(),
        })?;
    let os = OsRelease::parse(&text);
    let id = os.id().to_string();
    let like = os.id_like();
    let installed: Vec<PackageManager> = [
        PackageManager::Apt,
        PackageManager::Dnf,
        PackageManager::Yum,
        PackageManager::Apk,
        PackageManager::Pacman,
        PackageManager::Zypper,
    ]
    .into_iter()
    .filter(|pm| pm.probes().iter().any(|p| exists(root, p)))
    .collect();
    let family = family_of(&id, &like);
    let (Some(family), Some(package_manager)) = (family, package_manager(family, &installed))
    else {
        return Err(FactsError::Unsupported {
            root: shown,
            found: format!(
                "{} (ID={id}, ID_LIKE={}), package managers found: {}",
                os.get("PRETTY_NAME").unwrap_or(&id),
                like.join(" "),
                if installed.is_empty() {
                    "none".to_string()
                } else {
                    format!("{installed:?}").to_lowercase()
                }
            ),
        });
    };
    Ok(Facts {
        distribution: id.clone(),
        version: os.get("VERSION_ID").unwrap_or("").to_string(),
        pretty_name: os.get("PRETTY_NAME").unwrap_or(&id).to_string(),
        family,
        package_manager,
        init: init_system(root),
        cpus: hardware.cpus,
        memory_bytes: hardware.memory_bytes,
        listening: hardware.listening,
        homebrew_prefix: None,
    })
}

/// What `/proc` says about the machine, whatever the system on it.
struct Hardware {
    cpus: usize,
    memory_bytes: u64,
    listening: Vec<proc::Listener>,
}

/// macOS, from its SystemVersion.plist; refused without Homebrew.
fn macos(root: &Path, plist: &str, hardware: Hardware) -> Result<Facts, FactsError> {
    let version = plist_value(plist, "ProductVersion").unwrap_or_default();
    let homebrew_prefix = ["opt/homebrew", "usr/local"]
        .iter()
        .find(|p| exists(root, &format!("{p}/bin/brew")))
        .map(|p| PathBuf::from("/").join(p));
    if homebrew_prefix.is_none() {
        return Err(FactsError::Unsupported {
            root: root.display().to_string(),
            found: format!("macOS {version} without Homebrew (install it from brew.sh first)"),
        });
    }
    Ok(Facts {
        distribution: "macos".into(),
        pretty_name: format!("macOS {version}"),
        version,
        family: Family::MacOs,
        package_manager: PackageManager::Brew,
        init: InitSystem::Launchd,
        cpus: hardware.cpus,
        memory_bytes: hardware.memory_bytes,
        listening: hardware.listening,
        homebrew_prefix,
    })
}

/// The family's own manager when present (dnf before yum), else what the probe found.
fn package_manager(family: Option<Family>, installed: &[PackageManager]) -> Option<PackageManager> {
    let preferred: &[PackageManager] = match family {
        Some(Family::Debian) => &[PackageManager::Apt],
        Some(Family::RedHat) => &[PackageManager::Dnf, PackageManager::Yum],
        Some(Family::Alpine) => &[PackageManager::Apk],
        Some(Family::Arch) => &[PackageManager::Pacman],
        Some(Family::Suse) => &[PackageManager::Zypper],
        _ => &[],
    };
    preferred
        .iter()
        .copied()
        .find(|pm| installed.contains(pm))
        .or_else(|| installed.first().copied())
}

/// PID 1's name decides; without a readable /proc, the runtime directories do.
fn init_system(root: &Path) -> InitSystem {
    match proc::pid1(root).as_deref() {
        Some("systemd") => InitSystem::Systemd,
        Some("init" | "openrc-init")
            if exists(root, "sbin/openrc") || exists(root, "run/openrc") =>
        {
            InitSystem::OpenRc
        }
        Some(_) => InitSystem::None,
        None if exists(root, "run/systemd/system") => InitSystem::Systemd,
        None if exists(root, "run/openrc") => InitSystem::OpenRc,
        None => InitSystem::None,
    }
}

/// `<key>NAME</key><string>VALUE</string>` from an XML plist.
fn plist_value(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("<key>{key}</key>"))?;
    let rest = &text[at..];
    let start = rest.find("<string>")? + "<string>".len();
    let end = rest[start..].find("</string>")?;
    Some(rest[start..start + end].trim().to_string())
}

#[cfg(test)]
#[path = "facts_tests.rs"]
mod tests;
