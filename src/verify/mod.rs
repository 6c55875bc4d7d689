//! `provision verify` (issue 5), built in steps. So far: the open-model load generator.

pub mod load;
