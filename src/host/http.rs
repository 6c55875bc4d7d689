//! A minimal blocking HTTP/1.0 prober for the playbook's `wait_for` and what waits on it
//! (init's readiness steps, the rolling restart): connect with a timeout and read the
//! status line. URLs are parsed with `url`, so IPv6 hosts (`http://[::1]:8001/ready`) and
//! default ports work. The async checks of `verify` use reqwest instead (`verify::http`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why a probe got no answer; the I/O error stays the source.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{url}: {why}")]
    Url { url: String, why: String },
    #[error("{addr}: no address")]
    NoAddress { addr: String },
    #[error("{addr}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url} answered {line}")]
    Status { url: String, line: String },
}

impl ProbeError {
    fn io(addr: &str) -> impl FnOnce(std::io::Error) -> ProbeError + '_ {
        move |source| ProbeError::Io {
            addr: addr.to_string(),
            source,
        }
    }
}

/// A TCP connection to `addr` (`host:port`, `[v6]:port`) within `timeout`.
pub fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, ProbeError> {
    let sock = addr
        .to_socket_addrs()
        .map_err(ProbeError::io(addr))?
        .next()
        .ok_or_else(|| ProbeError::NoAddress {
            addr: addr.to_string(),
        })?;
    TcpStream::connect_timeout(&sock, timeout).map_err(ProbeError::io(addr))
}

/// The answer's status line and code (0 when it is not HTTP).
pub struct Status {
    pub code: u16,
    pub line: String,
}

/// `GET url` (http:// only); the status, or why there is none.
pub fn get_status(url: &str, timeout: Duration) -> Result<Status, ProbeError> {
    let bad = |why: String| ProbeError::Url {
        url: url.to_string(),
        why,
    };
    let u = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if u.scheme() != "http" {
        return Err(bad("only http:// URLs are supported".into()));
    }
    let host = u.host_str().ok_or_else(|| bad("no host".into()))?;
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
    .map_err(ProbeError::io(&addr))?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).map_err(ProbeError::io(&addr))?;
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
