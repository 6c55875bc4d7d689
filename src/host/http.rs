//! A minimal blocking HTTP/1.0 prober for the playbook's `wait_for` and what waits on it
//! (init's readiness steps, the rolling restart): connect with a timeout and read the
//! status line. URLs are parsed with `url`, so IPv6 hosts (`http://[::1]:8001/ready`) and
//! default ports work. The async checks of `verify` use reqwest instead (`verify::http`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A TCP connection to `addr` (`host:port`, `[v6]:port`) within `timeout`.
pub fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, String> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    TcpStream::connect_timeout(&sock, timeout).map_err(|e| format!("{addr}: {e}"))
}

/// The answer's status line and code (0 when it is not HTTP).
pub struct Status {
    pub code: u16,
    pub line: String,
}

/// `GET url` (http:// only); the status, or why there is none.
pub fn get_status(url: &str, timeout: Duration) -> Result<Status, String> {
    let u = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    if u.scheme() != "http" {
        return Err(format!("{url}: only http:// URLs are supported"));
    }
    let host = u.host_str().ok_or_else(|| format!("{url}: no host"))?;
    let port = u.port_or_known_default().unwrap_or(80);
    // host_str keeps an IPv6 address's brackets, which host:port needs.
    let addr = format!("{host}:{port}");
    let mut s = connect(&addr, timeout.min(Duration::from_secs(2)))?;
    s.set_read_timeout(Some(timeout)).ok();
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{addr}: {e}"))?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).map_err(|e| format!("{addr}: {e}"))?;
    let line = String::from_utf8_lossy(&head[..n])
        .lines()
        .next()
        .unwrap_or("nothing")
        .to_string();
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok(Status { code, line })
}
