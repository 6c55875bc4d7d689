//! One HTTP/1.1 connection of a load worker: opened on demand, kept alive, reopened after
//! a transport error or a timeout (the answer may still be on its way, so the connection
//! can't be reused).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// Where the load goes: `host:port` over plain HTTP.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `host:port`, for connecting and for the Host header.
    pub authority: String,
}

impl Endpoint {
    /// From `http://host[:port]`; anything else is refused with the reason.
    pub fn parse(base: &str) -> Result<Self, String> {
        let url = url::Url::parse(base).map_err(|e| format!("{base:?} is not a URL: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!(
                "{base}: the load generator speaks plain http:// (aim it at nginx's loopback http port or an instance)"
            ));
        }
        let host = url.host_str().ok_or_else(|| format!("{base}: no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        Ok(Endpoint {
            authority: format!("{host}:{port}"),
        })
    }
}

pub struct Connection {
    endpoint: Endpoint,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    pub fn new(endpoint: Endpoint) -> Self {
        Connection {
            endpoint,
            sender: None,
        }
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, ()> {
        let tcp = tokio::net::TcpStream::connect(&self.endpoint.authority)
            .await
            .map_err(|_| ())?;
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|_| ())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends one request and reads the whole answer; `Err` on a transport error or when
    /// `timeout` passes first.
    pub async fn send(
        &mut self,
        req: hyper::Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<u16, ()> {
        let outcome = tokio::time::timeout(timeout, async {
            if self.sender.is_none() {
                self.sender = Some(self.open().await?);
            }
            let sender = self.sender.as_mut().expect("just opened");
            if sender.ready().await.is_err() {
                self.sender = Some(self.open().await?);
            }
            let sender = self.sender.as_mut().expect("open");
            let resp = sender.send_request(req).await.map_err(|_| ())?;
            let status = resp.status().as_u16();
            resp.into_body().collect().await.map_err(|_| ())?;
            Ok::<u16, ()>(status)
        })
        .await;
        match outcome {
            Ok(Ok(status)) => Ok(status),
            _ => {
                self.sender = None;
                Err(())
            }
        }
    }
}
