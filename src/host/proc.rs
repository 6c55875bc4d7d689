//! What `/proc` says: CPUs, memory, PID 1, and listening TCP sockets (from
//! `/proc/net/tcp` and `tcp6`, so no `ss` or `netstat` is needed on a minimal host).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// CPUs from `/proc/cpuinfo` ("processor" lines), if readable.
pub fn cpus(root: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(root.join("proc/cpuinfo")).ok()?;
    let n = text.lines().filter(|l| l.starts_with("processor")).count();
    (n > 0).then_some(n)
}

/// `MemTotal` from `/proc/meminfo`, in bytes.
pub fn memory_bytes(root: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(root.join("proc/meminfo")).ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// The command name of PID 1 (`/proc/1/comm`).
pub fn pid1(root: &Path) -> Option<String> {
    std::fs::read_to_string(root.join("proc/1/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listener {
    pub address: IpAddr,
    pub port: u16,
}

/// Listening TCP sockets from `/proc/net/tcp` and `/proc/net/tcp6` (state 0A).
pub fn listeners(root: &Path) -> Vec<Listener> {
    let mut out = Vec::new();
    for (file, v6) in [("proc/net/tcp", false), ("proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 || f[3] != "0A" {
                continue;
            }
            let Some((addr, port)) = f[1].split_once(':') else {
                continue;
            };
            let Ok(port) = u16::from_str_radix(port, 16) else {
                continue;
            };
            let address = if v6 { parse_v6(addr) } else { parse_v4(addr) };
            if let Some(address) = address {
                let l = Listener { address, port };
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        }
    }
    out.sort_by_key(|l| (l.port, l.address));
    out
}

/// Linux's USER_HZ: the unit of process start times in /proc (100 on every architecture
/// Linux supports today).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// Now, in clock ticks since boot (the unit of /proc/PID/stat's start time).
pub fn now_ticks() -> Option<u64> {
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    Some((secs * TICKS_PER_SECOND) as u64)
}

/// When `pid` started, in ticks since boot.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// How long `pid` has been running.
pub fn age(pid: u32) -> Option<std::time::Duration> {
    let ticks = now_ticks()?.checked_sub(start_ticks(pid)?)?;
    Some(std::time::Duration::from_secs_f64(
        ticks as f64 / TICKS_PER_SECOND,
    ))
}

/// The processes holding a socket that listens on `port` (the oldest first: a master
/// before its workers). Other users' processes are visible to root only.
pub fn listener_pids(port: u16) -> Vec<u32> {
    let mut inodes = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f
                .get(1)
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if f.get(3) == Some(&"0A") && local_port == Some(port) {
                if let Some(inode) = f.get(9) {
                    inodes.push(format!("socket:[{inode}]"));
                }
            }
        }
    }
    let mut pids = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|t| inodes.iter().any(|i| t.as_os_str() == i.as_str()))
        });
        if holds {
            pids.push(pid);
        }
    }
    pids.sort_by_key(|p| (start_ticks(*p).unwrap_or(u64::MAX), *p));
    pids
}

/// (free for unprivileged users, total) bytes of the filesystem holding `path`, or of its
/// nearest existing parent.
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let existing = path.ancestors().find(|p| p.exists())?;
    let c = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let unit = st.f_frsize as u64;
    Some((st.f_bavail as u64 * unit, st.f_blocks as u64 * unit))
}

/// `/proc/net/tcp` writes the address as the host-order u32 in hex (little endian here).
fn parse_v4(hex: &str) -> Option<IpAddr> {
    let n = u32::from_str_radix(hex, 16).ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(n.to_le_bytes())))
}

/// Four host-order u32 words.
fn parse_v6(hex: &str) -> Option<IpAddr> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for w in 0..4 {
        let n = u32::from_str_radix(&hex[w * 8..w * 8 + 8], 16).ok()?;
        bytes[w * 4..w * 4 + 4].copy_from_slice(&n.to_le_bytes());
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_net_tcp() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/net")).unwrap();
        std::fs::write(
            dir.path().join("proc/net/tcp"),
            "  sl  local_address rem_address   st\n\
             0: 0100007F:1538 00000000:0000 0A 00000000:00000000\n\
             1: 00000000:0050 00000000:0000 0A 00000000:00000000\n\
             2: 0100007F:1F40 0100007F:9C40 01 00000000:00000000\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("proc/net/tcp6"),
            "  sl  local_address rem_address st\n\
             0: 00000000000000000000000001000000:18EB 00000000000000000000000000000000:0000 0A\n",
        )
        .unwrap();
        let l = listeners(dir.path());
        assert_eq!(l.len(), 3, "{l:?}");
        assert_eq!(
            l[0],
            Listener {
                address: "0.0.0.0".parse().unwrap(),
                port: 80
            }
        );
        assert_eq!(
            l[1],
            Listener {
                address: "127.0.0.1".parse().unwrap(),
                port: 5432
            }
        );
        assert_eq!(
            l[2],
            Listener {
                address: "::1".parse().unwrap(),
                port: 6379
            }
        );
    }

    #[test]
    fn finds_the_process_listening_on_a_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let pids = listener_pids(port);
        assert_eq!(pids, vec![std::process::id()]);
        assert!(age(pids[0]).is_some());
        drop(l);
        assert!(listener_pids(port).is_empty());
    }

    #[test]
    fn reads_this_machine() {
        let root = Path::new("/");
        assert!(cpus(root).unwrap() >= 1);
        assert!(memory_bytes(root).unwrap() > 64 << 20);
    }
}
