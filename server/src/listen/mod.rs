//! What every listener of the server shares against connection exhaustion: caps on
//! concurrent connections in total and per client address ([`ConnLimiter`]), and an
//! HTTP/1 serving loop with a header-read timeout ([`http::serve`]).
//!
//! # Why
//!
//! Without them, idle RTMP connections (three file descriptors each) made the
//! signaling listener unreachable under a 1024-descriptor limit, and HTTP connections
//! with unfinished headers, idle keep-alive or no bytes at all were held for minutes
//! (security review, finding 9). A connection over a cap is closed at once, before a
//! byte is read; refusals are logged at most once per [`LOG_EVERY`] per listener.
//! Writes to a client that stopped reading fail after [`stall::WRITE_STALL`].

pub mod http;
pub mod stall;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Refusals over a cap are summed into one warning per listener this often.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Concurrent connections one listener holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnCaps {
    /// In total.
    pub total: usize,
    /// From one IPv4 address, or one IPv6 /64 (what one subscriber usually holds).
    pub per_ip: usize,
}

/// The limits of the three listeners (see [`crate::config::Config::listen_limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenLimits {
    /// The signaling HTTP/WebSocket listener.
    pub signaling: ConnCaps,
    /// The embedded media server's RTMP listener.
    pub rtmp: ConnCaps,
    /// The embedded media server's HTTP-FLV listener.
    pub flv: ConnCaps,
    /// An HTTP connection (signaling or HTTP-FLV) must deliver a request's headers this
    /// soon after it opens or after its previous response ended (idle keep-alive).
    pub header_timeout: Duration,
    /// An RTMP connection must be admitted as a publisher or player this soon after
    /// it was accepted.
    pub rtmp_admission_timeout: Duration,
}

impl Default for ListenLimits {
    fn default() -> Self {
        Self {
            signaling: ConnCaps {
                total: 10_000,
                per_ip: 64,
            },
            rtmp: ConnCaps {
                total: 4_000,
                per_ip: 64,
            },
            flv: ConnCaps {
                total: 10_000,
                per_ip: 128,
            },
            header_timeout: Duration::from_secs(10),
            rtmp_admission_timeout: Duration::from_secs(10),
        }
    }
}

/// Counts one listener's connections; cheap to clone.
#[derive(Clone)]
pub struct ConnLimiter {
    inner: Arc<Inner>,
}

/// Addresses whose connections count towards the total cap only, not the per-address one.
pub type Exempt = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

struct Inner {
    /// Listener name for logs.
    name: &'static str,
    caps: ConnCaps,
    /// The other nodes of a cluster, each of which holds one connection here per member it
    /// relays (see `crate::cluster`): the per-address cap would refuse a busy peer.
    exempt: Option<Exempt>,
    state: Mutex<Counts>,
    refusals: Throttle,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Lets one log line through per [`LOG_EVERY`] for a kind of event that a peer can
/// cause at will, and counts the others, so an attack cannot flood the log.
pub struct Throttle {
    /// When a line was last let through, and events since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    /// A throttle that has let nothing through yet (`const`, for a `static`).
    pub const fn new() -> Self {
        Self {
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(n)` when this event should be logged: `n` events happened since the last
    /// logged one, this one included. `None`: log it at debug level at most.
    pub fn hit(&self) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.1 += 1;
        let now = Instant::now();
        if s.0.is_none_or(|t| now.duration_since(t) >= LOG_EVERY) {
            let n = s.1;
            *s = (Some(now), 0);
            Some(n)
        } else {
            None
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

/// A connection's place under the caps, released when dropped.
pub struct ConnPermit {
    inner: Arc<Inner>,
    key: IpAddr,
}

impl ConnLimiter {
    /// A limiter for the listener `name` (as its log lines call it), holding it to `caps`.
    pub fn new(name: &'static str, caps: ConnCaps) -> Self {
        Self {
            inner: Arc::new(Inner {
                name,
                caps,
                exempt: None,
                state: Mutex::new(Counts::default()),
                refusals: Throttle::new(),
            }),
        }
    }

    /// The same limiter, but connections from addresses `exempt` names count towards the
    /// total cap only. Set before the limiter is cloned.
    pub fn with_exempt(mut self, exempt: Exempt) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.exempt = Some(exempt);
        }
        self
    }

    /// A permit for a connection from `ip`, or `None` when a cap is reached.
    pub fn try_acquire(&self, ip: IpAddr) -> Option<ConnPermit> {
        let key = ip_key(ip);
        let peer = self.inner.exempt.as_ref().is_some_and(|e| e(ip));
        let mut c = self.inner.lock();
        let from_ip = if peer {
            0
        } else {
            c.per_ip.get(&key).copied().unwrap_or(0)
        };
        if c.total >= self.inner.caps.total || from_ip >= self.inner.caps.per_ip {
            if let Some(refused) = self.inner.refusals.hit() {
                tracing::warn!(
                    listener = self.inner.name,
                    refused,
                    %ip,
                    held = c.total,
                    cap = self.inner.caps.total,
                    per_ip_cap = self.inner.caps.per_ip,
                    "connections refused over the connection caps (count since the last such line)"
                );
            } else {
                tracing::debug!(listener = self.inner.name, %ip, "connection refused over the caps");
            }
            return None;
        }
        c.total += 1;
        *c.per_ip.entry(key).or_insert(0) += 1;
        Some(ConnPermit {
            inner: Arc::clone(&self.inner),
            key,
        })
    }

    /// Connections currently held.
    pub fn held(&self) -> usize {
        self.inner.lock().total
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut c = self.inner.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.key);
            }
        }
    }
}

/// The network part of an IPv6 /64.
const PREFIX_64: u128 = !0 << 64;

/// The address a client is counted under: IPv4 as is (also when mapped into IPv6),
/// IPv6 by its /64 prefix, since one subscriber usually gets a whole /64.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & PREFIX_64)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_per_ip_and_in_total_and_permits_release() {
        let l = ConnLimiter::new(
            "test",
            ConnCaps {
                total: 3,
                per_ip: 2,
            },
        );
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let p1 = l.try_acquire(a).unwrap();
        let _p2 = l.try_acquire(a).unwrap();
        assert!(l.try_acquire(a).is_none(), "per-IP cap");
        let _p3 = l.try_acquire(b).unwrap();
        assert!(l.try_acquire(c).is_none(), "total cap");
        drop(p1);
        assert_eq!(l.held(), 2);
        assert!(l.try_acquire(a).is_some(), "released");
    }

    #[test]
    fn ipv6_counts_by_prefix_and_mapped_ipv4_as_ipv4() {
        let k = |s: &str| ip_key(s.parse().unwrap());
        assert_eq!(k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
        assert_eq!(k("::ffff:10.0.0.1"), k("10.0.0.1"));
    }
}
