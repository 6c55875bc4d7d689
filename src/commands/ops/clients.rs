//! `provision psql` and `provision redis-cli`: the database and cache clients, connected
//! as the app with its credentials from the config file (root's, 0600). The password goes
//! in the client's environment (`PGPASSWORD`, `REDISCLI_AUTH`), never on a command line,
//! in a log or on the screen; the arguments after the command go to the client as they are.

use std::os::unix::process::CommandExt;

use super::{load_stack, CommandError, ExitStatus};
use crate::cli::{ClientArgs, GlobalArgs};
use crate::ops::stack::Stack;
use crate::settings::{Secret, ServiceUrl};

/// A client's command line and environment (the password only in the latter).
#[derive(Debug)]
pub struct Client {
    pub program: &'static str,
    pub args: Vec<String>,
    pub env: Vec<(&'static str, Secret)>,
}

/// psql on the app's database as its role.
pub fn psql_client(url: &Secret, extra: &[String]) -> Result<Client, String> {
    let u = ServiceUrl::parse(url)?;
    let mut args = vec![
        "--host".to_string(),
        u.host().unwrap_or_else(|| "127.0.0.1".into()),
        "--port".into(),
        u.port_or(5432).to_string(),
        "--username".into(),
        u.user().ok_or("database.url names no role")?,
        "--dbname".into(),
        u.database().ok_or("database.url names no database")?,
    ];
    args.extend(extra.iter().cloned());
    Ok(Client {
        program: "psql",
        args,
        env: u
            .password()
            .map(|p| ("PGPASSWORD", p))
            .into_iter()
            .collect(),
    })
}

/// redis-cli as the app's Redis user, on its database number.
pub fn redis_client(url: &Secret, extra: &[String]) -> Result<Client, String> {
    let u = ServiceUrl::parse(url)?;
    let mut args = vec![
        "-h".to_string(),
        u.host().unwrap_or_else(|| "127.0.0.1".into()),
        "-p".into(),
        u.port_or(6379).to_string(),
    ];
    if let Some(user) = u.user() {
        args.extend(["--user".to_string(), user]);
    }
    if let Some(db) = u.database() {
        args.extend(["-n".to_string(), db]);
    }
    args.extend(extra.iter().cloned());
    Ok(Client {
        program: "redis-cli",
        args,
        env: u
            .password()
            .map(|p| ("REDISCLI_AUTH", p))
            .into_iter()
            .collect(),
    })
}

pub fn psql(global: &GlobalArgs, args: ClientArgs) -> Result<ExitStatus, CommandError> {
    let stack = load_stack(global)?;
    let url = configured(&stack, stack.database_url(), "database.url")?;
    run(psql_client(url, &args.args))
}

pub fn redis_cli(global: &GlobalArgs, args: ClientArgs) -> Result<ExitStatus, CommandError> {
    let stack = load_stack(global)?;
    let url = configured(&stack, stack.redis_url(), "redis.url")?;
    run(redis_client(url, &args.args))
}

/// The URL the config holds under `key`, or exit 2 naming the file.
fn configured<'a>(
    stack: &Stack,
    url: Option<&'a Secret>,
    key: &str,
) -> Result<&'a Secret, CommandError> {
    url.ok_or_else(|| {
        super::fail(
            ExitStatus::Usage,
            format!(
                "{} has no {key}; run `provision init` first",
                stack.config_path.display()
            ),
        )
    })
}

/// Replaces this process with the client (its exit code is the command's).
fn run(client: Result<Client, String>) -> Result<ExitStatus, CommandError> {
    let client = client.map_err(|e| super::fail(ExitStatus::Usage, e))?;
    let mut cmd = std::process::Command::new(client.program);
    cmd.args(&client.args);
    for (k, v) in &client.env {
        cmd.env(k, v.expose());
    }
    let e = cmd.exec();
    Err(super::fail(
        ExitStatus::Failure,
        format!(
            "{}: {e} (is it installed? `provision init` installs it)",
            client.program
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_go_in_the_environment_only() {
        let c = psql_client(
            &Secret::new("postgresql://app:s%40cret@127.0.0.1:5433/dash"),
            &["-c".into(), "SELECT 1".into()],
        )
        .unwrap();
        assert_eq!(
            c.args.join(" "),
            "--host 127.0.0.1 --port 5433 --username app --dbname dash -c SELECT 1"
        );
        assert_eq!(c.env.len(), 1);
        assert_eq!((c.env[0].0, c.env[0].1.expose()), ("PGPASSWORD", "s@cret"));
        let r = redis_client(
            &Secret::new("redis://ld:pw1@127.0.0.1:6379/0"),
            &["ping".into()],
        )
        .unwrap();
        assert_eq!(r.args.join(" "), "-h 127.0.0.1 -p 6379 --user ld -n 0 ping");
        assert_eq!((r.env[0].0, r.env[0].1.expose()), ("REDISCLI_AUTH", "pw1"));
        for a in c.args.iter().chain(&r.args) {
            assert!(!a.contains("cret") && !a.contains("pw1"), "{a}");
        }
    }
}
