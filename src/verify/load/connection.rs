//! One HTTP/1.1 connection (plain or TLS) of a load worker: opened on demand, kept alive, reopened after
//! a transport error or a timeout (the answer may still be on its way, so the connection
//! can't be reused).
//!
//! Like browsers and HTTP client libraries, a request that meets a *reused* keep-alive
//! connection closed by the server before any byte of an answer (nginx's old workers
//! close idle connections on a reload; a server may time one out just as a request
//! leaves) is sent once more on a new connection. The server never processed it, so
//! this hides no failure of the server; such resends are counted and reported.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;

/// Where the load goes: `http://host[:port]`, or `https://` with a TLS configuration.
#[derive(Clone)]
pub struct Endpoint {
    /// `host:port`, for the Host header (and for connecting, unless `connect_to`).
    pub authority: String,
    /// Connect here instead of resolving the host (a site's name served on loopback).
    pub connect_to: Option<std::net::SocketAddr>,
    /// The server name and client configuration, for https.
    tls: Option<(ServerName<'static>, Arc<rustls::ClientConfig>)>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Endpoint({}, tls: {})",
            self.authority,
            self.tls.is_some()
        )
    }
}

impl Endpoint {
    /// From `http(s)://host[:port]`; https needs `tls`.
    pub fn parse(
        base: &str,
        connect_to: Option<std::net::SocketAddr>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, String> {
        let url = url::Url::parse(base).map_err(|e| format!("{base:?} is not a URL: {e}"))?;
        let host = url.host_str().ok_or_else(|| format!("{base}: no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let tls = match (url.scheme(), tls) {
            ("http", _) => None,
            ("https", Some(config)) => {
                let name =
                    ServerName::try_from(host.trim_matches(|c| c == '[' || c == ']').to_string())
                        .map_err(|e| format!("{base}: {e}"))?;
                Some((name, config))
            }
            ("https", None) => return Err(format!("{base}: https needs a TLS configuration")),
            (other, _) => return Err(format!("{base}: {other}:// is not http or https")),
        };
        Ok(Endpoint {
            authority: format!("{host}:{port}"),
            connect_to,
            tls,
        })
    }
}

/// HTTP/1.1 over `io`, its connection driven by a task of its own.
async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, ()>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|_| ())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

pub struct Connection {
    endpoint: Endpoint,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Answers read on the current connection (0: it is new).
    answered: u64,
}

/// How one request went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// The status, or None on a transport error or timeout.
    pub status: Option<u16>,
    /// Whether it was sent again on a new connection (see the module's doc).
    pub resent: bool,
}

/// Whether hyper's error means the connection closed before any answer arrived.
fn closed_before_answer(e: &hyper::Error) -> bool {
    // As Chromium's HttpNetworkTransaction resends on a reused socket: a clean close, or
    // the peer's reset or abort (nginx resets a closing keep-alive connection whose
    // request it had not read; writing to it then fails with a broken pipe).
    let reset = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            )
        });
    e.is_incomplete_message() || e.is_canceled() || e.is_closed() || reset
}

impl Connection {
    pub fn new(endpoint: Endpoint) -> Self {
        Connection {
            endpoint,
            sender: None,
            answered: 0,
        }
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, ()> {
        let tcp = match self.endpoint.connect_to {
            Some(addr) => tokio::net::TcpStream::connect(addr).await,
            None => tokio::net::TcpStream::connect(&self.endpoint.authority).await,
        }
        .map_err(|_| ())?;
        let _ = tcp.set_nodelay(true);
        match &self.endpoint.tls {
            None => handshake(tcp).await,
            Some((name, config)) => {
                let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|_| ())?;
                handshake(tls).await
            }
        }
    }

    /// Sends one request and reads the whole answer; no status on a transport error or
    /// when `timeout` passes first.
    /// `make` builds the request (a second time only for a resend).
    pub async fn send(
        &mut self,
        make: &(dyn Fn() -> hyper::Request<Full<Bytes>> + Sync),
        timeout: Duration,
    ) -> Sent {
        let deadline = tokio::time::Instant::now() + timeout;
        match tokio::time::timeout_at(deadline, self.try_send(make())).await {
            Ok(Ok(status)) => {
                self.answered += 1;
                return Sent {
                    status: Some(status),
                    resent: false,
                };
            }
            Ok(Err(Some(e))) if self.answered > 0 && closed_before_answer(&e) => {}
            _ => {
                self.sender = None;
                return Sent {
                    status: None,
                    resent: false,
                };
            }
        }
        self.sender = None;
        self.answered = 0;
        let status = match tokio::time::timeout_at(deadline, self.try_send(make())).await {
            Ok(Ok(status)) => {
                self.answered += 1;
                Some(status)
            }
            _ => {
                self.sender = None;
                None
            }
        };
        Sent {
            status,
            resent: true,
        }
    }

    /// One attempt: the status, or the error (hyper's, when it has one).
    async fn try_send(
        &mut self,
        req: hyper::Request<Full<Bytes>>,
    ) -> Result<u16, Option<hyper::Error>> {
        if self.sender.is_none() {
            self.sender = Some(self.open().await.map_err(|_| None)?);
            self.answered = 0;
        }
        let sender = self.sender.as_mut().expect("just opened");
        if sender.ready().await.is_err() {
            self.sender = Some(self.open().await.map_err(|_| None)?);
            self.answered = 0;
        }
        let sender = self.sender.as_mut().expect("open");
        let resp = sender.send_request(req).await.map_err(Some)?;
        let status = resp.status().as_u16();
        resp.into_body().collect().await.map_err(|_| None)?;
        Ok(status)
    }
}
