//! psql as PostgreSQL's superuser over the local socket (peer authentication as the
//! `postgres` user, through runuser when running as root), with the SQL on stdin — never
//! in argv, where a password in it would be visible to every user of the host.

use crate::host::exec::Cmd;
use crate::settings::Secret;

/// psql as the postgres superuser over the socket in `socket_dir`; `sql` goes on stdin.
pub fn admin(socket_dir: &str, port: u16, sql: String) -> Cmd {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let args = [
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        socket_dir,
        "-p",
        &port.to_string(),
        "-U",
        "postgres",
        "-d",
        "postgres",
    ];
    let c = if is_root {
        let mut c = Cmd::new("runuser", &["-u", "postgres", "--", "psql"]);
        for a in args {
            c = c.arg(a);
        }
        c
    } else {
        Cmd::new("psql", &args)
    };
    c.stdin(Secret::new(sql))
}

/// `'text'` with quotes doubled, for SQL literals.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `"name"` with quotes doubled, for SQL identifiers.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
