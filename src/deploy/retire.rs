//! App hosts that left the inventory, drained before the deployment goes on: each one's
//! instances marked down for good on every load balancer that sent it requests (nginx's
//! old workers finish what they have in flight), then stopped and disabled on the host
//! itself. A leaving host that cannot be reached is out of rotation all the same; it is
//! named, and its instances are left to whoever can reach it.

use std::path::Path;

use super::job::Line;
use super::run::REMOTE_BINARY;
use crate::inventory::Host;
use crate::remote::{self, RemoteError, Transport};
use crate::settings::Secret;

/// Drains `leaving` from `balancers` and stops their instances, with this `binary` (copied
/// first: the hosts' own may predate what it asks); `check` only says what it would do.
/// An error (a load balancer that could not take one out) stops the run.
pub fn retire(
    transport: &Transport,
    binary: &Path,
    leaving: &[Host],
    balancers: &[&Host],
    base_port: u16,
    check: bool,
    on: &(dyn Fn(&str, &Line) + Sync),
) -> Result<(), RemoteError> {
    for host in leaving {
        let targets = host.upstreams(base_port).join(",");
        if check {
            on(
                &host.name,
                &Line::Text(format!(
                    "left the inventory: would be drained ({targets}) and its instances stopped"
                )),
            );
            continue;
        }
        for lb in balancers {
            remote::push(transport, lb, binary, REMOTE_BINARY)?;
            let argv = [
                REMOTE_BINARY,
                "restart",
                "--take-out",
                &targets,
                "--for-good",
            ];
            transport.stream(lb, &argv, Secret::new(""), &mut |l| {
                on(&lb.name, &Line::Text(l.to_string()))
            })?;
        }
        let stopped = remote::push(transport, host, binary, REMOTE_BINARY).and_then(|_| {
            let argv = [REMOTE_BINARY, "restart", "--retire"];
            transport.stream(host, &argv, Secret::new(""), &mut |l| {
                on(&host.name, &Line::Text(l.to_string()))
            })
        });
        transport.close(host);
        let said = match stopped {
            Ok(_) => "left the inventory: drained, its instances stopped and disabled".into(),
            Err(e) => format!(
                "left the inventory: drained, but its instances could not be stopped ({}); \
                 they receive nothing, stop them there",
                crate::causes::line(&e)
            ),
        };
        on(&host.name, &Line::Text(said));
    }
    Ok(())
}
