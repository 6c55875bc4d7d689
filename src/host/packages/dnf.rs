//! dnf and yum (RHEL, Rocky, Alma, Fedora, Amazon Linux, CentOS 7): rpm to ask; both wait
//! for the rpm lock by themselves.

use super::{Cmd, Manager};

pub struct Dnf {
    /// CentOS 7 and other hosts without dnf.
    pub yum: bool,
}

impl Manager for Dnf {
    fn query(&self, package: &str) -> Cmd {
        Cmd::new("rpm", &["-q", package])
    }

    fn install(&self, packages: &[&str]) -> Cmd {
        let mut c = Cmd::new(if self.yum { "yum" } else { "dnf" }, &["install", "-y"]);
        for p in packages {
            c = c.arg(*p);
        }
        c
    }
}
