//! `provision`: takes a fresh Linux host to a verified Live Validation Dashboard deployment,
//! and is the dashboard server itself. See CONTRIBUTING.md for the layering.

pub mod causes;
pub mod cli;
pub mod commands;
pub mod deploy;
pub mod fixture;
pub mod host;
pub mod init;
pub mod inventory;
#[cfg(test)]
mod layering;
pub mod logging;
pub mod migrate;
pub mod ops;
pub mod passwords;
pub mod playbook;
pub mod remote;
pub mod render;
pub mod schema;
pub mod server;
pub mod settings;
pub mod table;
pub mod verify;
