//! Templated playbooks: a file of two YAML documents whose second (the steps and
//! handlers) is a Tera template, rendered with the host's facts and the vars before it is
//! parsed — loops and conditions over facts shape the steps themselves.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::model::{syntax, Playbook, PlaybookError};

impl Playbook {
    /// Reads a playbook that may be templated: when the file holds two YAML documents,
    /// the first is the header (`name`, `vars`, `secrets`) and the second — the steps and
    /// handlers — is a Tera template, rendered with `facts`, then the header's vars, then
    /// `extra` (`-e`) before it is parsed. Loops (`{% for %}`) and conditions over the
    /// host's facts and the vars can then shape the steps themselves.
    pub fn load_templated(
        path: &Path,
        facts: &BTreeMap<String, String>,
        extra: &BTreeMap<String, String>,
    ) -> Result<Playbook, PlaybookError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PlaybookError::Io {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut p = Self::parse_templated(&text, &shown, facts, extra)?;
        p.dir = Some(
            path.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        );
        Ok(p)
    }

    /// [`Playbook::parse`] for text that may be templated (see [`Playbook::load_templated`]).
    pub fn parse_templated(
        text: &str,
        shown: &str,
        facts: &BTreeMap<String, String>,
        extra: &BTreeMap<String, String>,
    ) -> Result<Playbook, PlaybookError> {
        let Some((header, body)) = split_documents(text) else {
            return Self::parse(text, shown);
        };
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Header {
            name: String,
            #[serde(default)]
            vars: BTreeMap<String, String>,
            #[serde(default)]
            secrets: Vec<String>,
        }
        let h: Header = serde_yaml_ng::from_str(header).map_err(|e| syntax(shown, &e))?;
        let mut values = facts.clone();
        values.extend(h.vars);
        values.extend(extra.clone());
        let rendered = crate::render::render_text(body, &values, shown).map_err(|e| {
            PlaybookError::Invalid {
                path: shown.to_string(),
                message: e.to_string(),
            }
        })?;
        Self::parse(
            &format!("{header}\n{rendered}"),
            &format!("{shown} (rendered)"),
        )
    }
}

/// (header, body) when `text` holds a second YAML document (a `---` line after the first).
fn split_documents(text: &str) -> Option<(&str, &str)> {
    let start = if text.starts_with("---\n") { 4 } else { 0 };
    let at = text[start..].find("\n---\n")? + start;
    Some((&text[..at], &text[at + 5..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_two_document_playbook_is_rendered_with_facts_vars_and_extra_vars() {
        let text = "name: t\nvars:\n  instances: \"2\"\n  greeting: hi\n---\nsteps:\n\
                    {% for i in range(start=1, end=instances | int + 1) %}\
                    \n  - name: start {{ 8000 + i }}\n    service: {name: \"app@{{ 8000 + i }}\", state: started}\
                    {% endfor %}\n\
                    {% if init == \"systemd\" %}\n  - name: only under systemd\n    command: {argv: [\"true\"]}\n{% endif %}\n";
        let facts: BTreeMap<String, String> = [("init".to_string(), "none".to_string())].into();
        let extra: BTreeMap<String, String> = [("instances".to_string(), "3".to_string())].into();
        let p = Playbook::parse_templated(text, "t.yml", &facts, &extra).unwrap();
        let names: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["start 8001", "start 8002", "start 8003"]);
        assert_eq!(p.vars["greeting"], "hi");
        let bad = "name: t\n---\nsteps: {{ nope }}\n";
        let e = Playbook::parse_templated(bad, "t.yml", &facts, &extra)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.yml") && e.contains("nope"), "{e}");
    }
}
