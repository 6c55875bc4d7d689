//! A real playbook run on this machine (no init system: direct supervision by a private
//! supervisord): the second run changes nothing; hand-made drift changes exactly the
//! drifted steps and fires exactly their handler; a run that fails after a template
//! changed leaves its restart to the next run; --check touches nothing; secrets stay out
//! of diffs and logs.

use crate::helpers::provision_command;
use std::path::Path;

use serde_json::Value;

use provision::host::exec::Cmd;
use provision::host::services::Supervisor;

struct Daemon(std::path::PathBuf);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Cmd::new(
            "supervisorctl",
            &["-c", &self.0.display().to_string(), "shutdown"],
        )
        .run_checked(true);
        for u in ["pbdemo", "pbother"] {
            let _ = Cmd::new("userdel", &[u]).run_checked(true);
        }
        let _ = Cmd::new("groupdel", &["pbgrp"]).run_checked(true);
    }
}

fn setup(dir: &Path) -> std::path::PathBuf {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("sup/conf.d")).unwrap();
    let conf = dir.join("sup/supervisord.conf");
    std::fs::write(
        &conf,
        format!(
            "[unix_http_server]\nfile={d}/sup/sock\n[supervisord]\nlogfile={d}/sup/supervisord.log\n\
             pidfile={d}/sup/pid\nchildlogdir={d}/sup\n[rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [supervisorctl]\nserverurl=unix://{d}/sup/sock\n[include]\nfiles = {d}/sup/conf.d/*.conf\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("app.conf.tera"),
        "greeting = {{ greeting }}\npassword = {{ password }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("program.conf.tera"),
        format!("[program:sleeper]\ncommand=sleep 1000\nautostart=true\nautorestart=true\nstartsecs=0\nstdout_logfile={d}/sup/sleeper.log\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("site.yml"),
        format!(
            r#"name: demo
vars:
  greeting: hello
  password: s3cr3t-value
  fail: "no"
secrets: [password]
steps:
  - name: install hello
    package: {{names: [hello]}}
  - name: service group
    group: {{name: pbgrp, system: true}}
  - name: service user
    user: {{name: pbdemo, system: true, home: /nonexistent}}
  - name: other user
    user: {{name: pbother, system: true}}
  - name: config dir
    file: {{path: {d}/etc, state: directory, mode: "0750", owner: "pbdemo:pbgrp"}}
  - name: app config
    template: {{src: app.conf.tera, dest: {d}/etc/app.conf, mode: "0640", owner: "pbdemo:pbgrp"}}
    notify: [restart sleeper]
  - name: program
    template: {{src: program.conf.tera, dest: {d}/sup/conf.d/sleeper.conf}}
    notify: [restart sleeper]
  - name: marker
    command: {{argv: [touch, {d}/marker], creates: {d}/marker}}
  - name: install binary
    binary: {{src: self, dest: {d}/bin/provision, mode: "0755"}}
  - name: sleeper running
    service: {{name: sleeper, state: started, enabled: true}}
  - name: fail on purpose
    command: {{argv: ["false"]}}
    when: "fail == 'yes'"
handlers:
  - name: restart sleeper
    service: {{name: sleeper, state: restarted}}
"#
        ),
    )
    .unwrap();
    conf
}

struct Play {
    code: i32,
    events: Vec<Value>,
    recap: Value,
    stdout: String,
}

impl Play {
    fn changed(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["status"] == "changed" && e["handler"] == false)
            .map(|e| e["step"].as_str().unwrap().to_string())
            .collect()
    }
}

fn play(dir: &Path, conf: &Path, extra: &[&str], json: bool) -> Play {
    let state = dir.join("state");
    let mut args = vec![];
    if json {
        args.push("--json");
    }
    let site = dir.join("site.yml");
    args.extend([
        "play",
        site.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--supervisor-config",
        conf.to_str().unwrap(),
    ]);
    args.extend_from_slice(extra);
    let out = provision_command().args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let mut events = Vec::new();
    let mut recap = Value::Null;
    if json {
        for line in stdout.lines() {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if v.get("recap").is_some() {
                recap = v["recap"].clone();
            } else {
                events.push(v);
            }
        }
    }
    Play {
        code: out.status.code().unwrap_or(-1),
        events,
        recap,
        stdout: stdout + &String::from_utf8_lossy(&out.stderr),
    }
}

fn sleeper_pid(conf: &Path) -> u32 {
    let sup = Supervisor {
        config: conf.to_path_buf(),
    };
    sup.pid("sleeper").unwrap().expect("sleeper runs")
}

#[test]
fn playbook_is_idempotent_and_remembers_its_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let conf = setup(dir.path());
    let sup = Supervisor {
        config: conf.clone(),
    };
    provision::host::packages::ensure(
        provision::host::packages::manager(provision::host::facts::PackageManager::Apt).as_ref(),
        &["supervisor"],
    )
    .unwrap();
    sup.ensure_running().unwrap();
    let _daemon = Daemon(conf.clone());
    for u in ["pbdemo", "pbother"] {
        let _ = Cmd::new("userdel", &[u]).run_checked(true);
    }
    let _ = Cmd::new("groupdel", &["pbgrp"]).run_checked(true);

    // First run: everything is created.
    let first = play(dir.path(), &conf, &[], true);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(first.recap["failed"], 0);
    assert!(first.changed().len() >= 8, "{:?}", first.changed());
    assert_eq!(
        first.recap["handlers"],
        serde_json::json!(["restart sleeper"])
    );
    let app = dir.path().join("etc/app.conf");
    assert_eq!(
        std::fs::read_to_string(&app).unwrap(),
        "greeting = hello\npassword = s3cr3t-value\n"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&app).unwrap().permissions().mode() & 0o777,
        0o640
    );

    // Second run: nothing changes, nothing restarts; the text output ends with the recap.
    let second = play(dir.path(), &conf, &[], false);
    assert_eq!(second.code, 0, "{}", second.stdout);
    let last = second
        .stdout
        .lines()
        .rfind(|l| l.starts_with("ok="))
        .unwrap();
    assert_eq!(
        last, "ok=10 changed=0 skipped=1 failed=0",
        "{}",
        second.stdout
    );
    let installed = dir.path().join("bin/provision");
    assert_eq!(
        std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_provision")).unwrap()
    );

    // Drift by hand: exactly the drifted steps change, and only their handler fires.
    std::fs::write(&app, "greeting = edited by hand\n").unwrap();
    Cmd::new("userdel", &["pbother"]).run().unwrap();
    let pid = sleeper_pid(&conf);
    let third = play(dir.path(), &conf, &[], true);
    assert_eq!(third.code, 0, "{}", third.stdout);
    assert_eq!(third.changed(), vec!["other user", "app config"]);
    assert_eq!(
        third.recap["handlers"],
        serde_json::json!(["restart sleeper"])
    );
    assert_ne!(sleeper_pid(&conf), pid, "restarted");

    // Check mode with drift: exit 1, a masked diff, nothing touched.
    std::fs::write(&app, "greeting = drift\n").unwrap();
    let check = play(dir.path(), &conf, &["--check", "--diff"], false);
    assert_eq!(check.code, 1, "{}", check.stdout);
    assert!(
        check.stdout.contains("+greeting = hello") && check.stdout.contains("-greeting = drift"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("password = ****") && !check.stdout.contains("s3cr3t-value"),
        "{}",
        check.stdout
    );
    assert_eq!(std::fs::read_to_string(&app).unwrap(), "greeting = drift\n");
    assert!(play(dir.path(), &conf, &[], false).code == 0);

    // A failure after a template changed: the restart is owed to the next run.
    let pid = sleeper_pid(&conf);
    let failed = play(
        dir.path(),
        &conf,
        &["-e", "greeting=bonjour", "-e", "fail=yes"],
        true,
    );
    assert_eq!(failed.code, 1, "{}", failed.stdout);
    assert_eq!(failed.recap["failed"], 1);
    assert_eq!(failed.changed(), vec!["app config"]);
    assert_eq!(failed.recap["handlers"], serde_json::json!([]));
    assert_eq!(sleeper_pid(&conf), pid, "not restarted by the failed run");
    assert!(dir.path().join("state/pending-handlers.json").exists());
    let next = play(dir.path(), &conf, &["-e", "greeting=bonjour"], true);
    assert_eq!(next.code, 0, "{}", next.stdout);
    assert!(next.changed().is_empty(), "{:?}", next.changed());
    assert_eq!(
        next.recap["handlers"],
        serde_json::json!(["restart sleeper"])
    );
    assert_ne!(
        sleeper_pid(&conf),
        pid,
        "the forgotten restart was performed"
    );
    assert!(!dir.path().join("state/pending-handlers.json").exists());

    // No secret in any log; --start-at and tags are honoured.
    for entry in std::fs::read_dir(dir.path().join("state/logs")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("s3cr3t-value"), "{text}");
    }
    let from = play(
        dir.path(),
        &conf,
        &["-e", "greeting=bonjour", "--start-at", "marker"],
        true,
    );
    assert_eq!(from.recap["skipped"], 8, "{}", from.stdout);
    assert_eq!(from.recap["ok"], 3, "{}", from.stdout);
    let bad = play(dir.path(), &conf, &["--start-at", "nope"], false);
    assert_eq!(bad.code, 2, "a usage error");
    assert!(bad.stdout.contains("nope"), "{}", bad.stdout);
}

/// A two-document playbook is rendered first: a loop makes one step per instance; and a
/// template whose `validate` command refuses the new file is put back as it was.
#[test]
fn templated_playbooks_loop_and_a_refused_template_is_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(dir.path().join("site.conf.tera"), "mode = {{ mode }}\n").unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        format!(
            r#"name: templated
vars:
  instances: "2"
  mode: good
---
steps:
{{% for i in range(start=1, end=instances | int + 1) %}}
  - name: instance {{{{ i }}}}
    file: {{path: "{d}/instance-{{{{ i }}}}", state: file, content: "port {{{{ 8000 + i }}}}\n"}}
{{% endfor %}}
  - name: site config
    template:
      src: site.conf.tera
      dest: {d}/site.conf
      validate: [grep, -q, "mode = good", {d}/site.conf]
"#
        ),
    )
    .unwrap();
    let conf = dir.path().join("unused-supervisord.conf");
    let first = play(dir.path(), &conf, &["-e", "instances=3"], true);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(
        first.changed(),
        ["instance 1", "instance 2", "instance 3", "site config"]
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("instance-3")).unwrap(),
        "port 8003\n"
    );
    // The validator refuses "mode = bad": the step fails and the good file stays.
    let refused = play(dir.path(), &conf, &["-e", "mode=bad"], true);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("refused the new") && refused.stdout.contains("put back"),
        "{}",
        refused.stdout
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("site.conf")).unwrap(),
        "mode = good\n"
    );
}
