//! `/etc/os-release` (and `/usr/lib/os-release`): `KEY=value` lines, values optionally
//! quoted, as freedesktop.org specifies.

use std::collections::HashMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    pub values: HashMap<String, String>,
}

impl OsRelease {
    pub fn parse(text: &str) -> Self {
        let mut values = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            let v = if v.len() >= 2
                && (v.starts_with('"') && v.ends_with('"')
                    || v.starts_with('\'') && v.ends_with('\''))
            {
                v[1..v.len() - 1]
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\")
            } else {
                v.to_string()
            };
            values.insert(k.trim().to_string(), v);
        }
        OsRelease { values }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    pub fn id(&self) -> &str {
        self.get("ID").unwrap_or("linux")
    }

    /// `ID_LIKE`, space-separated.
    pub fn id_like(&self) -> Vec<&str> {
        self.get("ID_LIKE")
            .map(|v| v.split_whitespace().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_comments() {
        let o = OsRelease::parse("# c\nID=ubuntu\nID_LIKE=\"debian\"\nPRETTY_NAME='Ubuntu 24.04 LTS'\nVERSION_ID=\"24.04\"\n");
        assert_eq!(o.id(), "ubuntu");
        assert_eq!(o.id_like(), vec!["debian"]);
        assert_eq!(o.get("PRETTY_NAME"), Some("Ubuntu 24.04 LTS"));
        assert_eq!(o.get("VERSION_ID"), Some("24.04"));
    }
}
