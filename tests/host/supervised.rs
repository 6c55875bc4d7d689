//! A program under supervisord: started, restarted after kill -9 within 5 s, stopped.

use std::time::Duration;

use crate::helpers::wait_until;

use provision::host::exec::Cmd;
use provision::host::facts::PackageManager;
use provision::host::packages;
use provision::host::services::{self, Action, Services, Supervisor};

struct Daemon<'a>(&'a Supervisor);

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        let _ = Cmd::new(
            "supervisorctl",
            &["-c", &self.0.config.display().to_string(), "shutdown"],
        )
        .run_checked(true);
    }
}

#[test]
fn a_supervised_program_comes_back_after_kill_9() {
    let apt = packages::manager(PackageManager::Apt);
    packages::ensure(apt.as_ref(), &["supervisor"])
        .expect("supervisor installs from Debian's archive");
    let dir = tempfile::tempdir().unwrap();
    let sup = Supervisor {
        config: crate::supervisord::private_config(dir.path()),
    };
    sup.ensure_running().unwrap();
    let _daemon = Daemon(&sup);

    assert!(
        !services::is_active(&sup, "sleeper").unwrap(),
        "unknown program is not active"
    );
    std::fs::write(
        dir.path().join("conf.d/sleeper.conf"),
        Supervisor::program(
            "sleeper",
            "sleep 1000",
            None,
            dir.path(),
            &[("GREETING", "hi")],
        ),
    )
    .unwrap();
    sup.reload_definitions().unwrap().run().unwrap();
    wait_until("sleeper running", Duration::from_secs(10), || {
        services::is_active(&sup, "sleeper").unwrap()
    });
    let first = sup.pid("sleeper").unwrap().expect("a pid");

    Cmd::new("kill", &["-9", &first.to_string()]).run().unwrap();
    let back = wait_until("sleeper back after kill -9", Duration::from_secs(5), || {
        services::is_active(&sup, "sleeper").unwrap()
            && sup.pid("sleeper").unwrap().is_some_and(|p| p != first)
    });
    println!("back {back:?} after kill -9");
    assert!(back < Duration::from_secs(5));

    let before = sup.pid("sleeper").unwrap().unwrap();
    sup.action(Action::Restart, "sleeper").run().unwrap();
    assert_ne!(
        sup.pid("sleeper").unwrap().unwrap(),
        before,
        "restart gives a new process"
    );
    sup.action(Action::Stop, "sleeper").run().unwrap();
    assert!(!services::is_active(&sup, "sleeper").unwrap());
    assert!(dir.path().join("sleeper.log").exists(), "logs to files");
}
