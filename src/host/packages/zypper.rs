//! zypper (openSUSE, SLES): rpm to ask; `ZYPP_LOCK_TIMEOUT` makes zypper wait for its lock.

use super::{Cmd, Manager};

pub struct Zypper;

impl Manager for Zypper {
    fn query(&self, package: &str) -> Cmd {
        Cmd::new("rpm", &["-q", package])
    }

    fn install(&self, packages: &[&str]) -> Cmd {
        let mut c =
            Cmd::new("zypper", &["--non-interactive", "install"]).env("ZYPP_LOCK_TIMEOUT", "600");
        for p in packages {
            c = c.arg(*p);
        }
        c
    }
}
