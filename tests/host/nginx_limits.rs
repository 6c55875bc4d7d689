//! The shipped nginx site's per-client limits, with IPv6 clients in a network namespace
//! this test makes (documentation addresses, 2001:db8::/32, on its loopback): two addresses
//! of one /64 share the auth limit, as one host holding the /64 would; another /64 has its
//! own. Nothing listens behind nginx, so a request nginx lets through is answered 502.

use std::process::Command;

use provision::init::answers::Answers;
use provision::init::vars::vars;

struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("ptest{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let ns = Netns(name);
        ns.ip(&["netns", "add", &ns.0]);
        ns
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn exec(&self, argv: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(argv)
            .output()
            .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

#[test]
fn ipv6_clients_share_the_auth_limit_of_their_64() {
    let ns = Netns::new();
    ns.ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
    for a in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::a",
        "2001:db8:1:2::b",
        "2001:db8:1:3::a",
    ] {
        ns.ip(&[
            "-n",
            &ns.0,
            "addr",
            "add",
            &format!("{a}/128"),
            "dev",
            "lo",
            "nodad",
        ]);
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let conf = crate::rendered_configs::private_nginx(
        dir.path(),
        vars(&Answers::defaults(), 2, 4096, "systemd"),
    );
    let out = ns.exec(&["nginx", "-p", &d, "-c", &conf]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let login = |from: &str| -> String {
        let out = ns.exec(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            "--interface",
            from,
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data",
            "{}",
            "http://[2001:db8:1:2::1]:18080/auth/login",
        ]);
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // Two addresses of one /64, taking turns: together they exhaust one burst.
    let answers: Vec<String> = (0..10)
        .map(|i| {
            login(if i % 2 == 0 {
                "2001:db8:1:2::a"
            } else {
                "2001:db8:1:2::b"
            })
        })
        .collect();
    let other = login("2001:db8:1:3::a");
    let _ = ns.exec(&["nginx", "-p", &d, "-c", &conf, "-s", "stop"]);
    assert!(
        answers.iter().all(|a| a == "502" || a == "429"),
        "{answers:?}"
    );
    let limited = answers.iter().filter(|a| *a == "429").count();
    assert!(
        limited >= 3,
        "alternating two addresses of one /64 escaped the auth limit: {answers:?}"
    );
    assert_eq!(other, "502", "another /64 was limited too");
}
