//! `provision uninstall`: takes away what init made — the instances and their service
//! definitions, the nginx site, the settings files, the config and `.env`, the installed
//! binary, the host firewall of a host of several, the scheduled backup's timer or cron file, the service user — and puts back the files init had replaced (PostgreSQL's
//! pg_hba.conf, redis.conf, nginx's default site) as they were before provision first
//! wrote them, from the oldest recorded versions. provision's own files are removed even
//! when something stood there before (a hand-written config). The data stays (the database and its
//! role, backups, logs) unless purging was asked for and confirmed. The packages stay:
//! PostgreSQL, Redis and nginx may serve others on this host.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::stack::{Component, Stack};
use crate::host::exec::Cmd;
use crate::host::psql::{ident, literal};
use crate::host::services::{is_active, Action, Services};
use crate::init::vars::{
    ACME_WEBROOT, AGENT_BINARY, BACKUP_DIR, BINARY, CONFIG_DIR, FIREWALL_RULES, FIREWALL_UNIT,
    LOG_DIR, PROVISION_STATE_DIR, SERVICE_HOME, SERVICE_USER,
};
use crate::playbook::history;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Uninstalled {
    pub removed: Vec<String>,
    pub restored: Vec<String>,
    pub kept: Vec<String>,
    /// Steps that failed (the rest went on); each says what to do.
    pub problems: Vec<String>,
}

/// The unit grouping the instances under systemd, and its file.
const INSTANCES_TARGET: &str = "live-dashboard.target";
const INSTANCES_TARGET_FILE: &str = "/etc/systemd/system/live-dashboard.target";

/// The files init writes, whether or not their history was kept (a deployment made before
/// histories existed): fixed paths, never ones relative to where a `--config` file lives.
fn init_files(stack: &Stack) -> Vec<PathBuf> {
    let pg = Path::new(&stack.distro.postgresql.conf_dir);
    vec![
        stack.nginx_site(),
        pg.join("conf.d/live-dashboard.conf"),
        PathBuf::from("/etc/systemd/system/live-dashboard@.service"),
        PathBuf::from(INSTANCES_TARGET_FILE),
        Path::new(&stack.distro.supervisor_conf_dir).join("live-dashboard.conf"),
        Path::new(CONFIG_DIR).join(".env"),
        PathBuf::from(crate::settings::DEFAULT_CONFIG),
        stack.config_path.clone(),
        PathBuf::from(BINARY),
        PathBuf::from(AGENT_BINARY),
        PathBuf::from(FIREWALL_RULES),
        Path::new("/etc/systemd/system").join(FIREWALL_UNIT),
        Path::new("/etc/systemd/system").join(BACKUP_SERVICE),
        Path::new("/etc/systemd/system").join(BACKUP_TIMER),
        PathBuf::from(BACKUP_CRON),
        PathBuf::from("/etc/prometheus/live-dashboard.rules.yml"),
        PathBuf::from("/etc/prometheus/redis-exporter.json"),
        PathBuf::from("/etc/prometheus/live-dashboard-blackbox.yml"),
        Path::new(crate::ops::backup_record::TEXTFILE_DIR).join(crate::ops::backup_record::METRICS),
    ]
}

/// What monitoring runs: stopped and disabled by uninstall (the packages stay; their
/// settings go back to the packages' own, which listen on every address).
const MONITORING_SERVICES: [&str; 6] = [
    "prometheus",
    "prometheus-node-exporter",
    "prometheus-postgres-exporter",
    "prometheus-redis-exporter",
    "prometheus-nginx-exporter",
    "prometheus-blackbox-exporter",
];

/// The scheduled backup's units (systemd) and its cron file (no init system).
const BACKUP_TIMER: &str = super::status::backups::TIMER;
const BACKUP_SERVICE: &str = "live-dashboard-backup.service";
const BACKUP_CRON: &str = super::status::backups::CRON_FILE;

pub fn uninstall(
    stack: &Stack,
    managed: &crate::init::managed::Managed,
    purge_data: bool,
) -> Uninstalled {
    let mut u = Uninstalled::default();
    let svc = stack.services();
    u.stop_instances(stack, svc.as_ref());
    u.backup_timer(stack, svc.as_ref());
    u.monitoring(stack, svc.as_ref());
    u.acme();
    u.firewall(stack, svc.as_ref());
    u.files(stack, managed);
    u.reload_services(stack, svc.as_ref());
    if purge_data {
        u.purge_data(stack);
    } else {
        u.keep_data(stack);
    }
    u.service_user();
    u.kept
        .push("the packages (PostgreSQL, Redis, nginx): they may serve others here".into());
    u
}

impl Uninstalled {
    /// Runs `cmd`; what it took away, or the problem.
    fn run(&mut self, what: String, cmd: Cmd) {
        match cmd.run() {
            Ok(_) => self.removed.push(what),
            Err(e) => self.problems.push(format!("{what}: {e}")),
        }
    }

    /// The instances, stopped first so nothing writes while the rest goes.
    fn stop_instances(&mut self, stack: &Stack, svc: &dyn Services) {
        // The target first: nothing pulls the instances back up.
        if stack.is_systemd() && Path::new(INSTANCES_TARGET_FILE).exists() {
            let _ = svc.action(Action::Stop, INSTANCES_TARGET).run();
            let _ = svc.action(Action::Disable, INSTANCES_TARGET).run();
        }
        for i in stack.instances() {
            let name = stack.instance_service(i);
            if is_active(svc, &name).unwrap_or(false) {
                self.run(
                    format!("instance {name} (stopped)"),
                    svc.action(Action::Stop, &name),
                );
            }
            if stack.is_systemd() {
                let _ = svc.action(Action::Disable, &name).run();
            }
        }
    }

    /// The scheduled backup's timer stopped and disabled (before its files go); the cron
    /// file needs no more than its removal.
    fn backup_timer(&mut self, stack: &Stack, svc: &dyn Services) {
        if stack.is_systemd() && Path::new("/etc/systemd/system").join(BACKUP_TIMER).exists() {
            let _ = svc.action(Action::Stop, BACKUP_TIMER).run();
            let _ = svc.action(Action::Disable, BACKUP_TIMER).run();
        }
    }

    /// Prometheus and its exporters, where init set them up: stopped and disabled, so
    /// nothing listens with the packages' defaults once provision's settings go.
    fn monitoring(&mut self, stack: &Stack, svc: &dyn Services) {
        if !stack.monitoring.enabled {
            return;
        }
        for name in MONITORING_SERVICES {
            if is_active(svc, name).unwrap_or(false) {
                self.run(format!("{name} (stopped)"), svc.action(Action::Stop, name));
            }
            if stack.is_systemd() {
                let _ = svc.action(Action::Disable, name).run();
            }
        }
        self.kept.push(format!(
            "the monitoring packages (stopped and disabled) and the PostgreSQL role {} (DROP ROLE it when no longer needed)",
            crate::init::vars::MONITOR_PG_ROLE
        ));
    }

    /// `--tls acme`: the certificates whose renewal runs init's deploy hook are deleted
    /// from certbot (so its timer stops renewing them), the challenges' webroot and the
    /// trusted ACME CA go. certbot's account stays.
    fn acme(&mut self) {
        let hook = Path::new(CONFIG_DIR).join("tls/acme-deploy");
        let ours = format!("renew_hook = {}", hook.display());
        for conf in std::fs::read_dir("/etc/letsencrypt/renewal")
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = conf.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".conf"))
                .map(str::to_string)
            else {
                continue;
            };
            if std::fs::read_to_string(&path).is_ok_and(|t| t.lines().any(|l| l.trim() == ours)) {
                self.run(
                    format!("certbot's certificate {name} (deleted: no more renewals)"),
                    Cmd::new(
                        "certbot",
                        &["delete", "--non-interactive", "--cert-name", &name],
                    ),
                );
            }
        }
        if Path::new(ACME_WEBROOT).is_dir() {
            match std::fs::remove_dir_all(ACME_WEBROOT) {
                Ok(()) => self.removed.push(ACME_WEBROOT.to_string()),
                Err(e) => self.problems.push(format!("{ACME_WEBROOT}: {e}")),
            }
        }
        let ca = Path::new("/usr/local/share/ca-certificates/live-dashboard-acme.crt");
        if ca.exists() {
            match std::fs::remove_file(ca) {
                Ok(()) => self.run(
                    format!("{} (the ACME server's CA, no longer trusted)", ca.display()),
                    Cmd::new("update-ca-certificates", &["--fresh"]),
                ),
                Err(e) => self.problems.push(format!("{}: {e}", ca.display())),
            }
        }
    }

    /// The host firewall of a host of several: its unit stopped and disabled, its table
    /// taken out of the kernel (before the files go).
    fn firewall(&mut self, stack: &Stack, svc: &dyn Services) {
        if stack.is_systemd()
            && Path::new("/etc/systemd/system")
                .join(FIREWALL_UNIT)
                .exists()
        {
            let _ = svc.action(Action::Stop, FIREWALL_UNIT).run();
            let _ = svc.action(Action::Disable, FIREWALL_UNIT).run();
        }
        let table = ["list", "table", "inet", "live_dashboard"];
        if Cmd::new("nft", &table)
            .run_checked(true)
            .is_ok_and(|o| o.code == Some(0))
        {
            self.run(
                "firewall table inet live_dashboard".into(),
                Cmd::new("nft", &["delete", "table", "inet", "live_dashboard"]),
            );
        }
    }

    /// Files: provision's own are removed; those init replaced get the oldest recorded
    /// version back (the host before provision); only files init manages are touched.
    fn files(&mut self, stack: &Stack, managed: &crate::init::managed::Managed) {
        let mut oldest: BTreeMap<PathBuf, (PathBuf, history::Entry)> = BTreeMap::new();
        for (dir, m) in history::list(&stack.state_dir) {
            for e in m.files {
                oldest.entry(e.path.clone()).or_insert((dir.clone(), e));
            }
        }
        // provision's own files go whatever was there before (a hand-written config, an
        // older binary); the history puts back only what init had replaced of others'.
        let own = init_files(stack);
        oldest.retain(|p, _| !own.contains(p));
        // Whatever a manifest says, only files init manages are touched.
        oldest.retain(|p, _| {
            let ours = managed.has_path(p);
            if !ours {
                self.problems.push(format!(
                    "{}: named by a history manifest but not a file init manages; left alone",
                    p.display()
                ));
            }
            ours
        });
        for f in own {
            if f.exists() {
                match std::fs::remove_file(&f) {
                    Ok(()) => self.removed.push(f.display().to_string()),
                    Err(e) => self.problems.push(format!("{}: {e}", f.display())),
                }
            }
        }
        for (path, (dir, e)) in &oldest {
            let existed = path.exists();
            match history::put_back(dir, e) {
                Ok(()) if e.previous.is_some() || e.link.is_some() => self
                    .restored
                    .push(format!("{} (as before provision)", path.display())),
                Ok(()) if existed => self.removed.push(path.display().to_string()),
                Ok(()) => {}
                Err(x) => self.problems.push(x.to_string()),
            }
        }
        let tls = Path::new(CONFIG_DIR).join("tls");
        if tls.is_dir() && std::fs::remove_dir_all(&tls).is_ok() {
            self.removed.push(tls.display().to_string());
        }
    }

    /// The services re-read what changed.
    fn reload_services(&mut self, stack: &Stack, svc: &dyn Services) {
        if let Some(reload) = svc.reload_definitions() {
            let _ = reload.run();
        }
        for (c, action) in [
            (Component::Postgres, Action::Restart),
            (Component::Redis, Action::Restart),
            (Component::Nginx, Action::Reload),
        ] {
            let name = stack.service_of(c);
            if is_active(svc, &name).unwrap_or(false) {
                if let Err(e) = svc.action(action, &name).run() {
                    self.problems
                        .push(format!("{name} did not take its restored settings: {e}"));
                }
            }
        }
    }

    /// The database and its role (and the copies restores kept), backups, state and logs.
    fn purge_data(&mut self, stack: &Stack) {
        let db = stack.database_name();
        let role = stack.database_role();
        let port = stack.postgres_port();
        let mut sql = String::new();
        if let Some(db) = &db {
            // The database, and the ones restores kept (psql runs each DROP it selects).
            sql.push_str(&format!(
            "SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database \
             WHERE datname = {db} OR starts_with(datname, {kept}) OR starts_with(datname, {staged}) \
             OR starts_with(datname, {drill}) \\gexec\n",
            db = literal(db),
            kept = literal(&format!("{db}_before_restore_")),
            staged = literal(&format!("{db}_restore_")),
            drill = literal(&format!("{db}_drill_")),
        ));
        }
        if let Some(r) = &role {
            sql.push_str(&format!("DROP ROLE IF EXISTS {};\n", ident(r)));
        }
        if !sql.is_empty() {
            let cmd = crate::host::psql::admin(&stack.distro.postgresql.socket_dir, port, sql);
            self.run(
                format!(
                    "database {} and role {}",
                    db.as_deref().unwrap_or("?"),
                    role.as_deref().unwrap_or("?")
                ),
                cmd,
            );
        }
        for d in [SERVICE_HOME, PROVISION_STATE_DIR, BACKUP_DIR, LOG_DIR].map(PathBuf::from) {
            if d.exists() {
                match std::fs::remove_dir_all(&d) {
                    Ok(()) => self.removed.push(d.display().to_string()),
                    Err(e) => self.problems.push(format!("{}: {e}", d.display())),
                }
            }
        }
    }

    /// What stays without --purge-data, said.
    fn keep_data(&mut self, stack: &Stack) {
        let db = stack.database_name();
        let role = stack.database_role();
        if let Some(db) = &db {
            self.kept.push(format!(
                "the database {db} and role {} (uninstall --purge-data drops them)",
                role.as_deref().unwrap_or("?")
            ));
        }
        self.kept.push(format!(
        "{BACKUP_DIR} (backups), {PROVISION_STATE_DIR} (provision's history, demo data) and {LOG_DIR}"
    ));
    }

    /// The service user and group, once nothing of them runs; the empty directories.
    fn service_user(&mut self) {
        if Cmd::new("getent", &["passwd", SERVICE_USER])
            .run_checked(true)
            .is_ok_and(|o| o.code == Some(0))
        {
            self.run(
                format!("user {SERVICE_USER}"),
                Cmd::new("userdel", &[SERVICE_USER]),
            );
        }
        if Cmd::new("getent", &["group", SERVICE_USER])
            .run_checked(true)
            .is_ok_and(|o| o.code == Some(0))
        {
            let _ = Cmd::new("groupdel", &[SERVICE_USER]).run();
        }
        // Both go only when empty (the home always is: the server writes no files).
        for dir in [CONFIG_DIR, SERVICE_HOME] {
            if std::fs::remove_dir(dir).is_ok() {
                self.removed.push(dir.to_string());
            }
        }
    }
}
