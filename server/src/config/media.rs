//! The media engine setting: the embedded server (default) or an external nginx-rtmp or SRS
//! deployment, with the bases its URLs are built on and the control interface kicks go to.
//!
//! Every base is checked here, once, so that nothing an operator mistyped reaches an outbound
//! request or a URL handed to members: RTMP bases are `rtmp://host[:port]/app`, HTTP bases
//! `http://host[:port][/path]`, hosts and paths of URL-safe characters only.

use super::{ConfigError, Secret, MIN_MEDIA_SECRET};

/// Which server carries the media.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MediaEngine {
    /// The RTMP + HTTP-FLV server inside `mprtc-server`.
    #[default]
    Embedded,
    /// nginx with libnginx-mod-rtmp: form-encoded `on_*` hooks, `rtmp_control` kicks.
    NginxRtmp,
    /// SRS: JSON `http_hooks`, HTTP API kicks.
    Srs,
}

impl MediaEngine {
    /// The name used in the setting and in hook paths.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::NginxRtmp => "nginx-rtmp",
            Self::Srs => "srs",
        }
    }
}

/// An HTTP endpoint mprtc-server calls (a control base), split once at configuration time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpBase {
    /// `host:port` to connect to (port 80 if the base named none).
    pub authority: String,
    /// The path prefix, without a trailing `/` (may be empty).
    pub path: String,
}

/// An external engine's resolved settings (`media` other than `embedded`).
#[derive(Clone, Debug)]
pub struct ExternalMediaConfig {
    /// nginx-rtmp or SRS.
    pub engine: MediaEngine,
    /// The engine's public RTMP base pushers get (`rtmp://host:port/app`).
    pub rtmp_base: String,
    /// The public HTTP-FLV base, if the deployment serves one (SRS does).
    pub flv_base: Option<String>,
    /// RTMP bases players are spread over (edges); empty: `rtmp_base`.
    pub play_bases: Vec<String>,
    /// Control bases, one per engine node: index 0 is the origin, then the edges, in the
    /// order the node numbers in their hook URLs name them.
    pub control: Vec<HttpBase>,
    /// The secret in every hook URL (and the origin's proof that a pull comes from an edge).
    pub hook_secret: Secret,
    /// Source addresses hooks are taken from (the engine nodes); empty: any source with the
    /// secret.
    pub hook_sources: Vec<IpRange>,
}

/// An address range, `a.b.c.d/n` or `v6addr/n` (a plain address is one host).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    net: std::net::IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses `addr` or `addr/prefix`; `None` for anything else or a prefix too long.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let net: std::net::IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { net, prefix })
    }

    /// Whether `ip` is in this range (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        let bits = |a: std::net::IpAddr| match a {
            std::net::IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
            std::net::IpAddr::V6(v) => (u128::from(v), 128),
        };
        let ((want, wlen), (have, hlen)) = (bits(self.net), bits(ip));
        if wlen != hlen {
            return false;
        }
        let mask = match self.prefix {
            0 => 0,
            p => u128::MAX << (128 - u32::from(p)),
        };
        want & mask == have & mask
    }
}

/// The engine settings given, checked; `None` for the embedded server.
pub(super) fn resolve_media(
    engine: Option<MediaEngine>,
    rtmp_base: Option<String>,
    flv_base: Option<String>,
    play_bases: Vec<String>,
    control: Vec<String>,
    hook_secret: Option<Secret>,
    hook_sources: Vec<String>,
) -> Result<Option<ExternalMediaConfig>, ConfigError> {
    let engine = engine.unwrap_or_default();
    if engine == MediaEngine::Embedded {
        return Ok(None);
    }
    let rtmp_base = rtmp_base.ok_or(ConfigError::MediaSettingMissing("media_rtmp_base"))?;
    for b in std::iter::once(&rtmp_base).chain(&play_bases) {
        if !valid_rtmp_base(b) {
            return Err(ConfigError::BadMediaBase(b.clone()));
        }
    }
    if let Some(b) = &flv_base {
        if parse_http_base(b).is_none() {
            return Err(ConfigError::BadMediaBase(b.clone()));
        }
    }
    if control.is_empty() {
        return Err(ConfigError::MediaSettingMissing("media_control"));
    }
    if control.len() > MAX_NODES {
        return Err(ConfigError::BadMediaBase(format!(
            "{} control bases (at most {MAX_NODES})",
            control.len()
        )));
    }
    let control = control
        .iter()
        .map(|c| parse_http_base(c).ok_or_else(|| ConfigError::BadMediaBase(c.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let hook_secret = hook_secret.ok_or(ConfigError::MediaSettingMissing("media_hook_secret"))?;
    let s = hook_secret.expose();
    if s.len() < MIN_MEDIA_SECRET || !mprtc::protocol::names::is_url_safe(s, 256) {
        return Err(ConfigError::BadHookSecret(s.len()));
    }
    let hook_sources = hook_sources
        .iter()
        .map(|r| IpRange::parse(r).ok_or_else(|| ConfigError::BadHookSource(r.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ExternalMediaConfig {
        engine,
        rtmp_base: rtmp_base.trim_end_matches('/').to_owned(),
        flv_base: flv_base.map(|b| b.trim_end_matches('/').to_owned()),
        play_bases: play_bases
            .iter()
            .map(|b| b.trim_end_matches('/').to_owned())
            .collect(),
        control,
        hook_secret,
        hook_sources,
    }))
}

/// The most engine nodes (origin + edges) one server tracks.
pub const MAX_NODES: usize = 64;

/// `host[:port]`: a DNS name or IPv4 address of URL-safe characters, a port of 1 to 65535.
fn valid_authority(a: &str) -> bool {
    let (host, port) = match a.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (a, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0))
}

/// A path of `/`-separated URL-safe segments (empty allowed).
fn valid_path(p: &str) -> bool {
    p.split('/')
        .all(|seg| seg.is_empty() || mprtc::protocol::names::is_url_safe(seg, 64))
        && p.len() <= 256
}

/// `rtmp://host[:port]/app[/more]`, nothing else (no query, no user part).
fn valid_rtmp_base(b: &str) -> bool {
    let Some(rest) = b.strip_prefix("rtmp://") else {
        return false;
    };
    let rest = rest.trim_end_matches('/');
    match rest.split_once('/') {
        Some((auth, path)) => valid_authority(auth) && !path.is_empty() && valid_path(path),
        None => false,
    }
}

/// `http://host[:port][/path]` split into where to connect and the path prefix.
pub fn parse_http_base(b: &str) -> Option<HttpBase> {
    let rest = b.strip_prefix("http://")?.trim_end_matches('/');
    let (auth, path) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{p}")),
        None => (rest, String::new()),
    };
    if !valid_authority(auth) || !valid_path(&path) {
        return None;
    }
    let authority = if auth.contains(':') {
        auth.to_owned()
    } else {
        format!("{auth}:80")
    };
    Some(HttpBase { authority, path })
}

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
