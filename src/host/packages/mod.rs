//! Package managers: "is it installed" and "install", non-interactive, waiting for the
//! manager's lock instead of failing. One file per manager; each turns facts into commands
//! (unit-tested for every manager) and apt also runs for real in the tests.

mod apk;
mod apt;
mod brew;
mod dnf;
mod pacman;
mod zypper;

use super::exec::{Cmd, ExecError, Output};
use super::facts::PackageManager;

/// How one package manager is driven.
pub trait Manager: Send + Sync {
    /// The command whose outcome says whether `package` is installed.
    fn query(&self, package: &str) -> Cmd;
    /// Reads [`Manager::query`]'s outcome.
    fn installed(&self, out: &Output) -> bool {
        out.code == Some(0)
    }
    /// Refreshes the package index before installing, where the manager needs it.
    fn refresh(&self) -> Option<Cmd> {
        None
    }
    /// Installs `packages` without asking anything.
    fn install(&self, packages: &[&str]) -> Cmd;
    /// Waits for the manager's lock when it does not wait by itself.
    fn wait_for_lock(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The driver for a detected package manager.
pub fn manager(pm: PackageManager) -> Box<dyn Manager> {
    match pm {
        PackageManager::Apt => Box::new(apt::Apt),
        PackageManager::Dnf => Box::new(dnf::Dnf { yum: false }),
        PackageManager::Yum => Box::new(dnf::Dnf { yum: true }),
        PackageManager::Apk => Box::new(apk::Apk),
        PackageManager::Pacman => Box::new(pacman::Pacman::default()),
        PackageManager::Zypper => Box::new(zypper::Zypper),
        PackageManager::Brew => Box::new(brew::Brew),
    }
}

/// Whether `package` is installed.
pub fn is_installed(m: &dyn Manager, package: &str) -> Result<bool, ExecError> {
    let out = m.query(package).run_checked(true)?;
    Ok(m.installed(&out))
}

/// Installs whichever of `packages` are missing; returns the ones it installed.
pub fn ensure(m: &dyn Manager, packages: &[&str]) -> Result<Vec<String>, EnsureError> {
    let mut missing = Vec::new();
    for p in packages {
        if !is_installed(m, p)? {
            missing.push(*p);
        }
    }
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    m.wait_for_lock().map_err(EnsureError::Lock)?;
    if let Some(refresh) = m.refresh() {
        refresh.run()?;
    }
    m.install(&missing).run()?;
    for p in &missing {
        if !is_installed(m, p)? {
            return Err(EnsureError::NotInstalled(p.to_string()));
        }
    }
    Ok(missing.iter().map(|s| s.to_string()).collect())
}

#[derive(Debug, thiserror::Error)]
pub enum EnsureError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("{0}")]
    Lock(String),
    #[error("the package manager reported success but {0} is still not installed")]
    NotInstalled(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(c: &Cmd) -> String {
        c.display()
    }

    #[test]
    fn commands_per_manager() {
        let cases = [
            (PackageManager::Apt, "dpkg-query -W '-f=${Status}' nginx", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 nginx redis-server"),
            (PackageManager::Dnf, "rpm -q nginx", "dnf install -y nginx redis-server"),
            (PackageManager::Yum, "rpm -q nginx", "yum install -y nginx redis-server"),
            (PackageManager::Apk, "apk info -e nginx", "apk add --no-progress --wait 600 nginx redis-server"),
            (PackageManager::Pacman, "pacman -Q nginx", "pacman -S --noconfirm --needed nginx redis-server"),
            (PackageManager::Zypper, "rpm -q nginx", "ZYPP_LOCK_TIMEOUT=600 zypper --non-interactive install nginx redis-server"),
            (PackageManager::Brew, "brew list --versions nginx", "HOMEBREW_NO_AUTO_UPDATE=1 HOMEBREW_NO_INSTALL_CLEANUP=1 brew install nginx redis-server"),
        ];
        for (pm, query, install) in cases {
            let m = manager(pm);
            assert_eq!(argv(&m.query("nginx")), query, "{pm:?}");
            assert_eq!(
                argv(&m.install(&["nginx", "redis-server"])),
                install,
                "{pm:?}"
            );
        }
        assert!(manager(PackageManager::Apt)
            .refresh()
            .unwrap()
            .display()
            .contains("apt-get update"));
        assert!(manager(PackageManager::Dnf).refresh().is_none());
    }

    #[test]
    fn installed_is_read_from_the_query() {
        let out = |code, stdout: &str| Output {
            code: Some(code),
            stdout: stdout.into(),
            stderr: String::new(),
        };
        let apt = manager(PackageManager::Apt);
        assert!(apt.installed(&out(0, "install ok installed")));
        assert!(!apt.installed(&out(0, "deinstall ok config-files")));
        assert!(!apt.installed(&out(1, "")));
        let brew = manager(PackageManager::Brew);
        assert!(brew.installed(&out(0, "nginx 1.27.0\n")));
        assert!(!brew.installed(&out(0, "")));
        assert!(!manager(PackageManager::Dnf).installed(&out(1, "package nginx is not installed")));
    }

    /// apt for real on this Debian machine (the package is GNU hello, a few KiB).
    #[test]
    fn apt_for_real() {
        let apt = manager(PackageManager::Apt);
        assert!(is_installed(apt.as_ref(), "dpkg").unwrap());
        assert!(!is_installed(apt.as_ref(), "no-such-package-xyz").unwrap());
        let _ = Cmd::new("apt-get", &["remove", "-y", "-q", "hello"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .run_checked(true);
        assert!(!is_installed(apt.as_ref(), "hello").unwrap());
        let installed = ensure(apt.as_ref(), &["hello", "dpkg"]).unwrap();
        assert_eq!(installed, vec!["hello".to_string()]);
        assert!(is_installed(apt.as_ref(), "hello").unwrap());
        assert!(
            ensure(apt.as_ref(), &["hello"]).unwrap().is_empty(),
            "second run changes nothing"
        );
        let err = ensure(apt.as_ref(), &["no-such-package-xyz"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("apt-get install") && err.contains("exited with 100"),
            "{err}"
        );
    }
}
