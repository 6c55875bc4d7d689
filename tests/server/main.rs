//! Integration tests of `provision serve` against real PostgreSQL and Redis.

mod common;

mod bad_input;
mod contract;
mod live;
mod outage;
