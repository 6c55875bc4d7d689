//! The ssh transport against a real sshd on loopback: host keys checked against the
//! inventory's file only, the multiplexed connection, secrets on stdin, failures naming
//! the host, and provision's own binary pushed once and skipped when it matches.

use std::path::Path;

use provision::inventory::{Host, Inventory};
use provision::remote::{push, sha256_file, Input, RemoteError, Transport};
use provision::settings::Secret;

use crate::sshd::Sshd;

fn inventory(sshd: &Sshd, dir: &Path, port: u16) -> Inventory {
    let text = format!(
        "ssh:\n  identity_file: {}\n  known_hosts: known_hosts\nhosts:\n  one:\n    \
         address: 127.0.0.1\n    roles: [postgres, redis, app, nginx]\n    ssh: {{port: {port}}}\n",
        sshd.identity().display()
    );
    Inventory::parse(&dir.join("hosts.yaml"), &text).unwrap()
}

fn host(inv: &Inventory) -> &Host {
    &inv.hosts[0]
}

#[test]
fn ssh_transport_on_loopback() {
    let sshd = Sshd::start();
    let work = tempfile::tempdir().unwrap();
    let inv = inventory(&sshd, work.path(), sshd.port);
    let h = host(&inv);
    let control = work.path().join("control");

    // A key the inventory's known_hosts does not hold is refused, with what to do.
    let strict = Transport::new(&control, false).unwrap();
    let e = strict.run(h, &["true"], Input::Nothing).unwrap_err();
    let shown = e.to_string();
    assert!(matches!(e, RemoteError::Unreachable { .. }), "{shown}");
    assert!(
        shown.starts_with(&format!(
            "one (127.0.0.1:{}): ssh could not connect or log in: its host key is not the one {} holds",
            sshd.port,
            work.path().join("known_hosts").display()
        )),
        "{shown}"
    );
    assert!(shown.contains("Host key verification failed."), "{shown}");

    // --accept-new-host-keys records it; from then on the strict transport gets in.
    let trusting = Transport::new(&control, true).unwrap();
    let out = trusting
        .run(h, &["echo", "it's", "me"], Input::Nothing)
        .unwrap();
    assert_eq!(out.stdout, "it's me\n");
    let known = std::fs::read_to_string(work.path().join("known_hosts")).unwrap();
    assert!(known.contains(&sshd.host_key()), "{known}");
    strict.close(h);
    assert!(strict.run(h, &["true"], Input::Nothing).is_ok());
    // Multiplexed: the master's socket is in the control directory, private.
    let sockets: Vec<_> = std::fs::read_dir(&control).unwrap().collect();
    assert_eq!(sockets.len(), 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&control).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);

    // Secrets travel on stdin, never in the command line shown or run.
    let secret = Secret::new("s3cret-value");
    let out = strict
        .run(h, &["cat"], Input::Secret(secret.clone()))
        .unwrap();
    assert_eq!(out.stdout, "s3cret-value");
    assert!(!strict.command(h, &["cat"]).display().contains("s3cret"));

    // A failing remote command names the host, the command, its code and stderr.
    let e = strict
        .run(h, &["sh", "-c", "echo boom >&2; exit 7"], Input::Nothing)
        .unwrap_err();
    assert_eq!(e.host(), Some("one"));
    let source = std::error::Error::source(&e).unwrap().to_string();
    assert!(
        source.starts_with("`ssh -o BatchMode=yes ")
            && source.ends_with(" exited with 7; stderr ends with:\nboom"),
        "{source}"
    );
    strict.close(h);

    // Nothing listening: unreachable, naming the address and ssh's reason.
    let closed = inventory(&sshd, work.path(), crate::helpers::free_port());
    let e = strict
        .run(host(&closed), &["true"], Input::Nothing)
        .unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("check that sshd runs there"), "{shown}");
    assert!(shown.contains("Connection refused"), "{shown}");

    // The binary: copied once, checked there, skipped when it matches, copied again
    // when what is there differs.
    let me = Path::new(env!("CARGO_BIN_EXE_provision"));
    let target = work.path().join("remote/bin/provision");
    let target_s = target.to_str().unwrap();
    let first = push(&strict, h, me, target_s).unwrap();
    assert!(first.copied);
    assert_eq!(first.arch, std::env::consts::ARCH);
    assert_eq!(sha256_file(&target).unwrap(), sha256_file(me).unwrap());
    assert!(!push(&strict, h, me, target_s).unwrap().copied);
    std::fs::write(&target, b"not provision").unwrap();
    assert!(push(&strict, h, me, target_s).unwrap().copied);
    assert_eq!(sha256_file(&target).unwrap(), sha256_file(me).unwrap());
    let version = strict
        .run(h, &[target_s, "--version"], Input::Nothing)
        .unwrap();
    assert!(
        version.stdout.starts_with("provision "),
        "{}",
        version.stdout
    );
    strict.close(h);
}
