//! The `.env` file: `KEY=VALUE` lines as systemd's `EnvironmentFile=` and the server read them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::SettingsError;

/// Values read from an env file, each with the line it came from (for error messages).
#[derive(Debug, Default, Clone)]
pub struct EnvFile {
    pub path: Option<PathBuf>,
    values: HashMap<String, (String, usize)>,
}

impl EnvFile {
    /// Reads `path`. A missing file is an error only when `required` (the user named it).
    pub fn load(path: &Path, required: bool) -> Result<Self, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(EnvFile::default())
            }
            Err(e) => {
                return Err(SettingsError::Io {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })
            }
        };
        let mut env = Self::parse(&text).map_err(|(line, message)| SettingsError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        })?;
        env.path = Some(path.to_path_buf());
        Ok(env)
    }

    /// Parses env-file text; on error returns the 1-based line and what is wrong.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut values = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((key, value)) = line.split_once('=') else {
                return Err((line_no, "expected KEY=VALUE".into()));
            };
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err((line_no, format!("invalid variable name {key:?}")));
            }
            let value = unquote(value.trim()).ok_or((line_no, "unterminated quote".to_string()))?;
            values.insert(key.to_string(), (value, line_no));
        }
        Ok(EnvFile { path: None, values })
    }

    /// The value and its line number.
    pub fn get(&self, key: &str) -> Option<(&str, usize)> {
        self.values.get(key).map(|(v, l)| (v.as_str(), *l))
    }
}

fn unquote(v: &str) -> Option<String> {
    for q in ['"', '\''] {
        if let Some(rest) = v.strip_prefix(q) {
            return rest.strip_suffix(q).map(|s| s.to_string());
        }
    }
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comments_quotes_and_export() {
        let env = EnvFile::parse("# c\nA=1\nexport B=\"two words\"\n\nC='x=y'\n").unwrap();
        assert_eq!(env.get("A"), Some(("1", 2)));
        assert_eq!(env.get("B"), Some(("two words", 3)));
        assert_eq!(env.get("C"), Some(("x=y", 5)));
    }

    #[test]
    fn names_the_bad_line() {
        assert_eq!(EnvFile::parse("A=1\nnonsense\n").unwrap_err().0, 2);
        assert_eq!(EnvFile::parse("A=\"open\n").unwrap_err().0, 1);
    }
}
