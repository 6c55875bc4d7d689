//! Where each part of the stack logs and how to read it: journald for the instances under
//! systemd; files otherwise (PostgreSQL, Redis and nginx write their own files on Debian
//! under either manager, and supervisord keeps the instances' output in files). Lines of
//! files are dated by the formats these programs write, so `--since` and "the last
//! errors" work on files as on the journal; a line without a date (a continuation)
//! belongs to the one before it.

use std::io::{BufRead, Seek};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};

use super::stack::{Component, Stack};

/// Where one component's log lines are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// journald units (patterns allowed, as `journalctl -u` takes them).
    Journal(Vec<String>),
    Files(Vec<PathBuf>),
}

pub fn source(stack: &Stack, c: Component) -> Source {
    match c {
        Component::Postgres => Source::Files(vec![PathBuf::from(format!(
            "/var/log/postgresql/postgresql-{}-main.log",
            stack.distro.postgresql.version
        ))]),
        Component::Redis => Source::Files(vec![PathBuf::from("/var/log/redis/redis-server.log")]),
        Component::Nginx => Source::Files(vec![
            PathBuf::from("/var/log/nginx/error.log"),
            PathBuf::from("/var/log/nginx/live_dashboard_access.log"),
        ]),
        Component::Server if stack.is_systemd() => {
            Source::Journal(vec!["live-dashboard@*.service".into()])
        }
        Component::Server => Source::Files(
            stack
                .instances()
                .iter()
                .flat_map(|i| stack.instance_logs(i))
                .collect(),
        ),
    }
}

/// The time at the start of a log line, in the formats PostgreSQL, Redis, nginx (error and
/// access logs) and the server's tracing output write.
pub fn line_time(line: &str) -> Option<DateTime<Utc>> {
    let local = |n: NaiveDateTime| Local.from_local_datetime(&n).earliest().map(|t| t.to_utc());
    // The server (tracing): 2026-11-29T23:04:01.123456Z
    if let Some(first) = line.split_whitespace().next() {
        if let Ok(t) = DateTime::parse_from_rfc3339(first) {
            return Some(t.to_utc());
        }
    }
    // JSON lines: {"timestamp":"2026-11-29T23:04:01.123Z",…}
    if let Some(rest) = line.split("\"timestamp\":\"").nth(1) {
        if let Some(t) = rest
            .split('"')
            .next()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            return Some(t.to_utc());
        }
    }
    // PostgreSQL: 2026-11-29 23:04:01.123 UTC [123] LOG: …
    if line.len() >= 19 {
        if let Ok(n) = NaiveDateTime::parse_from_str(&line[..19], "%Y-%m-%d %H:%M:%S") {
            let zone = line[19..]
                .trim_start_matches(|c: char| c == '.' || c.is_ascii_digit())
                .split_whitespace()
                .next()
                .unwrap_or("");
            return if matches!(zone, "UTC" | "GMT") {
                Some(Utc.from_utc_datetime(&n))
            } else {
                local(n)
            };
        }
        // nginx's error log: 2026/11/29 23:04:01 [error] …
        if let Ok(n) = NaiveDateTime::parse_from_str(&line[..19], "%Y/%m/%d %H:%M:%S") {
            return local(n);
        }
    }
    // nginx's access log: … [29/Nov/2026:23:04:01 +0000] "GET …
    if let Some(rest) = line.split_once(" [").map(|(_, r)| r) {
        if let Some(stamp) = rest.split(']').next() {
            if let Ok(t) = DateTime::parse_from_str(stamp, "%d/%b/%Y:%H:%M:%S %z") {
                return Some(t.to_utc());
            }
        }
    }
    // Redis: 1234:M 29 Nov 2026 23:04:01.123 * Ready to accept connections
    if let Some((pid_role, rest)) = line.split_once(' ') {
        if pid_role.contains(':') && rest.len() >= 20 {
            if let Ok(n) = NaiveDateTime::parse_from_str(&rest[..20], "%d %b %Y %H:%M:%S") {
                return local(n);
            }
        }
    }
    None
}

/// nginx logs each request its rate limits or access rules refuse (`/metrics` from a
/// public address) as an error: the site doing its job, counted apart from real errors.
pub fn is_refusal(line: &str) -> bool {
    line.contains("limiting requests, excess") || line.contains("access forbidden by rule")
}

/// Whether a line reports an error or a warning, in any of those programs' words.
pub fn is_error(line: &str) -> bool {
    const MARKS: [&str; 12] = [
        "ERROR:",
        "FATAL:",
        "PANIC:",
        "[error]",
        "[crit]",
        "[alert]",
        "[emerg]",
        " ERROR ",
        " WARN ",
        "\"level\":\"ERROR\"",
        "\"level\":\"WARN\"",
        // Redis logs notices like "Server initialized" at its warning level too.
        " # WARNING",
    ];
    MARKS.iter().any(|m| line.contains(m))
}

/// One dated line of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub file: PathBuf,
    pub time: Option<DateTime<Utc>>,
    pub text: String,
}

/// The lines of `file` at or after `since` (all with None); undated lines take the date
/// of the line before. A missing file has no lines.
pub fn read_file(file: &Path, since: Option<DateTime<Utc>>) -> std::io::Result<Vec<Line>> {
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    let mut last: Option<DateTime<Utc>> = None;
    for line in std::io::BufReader::new(f).split(b'\n') {
        let text = String::from_utf8_lossy(&line?).into_owned();
        let time = line_time(&text).or(last);
        last = time;
        if since.map_or(true, |s| time.is_some_and(|t| t >= s)) {
            out.push(Line {
                file: file.to_path_buf(),
                time,
                text,
            });
        }
    }
    Ok(out)
}

/// The lines of several files at or after `since`, merged in time order (stable: a file's
/// own order is kept among equal times).
pub fn read_files(files: &[PathBuf], since: Option<DateTime<Utc>>) -> std::io::Result<Vec<Line>> {
    let mut all = Vec::new();
    for f in files {
        all.extend(read_file(f, since)?);
    }
    all.sort_by_key(|l| l.time);
    Ok(all)
}

/// The last `n` error or warning lines of a component at or after `since`.
pub fn recent_errors(stack: &Stack, c: Component, since: DateTime<Utc>, n: usize) -> Vec<String> {
    let lines: Vec<String> = match source(stack, c) {
        Source::Files(files) => read_files(&files, Some(since))
            .unwrap_or_default()
            .into_iter()
            .filter(|l| is_error(&l.text))
            .map(|l| l.text)
            .collect(),
        Source::Journal(units) => {
            let since = since.format("%Y-%m-%d %H:%M:%S UTC").to_string();
            let mut args = vec![
                "--no-pager",
                "-q",
                "-o",
                "short-iso",
                "-p",
                "warning",
                "--since",
            ];
            args.push(&since);
            let mut cmd = crate::host::exec::Cmd::new("journalctl", &args);
            for u in &units {
                cmd = cmd.arg("-u").arg(u.as_str());
            }
            cmd.run_checked(true)
                .map(|o| o.stdout.lines().map(str::to_string).collect())
                .unwrap_or_default()
        }
    };
    let skip = lines.len().saturating_sub(n);
    lines.into_iter().skip(skip).collect()
}

/// Follows files like `tail -F`: calls `out` with each new line, from each file's end when
/// following starts (a truncated or replaced file is read again from its start). Returns
/// when `out` returns false.
pub fn follow(files: &[PathBuf], out: &mut dyn FnMut(&Path, &str) -> bool) -> std::io::Result<()> {
    struct Tail {
        path: PathBuf,
        pos: u64,
        inode: u64,
        partial: String,
    }
    use std::os::unix::fs::MetadataExt;
    let mut tails: Vec<Tail> = files
        .iter()
        .map(|p| {
            let meta = std::fs::metadata(p).ok();
            Tail {
                path: p.clone(),
                pos: meta.as_ref().map_or(0, |m| m.len()),
                inode: meta.as_ref().map_or(0, |m| m.ino()),
                partial: String::new(),
            }
        })
        .collect();
    loop {
        for t in &mut tails {
            let Ok(meta) = std::fs::metadata(&t.path) else {
                continue;
            };
            if meta.ino() != t.inode || meta.len() < t.pos {
                t.inode = meta.ino();
                t.pos = 0;
            }
            if meta.len() == t.pos {
                continue;
            }
            let mut f = std::fs::File::open(&t.path)?;
            f.seek(std::io::SeekFrom::Start(t.pos))?;
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut buf)?;
            t.pos += buf.len() as u64;
            t.partial.push_str(&String::from_utf8_lossy(&buf));
            while let Some(i) = t.partial.find('\n') {
                let line: String = t.partial.drain(..=i).collect();
                if !out(&t.path, line.trim_end_matches('\n')) {
                    return Ok(());
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_programs_dates_are_read() {
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let cases = [
            (
                "2026-11-29T23:04:01.123456Z  INFO provision::server: listening",
                Some(utc("2026-11-29T23:04:01.123456Z")),
            ),
            (
                "{\"timestamp\":\"2026-11-29T23:04:01.5Z\",\"level\":\"ERROR\"}",
                Some(utc("2026-11-29T23:04:01.5Z")),
            ),
            (
                "2026-11-29 23:04:01.123 UTC [77] LOG:  database system is ready",
                Some(utc("2026-11-29T23:04:01Z")),
            ),
            (
                "127.0.0.1 - - [29/Nov/2026:23:04:01 +0100] \"GET /health HTTP/1.1\" 200 40",
                Some(utc("2026-11-29T22:04:01Z")),
            ),
            ("\tcontinued detail", None),
        ];
        for (line, want) in cases {
            assert_eq!(line_time(line), want, "{line}");
        }
        // Local-time formats (nginx's error log, Redis) parse to some time.
        assert!(line_time("2026/11/29 23:04:01 [error] 12#12: *1 connect() failed").is_some());
        assert!(line_time("1234:M 29 Nov 2026 23:04:01.123 * Ready to accept").is_some());
    }

    #[test]
    fn since_keeps_later_lines_and_their_continuations() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pg.log");
        std::fs::write(
            &f,
            "2026-11-29 10:00:00.000 UTC [1] LOG:  old\n\
             2026-11-29 12:00:00.000 UTC [1] ERROR:  relation \"x\" does not exist\n\
             \tSTATEMENT:  select * from x\n",
        )
        .unwrap();
        let since = DateTime::parse_from_rfc3339("2026-11-29T11:00:00Z")
            .unwrap()
            .to_utc();
        let lines = read_file(&f, Some(since)).unwrap();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].text.contains("STATEMENT"));
        assert!(is_error(&lines[0].text));
        assert!(!is_error("2026-11-29 10:00:00.000 UTC [1] LOG:  old"));
        assert!(read_file(&dir.path().join("none"), None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn follow_reads_what_is_appended() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.log");
        std::fs::write(&f, "before\n").unwrap();
        let writer = {
            let f = f.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(300));
                let mut h = std::fs::OpenOptions::new().append(true).open(&f).unwrap();
                std::io::Write::write_all(&mut h, b"after 1\nafter 2\n").unwrap();
            })
        };
        let mut seen = Vec::new();
        follow(std::slice::from_ref(&f), &mut |_, l| {
            seen.push(l.to_string());
            seen.len() < 2
        })
        .unwrap();
        writer.join().unwrap();
        assert_eq!(seen, ["after 1", "after 2"]);
    }
}
