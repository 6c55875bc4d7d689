//! Homebrew (macOS): `brew list --versions` to ask (empty output: not installed); no
//! auto-update or cleanup during provisioning.

use super::{Cmd, Manager, Output};

pub struct Brew;

impl Manager for Brew {
    fn query(&self, package: &str) -> Cmd {
        Cmd::new("brew", &["list", "--versions", package])
    }

    fn installed(&self, out: &Output) -> bool {
        out.code == Some(0) && !out.stdout.trim().is_empty()
    }

    fn install(&self, packages: &[&str]) -> Cmd {
        let mut c = Cmd::new("brew", &["install"])
            .env("HOMEBREW_NO_AUTO_UPDATE", "1")
            .env("HOMEBREW_NO_INSTALL_CLEANUP", "1");
        for p in packages {
            c = c.arg(*p);
        }
        c
    }
}
