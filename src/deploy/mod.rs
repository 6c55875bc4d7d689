//! Deploying the stack across the inventory's hosts from a controller: the job each host
//! receives and the lines it sends back (job), and the stages that run them (run).

pub mod job;
pub mod run;

pub use job::{Job, JobData, Line};
pub use run::{deploy, HostRecap, Plan, REMOTE_BINARY};
