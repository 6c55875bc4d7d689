//! Integration tests of the host layer on this machine: direct supervision by a real
//! supervisord (Debian's package, installed by the test if missing).

#[path = "../support/certificate.rs"]
mod certificate;
#[path = "../support/helpers.rs"]
mod helpers;
mod nginx_limits;
mod play;
mod postgres_steps;
mod remote;
mod rendered_configs;
#[path = "../support/sshd.rs"]
mod sshd;
mod supervised;
#[path = "../support/supervisord.rs"]
mod supervisord;
