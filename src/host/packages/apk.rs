//! apk (Alpine): `apk info -e` to ask; `--wait` for the database lock.

use super::{Cmd, Manager};

pub struct Apk;

impl Manager for Apk {
    fn query(&self, package: &str) -> Cmd {
        Cmd::new("apk", &["info", "-e", package])
    }

    fn install(&self, packages: &[&str]) -> Cmd {
        let mut c = Cmd::new("apk", &["add", "--no-progress", "--wait", "600"]);
        for p in packages {
            c = c.arg(*p);
        }
        c
    }
}
