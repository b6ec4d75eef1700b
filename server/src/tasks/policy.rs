//! What push tasks may do on this server: the operator's `[tasks]` table, and the address rules
//! that keep task images and outputs off the server's own network.
//!
//! A push task makes the *server* open connections on behalf of a member: it fetches layout
//! images and pushes to `streamUrl`. Without rules, any broadcaster (or anyone on an insecure
//! app) could aim those at loopback, the LAN or a cloud metadata service. The rules here are
//! applied after name resolution, to the address that is actually connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::Deserialize;

/// The `[tasks]` table of the config file. Every field has a safe default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskPolicy {
    /// Layout images at all. Off: a task with a drawn image is refused when added (4005).
    pub images: bool,
    /// Image hosts may resolve to loopback, private, link-local, CGNAT and other non-public
    /// addresses (tests; a LAN-only server). Off by default: that is the SSRF hole.
    pub image_allow_private: bool,
    /// Largest image body fetched, in bytes.
    pub image_max_bytes: u64,
    /// Time for one image fetch, connect to last byte, in milliseconds.
    pub image_timeout_ms: u64,
    /// Where fetched images are kept while tasks use them (a private directory is made
    /// inside). Default: the system temp directory.
    pub image_dir: Option<PathBuf>,
    /// Hosts `streamUrl` may name (exact, case-insensitive). Empty: any host that resolves to
    /// a public address. The server's own RTMP listener is always allowed.
    pub output_hosts: Vec<String>,
    /// `streamUrl` may resolve to non-public addresses (tests; a LAN CDN).
    pub output_allow_private: bool,
    /// Compositors (ffmpeg processes) the whole server runs at most.
    pub max_compositors: usize,
    /// Compositors one app runs at most.
    pub max_compositors_per_app: usize,
    /// Tasks one member may have added (and not deleted) in its room.
    pub max_tasks_per_member: usize,
    /// Members of insecure (token-less) apps may manage push tasks. Off: only the server API
    /// of a secure app, or its members, can.
    pub insecure_apps: bool,
    /// Members of insecure apps may record (needs `insecure_apps` too).
    pub insecure_apps_record: bool,
    /// A recording stops (the push goes on) after this many seconds.
    pub record_max_secs: u64,
    /// A recording stops (the push goes on) after this many bytes.
    pub record_max_bytes: u64,
    /// Bytes of recordings one app may have on disk; a recording does not start beyond it.
    pub record_app_quota_bytes: u64,
    /// A recording does not start (and a running one stops) when the recordings disk has
    /// less than this free.
    pub record_min_free_bytes: u64,
}

impl Default for TaskPolicy {
    fn default() -> Self {
        Self {
            images: true,
            image_allow_private: false,
            image_max_bytes: 2 << 20,
            image_timeout_ms: 5_000,
            image_dir: None,
            output_hosts: Vec::new(),
            output_allow_private: false,
            max_compositors: 32,
            max_compositors_per_app: 16,
            max_tasks_per_member: 4,
            insecure_apps: false,
            insecure_apps_record: false,
            record_max_secs: 4 * 3600,
            record_max_bytes: 4 << 30,
            record_app_quota_bytes: 20 << 30,
            record_min_free_bytes: 1 << 30,
        }
    }
}

/// Why a task's address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressRefusal {
    #[error("the host is not in the server's list of allowed push hosts")]
    HostNotAllowed,
    #[error("the host resolves to a non-public address")]
    NotPublic,
    #[error("the host did not resolve to any address")]
    NoAddress,
    #[error("the URL has no usable host")]
    BadHost,
}

impl AddressRefusal {
    /// The refusal's code, as a task's failure detail and the logs name it.
    pub fn code(self) -> &'static str {
        match self {
            Self::HostNotAllowed => "host_not_allowed",
            Self::NotPublic => "not_public",
            Self::NoAddress => "no_address",
            Self::BadHost => "bad_host",
        }
    }
}

/// Whether `ip` is an ordinary public unicast address: not loopback, private (RFC 1918,
/// fc00::/7), link-local, CGNAT, multicast, unspecified, broadcast, documentation,
/// benchmarking or reserved, and not an IPv4-mapped, -compatible, NAT64 or 6to4 form of one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0 // "this network", unspecified
        || a == 10
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || a == 127
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4-mapped ::ffff:a.b.c.d and the deprecated IPv4-compatible ::a.b.c.d (which also
    // covers :: and ::1, whose embedded forms are 0.0.0.0 and 0.0.0.1).
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return is_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    // NAT64 64:ff9b::/96 reaches the embedded IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    // 6to4 2002::/16 embeds an IPv4 address in the next 32 bits.
    if s[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    let blocked = (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard 100::/64
        || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments 2001::/23 (Teredo, benchmarking)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation 3fff::/20
        || (s[0] & 0xe000) != 0x2000; // outside global unicast 2000::/3
    !blocked
}

/// The host and port of an `rtmp(s)://` or `http(s)://` URL: lowercase host without IPv6
/// brackets, and the port (the scheme's default when absent). `None` for a URL with user
/// information or without a host.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "rtmp" => 1935,
        "rtmps" | "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (h, after) = r.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (h, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => default,
        Some(p) => p.parse().ok()?,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// `scheme://host` of a push URL: what members who may not manage tasks are shown of it (the
/// path, query, port and user part carry CDN push secrets). Empty if it does not parse.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, _)) = url.split_once("://") else {
        return String::new();
    };
    match host_port(url) {
        Some((h, _)) if h.contains(':') => format!("{}://[{h}]", scheme.to_ascii_lowercase()),
        Some((h, _)) => format!("{}://{h}", scheme.to_ascii_lowercase()),
        None => String::new(),
    }
}

/// Where a task's output may go. Built once from the [`TaskPolicy`] and the server's own RTMP
/// address (always allowed: tasks that push into the embedded server are its main use).
#[derive(Debug, Clone, Default)]
pub struct OutputPolicy {
    /// `output_hosts`, lowercased. Empty: any public host.
    pub allowed_hosts: Vec<String>,
    /// `output_allow_private`: outputs may resolve to non-public addresses.
    pub allow_private: bool,
    /// The embedded media server's `(host, port)` as its URLs name it.
    pub own: Option<(String, u16)>,
}

impl OutputPolicy {
    /// The output rules of `p`, with the embedded server at `own_rtmp_base` always allowed.
    pub fn new(p: &TaskPolicy, own_rtmp_base: &str) -> Self {
        Self {
            allowed_hosts: p
                .output_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            allow_private: p.output_allow_private,
            own: host_port(own_rtmp_base),
        }
    }

    fn is_own(&self, hp: &(String, u16)) -> bool {
        self.own.as_ref() == Some(hp)
    }

    /// The checks that need no name resolution, for a task being added: the host list and
    /// address literals. Names are checked again after resolution by [`Self::check_resolved`].
    pub fn check_literal(&self, url: &str) -> Result<(), AddressRefusal> {
        let hp = host_port(url).ok_or(AddressRefusal::BadHost)?;
        if self.is_own(&hp) {
            return Ok(());
        }
        if !self.allowed_hosts.is_empty() && !self.allowed_hosts.contains(&hp.0) {
            return Err(AddressRefusal::HostNotAllowed);
        }
        if let Ok(ip) = hp.0.parse::<IpAddr>() {
            if !self.allow_private && !is_public(ip) {
                return Err(AddressRefusal::NotPublic);
            }
        }
        Ok(())
    }

    /// Resolves the output host and refuses it if any address it names is not public (unless
    /// allowed). ffmpeg resolves the name again when it connects; a name that changes its
    /// answer in between (DNS rebinding) is not stopped here: use `output_hosts` for that.
    pub async fn check_resolved(&self, url: &str) -> Result<(), AddressRefusal> {
        self.check_literal(url)?;
        let hp = host_port(url).ok_or(AddressRefusal::BadHost)?;
        if self.allow_private || self.is_own(&hp) {
            return Ok(());
        }
        let addrs: Vec<_> = tokio::net::lookup_host((hp.0.as_str(), hp.1))
            .await
            .map_err(|_| AddressRefusal::NoAddress)?
            .collect();
        if addrs.is_empty() {
            return Err(AddressRefusal::NoAddress);
        }
        if addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(AddressRefusal::NotPublic);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
            "3fff::1",
        ] {
            assert!(!public(a), "{a} must not count as public");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "193.0.0.1",
            "::ffff:8.8.8.8",
            "2606:4700:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(public(a), "{a} is public");
        }
    }

    #[test]
    fn host_port_parses_what_tasks_name() {
        assert_eq!(
            host_port("rtmp://Cdn.Example.com/live/x?k=1"),
            Some(("cdn.example.com".into(), 1935))
        );
        assert_eq!(host_port("rtmps://[::1]:444/a"), Some(("::1".into(), 444)));
        assert_eq!(host_port("http://h:8080"), Some(("h".into(), 8080)));
        assert_eq!(host_port("https://u:p@h/x"), None);
        assert_eq!(host_port("http:///x"), None);
        assert_eq!(host_port("ftp://h/x"), None);
    }

    #[test]
    fn redacted_urls_keep_scheme_and_host_only() {
        assert_eq!(
            redacted_url("rtmp://push.cdn.example:1935/live/room?txSecret=S&txTime=1"),
            "rtmp://push.cdn.example"
        );
        assert_eq!(redacted_url("rtmps://[::1]:443/app/KEY"), "rtmps://[::1]");
        assert_eq!(redacted_url("rtmp://user:pw@h/x"), "");
        assert_eq!(redacted_url("nonsense"), "");
    }

    #[test]
    fn output_literals_and_hosts() {
        let p = OutputPolicy::new(&TaskPolicy::default(), "rtmp://127.0.0.1:1935/live");
        assert_eq!(p.check_literal("rtmp://127.0.0.1/live/me"), Ok(()));
        assert_eq!(
            p.check_literal("rtmp://127.0.0.1:1936/live/me"),
            Err(AddressRefusal::NotPublic)
        );
        assert_eq!(
            p.check_literal("rtmp://[::ffff:10.0.0.1]/x"),
            Err(AddressRefusal::NotPublic)
        );
        assert_eq!(p.check_literal("rtmp://8.8.8.8/x"), Ok(()));
        let listed = OutputPolicy::new(
            &TaskPolicy {
                output_hosts: vec!["Push.CDN.example".into()],
                ..TaskPolicy::default()
            },
            "rtmp://127.0.0.1:1935/live",
        );
        assert_eq!(
            listed.check_literal("rtmp://push.cdn.example/app/k"),
            Ok(())
        );
        assert_eq!(
            listed.check_literal("rtmp://8.8.8.8/x"),
            Err(AddressRefusal::HostNotAllowed)
        );
    }
}
