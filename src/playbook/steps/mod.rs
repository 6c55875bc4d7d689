//! Steps: each first *queries* the live host — matched, create, modify (with a diff) or
//! run — and is applied only outside check mode. "0 changed" therefore comes from these
//! queries, never from a marker file.

mod account;
mod binary;
mod command;
mod files;
mod package;
mod postgres;
mod service;
pub mod wait_for;

use std::collections::BTreeMap;
use std::path::Path;

use super::model::Kind;
use crate::host::exec::ExecError;
use crate::host::packages::Manager;
use crate::host::services::Services;
use crate::settings::{mask_all, Secret};

pub use account::lookup_id;
pub use service::run_handler;

/// What a step's query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The host already is as the step says.
    Matched,
    /// Something to create; the description says what (and, for files, a diff).
    Create(String),
    Modify(String),
    /// A command or an action that always runs when reached.
    Run(String),
}

/// What steps read: vars for templates, the playbook's directory, managers, masks.
pub struct Ctx<'a> {
    pub vars: &'a BTreeMap<String, String>,
    /// The playbook's directory, when it has one (see `Playbook::dir`).
    pub dir: Option<&'a Path>,
    pub packages: &'a dyn Manager,
    pub services: &'a dyn Services,
    pub secrets: &'a [Secret],
    /// Whether file diffs are wanted in the plan's description.
    pub diff: bool,
}

impl Ctx<'_> {
    pub fn mask(&self, text: &str) -> String {
        mask_all(text, self.secrets)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("{target} did not answer within {timeout_s} s")]
    NoAnswer {
        target: String,
        timeout_s: u64,
        #[source]
        source: crate::host::http::ProbeError,
    },
    #[error("{0}")]
    Other(String),
}

pub fn query(kind: &Kind, ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    match kind {
        Kind::Package(p) => package::query(p, ctx),
        Kind::Template(t) => files::query_template(t, ctx),
        Kind::File(f) => files::query_file(f, ctx),
        Kind::User(u) => account::query_user(u),
        Kind::Group(g) => account::query_group(g),
        Kind::Command(c) => command::query(c),
        Kind::Service(s) => service::query(s, ctx),
        Kind::PostgresRole(r) => postgres::query_role(r, ctx),
        Kind::PostgresDatabase(d) => postgres::query_database(d),
        Kind::WaitFor(w) => wait_for::query(w),
        Kind::Binary(b) => binary::query(b, ctx),
        Kind::FlushHandlers(_) => Ok(Plan::Matched),
    }
}

pub fn apply(kind: &Kind, ctx: &Ctx<'_>) -> Result<(), StepError> {
    match kind {
        Kind::Package(p) => package::apply(p, ctx),
        Kind::Template(t) => files::apply_template(t, ctx),
        Kind::File(f) => files::apply_file(f, ctx),
        Kind::User(u) => account::apply_user(u),
        Kind::Group(g) => account::apply_group(g),
        Kind::Command(c) => command::apply(c),
        Kind::Service(s) => service::apply(s, ctx),
        Kind::PostgresRole(r) => postgres::apply_role(r, ctx),
        Kind::PostgresDatabase(d) => postgres::apply_database(d),
        Kind::WaitFor(w) => wait_for::apply(w),
        Kind::Binary(b) => binary::apply(b, ctx),
        Kind::FlushHandlers(_) => Ok(()),
    }
}
