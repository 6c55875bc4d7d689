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
        let facts_v = crate::playbook::engine::fact_values(facts);
        let book_of = |a: &super::answers::Answers| {
            let vars = super::vars::playbook_vars(a, facts, &distro, None);
            super::playbook::load(&facts_v, &vars, None)
        };
        let book = book_of(&answers)?;
        // The files of the optional parts too (monitoring, ACME), which an earlier
        // configuration may have had init write: their history is init's to put back even
        // when the present configuration has them off.
        let mut every = answers.clone();
        every.monitoring.enabled = true;
        every.tls = super::answers::Tls::Acme(super::answers::Acme {
            email: None,
            directory: super::answers::LETS_ENCRYPT.into(),
            ca_cert: None,
        });
        let optional = book_of(&every)?;
        let mut paths: BTreeSet<PathBuf> = book
            .steps
            .iter()
            .chain(&optional.steps)
            .filter_map(|s| s.kind().writes().map(Path::to_path_buf))
            .collect();
        paths.insert(config_path.to_path_buf());
        let mut handlers = book.handlers;
        for h in optional.handlers {
            if !handlers.iter().any(|x| x.name == h.name) {
                handlers.push(h);
            }
        }
        Ok(Managed { paths, handlers })
    }

    pub fn has_path(&self, p: &Path) -> bool {
        self.paths.contains(p)
    }

    /// init's own definition of the handler `name`.
    pub fn handler(&self, name: &str) -> Option<&Handler> {
        self.handlers.iter().find(|h| h.name == name)
    }
}
