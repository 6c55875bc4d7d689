//! The inventory's rules, each broken once, with the whole message asserted.

use std::path::Path;

use super::*;

const FOUR: &str = "\
ssh:
  user: deploy
  port: 2222
hosts:
  db1:
    address: 192.0.2.10
    roles: [postgres]
  cache1:
    address: 192.0.2.11
    roles: [redis]
  app1:
    address: 192.0.2.21
    roles: [app]
    instances: 3
  app2:
    address: 192.0.2.22
    roles: [app]
  lb1:
    address: lb.example.test
    private_address: 192.0.2.30
    roles: [nginx]
    ssh: {port: 22}
";

fn parse(text: &str) -> Result<Inventory, InventoryError> {
    Inventory::parse(Path::new("/srv/inv/hosts.yaml"), text)
}

/// Each stage's role and hosts, in order.
fn stages(inv: &Inventory) -> Vec<(Role, Vec<String>)> {
    inv.stages()
        .into_iter()
        .map(|s| (s.role, s.hosts))
        .collect()
}

fn refused(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn four_hosts() {
    let inv = parse(FOUR).unwrap();
    let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["db1", "cache1", "app1", "app2", "lb1"]);
    let app1 = inv.host("app1").unwrap();
    assert_eq!((app1.instances, app1.line), (3, 11));
    assert_eq!(inv.host("app2").unwrap().instances, DEFAULT_INSTANCES);
    assert_eq!(app1.ssh.user, "deploy");
    assert_eq!(app1.ssh.port, 2222);
    assert_eq!(app1.ssh.known_hosts, Path::new("/srv/inv/known_hosts"));
    let lb = inv.host("lb1").unwrap();
    assert_eq!((lb.ssh.port, lb.ssh.user.as_str()), (22, "deploy"));
    assert_eq!(lb.private_address.to_string(), "192.0.2.30");
    assert_eq!(
        stages(&inv),
        [
            (Role::Postgres, vec!["db1".to_string()]),
            (Role::Redis, vec!["cache1".into()]),
            (Role::App, vec!["app1".into(), "app2".into()]),
            (Role::Nginx, vec!["lb1".into()]),
        ]
    );
    // The database admits only the app hosts; the app hosts only nginx.
    let db = inv.access(inv.host("db1").unwrap(), 8000);
    assert_eq!(db[1].ports, (5432, 5432));
    let from: Vec<String> = db[1].from.iter().map(|a| a.to_string()).collect();
    assert_eq!(from, ["192.0.2.21", "192.0.2.22"]);
    let app = inv.access(app1, 8000);
    assert_eq!(app[1].ports, (8001, 8003));
    assert_eq!(app[1].from, vec![lb.private_address]);
    assert!(inv.access(lb, 8000).iter().all(|a| a.from.is_empty()));
}

#[test]
fn shared_hosts_are_deployed_once() {
    let inv = parse(
        "hosts:\n  data:\n    address: 192.0.2.10\n    roles: [postgres, redis]\n  \
         web:\n    address: 192.0.2.20\n    roles: [nginx, app]\n",
    )
    .unwrap();
    assert_eq!(
        stages(&inv),
        [
            (Role::Postgres, vec!["data".to_string()]),
            (Role::App, vec!["web".into()]),
        ]
    );
}

#[test]
fn one_local_host_is_todays_stack() {
    let inv =
        parse("hosts:\n  here:\n    connection: local\n    roles: [postgres, redis, app, nginx]\n")
            .unwrap();
    assert!(inv.is_single_local());
    assert_eq!(inv.hosts[0].private_address.to_string(), "127.0.0.1");
    assert!(Inventory::local(2).is_single_local());
}

#[test]
fn each_broken_rule_names_its_line() {
    let cases: &[(&str, &str)] = &[
        (
            "hosts:\n  db1:\n    address: 192.0.2.10\n    roles: [postgres, pgsql]\n",
            // The rules across hosts wait until every host reads well.
            "/srv/inv/hosts.yaml:4: host db1: unknown role \"pgsql\": the roles are postgres, redis, app, nginx",
        ),
        (
            "hosts:\n  db1:\n    address: 192.0.2.10\n    roles: [postgres]\n",
            "/srv/inv/hosts.yaml: no redis host: give one host the role redis (the cache)\n\
             /srv/inv/hosts.yaml: no app host: give one host the role app (runs the dashboard's server instances)\n\
             /srv/inv/hosts.yaml: no nginx host: give one host the role nginx (the load balancer in front of the app hosts)",
        ),
        (
            "hosts:\n  a:\n    address: 192.0.2.10\n    roles: [redis, app, nginx]\n",
            "/srv/inv/hosts.yaml: no postgres host: give one host the role postgres (the database)",
        ),
        (
            "hosts:\n  a:\n    address: 192.0.2.10\n    roles: [postgres, redis]\n  \
             b:\n    address: 192.0.2.10\n    roles: [app, nginx]\n",
            "/srv/inv/hosts.yaml:5: host b: address 192.0.2.10 is also host a's (line 2): one machine is one host, with all its roles",
        ),
        (
            "hosts:\n  a:\n    address: 192.0.2.10\n    roles: [postgres, redis, nginx]\n  \
             b:\n    address: 127.0.0.1\n    roles: [app]\n",
            "/srv/inv/hosts.yaml:5: host b: its address 127.0.0.1 is not one the other hosts can reach (nginx and the app's peers must reach it); give private_address, the address it has on the network they share",
        ),
        (
            "hosts:\n  a:\n    address: db.example.test\n    roles: [postgres, redis, app, nginx]\n",
            "/srv/inv/hosts.yaml:3: host a: address db.example.test is a name: give private_address, the IP the other hosts reach it at (the firewall rules and pg_hba need an IP)",
        ),
        (
            "hosts:\n  a:\n    address: 192.0.2.10\n    roles: [postgres, redis, nginx]\n    instances: 4\n  \
             b:\n    address: 192.0.2.11\n    roles: [app]\n    instances: 65\n",
            "/srv/inv/hosts.yaml:5: host a: instances is for app hosts, and this host has no app role\n\
             /srv/inv/hosts.yaml:9: host b: instances 65: give 1 to 64",
        ),
        (
            "hosts:\n  a:\n    address: 192.0.2.10\n    roles: [postgres, redis, app, nginx]\n    port: 22\n",
            "/srv/inv/hosts.yaml:2: host a: unknown field `port`, expected one of `address`, `private_address`, `roles`, `instances`, `connection`, `ssh`",
        ),
        (
            "ssh:\n  usr: root\nhosts: {}\n",
            "/srv/inv/hosts.yaml:2: ssh: unknown field `usr`, expected one of `user`, `port`, `identity_file`, `known_hosts` at line 2 column 3",
        ),
        (
            "rate_limit_exempt: [192.0.2.1, 192.0.2.0/33]\nhosts:\n  a:\n    address: 192.0.2.10\n    roles: [postgres, redis, app, nginx]\n",
            "/srv/inv/hosts.yaml:1: rate_limit_exempt: \"192.0.2.0/33\" is not an IP address or network (192.0.2.1, 192.0.2.0/24, 2001:db8::/64)",
        ),
        (
            "hosts: {}\n",
            "/srv/inv/hosts.yaml: no hosts: list them under `hosts:`, each with an address and roles",
        ),
        (
            "hosts:\n  A_1:\n    address: 192.0.2.10\n    roles: [postgres, redis, app, nginx]\n",
            "/srv/inv/hosts.yaml:2: host name \"A_1\": use lowercase letters, digits and '-' (up to 63), starting with a letter or digit; it names files and log lines",
        ),
        (
            "hosts:\n  a:\n    address: 192.0.2.10\n    roles: [postgres, redis, app, nginx]\n  \
             b:\n    address: 192.0.2.11\n    roles: [postgres]\n",
            "/srv/inv/hosts.yaml:5: host b: a second postgres host (a already holds it); one host holds the database",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(refused(text), *want, "for:\n{text}");
    }
}

#[test]
fn a_missing_identity_file_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts.yaml");
    std::fs::write(
        &path,
        "ssh:\n  identity_file: keys/id_ed25519\nhosts:\n  a:\n    address: 192.0.2.10\n    \
         roles: [postgres, redis, app, nginx]\n",
    )
    .unwrap();
    let e = Inventory::load(&path).unwrap_err().to_string();
    let key = dir.path().join("keys/id_ed25519");
    assert_eq!(
        e,
        format!(
            "{}:4: host a: identity_file {}: No such file or directory (os error 2)",
            path.display(),
            key.display()
        )
    );
    // `~/` is the home directory, as ssh reads it.
    let home = std::env::var("HOME").unwrap();
    let text =
        "ssh:\n  known_hosts: ~/.ssh/known_hosts\nhosts:\n  a:\n    address: 192.0.2.10\n    \
                roles: [postgres, redis, app, nginx]\n";
    let inv = Inventory::parse(&path, text).unwrap();
    assert_eq!(
        inv.hosts[0].ssh.known_hosts,
        Path::new(&home).join(".ssh/known_hosts")
    );
    let e = Inventory::load(&dir.path().join("nope.yaml")).unwrap_err();
    let source = std::error::Error::source(&e).expect("the I/O error is the source");
    assert_eq!(
        format!("{e}: {source}"),
        format!(
            "cannot read the inventory {}: No such file or directory (os error 2)",
            dir.path().join("nope.yaml").display()
        )
    );
}

#[test]
fn files_beside_a_relative_inventory_are_kept_absolute() {
    // The deployment's record keeps the key's path: a relative inventory path must not
    // leave it relative to the directory init ran in.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/id_ed25519"), "key").unwrap();
    std::fs::write(
        dir.path().join("hosts.yaml"),
        "ssh:\n  identity_file: keys/id_ed25519\nhosts:\n  a:\n    address: 192.0.2.10\n    \
         roles: [postgres, redis, app, nginx]\n",
    )
    .unwrap();
    let cwd = std::env::current_dir().unwrap();
    let mut relative = std::path::PathBuf::new();
    for _ in cwd.components().skip(1) {
        relative.push("..");
    }
    relative.push(dir.path().strip_prefix("/").unwrap().join("hosts.yaml"));
    assert!(relative.is_relative());
    let inv = Inventory::load(&relative).unwrap();
    let want = std::fs::canonicalize(dir.path())
        .unwrap()
        .join("keys/id_ed25519");
    assert_eq!(
        inv.hosts[0].ssh.identity_file.as_deref(),
        Some(want.as_path())
    );
}
