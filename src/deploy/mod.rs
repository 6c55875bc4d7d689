//! Deploying the stack across the inventory's hosts from a controller: the job each host
//! receives and the lines it sends back (job), the stages that run them (run), what the
//! last deployment reached (record) and the app hosts that left the inventory, drained
//! first (retire).

pub mod job;
pub mod record;
pub mod retire;
pub mod run;

pub use job::{Job, JobData, Line};
pub use run::{deploy, HostRecap, Plan, REMOTE_BINARY, REMOTE_DATA_DIR};
