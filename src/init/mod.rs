//! `provision init`, built in steps (issue 6): the answers it saves, the host's sizing, and
//! the variables its playbook and templates are rendered with.

pub mod answers;
pub mod credentials;
pub mod deployment;
pub mod managed;
mod monitoring_wiring;
pub mod playbook;
pub mod relocate;
pub mod saved;
pub mod saved_file;
pub mod tuning;
pub mod validate;
pub mod vars;

#[cfg(test)]
mod template_snapshots;
