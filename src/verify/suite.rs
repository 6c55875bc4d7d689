//! Which checks run, and from where: the remote ones through the public URL (and, on the
//! host, from its own public address for the /metrics refusal), the on-host ones, and the
//! on-host names reported as not run under `--url`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use super::check::{self, CheckResult, Passed, Scope, Verdict};
use super::{client, host_checks, http_checks, metrics, tls};
use crate::settings::VerifySettings;

/// How many logins beyond nginx's configured burst (`nginx.auth_burst`, 5 by default) the
/// rate-limit check sends at once: well over it, whatever the rate.
const LOGINS_OVER_BURST: usize = 15;

/// A non-loopback address of this host: the source address of its default route.
pub fn public_address() -> Option<IpAddr> {
    for probe in ["192.0.2.1:9", "[2001:db8::1]:9"] {
        let bind = if probe.starts_with('[') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        };
        if let Ok(sock) = std::net::UdpSocket::bind(bind) {
            if sock.connect(probe).is_ok() {
                if let Ok(addr) = sock.local_addr() {
                    if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
                        return Some(addr.ip());
                    }
                }
            }
        }
    }
    None
}

/// The public URL with its host replaced by `ip`.
fn with_host(url: &str, ip: IpAddr) -> String {
    let mut u = url::Url::parse(url).expect("checked by settings");
    let _ = u.set_ip_host(ip);
    u.as_str().trim_end_matches('/').to_string()
}

pub async fn remote_checks(
    s: &VerifySettings,
    client: &reqwest::Client,
    tls_config: &Arc<rustls::ClientConfig>,
) -> Vec<CheckResult> {
    let t = s.check_timeout;
    let url = s.url.as_str();
    let https = url.starts_with("https:");
    let public = public_vantage(s, client, tls_config);
    let token = s.token.as_ref().map(|t| t.expose());
    let connector = if https {
        Some(tokio_tungstenite::Connector::Rustls(Arc::clone(tls_config)))
    } else {
        None
    };
    let ws_connect = s.resolve.as_ref().map(|r| r.1);
    let tls_target = tls_target(s);
    let (health, ready, headers, gzip, metrics, limit, ws, tls, redirect) = tokio::join!(
        check::run(
            "health via nginx",
            Scope::Remote,
            t,
            http_checks::status_ok(client, format!("{url}/health"))
        ),
        check::run(
            "ready via nginx",
            Scope::Remote,
            t,
            http_checks::status_ok(client, format!("{url}/ready"))
        ),
        check::run(
            "security headers",
            Scope::Remote,
            t,
            http_checks::security_headers(client, url)
        ),
        check::run("gzip", Scope::Remote, t, http_checks::gzip(client, url)),
        check::run("/metrics refused publicly", Scope::Remote, t, async {
            match &public {
                Ok((base, c)) => http_checks::metrics_refused(c, base).await,
                Err(why) => Err(why.to_string()),
            }
        }),
        check::run(
            "auth rate limit",
            Scope::Remote,
            t,
            http_checks::auth_rate_limit(client, url, s.auth_burst as usize + LOGINS_OVER_BURST)
        ),
        check::run(
            "websocket via nginx",
            Scope::Remote,
            t,
            http_checks::websocket(client, url, token, connector, ws_connect)
        ),
        check::run("tls", Scope::Remote, t, async {
            match (&tls_target, https) {
                (Some((name, connect)), true) => {
                    tls::check(name, connect, Arc::clone(tls_config)).await
                }
                _ => Ok(Passed::NothingToCheck(
                    "plain http: no TLS configured".into(),
                )),
            }
        }),
        check::run(
            "http redirects to https",
            Scope::Remote,
            t,
            redirect_check(s, tls_config, tls_target.as_ref(), https)
        ),
    );
    vec![
        health, ready, headers, gzip, metrics, limit, ws, tls, redirect,
    ]
}

/// Where /metrics is asked from to see it refused: a client that is not on loopback. From
/// elsewhere that is us; on the host, we come from its public address.
fn public_vantage(
    s: &VerifySettings,
    client: &reqwest::Client,
    tls_config: &Arc<rustls::ClientConfig>,
) -> Result<(String, reqwest::Client), &'static str> {
    if s.remote {
        return Ok((s.url.clone(), client.clone()));
    }
    s.public_address
        .or_else(public_address)
        .map(|ip| match &s.resolve {
            Some((name, addr)) => {
                let to = (name.clone(), SocketAddr::new(ip, addr.port()));
                (
                    s.url.clone(),
                    self::client(s.check_timeout, tls_config, Some(&to), true),
                )
            }
            None => (with_host(&s.url, ip), client.clone()),
        })
        .ok_or("this host has no non-loopback address to test from")
}

/// The site's TLS name and the address to connect to for it (loopback on the host).
fn tls_target(s: &VerifySettings) -> Option<(String, String)> {
    let u = url::Url::parse(&s.url).ok()?;
    let name = u.host_str()?.to_string();
    let connect = match &s.resolve {
        Some((_, addr)) => addr.to_string(),
        None => format!("{}:{}", name, u.port_or_known_default()?),
    };
    Some((name, connect))
}

/// Plain http to the site answers with a redirect to https (nothing to check without TLS).
async fn redirect_check(
    s: &VerifySettings,
    tls_config: &Arc<rustls::ClientConfig>,
    tls_target: Option<&(String, String)>,
    https: bool,
) -> Verdict {
    let from = match (&s.https_redirect_from, https) {
        (Some(from), _) => from.clone(),
        (None, true) => match tls_target {
            Some((name, _)) => format!("http://{name}"),
            None => return Err("no host in the URL".to_string()),
        },
        (None, false) => {
            return Ok(Passed::NothingToCheck(
                "plain http: no TLS configured".into(),
            ))
        }
    };
    let plain = self::client(s.check_timeout, tls_config, None, false);
    http_checks::redirects_to_https(&plain, &from).await
}

pub async fn host_checks(s: &VerifySettings, client: &reqwest::Client) -> Vec<CheckResult> {
    let t = s.check_timeout;
    // On a host of several, each check looks at this host's parts only: the app hosts
    // reach PostgreSQL and Redis on theirs, the database and cache hosts over loopback.
    let app = s.holds("app");
    let uses_pg = app || s.holds("postgres");
    let uses_redis = app || s.holds("redis");
    let not_here = |what: &str| -> Verdict {
        Ok(Passed::NothingToCheck(format!(
            "no {what} on this host (its roles: {})",
            s.roles.as_deref().unwrap_or_default().join(", ")
        )))
    };
    let mut ports = Vec::new();
    if app {
        for i in &s.instances {
            ports.push(("instance".to_string(), i.host.clone(), i.port));
        }
    }
    if s.holds("nginx") {
        if let Some((h, p)) =
            host_checks::host_port(&s.url, if s.url.starts_with("https") { 443 } else { 80 })
        {
            // The site's name, on the host, is reached at the address it resolves to.
            let h = match &s.resolve {
                Some((name, addr)) if *name == h => addr.ip().to_string(),
                _ => h,
            };
            ports.push(("nginx".into(), h, p));
        }
    }
    let pg = s
        .database_url
        .as_ref()
        .and_then(|u| host_checks::host_port(u.expose(), 5432))
        .filter(|_| uses_pg);
    let redis = s
        .redis_url
        .as_ref()
        .and_then(|u| host_checks::host_port(u.expose(), 6379))
        .filter(|_| uses_redis);
    for (what, hp) in [("postgres", &pg), ("redis", &redis)] {
        if let Some((h, p)) = hp {
            ports.push((what.into(), h.clone(), *p));
        }
    }
    let direct = async {
        if !app {
            return not_here("instances");
        }
        let mut seen = Vec::new();
        for i in &s.instances {
            for path in ["/health", "/ready"] {
                http_checks::status_ok(client, format!("http://{}{path}", i.addr())).await?;
            }
            seen.push(format!("{}: /health 200, /ready 200", i.addr()));
        }
        Ok(Passed::Saw(seen.join("; ")))
    };
    let loopback_metrics = async {
        if !app {
            return not_here("instances");
        }
        let addrs: Vec<String> = s.instances.iter().map(|i| i.addr()).collect();
        metrics::scrape(client, &addrs).await?;
        Ok(Passed::Saw(format!("readable on {}", addrs.join(", "))))
    };
    // The database and cache listen on loopback, and on a host of several on its private
    // address too (the instances' address there).
    let mut listen: Vec<(&str, u16)> = Vec::new();
    if s.holds("postgres") {
        listen.push(("postgres", pg.as_ref().map_or(5432, |p| p.1)));
    }
    if s.holds("redis") {
        listen.push(("redis", redis.as_ref().map_or(6379, |p| p.1)));
    }
    let private: Vec<std::net::IpAddr> = match &s.roles {
        Some(_) => s
            .instances
            .iter()
            .filter_map(|i| i.host.parse().ok())
            .take(1)
            .collect(),
        None => Vec::new(),
    };
    let service_manager = s.service.clone();
    let instances = s.instances.clone();
    let (ports, postgres, redis, direct, lm, service, env, listeners) = tokio::join!(
        check::run("tcp ports", Scope::Host, t, host_checks::ports(ports)),
        check::run("postgres login", Scope::Host, t, async {
            if !uses_pg {
                return not_here("PostgreSQL client");
            }
            host_checks::postgres(s.database_url.as_ref()).await
        }),
        check::run("redis login", Scope::Host, t, async {
            if !uses_redis {
                return not_here("Redis client");
            }
            host_checks::redis(s.redis_url.as_ref()).await
        }),
        check::run("health and ready per instance", Scope::Host, t, direct),
        check::run("/metrics on loopback", Scope::Host, t, loopback_metrics),
        check::run("service active", Scope::Host, t, async move {
            if !app {
                return not_here("instances");
            }
            tokio::task::spawn_blocking(move || host_checks::service(&service_manager, &instances))
                .await
                .map_err(|e| e.to_string())?
        }),
        check::run(
            ".env root-owned, not world-readable",
            Scope::Host,
            t,
            async {
                if !app {
                    return not_here("server environment");
                }
                host_checks::env_file_mode(s.env_file.as_deref())
            }
        ),
        check::run(
            "postgres and redis on loopback only",
            Scope::Host,
            t,
            async {
                if listen.is_empty() {
                    return not_here("PostgreSQL or Redis");
                }
                host_checks::loopback_only(&listen, &private, Path::new("/"))
            }
        ),
    );
    vec![ports, postgres, redis, direct, lm, service, env, listeners]
}

/// The on-host checks' names, reported as not run (or skipped) under `--url`.
pub const HOST_CHECKS: [&str; 8] = [
    "tcp ports",
    "postgres login",
    "redis login",
    "health and ready per instance",
    "/metrics on loopback",
    "service active",
    ".env root-owned, not world-readable",
    "postgres and redis on loopback only",
];
