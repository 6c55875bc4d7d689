//! What `/proc` says: CPUs, memory, PID 1, listening TCP sockets (from `/proc/net/tcp` and
//! `tcp6`, so no `ss` or `netstat` is needed on a minimal host), process ages and disk
//! space. procfs-core parses the files, read under a root path so fixture trees stand in
//! for other hosts; fs4 (rustix) asks statvfs.

use std::net::IpAddr;
use std::path::Path;

use procfs_core::net::{TcpNetEntries, TcpNetEntry, TcpState};
use procfs_core::process::Stat;
use procfs_core::{CpuInfo, ExplicitSystemInfo, FromRead, FromReadSI};

/// CPUs from `/proc/cpuinfo` (its "processor" entries), if readable.
pub fn cpus(root: &Path) -> Option<usize> {
    let n = CpuInfo::from_file(root.join("proc/cpuinfo"))
        .ok()?
        .num_cores();
    (n > 0).then_some(n)
}

/// `MemTotal` from `/proc/meminfo`, in bytes. Read by hand: procfs-core's `Meminfo` wants
/// every field of a full kernel's file and refuses partial ones (lxcfs views, old kernels),
/// and this needs one line.
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

/// Listening TCP sockets from `/proc/net/tcp` and `/proc/net/tcp6`.
pub fn listeners(root: &Path) -> Vec<Listener> {
    let mut out = Vec::new();
    for e in tcp_table(root) {
        if e.state != TcpState::Listen {
            continue;
        }
        let l = Listener {
            address: e.local_address.ip(),
            port: e.local_address.port(),
        };
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out.sort_by_key(|l| (l.port, l.address));
    out
}

/// Every entry of `/proc/net/tcp` and `tcp6` under `root` (procfs-core parses them; the
/// addresses are in this host's byte order). An unreadable or unparsable file adds none.
fn tcp_table(root: &Path) -> Vec<TcpNetEntry> {
    let host = ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: TICKS_PER_SECOND as u64,
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    };
    ["proc/net/tcp", "proc/net/tcp6"]
        .iter()
        .filter_map(|f| TcpNetEntries::from_file(root.join(f), &host).ok())
        .flat_map(|t| t.0)
        .collect()
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
    Stat::from_file(format!("/proc/{pid}/stat"))
        .ok()
        .map(|s| s.starttime)
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
    let inodes: Vec<String> = tcp_table(Path::new("/"))
        .into_iter()
        .filter(|e| e.state == TcpState::Listen && e.local_address.port() == port)
        .map(|e| format!("socket:[{}]", e.inode))
        .collect();
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
    let existing = path.ancestors().find(|p| p.exists())?;
    let st = fs4::statvfs(existing).ok()?;
    Some((st.available_space(), st.total_space()))
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
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 21422 1 0000000000000000 100 0 0 10 0\n\
             1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 24311 1 0000000000000000 100 0 0 10 0\n\
             2: 0100007F:1F40 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 100 0 0 10 0\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("proc/net/tcp6"),
            "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: 00000000000000000000000001000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 20113 1 0000000000000000 100 0 0 10 0\n",
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
