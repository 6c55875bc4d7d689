//! `wait_for: {port: "host:port" | url: "http://…", timeout_s}`: matched when it answers
//! now; otherwise polled until it answers or the timeout passes.

use std::time::{Duration, Instant};

use super::{Plan, StepError};
use crate::host::http::{self, ProbeError};
use crate::playbook::model::WaitForStep;

/// One attempt: Ok when it answers as wanted, else why not. (`query` has checked that
/// exactly one of port and url is given.)
fn probe(w: &WaitForStep) -> Result<(), ProbeError> {
    if let Some(p) = &w.port {
        return http::connect(p, Duration::from_secs(2)).map(|_| ());
    }
    let url = w.url.as_deref().unwrap_or_default();
    let status = http::get_status(url, Duration::from_secs(5))?;
    if (200..400).contains(&status.code) {
        Ok(())
    } else {
        Err(ProbeError::Status {
            url: url.to_string(),
            line: status.line,
        })
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
    if w.port.is_some() == w.url.is_some() {
        return Err(StepError::Other(
            "wait_for needs exactly one of port and url".into(),
        ));
    }
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
            Err(source) if Instant::now() >= deadline => {
                return Err(StepError::NoAnswer {
                    target: target(w),
                    timeout_s: w.timeout_s,
                    source,
                })
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

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
        // A tiny HTTP server answering once; on IPv4 and on IPv6 loopback.
        let serve_once = |l: std::net::TcpListener| {
            let port = l.local_addr().unwrap().port();
            std::thread::spawn(move || {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            });
            port
        };
        let port = serve_once(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        assert!(apply(&w(None, Some(format!("http://127.0.0.1:{port}/health")), 5)).is_ok());
        if let Ok(l) = std::net::TcpListener::bind("[::1]:0") {
            let port = serve_once(l);
            assert!(apply(&w(None, Some(format!("http://[::1]:{port}/ready")), 5)).is_ok());
        }
        // The default port on IPv6: answered (something listens on [::1]:80 here) or
        // refused at the right address, never a malformed one.
        if let Err(e) = probe(&w(None, Some("http://[::1]/".into()), 1)) {
            assert!(
                e.to_string().contains("[::1]:80"),
                "the default port on IPv6: {e}"
            );
        }
        // The cause stays a source under the step's own message, and its line names the
        // address once, then the system's reason.
        let e = apply(&closed).unwrap_err();
        assert!(std::error::Error::source(&e).is_some());
        let target = closed.port.clone().unwrap();
        assert_eq!(
            crate::causes::line(&e),
            // ECONNREFUSED, as Linux words it.
            format!(
                "{target} did not answer within 1 s: {}",
                std::io::Error::from_raw_os_error(111)
            )
        );
        assert!(query(&w(None, None, 1)).is_err());
        // A wait that would overflow the deadline is refused, not a panic.
        let e = apply(&w(Some(format!("127.0.0.1:{port}")), None, u64::MAX))
            .unwrap_err()
            .to_string();
        assert!(e.contains("timeout_s"), "{e}");
    }
}
