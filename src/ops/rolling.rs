//! `provision restart`: the instances restarted, at once or — `--rolling` — one at a time,
//! each first taken out of nginx's rotation and drained, so users see no failed request.
//!
//! Taking an instance out is a text change to the live site: its `server` line in the
//! `upstream` block gets `down`, `nginx -t` checks it, and a graceful reload starts new
//! workers that no longer send it anything while the old ones finish what they have in
//! flight. Once every old worker is gone (or a bound passes: a WebSocket keeps its worker
//! until the instance closes it), the instance is restarted — its own SIGTERM drain ends
//! the rest — and it must answer `/ready` before the original site is put back. The site's
//! original bytes are kept in the state directory while an instance is out, so an
//! interrupted restart is undone by the next one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::stack::{Component, Stack};
use crate::host::exec::Cmd;
use crate::host::services::Action;
use crate::playbook::model::WaitForStep;
use crate::settings::Instance;

#[derive(Debug, thiserror::Error)]
pub enum RestartError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

/// The site with the upstream server `target` (`host:port`) marked `down`.
pub fn drained(site: &str, target: &str) -> Result<String, String> {
    let mut in_upstream = false;
    let mut found = false;
    let mut out = String::with_capacity(site.len() + 8);
    for line in site.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("upstream ") {
            in_upstream = true;
        } else if in_upstream && t.starts_with('}') {
            in_upstream = false;
        }
        let is_target = in_upstream
            && t.starts_with("server ")
            && t.split_whitespace().nth(1).map(|a| a.trim_end_matches(';')) == Some(target);
        if is_target {
            let Some(semi) = line.rfind(';') else {
                return Err(format!("the server line for {target} has no ';'"));
            };
            if !line[..semi].split_whitespace().any(|w| w == "down") {
                out.push_str(&line[..semi]);
                out.push_str(" down");
                out.push_str(&line[semi..]);
                found = true;
                continue;
            }
        }
        out.push_str(line);
    }
    if found {
        Ok(out)
    } else {
        Err(format!(
            "no `server {target}` line in the site's upstream block; run `provision init` to render the site again"
        ))
    }
}

const NGINX_PID: &str = "/run/nginx.pid";

/// This stack's run lock (one init, restart or removal at a time), or why not.
pub(super) fn lock(stack: &Stack) -> Result<crate::playbook::state::Lock, RestartError> {
    crate::playbook::state::Lock::acquire(&stack.state_dir)
        .map_err(|e| RestartError::Refused(e.to_string()))
}

/// What a restart did, line by line, for the command to show.
pub type Progress<'a> = &'a mut dyn FnMut(&str);

pub(super) struct Site {
    pub(super) path: PathBuf,
    pub(super) original: String,
    /// The original, kept while an instance is out of rotation.
    pub(super) saved: PathBuf,
}

impl Site {
    fn write(&self, text: &str) -> Result<(), RestartError> {
        crate::host::fs::write_keeping_mode(&self.path, text.as_bytes())
            .map_err(|e| RestartError::Failed(format!("{}: {e}", self.path.display())))
    }

    fn put_back(&self) -> Result<(), RestartError> {
        self.write(&self.original)?;
        let _ = std::fs::remove_file(&self.saved);
        Ok(())
    }
}

/// Restarts every instance: all at once, or rolling through nginx as described above.
pub fn restart(stack: &Stack, rolling: bool, progress: Progress<'_>) -> Result<(), RestartError> {
    let _lock = lock(stack)?;
    let svc = stack.services();
    let instances = stack.instances();
    if !rolling {
        return restart_all(stack, progress);
    }
    if instances.len() < 2 {
        return Err(RestartError::Refused(format!(
            "a rolling restart needs two instances or more, and {} has server.instances = {}: \
             `provision restart` restarts it with a short outage, or `provision init --instances 2` adds one",
            stack.config_path.display(),
            instances.len()
        )));
    }
    let site = load_site(stack, progress)?;
    let nginx = stack.service_of(Component::Nginx);
    for (n, i) in instances.iter().enumerate() {
        // Another instance must carry the traffic while this one is out.
        if let Some(other) = instances
            .iter()
            .find(|o| o.port != i.port && ready_now(o))
            .map(|o| o.port)
        {
            progress(&format!("{}: {} carries the traffic", i.addr(), other));
        } else {
            return Err(RestartError::Refused(format!(
                "no other instance is ready to take {}'s traffic; see `provision status`",
                i.addr()
            )));
        }
        take_out(stack, &site, &nginx, &[i.addr()], progress)?;
        let old_pid = crate::host::proc::listener_pids(i.port).first().copied();
        let name = stack.instance_service(i);
        let restarted = deliberate_restart(svc.as_ref(), &name);
        let ready = restarted
            .map_err(|e| RestartError::Failed(e.to_string()))
            .and_then(|_| wait_ready(i));
        // The original site goes back either way: a dead instance is skipped by nginx
        // (max_fails), and a site left half-drained would be worse.
        site.put_back()?;
        reload_nginx(stack, &nginx)?;
        if let Err(e) = ready {
            return Err(RestartError::Failed(format!(
                "{e}; it is back in nginx's rotation, which passes over it while it fails. \
                 `provision logs server` says why; the other instances were not restarted"
            )));
        }
        let new_pid = crate::host::proc::listener_pids(i.port).first().copied();
        progress(&format!(
            "{} restarted (pid {} → {}) and back in rotation ({}/{})",
            i.addr(),
            old_pid.map_or("?".into(), |p| p.to_string()),
            new_pid.map_or("?".into(), |p| p.to_string()),
            n + 1,
            instances.len()
        ));
    }
    Ok(())
}

/// Restarts `name` because an operator asked: its recent starts are forgotten first, so
/// the manager's crash-loop guard does not refuse a restart that follows others (the
/// fresh-host test's ten rolling restarts in a row met systemd's limit at the seventh).
fn deliberate_restart(
    svc: &dyn crate::host::services::Services,
    name: &str,
) -> Result<crate::host::exec::Output, crate::host::exec::ExecError> {
    if let Some(forget) = svc.forget_starts(name) {
        forget.run()?;
    }
    svc.action(Action::Restart, name).run()
}

/// Every instance restarted at once (a short outage), then each waited for.
fn restart_all(stack: &Stack, progress: Progress<'_>) -> Result<(), RestartError> {
    let svc = stack.services();
    for i in stack.instances() {
        let name = stack.instance_service(i);
        deliberate_restart(svc.as_ref(), &name).map_err(|e| RestartError::Failed(e.to_string()))?;
        progress(&format!("restarted {name}"));
    }
    for i in stack.instances() {
        wait_ready(i)?;
        progress(&format!("{} ready", i.addr()));
    }
    Ok(())
}

/// Takes instance `i` out of nginx's rotation: the site without it (the original saved
/// first, so an interrupted restart can put it back), checked by `nginx -t`, reloaded,
/// and waited for until the old workers finish their requests.
fn take_out(
    stack: &Stack,
    site: &Site,
    nginx: &str,
    targets: &[String],
    progress: Progress<'_>,
) -> Result<(), RestartError> {
    let mut out = site.original.clone();
    for t in targets {
        out = drained(&out, t).map_err(RestartError::Failed)?;
    }
    std::fs::write(&site.saved, &site.original)
        .map_err(|e| RestartError::Failed(format!("{}: {e}", site.saved.display())))?;
    drain(stack, site, nginx, &out, targets, progress)
}

/// Writes `out` (the site with `targets` marked down) over the live site, checks it with
/// `nginx -t` (the original put back when refused), reloads nginx and waits for its old
/// workers.
pub(super) fn drain(
    stack: &Stack,
    site: &Site,
    nginx: &str,
    out: &str,
    targets: &[String],
    progress: Progress<'_>,
) -> Result<(), RestartError> {
    site.write(out)?;
    if let Err(e) = nginx_test() {
        site.put_back()?;
        return Err(e);
    }
    let drain_started = Instant::now();
    let clean = reload_nginx(stack, nginx)?;
    progress(&format!(
        "{} out of rotation; nginx's old workers {} after {:.1} s",
        targets.join(", "),
        if clean {
            "finished"
        } else {
            "still hold long connections (WebSockets), closed by the restart"
        },
        drain_started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// On a load balancer of several hosts, for the controller's rolling restart: the
/// upstream servers `targets` (an app host's instances) out of rotation, drained. The
/// original stays saved until [`put_back`] (or the next restart) puts it back.
pub fn take_out_upstreams(
    stack: &Stack,
    targets: &[String],
    progress: Progress<'_>,
) -> Result<(), RestartError> {
    let _lock = lock(stack)?;
    let site = load_site(stack, progress)?;
    take_out(
        stack,
        &site,
        &stack.service_of(Component::Nginx),
        targets,
        progress,
    )
}

/// The site as it was before [`take_out_upstreams`], reloaded (nothing to do when no
/// restart left it changed).
pub fn put_back(stack: &Stack, progress: Progress<'_>) -> Result<(), RestartError> {
    let _lock = lock(stack)?;
    let saved = stack.state_dir.join("nginx-site-before-restart");
    if let Ok(original) = std::fs::read_to_string(&saved) {
        let site = Site {
            path: stack.nginx_site(),
            original,
            saved,
        };
        site.put_back()?;
        reload_nginx(stack, &stack.service_of(Component::Nginx))?;
        progress("every upstream back in rotation");
    }
    Ok(())
}

/// The live site, after putting back the original an interrupted restart left saved.
pub(super) fn load_site(stack: &Stack, progress: Progress<'_>) -> Result<Site, RestartError> {
    let path = stack.nginx_site();
    let saved = stack.state_dir.join("nginx-site-before-restart");
    if let Ok(original) = std::fs::read_to_string(&saved) {
        let site = Site {
            path: path.clone(),
            original,
            saved: saved.clone(),
        };
        site.put_back()?;
        reload_nginx(stack, &stack.service_of(Component::Nginx))?;
        progress(
            "an interrupted restart had left an instance out of rotation: the site was put back",
        );
    }
    let original = std::fs::read_to_string(&path).map_err(|e| {
        RestartError::Refused(format!(
            "{}: {e}; the nginx site is missing, run `provision init`",
            path.display()
        ))
    })?;
    Ok(Site {
        path,
        original,
        saved,
    })
}

fn nginx_test() -> Result<(), RestartError> {
    let out = Cmd::new("nginx", &["-t"])
        .run_checked(true)
        .map_err(|e| RestartError::Failed(e.to_string()))?;
    if out.code == Some(0) {
        return Ok(());
    }
    Err(RestartError::Failed(format!(
        "nginx -t refused the site with one instance out (exit {:?}): {}; the site was put back",
        out.code,
        crate::host::exec::tail(&out.stderr, 5)
    )))
}

/// Reloads nginx and waits (up to 30 s) for its old workers to finish; false when some
/// still run then.
fn reload_nginx(stack: &Stack, nginx: &str) -> Result<bool, RestartError> {
    let since = crate::host::proc::now_ticks();
    stack
        .services()
        .action(Action::Reload, nginx)
        .run()
        .map_err(|e| RestartError::Failed(e.to_string()))?;
    Ok(since.is_some_and(|t| {
        crate::host::reload::wait_workers_since(Path::new(NGINX_PID), t, Duration::from_secs(30))
    }))
}

fn ready_step(i: &Instance, timeout_s: u64) -> WaitForStep {
    WaitForStep {
        port: None,
        url: Some(format!("http://{}/ready", i.addr())),
        timeout_s,
    }
}

fn ready_now(i: &Instance) -> bool {
    crate::playbook::steps::wait_for::query(&ready_step(i, 0))
        .is_ok_and(|p| p == crate::playbook::steps::Plan::Matched)
}

/// Waits up to 60 s for the instance's `/ready`.
pub(super) fn wait_ready(i: &Instance) -> Result<(), RestartError> {
    crate::playbook::steps::wait_for::apply(&ready_step(i, 60))
        .map_err(|e| RestartError::Failed(format!("instance {}: {e}", i.port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "upstream live_dashboard {\n    least_conn;\n    \
        server 127.0.0.1:8001 max_fails=3 fail_timeout=5s;\n    \
        server 127.0.0.1:8002 max_fails=3 fail_timeout=5s;\n    keepalive 64;\n}\n\
        server {\n    listen 80;\n    # server 127.0.0.1:8001 in a comment elsewhere\n}\n";

    #[test]
    fn one_server_line_gets_down() {
        let out = drained(SITE, "127.0.0.1:8002").unwrap();
        assert!(out.contains("server 127.0.0.1:8002 max_fails=3 fail_timeout=5s down;"));
        assert!(out.contains("server 127.0.0.1:8001 max_fails=3 fail_timeout=5s;"));
        assert_eq!(out.len(), SITE.len() + " down".len());
        assert!(
            drained(&out, "127.0.0.1:8002").is_err(),
            "already down: nothing to mark"
        );
        let e = drained(SITE, "127.0.0.1:8009").unwrap_err();
        assert!(e.contains("127.0.0.1:8009"), "{e}");
        let bare = "upstream u {\n server 127.0.0.1:8001;\n}\n";
        assert_eq!(
            drained(bare, "127.0.0.1:8001").unwrap(),
            "upstream u {\n server 127.0.0.1:8001 down;\n}\n"
        );
        // An app host's instance on its private address, on a load balancer of several.
        let remote = "upstream u {\n    server 192.0.2.21:8001 max_fails=3;\n    server 192.0.2.22:8001 max_fails=3;\n}\n";
        assert_eq!(
            drained(remote, "192.0.2.22:8001").unwrap(),
            "upstream u {\n    server 192.0.2.21:8001 max_fails=3;\n    server 192.0.2.22:8001 max_fails=3 down;\n}\n"
        );
    }
}
