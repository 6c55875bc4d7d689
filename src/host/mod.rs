//! The host: facts about it (distribution, package manager, init system, CPUs, memory,
//! listening ports), read from files under a root path so fixture trees can stand in for
//! real hosts; running commands (exec), files (fs), packages/ and services/.

pub mod distro;
pub mod exec;
pub mod facts;
pub mod fs;
pub mod http;
pub mod os_release;
pub mod packages;
pub mod proc;
pub mod psql;
pub mod reload;
pub mod services;
