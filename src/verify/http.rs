//! The one way verify (and `ops`' probes) send an HTTP request: a transport failure becomes
//! an error naming the URL and every cause. Used by the checks, verify's own runs and the
//! metrics reader, so it depends on none of them.

/// `GET url`; a transport failure is an error naming the URL and every cause.
pub async fn get(client: &reqwest::Client, url: &str) -> Result<reqwest::Response, String> {
    send(client.get(url), url).await
}

/// Sends `req` (for `url`); a transport failure is an error naming the URL and every cause.
pub async fn send(req: reqwest::RequestBuilder, url: &str) -> Result<reqwest::Response, String> {
    req.send().await.map_err(|e| unreachable(url, &e))
}

pub fn unreachable(url: &str, e: &reqwest::Error) -> String {
    let mut msg = format!("{url}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}
