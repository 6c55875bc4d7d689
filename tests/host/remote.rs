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

/// `provision hosts`: the checked inventory as tables; a broken one refused with its lines.
#[test]
fn hosts_shows_order_and_firewall_and_refuses_problems() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts.yaml");
    std::fs::write(
        &file,
        "hosts:\n  db1:\n    address: 192.0.2.10\n    roles: [postgres, redis]\n  \
         app1:\n    address: 192.0.2.21\n    roles: [app]\n    instances: 3\n  \
         lb1:\n    address: 192.0.2.30\n    roles: [nginx]\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let ran = crate::helpers::provision(&["hosts", "--inventory", f], &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.stdout,
        "host address    private    roles          ssh\n\
         db1  192.0.2.10 192.0.2.10 postgres,redis root@:22\n\
         app1 192.0.2.21 192.0.2.21 app            root@:22\n\
         lb1  192.0.2.30 192.0.2.30 nginx          root@:22\n\
         \n\
         order: db1 (postgres) → app1 (app) → lb1 (nginx)\n\
         \n\
         host port      for                 from\n\
         db1  22        ssh                 anywhere\n\
         db1  5432      postgresql          192.0.2.21\n\
         db1  6379      redis               192.0.2.21\n\
         app1 22        ssh                 anywhere\n\
         app1 8001-8003 dashboard instances 192.0.2.30\n\
         lb1  22        ssh                 anywhere\n\
         lb1  80        http                anywhere\n\
         lb1  443       https               anywhere\n"
    );
    // The inventory named in the config file, relative to it.
    let config = dir.path().join("provision.yaml");
    std::fs::write(&config, "inventory: hosts.yaml\n").unwrap();
    let ran = crate::helpers::provision(
        &["--json", "hosts"],
        &[("PROVISION_CONFIG", config.to_str().unwrap())],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.json()["stages"][1]["hosts"][0], "app1");

    std::fs::write(
        &file,
        "hosts:\n  db1:\n    address: 192.0.2.10\n    roles: [postgres, redis, cache]\n",
    )
    .unwrap();
    let ran = crate::helpers::provision(&["hosts", "--inventory", f], &[]);
    assert_eq!(ran.code, 2);
    assert_eq!(
        ran.stderr,
        format!(
            "error: {f}:4: host db1: unknown role \"cache\": the roles are postgres, redis, app, nginx\n"
        )
    );
    let ran = crate::helpers::provision(&["hosts"], &[]);
    assert_eq!(ran.code, 2);
    assert_eq!(
        ran.stderr,
        "error: no inventory: give --inventory FILE (or PROVISION_INVENTORY, or inventory: in /dev/null)\n"
    );
}

/// `provision ping` against the loopback sshd: refused until the host key is accepted,
/// then the binary copied once and the host's facts read through it.
#[test]
fn ping_reaches_pushes_and_reads_facts() {
    let sshd = Sshd::start();
    let work = tempfile::tempdir().unwrap();
    let inv = work.path().join("hosts.yaml");
    std::fs::write(
        &inv,
        format!(
            "ssh:\n  identity_file: {}\nhosts:\n  one:\n    address: 127.0.0.1\n    \
             roles: [postgres, redis, app, nginx]\n    ssh: {{port: {}}}\n",
            sshd.identity().display(),
            sshd.port
        ),
    )
    .unwrap();
    let remote = work.path().join("bin/provision");
    let state = work.path().join("state");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "ping",
            "--inventory",
            inv.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--remote-binary",
            remote.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        crate::helpers::provision(&a, &[])
    };
    let first = run(&[]);
    assert_eq!(first.code, 1, "{}", first.stdout);
    assert!(
        first.stderr.starts_with(&format!(
            "one (127.0.0.1:{}): ssh could not connect or log in: its host key is not the one {} holds",
            sshd.port,
            work.path().join("known_hosts").display()
        )),
        "{}",
        first.stderr
    );
    assert!(first.stdout.contains(" unreachable"), "{}", first.stdout);
    let accepted = run(&["--accept-new-host-keys"]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    let line = accepted.stdout.lines().nth(1).unwrap().to_string();
    assert!(line.starts_with("one  127.0.0.1"), "{line}");
    assert!(line.ends_with(" copied"), "{line}");
    assert!(line.contains("Debian GNU/Linux"), "{line}");
    let again = run(&[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.lines().nth(1).unwrap().ends_with(" unchanged"));
    let json = {
        let a = args(&[]);
        let mut a: Vec<&str> = a.iter().map(String::as_str).collect();
        a.insert(0, "--json");
        crate::helpers::provision(&a, &[]).json()
    };
    assert_eq!(json[0]["host"], "one");
    assert_eq!(json[0]["copied"], false);
    assert_eq!(json[0]["facts"]["facts"]["family"], "debian");
    assert!(json[0]["error"].is_null());
}

/// One deployment of an inventory at a time: while its lock is held (a first `init
/// --inventory` running), a second one is refused before it reaches any host. It runs in
/// a network namespace of its own with no interface up, so nothing could leave even if
/// it tried.
#[test]
fn a_second_deployment_of_one_inventory_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("id");
    std::fs::write(&key, "not read: the lock refuses first\n").unwrap();
    let inv = work.path().join("hosts.yaml");
    std::fs::write(
        &inv,
        format!(
            "ssh:\n  identity_file: {}\nhosts:\n  db1: {{address: 192.0.2.10, roles: [postgres, redis]}}\n  \
             web1: {{address: 192.0.2.20, roles: [app, nginx]}}\n",
            key.display()
        ),
    )
    .unwrap();
    let state = work.path().join("state");
    let dir = provision::deploy::record::deployment_dir(&state, &inv);
    let _first = provision::playbook::state::Lock::acquire(&dir).unwrap();
    let out = std::process::Command::new("unshare")
        .arg("--net")
        .arg(env!("CARGO_BIN_EXE_provision"))
        .arg("--config")
        .arg(work.path().join("provision.yaml"))
        .args(["init", "--yes", "--inventory"])
        .arg(&inv)
        .arg("--state-dir")
        .arg(&state)
        .env("PROVISION_ENV_FILE", "/dev/null")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("(another deployment of {} runs)", inv.display())),
        "{stderr}"
    );
    assert!(
        !work.path().join("state/ssh").exists()
            || std::fs::read_dir(work.path().join("state/ssh"))
                .unwrap()
                .next()
                .is_none(),
        "no ssh connection was opened"
    );
}
