//! What init manages on this host, from init's own embedded playbook rendered for it: the
//! files its steps write or remove, and its handlers' definitions. `rollback` and
//! `uninstall` act as root on what a run's history says; this is the bound they keep to
//! whatever a history manifest says — a path outside it is never written or removed, and a
//! handler runs only as init's playbook defines it, by name, never as a manifest spells it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::host::facts::Facts;
use crate::playbook::model::Handler;
use crate::playbook::PlaybookError;
use crate::settings::ConfigFile;

#[derive(Debug, Clone, Default)]
pub struct Managed {
    pub paths: BTreeSet<PathBuf>,
    pub handlers: Vec<Handler>,
}

impl Managed {
    /// The files init's playbook writes on this host (as configured by `config`), plus the
    /// config file itself.
    pub fn for_host(
        facts: &Facts,
        config: &ConfigFile,
        config_path: &Path,
    ) -> Result<Managed, PlaybookError> {
        let (answers, _, _) = super::saved::read(config);
        let distro = crate::host::distro::for_host(facts);
        let vars = super::vars::playbook_vars(&answers, facts, &distro, None);
        let book =
            super::playbook::load(&crate::playbook::engine::fact_values(facts), &vars, None)?;
        let mut paths: BTreeSet<PathBuf> = book
            .steps
            .iter()
            .filter_map(|s| s.kind().writes().map(Path::to_path_buf))
            .collect();
        paths.insert(config_path.to_path_buf());
        Ok(Managed {
            paths,
            handlers: book.handlers,
        })
    }

    pub fn has_path(&self, p: &Path) -> bool {
        self.paths.contains(p)
    }

    /// init's own definition of the handler `name`.
    pub fn handler(&self, name: &str) -> Option<&Handler> {
        self.handlers.iter().find(|h| h.name == name)
    }
}
