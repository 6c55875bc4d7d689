//! `Secret`: a string that never shows itself in `Debug`/`Display`, and URL redaction.
//!
//! Passwords, tokens and URLs that carry passwords are held in `Secret` so that a stray
//! `{:?}` in a log line or an error message prints `****` instead of the value.

use std::fmt;

/// A secret string. Only [`Secret::expose`] gives the value back.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself: call only where it is handed to the thing that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// `text` with every occurrence of each secret's value replaced by `****`.
pub fn mask_all(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !s.expose().is_empty() {
            out = out.replace(s.expose(), "****");
        }
    }
    out
}

/// `url` with any password replaced by `****`, for logs and error messages. Input that
/// does not parse as a URL is masked whole, since it might be a secret.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("****"));
            }
            parsed.to_string()
        }
        Err(_) => "****".to_string(),
    }
}

/// Whether a URL typed on the command line carries a password (argv is visible to every
/// user of the host, so the caller warns).
pub fn url_has_password(url: &str) -> bool {
    url::Url::parse(url)
        .map(|u| u.password().is_some())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(****)");
        assert_eq!(format!("{s}"), "****");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn mask_all_hides_every_occurrence_and_ignores_empty_secrets() {
        let secrets = [Secret::new("pw"), Secret::new("")];
        assert_eq!(mask_all("a pw b pw", &secrets), "a **** b ****");
    }

    #[test]
    fn redact_url_masks_only_the_password() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5432/x"),
            "postgres://app:****@db.example:5432/x"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("not a url s3cret"), "****");
        assert!(url_has_password("redis://:pw@localhost"));
        assert!(!url_has_password("postgresql:///db?host=/run/postgresql"));
    }
}
