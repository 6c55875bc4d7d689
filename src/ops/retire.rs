//! An app host leaving a deployment of several hosts: on each load balancer its
//! instances are marked `down` for good (the site's next render leaves them out; nothing
//! is saved to put back) and drained — nginx's old workers finish what they have in
//! flight — and then, on the app host itself, its instances are stopped and kept from
//! starting at boot. Both are no-ops when already done, so an interrupted removal is
//! finished by the next `init`.

use super::rolling::{self, Progress, RestartError};
use super::stack::{Component, Stack};
use crate::host::services::Action;

/// On a load balancer: `targets` (`host:port`, a leaving app host's instances) out of
/// rotation for good, drained. The ones already out (or not in the site) are skipped.
pub fn retire_upstreams(
    stack: &Stack,
    targets: &[String],
    progress: Progress<'_>,
) -> Result<(), RestartError> {
    let _lock = rolling::lock(stack)?;
    let site = rolling::load_site(stack, progress)?;
    let mut out = site.original.clone();
    let mut taken = Vec::new();
    for t in targets {
        // An error means no `server t` line that is not already down: nothing to do.
        if let Ok(next) = rolling::drained(&out, t) {
            out = next;
            taken.push(t.clone());
        }
    }
    if taken.is_empty() {
        progress(&format!("{} already out of rotation", targets.join(", ")));
        return Ok(());
    }
    let nginx = stack.service_of(Component::Nginx);
    rolling::drain(stack, &site, &nginx, &out, &taken, progress)
}

/// On a leaving app host: every instance stopped and disabled (not started at boot).
pub fn retire_instances(stack: &Stack, progress: Progress<'_>) -> Result<(), RestartError> {
    let _lock = rolling::lock(stack)?;
    let svc = stack.services();
    for i in stack.instances() {
        let name = stack.instance_service(i);
        for action in [Action::Stop, Action::Disable] {
            svc.action(action, &name)
                .run()
                .map_err(|e| RestartError::Failed(e.to_string()))?;
        }
        progress(&format!("{name} stopped and disabled"));
    }
    Ok(())
}
