//! apt (Debian, Ubuntu): dpkg-query to ask, apt-get to install; `DPkg::Lock::Timeout`
//! makes apt wait for the dpkg lock (unattended-upgrades) instead of failing.

use super::{Cmd, Manager, Output};

pub struct Apt;

const LOCK_WAIT: &str = "DPkg::Lock::Timeout=600";

impl Manager for Apt {
    fn query(&self, package: &str) -> Cmd {
        Cmd::new("dpkg-query", &["-W", "-f=${Status}", package])
    }

    fn installed(&self, out: &Output) -> bool {
        out.code == Some(0) && out.stdout.trim() == "install ok installed"
    }

    fn refresh(&self) -> Option<Cmd> {
        Some(
            Cmd::new("apt-get", &["update", "-q", "-o", LOCK_WAIT])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    }

    fn install(&self, packages: &[&str]) -> Cmd {
        let mut c = Cmd::new(
            "apt-get",
            &[
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "-o",
                LOCK_WAIT,
            ],
        )
        .env("DEBIAN_FRONTEND", "noninteractive");
        for p in packages {
            c = c.arg(*p);
        }
        c
    }
}
