//! Throttling of failed server-API logins per client address.
//!
//! The server API authenticates with the app secret (HTTP Basic). A secret compared in
//! constant time still falls to guessing if guesses are free: after [`MAX_FAILURES`] failed
//! attempts within [`WINDOW_MS`], an address is answered `429` for [`LOCKOUT_MS`] without its
//! credentials being looked at. The table is bounded; when it is full the stalest entry goes.
//!
//! Behind a reverse proxy every client arrives from the proxy's address, and one client's
//! guesses would lock out every backend behind it. So the address counted is the one a
//! *trusted* proxy (`trusted_proxies`) puts in `X-Real-IP` — a proxy that overwrites the header
//! with the address it saw, as `deploy/nginx/mprtc.conf` does. From anyone else the header is
//! ignored: believing it would let a guesser pick a fresh address for every guess.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::config::IpRange;

/// Failed logins within [`WINDOW_MS`] that lock an address out.
pub const MAX_FAILURES: u32 = 10;
/// The window failures are counted in, in milliseconds.
pub const WINDOW_MS: u64 = 60_000;
/// How long a locked-out address is answered `429`, in milliseconds.
pub const LOCKOUT_MS: u64 = 60_000;
/// Addresses tracked at most.
const MAX_TRACKED: usize = 4096;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    by_ip: HashMap<IpAddr, Entry>,
    trusted_proxies: Vec<IpRange>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start_ms: u64,
    locked_until_ms: u64,
}

impl LoginThrottle {
    /// A throttle that believes the `X-Real-IP` of these proxies.
    pub fn behind(trusted_proxies: Vec<IpRange>) -> Self {
        Self {
            trusted_proxies,
            ..Self::default()
        }
    }

    /// The address a request from `peer` counts as: the `X-Real-IP` it carries when `peer` is a
    /// trusted proxy and the header is one address, otherwise `peer` itself.
    pub fn client(&self, peer: IpAddr, real_ip: Option<&str>) -> IpAddr {
        let trusted = self.trusted_proxies.iter().any(|r| r.contains(peer));
        match real_ip {
            Some(h) if trusted => h.trim().parse().unwrap_or(peer),
            _ => peer,
        }
    }

    /// Whether `ip` is locked out now; `Some(ms left)` if it is.
    pub fn locked(&self, ip: IpAddr, now_ms: u64) -> Option<u64> {
        let e = self.by_ip.get(&ip)?;
        (e.locked_until_ms > now_ms).then(|| e.locked_until_ms - now_ms)
    }

    /// `ip` failed to authenticate.
    pub fn failed(&mut self, ip: IpAddr, now_ms: u64) {
        if !self.by_ip.contains_key(&ip) && self.by_ip.len() >= MAX_TRACKED {
            self.forget_stalest(now_ms);
        }
        let e = self.by_ip.entry(ip).or_insert(Entry {
            failures: 0,
            window_start_ms: now_ms,
            locked_until_ms: 0,
        });
        if now_ms >= e.window_start_ms + WINDOW_MS {
            e.failures = 0;
            e.window_start_ms = now_ms;
        }
        e.failures += 1;
        if e.failures >= MAX_FAILURES {
            e.locked_until_ms = now_ms + LOCKOUT_MS;
            e.failures = 0;
            e.window_start_ms = now_ms;
        }
    }

    /// `ip` authenticated: its failures are forgotten.
    pub fn succeeded(&mut self, ip: IpAddr) {
        self.by_ip.remove(&ip);
    }

    fn forget_stalest(&mut self, now_ms: u64) {
        self.by_ip
            .retain(|_, e| e.locked_until_ms > now_ms || now_ms < e.window_start_ms + WINDOW_MS);
        if self.by_ip.len() >= MAX_TRACKED {
            if let Some(ip) = self
                .by_ip
                .iter()
                .min_by_key(|(_, e)| e.window_start_ms.max(e.locked_until_ms))
                .map(|(ip, _)| *ip)
            {
                self.by_ip.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_opens_again() {
        let mut t = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 0..MAX_FAILURES - 1 {
            t.failed(ip, 1_000 + u64::from(i));
            assert_eq!(t.locked(ip, 1_000 + u64::from(i)), None);
        }
        t.failed(ip, 2_000);
        assert_eq!(t.locked(ip, 2_000), Some(LOCKOUT_MS));
        assert_eq!(t.locked(other, 2_000), None, "only that address");
        assert_eq!(t.locked(ip, 2_000 + LOCKOUT_MS), None);
        // Failures spread wider than the window never lock.
        let mut t = LoginThrottle::default();
        for i in 0..3 * MAX_FAILURES {
            t.failed(ip, u64::from(i) * (WINDOW_MS / 5));
            assert_eq!(t.locked(ip, u64::from(i) * (WINDOW_MS / 5)), None);
        }
        t.succeeded(ip);
        assert!(t.by_ip.is_empty());
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut t = LoginThrottle::default();
        for i in 0..(MAX_TRACKED as u32 + 100) {
            t.failed(IpAddr::from(i.to_be_bytes()), 5);
        }
        assert!(t.by_ip.len() <= MAX_TRACKED);
    }

    /// Only a trusted proxy's `X-Real-IP` is believed, and only when it is one address: a
    /// guesser elsewhere cannot name a fresh address per guess.
    #[test]
    fn the_client_is_the_trusted_proxys_header_and_nobody_elses() {
        let t = LoginThrottle::behind(vec![IpRange::parse("10.0.0.0/8").unwrap()]);
        let (proxy, stranger): (IpAddr, IpAddr) =
            ("10.1.2.3".parse().unwrap(), "192.0.2.9".parse().unwrap());
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(t.client(proxy, Some("198.51.100.7")), client);
        assert_eq!(t.client(proxy, Some(" 198.51.100.7 ")), client);
        assert_eq!(t.client(proxy, None), proxy);
        assert_eq!(t.client(proxy, Some("198.51.100.7, 10.1.2.3")), proxy);
        assert_eq!(t.client(proxy, Some("nonsense")), proxy);
        assert_eq!(t.client(stranger, Some("198.51.100.7")), stranger);
        assert_eq!(
            LoginThrottle::default().client(proxy, Some("198.51.100.7")),
            proxy
        );
    }
}
