//! Integration tests of `provision migrate` (and `provision fixture`) against a real
//! PostgreSQL: the binary is run as a user would run it.

mod common;

mod bad_input;
mod behaviour;
mod crash;
mod inferred;
