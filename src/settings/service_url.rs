//! A PostgreSQL or Redis URL parsed once, handing out the parts the commands need —
//! decoded (a role or database name may be percent-encoded), with the protocol's default
//! port — so no caller parses or decodes it again.

use super::{redact_url, Secret};

#[derive(Debug, Clone)]
pub struct ServiceUrl(url::Url);

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl ServiceUrl {
    /// Parses `url`; the error shows it with its password masked.
    pub fn parse(url: &Secret) -> Result<ServiceUrl, String> {
        url::Url::parse(url.expose())
            .map(ServiceUrl)
            .map_err(|e| format!("{}: not a URL: {e}", redact_url(url.expose())))
    }

    /// The port it names, else `default`.
    pub fn port_or(&self, default: u16) -> u16 {
        self.0.port().unwrap_or(default)
    }

    /// The user (role) it names, decoded.
    pub fn user(&self) -> Option<String> {
        Some(decode(self.0.username())).filter(|u| !u.is_empty())
    }

    /// The password it carries, decoded.
    pub fn password(&self) -> Option<Secret> {
        self.0.password().map(|p| Secret::new(decode(p)))
    }

    /// The database its path names, decoded.
    pub fn database(&self) -> Option<String> {
        Some(decode(self.0.path().trim_start_matches('/'))).filter(|d| !d.is_empty())
    }

    /// Where to connect: libpq's `host=` query parameter (a socket directory) or the host.
    pub fn host(&self) -> Option<String> {
        self.0
            .query_pairs()
            .find(|(k, _)| k == "host")
            .map(|(_, v)| v.into_owned())
            .or_else(|| {
                self.0
                    .host_str()
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
            })
    }

    /// The URL itself, to change a copy of it.
    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_decoded_with_defaults() {
        let u = ServiceUrl::parse(&Secret::new(
            "postgresql://dash%20user:s3cr%40t@127.0.0.1:5433/live%2Fdb",
        ))
        .unwrap();
        assert_eq!(u.user().as_deref(), Some("dash user"));
        assert_eq!(u.password().unwrap().expose(), "s3cr@t");
        assert_eq!(u.database().as_deref(), Some("live/db"));
        assert_eq!(u.port_or(5432), 5433);
        assert_eq!(u.host().as_deref(), Some("127.0.0.1"));
        let sock =
            ServiceUrl::parse(&Secret::new("postgresql:///live?host=/run/postgresql")).unwrap();
        assert_eq!(sock.host().as_deref(), Some("/run/postgresql"));
        assert_eq!((sock.port_or(5432), sock.user()), (5432, None));
        let e = ServiceUrl::parse(&Secret::new("not a url with pw")).unwrap_err();
        assert!(e.contains("not a URL"), "{e}");
    }
}
