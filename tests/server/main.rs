//! Integration tests of `provision serve` against real PostgreSQL and Redis.

mod common;

mod abuse;
mod bad_input;
mod browser;
mod cli;
mod contract;
mod live;
mod local_cache;
mod outage;
mod replicas;
