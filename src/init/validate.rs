//! init's answers checked before anything is rendered from them. They end up in
//! configuration files that root's services read (pg_hba.conf, redis.conf, the nginx site,
//! the `.env`, the playbook itself), where a newline or a `;` would add a line or a
//! directive of the writer's choosing. So: database and role names are identifiers, the
//! domain is a hostname, paths are absolute with nothing that ends a word, passwords use
//! only characters that are safe in a URL. An error names the key, where its value came
//! from (the config file and line, or the flag) and the rule; never a secret's value.

use std::path::Path;

use super::answers::{Answers, Tls};

#[derive(Debug, thiserror::Error)]
#[error("{key} ({origin}): {shown} {rule}")]
pub struct InvalidAnswer {
    pub key: String,
    pub origin: String,
    shown: String,
    rule: String,
}

/// Where each value came from: the flags given, and the config file's text.
pub struct Origins<'a> {
    pub config: &'a Path,
    pub config_text: Option<&'a str>,
    /// Keys given by a flag, with the flag: (`nginx.server_name`, `--domain`).
    pub flags: Vec<(&'static str, &'static str)>,
}

impl Origins<'_> {
    /// `FILE:LINE` of the key's line in the config file, the flag, or "the default".
    fn of(&self, key: &str, alternatives: &[&str]) -> String {
        if let Some((_, flag)) = self.flags.iter().find(|(k, _)| *k == key) {
            return format!("from {flag}");
        }
        let text = self.config_text.unwrap_or("");
        for k in std::iter::once(&key).chain(alternatives) {
            let leaf = k.rsplit('.').next().unwrap_or(k);
            if let Some(n) = text
                .lines()
                .position(|l| l.trim_start().starts_with(&format!("{leaf}:")))
            {
                return format!("{}:{}", self.config.display(), n + 1);
            }
        }
        "the default".into()
    }
}

/// `^[a-z_][a-z0-9_]{0,62}$`: a PostgreSQL name that needs no quoting anywhere.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && s.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// An nginx `limit_req_zone` rate: 1 to 999999 requests, per second or per minute.
fn is_rate(s: &str) -> bool {
    let Some(n) = s.strip_suffix("r/s").or_else(|| s.strip_suffix("r/m")) else {
        return false;
    };
    !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0')
}

/// A DNS hostname (labels of letters, digits and inner hyphens, 63 bytes each, 253 in
/// all), or `_` (nginx's "any name").
pub fn is_hostname(s: &str) -> bool {
    s == "_"
        || (!s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }))
}

/// An absolute path with no white space, control character, or character that ends a
/// value in the files it is written into (`;`, quotes, braces, `$`, `#`, `\`).
pub fn is_safe_path(s: &str) -> bool {
    s.starts_with('/')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ";\"'{}$#\\".contains(c))
}

/// How an answer is refused: key, alternative keys, the value shown, the rule.
type Fail<'a> = dyn Fn(&str, &[&str], Option<&str>, &str) -> InvalidAnswer + 'a;

/// `--tls acme`: a name an ACME server can validate (not `_`, not `localhost`), an e-mail
/// and a directory URL that add nothing to certbot's command line, a CA file that exists.
fn acme_answers(
    a: &Answers,
    acme: &super::answers::Acme,
    fail: &Fail<'_>,
) -> Result<(), InvalidAnswer> {
    if a.domain == "_" || a.domain == "localhost" || !a.domain.contains('.') {
        return Err(fail(
            "nginx.server_name",
            &[],
            Some(&a.domain),
            "must be the site's public DNS name for --tls acme (the ACME server validates it over HTTP on port 80); give --domain",
        ));
    }
    if let Some(e) = &acme.email {
        let ok = e
            .split_once('@')
            .is_some_and(|(u, d)| !u.is_empty() && is_hostname(d) && d != "_")
            && e.chars()
                .all(|c| c.is_ascii_alphanumeric() || "@.-_+".contains(c));
        if !ok {
            return Err(fail(
                "nginx.acme_email",
                &[],
                Some(e),
                "is not an e-mail address (letters, digits and . - _ + around one @)",
            ));
        }
    }
    let url_ok = url::Url::parse(&acme.directory)
        .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some())
        && !acme
            .directory
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'`$;".contains(c));
    if !url_ok {
        return Err(fail(
            "nginx.acme_directory",
            &[],
            Some(&acme.directory),
            "must be an https:// ACME directory URL",
        ));
    }
    if let Some(f) = &acme.ca_cert {
        if !is_safe_path(f) || !Path::new(f).is_file() {
            return Err(fail(
                "nginx.acme_ca_cert",
                &[],
                Some(f),
                "must be an existing PEM file, by an absolute path without white space or ; \" ' { } $ # \\",
            ));
        }
    }
    Ok(())
}

/// A password rendered into a URL, `EnvironmentFile=` and redis.conf unescaped: 1 to 256
/// of `A-Z a-z 0-9 . _ ~ -` (generated ones are 40 alphanumerics).
pub fn is_safe_password(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~-".contains(c))
}

/// The value as it may be shown: escaped, cut to 80 characters.
fn shown(v: &str) -> String {
    let mut s: String = format!("{v:?}");
    if s.chars().count() > 80 {
        s = s.chars().take(77).collect::<String>() + "...";
    }
    s
}

/// Checks every answer; the first one that breaks its rule is the error.
pub fn answers(a: &Answers, o: &Origins<'_>) -> Result<(), InvalidAnswer> {
    let fail = |key: &str, alt: &[&str], value: Option<&str>, rule: &str| InvalidAnswer {
        key: key.into(),
        origin: o.of(key, alt),
        shown: value.map_or_else(|| "the value".into(), shown),
        rule: rule.into(),
    };
    const IDENT: &str = "is not a plain PostgreSQL name (^[a-z_][a-z0-9_]{0,62}$: lower-case letters, digits and _)";
    if !is_identifier(&a.db_name) {
        return Err(fail("init.db_name", &["url"], Some(&a.db_name), IDENT));
    }
    if !is_identifier(&a.db_user) {
        return Err(fail("init.db_user", &["url"], Some(&a.db_user), IDENT));
    }
    if u32::from(a.base_port) + a.instances > 65_535 {
        return Err(fail(
            "server.base_port",
            &["instances"],
            Some(&a.base_port.to_string()),
            &format!(
                "plus {} instances passes port 65535; give a lower base port",
                a.instances
            ),
        ));
    }
    let l = &a.limits;
    for (key, rate) in [
        ("nginx.api_rate", &l.api_rate),
        ("nginx.auth_rate", &l.auth_rate),
    ] {
        if !is_rate(rate) {
            return Err(fail(
                key,
                &[],
                Some(rate),
                "is not an nginx rate: a number of requests per second or per minute, like 100r/m or 5r/s",
            ));
        }
    }
    for (key, value, range) in [
        ("nginx.api_burst", l.api_burst, 0..=100_000),
        ("nginx.auth_burst", l.auth_burst, 0..=100_000),
        ("nginx.ws_per_address", l.ws_per_address, 1..=100_000),
        ("nginx.max_body_kb", l.max_body_kb, 1..=1_048_576),
    ] {
        if !range.contains(&value) {
            return Err(fail(
                key,
                &[],
                Some(&value.to_string()),
                &format!("must be {} to {}", range.start(), range.end()),
            ));
        }
    }
    for url in &a.replica_urls {
        let text = url.expose();
        let plain = !text
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == ',');
        let postgres = url::Url::parse(text).is_ok_and(|u| {
            matches!(u.scheme(), "postgres" | "postgresql") && u.host_str().is_some()
        });
        if !plain || !postgres {
            return Err(fail(
                "database.replica_urls",
                &[],
                None,
                "holds a value that is not a postgres:// URL with a host (and no spaces, commas or control characters)",
            ));
        }
    }
    if !(1..=86_400_000).contains(&a.max_replica_lag_ms) {
        return Err(fail(
            "database.max_replica_lag_ms",
            &[],
            Some(&a.max_replica_lag_ms.to_string()),
            "must be 1 to 86400000 (milliseconds)",
        ));
    }
    if !(1..=10_240).contains(&a.log_max_mb) {
        return Err(fail(
            "service.log_max_mb",
            &[],
            Some(&a.log_max_mb.to_string()),
            "must be 1 to 10240 (MB per log file before it is rotated)",
        ));
    }
    if a.log_keep > 1000 {
        return Err(fail(
            "service.log_keep",
            &[],
            Some(&a.log_keep.to_string()),
            "must be 0 to 1000 (rotated log files kept)",
        ));
    }
    if !(1..=3600).contains(&a.monitoring.scrape_interval_s) {
        return Err(fail(
            "monitoring.scrape_interval_s",
            &[],
            Some(&a.monitoring.scrape_interval_s.to_string()),
            "must be 1 to 3600 (seconds between scrapes)",
        ));
    }
    if a.monitoring.alert_after_s > 86_400 {
        return Err(fail(
            "monitoring.alert_after_s",
            &[],
            Some(&a.monitoring.alert_after_s.to_string()),
            "must be 0 to 86400 (seconds a condition holds before its alert fires)",
        ));
    }
    if a.backups.hour_minute().is_none() {
        return Err(fail(
            "backups.at",
            &[],
            Some(&a.backups.at),
            "must be a time of day as HH:MM (00:00 to 23:59, the host's local time)",
        ));
    }
    if !(1..=3660).contains(&a.backups.keep_daily) {
        return Err(fail(
            "backups.keep_daily",
            &[],
            Some(&a.backups.keep_daily.to_string()),
            "must be 1 to 3660 (days whose newest scheduled backup is kept; the newest backup is always kept)",
        ));
    }
    if a.backups.keep_weekly > 520 {
        return Err(fail(
            "backups.keep_weekly",
            &[],
            Some(&a.backups.keep_weekly.to_string()),
            "must be 0 to 520 (weeks whose newest scheduled backup is kept)",
        ));
    }
    if !is_hostname(&a.domain) {
        return Err(fail(
            "nginx.server_name",
            &[],
            Some(&a.domain),
            "is not a host name (letters, digits and hyphens in dot-separated labels), or _ for any",
        ));
    }
    if let Tls::Files { cert, key } = &a.tls {
        for (k, v) in [("nginx.tls_cert", cert), ("nginx.tls_key", key)] {
            if !is_safe_path(v) {
                return Err(fail(
                    k,
                    &[],
                    Some(v),
                    "must be an absolute path without white space, control characters or ; \" ' { } $ # \\",
                ));
            }
        }
    }
    if let Tls::Acme(acme) = &a.tls {
        acme_answers(a, acme, &fail)?;
    }
    for (k, v) in [
        ("init.db_password", a.db_password.expose()),
        ("init.redis_password", a.redis_password.expose()),
    ] {
        if !is_safe_password(v) {
            return Err(fail(
                k,
                &["url"],
                None,
                "must be 1 to 256 of A-Z a-z 0-9 . _ ~ - (it is written unescaped into URLs and redis.conf); remove the key and init generates one",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
