//! Web origins for the WebSocket's `Origin` check (`allowed_origins`).

use std::net::Ipv6Addr;

/// Normalizes a web origin `scheme://host[:port]` for comparison: `http` or `https` only,
/// scheme and host lowercased, a default port (80, 443) and one trailing `/` dropped. `None`
/// if it is not such an origin (a path, query, fragment or user part, a bad port, a host
/// with characters other than letters, digits, `-` and `.`, or the opaque origin `null`).
/// International host names must be given in their ASCII (punycode) form, as browsers send.
pub fn normalize_origin(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_suffix('/').unwrap_or(s);
    let (scheme, rest) = s.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, after) = r.split_once(']')?;
        let ip: Ipv6Addr = h.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{ip}]"), port)
    } else {
        let (h, p) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if h.len() > 253 || !h.split('.').all(label_ok) {
            return None;
        }
        (h.to_ascii_lowercase(), p)
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            match p.parse::<u16>().ok()? {
                0 => return None,
                n if n == default_port => None,
                n => Some(n),
            }
        }
    };
    Some(match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}
