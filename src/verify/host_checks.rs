//! The checks that need the host itself: TCP ports, PostgreSQL and Redis logins with the
//! app's credentials, each instance's probes and `/metrics` on loopback, the service
//! manager, the `.env`'s mode, and that PostgreSQL and Redis listen on loopback only.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use super::check::{Passed, Verdict};
use crate::host::exec::Cmd;
use crate::settings::{redact_url, Instance, Secret, ServiceManager};

/// `host:port` of a URL (with the scheme's usual port).
pub fn host_port(url: &str, default_port: u16) -> Option<(String, u16)> {
    let u = url::Url::parse(url).ok()?;
    let host = u
        .host_str()?
        .trim_matches(|c| c == '[' || c == ']')
        .to_string();
    Some((host, u.port().unwrap_or(default_port)))
}

/// Every `(what, host, port)` accepts a TCP connection.
pub async fn ports(targets: Vec<(String, String, u16)>) -> Verdict {
    let mut closed = Vec::new();
    let mut open = Vec::new();
    for (what, host, port) in targets {
        match tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(_)) => open.push(format!("{what} {host}:{port}")),
            Ok(Err(e)) => closed.push(format!("{what} {host}:{port} ({e})")),
            Err(_) => closed.push(format!("{what} {host}:{port} (no answer in 3 s)")),
        }
    }
    if closed.is_empty() {
        Ok(Passed::Saw(format!("open: {}", open.join(", "))))
    } else {
        Err(format!(
            "not accepting connections: {}; start the service behind each",
            closed.join(", ")
        ))
    }
}

/// Logs in with the app's `DATABASE_URL`, runs `SELECT 1` and reads the schema version.
pub async fn postgres(url: Option<&Secret>) -> Verdict {
    use sqlx::Connection;
    let url =
        url.ok_or("DATABASE_URL is not set in the .env, the environment or the config file")?;
    let shown = redact_url(url.expose());
    let mut conn = sqlx::PgConnection::connect(url.expose())
        .await
        .map_err(|e| format!("{shown}: {e}; check the password in the .env against the role's"))?;
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("{shown}: SELECT 1 failed: {e}"))?;
    let version: Option<i64> = sqlx::query_scalar(
        "SELECT max(version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(|e| format!("{shown}: no schema version ({e}); has `provision serve` or `provision migrate` run against it?"))?;
    let want = crate::schema::latest_version();
    let _ = conn.close().await;
    match version {
        Some(v) if v == want => Ok(Passed::Saw(format!(
            "{shown}: SELECT 1 = {one}; schema version {v}"
        ))),
        v => Err(format!(
            "{shown}: schema version {v:?}, this binary expects {want}; restart an instance (serve applies migrations) or run provision migrate"
        )),
    }
}

/// Authenticates with the app's `REDIS_URL` and sends PING.
pub async fn redis(url: Option<&Secret>) -> Verdict {
    let url = url.ok_or("REDIS_URL is not set in the .env, the environment or the config file")?;
    let shown = redact_url(url.expose());
    let client = redis::Client::open(url.expose()).map_err(|e| format!("{shown}: {e}"))?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("{shown}: {e}; check requirepass in redis.conf against the .env"))?;
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(|e| format!("{shown}: PING failed: {e}; check the password in the .env"))?;
    let auth = if crate::settings::url_has_password(url.expose()) {
        "AUTH ok"
    } else {
        "no password in REDIS_URL"
    };
    Ok(Passed::Saw(format!("{shown}: {auth}, PING → {pong}")))
}

/// The `.env` is root's, writable by root alone and readable by nobody else but its group
/// (the service's: `root:live-dashboard 0640`): the service reads it and cannot change it.
pub fn env_file_mode(path: Option<&Path>) -> Verdict {
    let path = path
        .ok_or("no .env was found (--env-file, PROVISION_ENV_FILE or /etc/live-dashboard/.env)")?;
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o7777;
    let shown = format!(
        "{}: mode {mode:04o}, owner uid {} gid {}",
        path.display(),
        meta.uid(),
        meta.gid()
    );
    if !meta.is_file() {
        Err(format!(
            "{}: not a regular file (a link?); `provision init` writes it",
            path.display()
        ))
    } else if meta.uid() != 0 {
        Err(format!(
            "{shown}: its owner can change the server's settings; chown root {}",
            path.display()
        ))
    } else if mode & 0o027 != 0 {
        Err(format!(
            "{shown}: it holds secrets; chmod 640 {}",
            path.display()
        ))
    } else {
        Ok(Passed::Saw(shown))
    }
}

fn is_loopback(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// PostgreSQL's and Redis's ports have listeners on loopback addresses only — and on a
/// host of several, on its `private` address too — (the listeners of the host at `root`,
/// read by the facts' own `/proc/net/tcp*` reader).
pub fn loopback_only(
    services: &[(&str, u16)],
    private: &[std::net::IpAddr],
    root: &Path,
) -> Verdict {
    let all = crate::host::proc::listeners(root);
    let mut public = Vec::new();
    let mut seen = Vec::new();
    for (what, port) in services {
        for l in all.iter().filter(|l| l.port == *port) {
            let (ip, p) = (l.address, l.port);
            if is_loopback(&ip) || private.contains(&ip) {
                seen.push(format!("{what} {ip}:{p}"));
            } else {
                public.push(format!("{what} on {ip}:{p}"));
            }
        }
    }
    if !public.is_empty() {
        return Err(format!(
            "listening beyond loopback: {} (0.0.0.0 and :: mean every interface); bind them to 127.0.0.1 and ::1 (listen_addresses in postgresql.conf, bind in redis.conf)",
            public.join(", ")
        ));
    }
    let only = if private.is_empty() {
        "loopback only".to_string()
    } else {
        let p: Vec<String> = private.iter().map(|ip| ip.to_string()).collect();
        format!("loopback and {} only", p.join(", "))
    };
    Ok(Passed::Saw(format!("{only}: {}", seen.join(", "))))
}

/// Each instance is active under its service manager.
pub fn service(manager: &ServiceManager, instances: &[Instance]) -> Verdict {
    let manager = match manager {
        ServiceManager::Detect => detect_manager()?,
        m => m.clone(),
    };
    let mut down = Vec::new();
    let mut up = Vec::new();
    for i in instances {
        let (name, cmd) = match &manager {
            ServiceManager::Systemd => (
                i.unit(),
                Cmd::new("systemctl", &["is-active", "--quiet", &i.unit()]),
            ),
            ServiceManager::OpenRc => (
                i.program(),
                Cmd::new("rc-service", &[&i.program(), "status"]),
            ),
            ServiceManager::Supervisor(conf) => (
                i.program(),
                Cmd::new(
                    "supervisorctl",
                    &["-c", &conf.display().to_string(), "status", &i.program()],
                ),
            ),
            ServiceManager::Detect => unreachable!("resolved above"),
        };
        match cmd.run_checked(true) {
            Ok(out) if out.code == Some(0) => up.push(name),
            Ok(out) => down.push(format!(
                "{name} ({})",
                out.stdout.trim().lines().last().unwrap_or("not active")
            )),
            Err(e) => down.push(format!("{name} ({e})")),
        }
    }
    if down.is_empty() {
        Ok(Passed::Saw(format!("active: {}", up.join(", "))))
    } else {
        Err(format!("not active: {}", down.join(", ")))
    }
}

fn detect_manager() -> Result<ServiceManager, String> {
    let facts = crate::host::facts::detect(Path::new("/")).map_err(|e| e.to_string())?;
    Ok(match facts.init {
        crate::host::facts::InitSystem::Systemd => ServiceManager::Systemd,
        crate::host::facts::InitSystem::OpenRc => ServiceManager::OpenRc,
        _ => ServiceManager::Supervisor("/etc/supervisor/supervisord.conf".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture root with `proc/net/tcp` and `tcp6`.
    /// /proc/net/tcp{,6} with these sockets (`sl local remote st`), the rest of each line
    /// as the kernel writes it.
    fn proc_root(tcp: &str, tcp6: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/net")).unwrap();
        let head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        let full = |sockets: &str| {
            sockets
                .lines()
                .map(|l| {
                    format!("{l} 00000000:00000000 00:00000000 00000000   105        0 21422 1 0000000000000000 100 0 0 10 0\n")
                })
                .collect::<String>()
        };
        std::fs::write(
            dir.path().join("proc/net/tcp"),
            format!("{head}{}", full(tcp)),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("proc/net/tcp6"),
            format!("{head}{}", full(tcp6)),
        )
        .unwrap();
        dir
    }

    #[test]
    fn proc_net_addresses_decode() {
        let dir = proc_root(
            "   0: 0100007F:1538 00000000:0000 0A\n   1: 00000000:18EB 00000000:0000 0A\n",
            "   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A\n   \
             1: 0000000000000000FFFF00000100007F:18EB 00000000000000000000000000000000:0000 0A\n",
        );
        let shown: Vec<String> = crate::host::proc::listeners(dir.path())
            .iter()
            .map(|l| l.address.to_string())
            .collect();
        for want in ["127.0.0.1", "0.0.0.0", "::1", "::ffff:127.0.0.1"] {
            assert!(shown.contains(&want.to_string()), "{want} in {shown:?}");
        }
        assert!(is_loopback(&"::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn listeners_are_read_from_proc() {
        let dir = proc_root(
            "   0: 0100007F:1538 00000000:0000 0A\n   1: 00000000:18EB 00000000:0000 0A\n   2: 0100007F:1F41 0100007F:9C40 01\n",
            "",
        );
        let l = crate::host::proc::listeners(dir.path());
        assert_eq!(l.len(), 2);
        assert!(loopback_only(&[("postgres", 5432)], &[], dir.path()).is_ok());
        let err = match loopback_only(&[("redis", 6379)], &[], dir.path()) {
            Err(e) => e,
            Ok(_) => panic!("0.0.0.0:6379 is public"),
        };
        assert!(err.contains("redis on 0.0.0.0:6379"), "{err}");
    }

    #[test]
    fn a_host_of_several_may_listen_on_its_private_address_too() {
        // PostgreSQL on 127.0.0.1 and 192.0.2.10 (0A0200C0: its bytes in host order).
        let dir = proc_root(
            "   0: 0100007F:1538 00000000:0000 0A
   1: 0A0200C0:1538 00000000:0000 0A
",
            "",
        );
        let private: Vec<std::net::IpAddr> = vec!["192.0.2.10".parse().unwrap()];
        match loopback_only(&[("postgres", 5432)], &private, dir.path()) {
            Ok(Passed::Saw(m)) => assert!(
                m.starts_with("loopback and 192.0.2.10 only: postgres 127.0.0.1:5432"),
                "{m}"
            ),
            _ => panic!("its own private address is allowed"),
        }
        let other: Vec<std::net::IpAddr> = vec!["192.0.2.11".parse().unwrap()];
        assert!(loopback_only(&[("postgres", 5432)], &other, dir.path()).is_err());
    }
}
