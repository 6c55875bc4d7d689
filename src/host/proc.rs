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
    fn reads_this_machine() {
        let root = Path::new("/");
        assert!(cpus(root).unwrap() >= 1);
        assert!(memory_bytes(root).unwrap() > 64 << 20);
    }
}
