//! Day-2 operations on a deployed stack: what it is ([`stack`]), how it is doing
//! ([`status`]), its logs ([`logs`]), restarting its instances without failing a request
//! ([`rolling`]), an app host leaving a deployment of several ([`retire`]), backups and
//! restores of its database ([`backup`], [`restore`]), putting init's previous files back
//! ([`rollback`]) and taking it away ([`uninstall`]). Uses `host`, `playbook` (the run
//! lock, file history, handlers) and `settings`; prints nothing.

pub mod backup;
pub mod backup_digest;
pub mod backup_record;
pub mod backup_retention;
pub mod backup_source;
pub mod logs;
mod probes;
pub mod restore;
pub mod restore_drill;
pub mod retire;
pub mod rollback;
pub mod rolling;
pub mod stack;
pub mod status;
pub mod uninstall;
