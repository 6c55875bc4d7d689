//! Failed logins, counted per username and per client address (an IPv6 client by its
//! /64, which one host usually holds whole), so that neither guessing one user's password
//! nor trying many users from one address goes far — also for a client that reaches an
//! instance directly, past nginx's rate limit. The counts live in Redis, shared by every
//! instance, with a window that starts at the first failure; each instance also counts in
//! memory, which is what holds while Redis is down. Past a limit, attempts are refused
//! with 429 before any password is hashed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use super::sha256_hex;
use crate::server::cache::Cache;
use crate::settings::Limits;

/// The in-memory counts stop growing here (expired ones are pruned first).
const MEMORY_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Throttle {
    memory: Mutex<HashMap<String, (u64, Instant)>>,
}

/// The counters one login attempt is held against.
pub struct Keys {
    user: String,
    address: String,
}

impl Keys {
    pub fn new(username: &str, client: IpAddr) -> Keys {
        let address = match client {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        };
        Keys {
            user: format!("login:user:{}", sha256_hex(username)),
            address: format!("login:addr:{address}"),
        }
    }

    /// The address part, as counted (an IPv6 client's /64).
    pub fn address(&self) -> &str {
        self.address.trim_start_matches("login:addr:")
    }
}

/// The client's address: nginx's `X-Real-IP` when the connection comes from loopback
/// (nginx on this host) or from one of `proxies` (the load balancers of several hosts),
/// else the connection's own peer.
pub fn client_address(peer: Option<SocketAddr>, headers: &HeaderMap, proxies: &[IpAddr]) -> IpAddr {
    let peer_ip = peer.map(|p| p.ip());
    let from_nginx = peer_ip.map_or(true, |ip| ip.is_loopback() || proxies.contains(&ip));
    let forwarded = headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    match (from_nginx, forwarded, peer_ip) {
        (true, Some(ip), _) => ip,
        (_, _, Some(ip)) => ip,
        _ => IpAddr::from([127, 0, 0, 1]),
    }
}

impl Throttle {
    fn limits(keys: &Keys, limits: &Limits) -> [(String, u64); 2] {
        [
            (keys.user.clone(), limits.login_failures_per_user),
            (keys.address.clone(), limits.login_failures_per_address),
        ]
    }

    fn memory_count(&self, key: &str, window: Duration) -> u64 {
        let m = self.memory.lock().expect("throttle lock");
        m.get(key)
            .filter(|(_, since)| since.elapsed() < window)
            .map_or(0, |(n, _)| *n)
    }

    /// Whether attempts against `keys` are refused now: which limit, when so.
    pub async fn refused(
        &self,
        cache: &Arc<Cache>,
        keys: &Keys,
        limits: &Limits,
    ) -> Option<&'static str> {
        for (i, (key, limit)) in Self::limits(keys, limits).into_iter().enumerate() {
            let shared = cache.counted(&cache.counter_key(&key)).await.unwrap_or(0);
            let local = self.memory_count(&key, limits.login_window);
            if shared.max(local) >= limit {
                return Some(if i == 0 { "username" } else { "address" });
            }
        }
        None
    }

    /// Counts a failed attempt against both keys.
    pub async fn failed(&self, cache: &Arc<Cache>, keys: &Keys, limits: &Limits) {
        for (key, _) in Self::limits(keys, limits) {
            cache
                .count(&cache.counter_key(&key), limits.login_window)
                .await;
            let mut m = self.memory.lock().expect("throttle lock");
            if m.len() >= MEMORY_KEYS {
                m.retain(|_, (_, since)| since.elapsed() < limits.login_window);
            }
            if m.len() < MEMORY_KEYS || m.contains_key(&key) {
                let e = m.entry(key).or_insert((0, Instant::now()));
                if e.1.elapsed() >= limits.login_window {
                    *e = (0, Instant::now());
                }
                e.0 += 1;
            }
        }
    }

    /// A successful login clears its username's failures (not its address's).
    pub async fn succeeded(&self, cache: &Arc<Cache>, keys: &Keys) {
        cache.forget(&cache.counter_key(&keys.user)).await;
        self.memory
            .lock()
            .expect("throttle lock")
            .remove(&keys.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64_and_nginx_is_believed_only_on_loopback_or_as_a_proxy() {
        let a = Keys::new("u", "2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Keys::new("u", "2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a.address(), "2001:db8:1:2::/64");
        assert_eq!(a.address(), b.address());
        let mapped = Keys::new("u", "::ffff:192.0.2.7".parse().unwrap());
        assert_eq!(mapped.address(), "192.0.2.7");
        let mut h = HeaderMap::new();
        h.insert("x-real-ip", "192.0.2.9".parse().unwrap());
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let far: SocketAddr = "192.0.2.50:5000".parse().unwrap();
        assert_eq!(client_address(Some(lo), &h, &[]).to_string(), "192.0.2.9");
        assert_eq!(
            client_address(Some(far), &h, &[]).to_string(),
            "192.0.2.50",
            "a direct client cannot pick its address"
        );
        assert_eq!(
            client_address(Some(lo), &HeaderMap::new(), &[]).to_string(),
            "127.0.0.1"
        );
        // A load balancer on another host (several hosts) is believed when named.
        let lb: IpAddr = "192.0.2.50".parse().unwrap();
        assert_eq!(
            client_address(Some(far), &h, &[lb]).to_string(),
            "192.0.2.9"
        );
        let other: SocketAddr = "192.0.2.51:5000".parse().unwrap();
        assert_eq!(
            client_address(Some(other), &h, &[lb]).to_string(),
            "192.0.2.51"
        );
    }
}
