//! `wait_for: {port: "host:port" | url: "http://…", timeout_s}`: matched when it answers
//! now; otherwise polled until it answers or the timeout passes.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{Plan, StepError};
use crate::playbook::model::WaitForStep;

fn connect(addr: &str) -> Result<TcpStream, String> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    TcpStream::connect_timeout(&sock, Duration::from_secs(2)).map_err(|e| format!("{addr}: {e}"))
}

/// One attempt: Ok when it answers as wanted, else why not.
fn probe(w: &WaitForStep) -> Result<(), String> {
    if let Some(p) = &w.port {
        return connect(p).map(|_| ());
    }
    let url = w.url.as_deref().ok_or("wait_for needs port or url")?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (hostport, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, "/".to_string()),
    };
    let addr = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let mut s = connect(&addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&head[..n]);
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!(
            "{url} answered {}",
            line.lines().next().unwrap_or("nothing")
        ))
    }
}

fn target(w: &WaitForStep) -> String {
    w.port.clone().or_else(|| w.url.clone()).unwrap_or_default()
}

pub fn query(w: &WaitForStep) -> Result<Plan, StepError> {
    if w.port.is_some() == w.url.is_some() {
        return Err(StepError::Other(
            "wait_for needs exactly one of port and url".into(),
        ));
    }
    Ok(match probe(w) {
        Ok(()) => Plan::Matched,
        Err(_) => Plan::Run(format!("wait up to {} s for {}", w.timeout_s, target(w))),
    })
}

/// The longest wait a step may ask for: a day.
pub const MAX_TIMEOUT_S: u64 = 86_400;

pub fn apply(w: &WaitForStep) -> Result<(), StepError> {
    let deadline = Instant::now()
        .checked_add(Duration::from_secs(w.timeout_s))
        .filter(|_| w.timeout_s <= MAX_TIMEOUT_S)
        .ok_or_else(|| {
            StepError::Other(format!(
                "timeout_s: {} is more than a day ({MAX_TIMEOUT_S}); give a smaller wait",
                w.timeout_s
            ))
        })?;
    loop {
        match probe(w) {
            Ok(()) => return Ok(()),
            Err(why) if Instant::now() >= deadline => {
                return Err(StepError::Other(format!(
                    "{} did not answer within {} s: {why}",
                    target(w),
                    w.timeout_s
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_urls() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let w = |port: Option<String>, url: Option<String>, t| WaitForStep {
            port,
            url,
            timeout_s: t,
        };
        assert_eq!(
            query(&w(Some(format!("127.0.0.1:{port}")), None, 1)).unwrap(),
            Plan::Matched
        );
        drop(l);
        let closed = w(Some(format!("127.0.0.1:{port}")), None, 1);
        assert!(matches!(query(&closed).unwrap(), Plan::Run(_)));
        let e = apply(&closed).unwrap_err().to_string();
        assert!(e.contains("did not answer within 1 s"), "{e}");
        // A tiny HTTP server answering 200 once.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        });
        assert!(apply(&w(None, Some(format!("http://127.0.0.1:{port}/health")), 5)).is_ok());
        assert!(query(&w(None, None, 1)).is_err());
        // A wait that would overflow the deadline is refused, not a panic.
        let e = apply(&w(Some(format!("127.0.0.1:{port}")), None, u64::MAX))
            .unwrap_err()
            .to_string();
        assert!(e.contains("timeout_s"), "{e}");
    }
}
