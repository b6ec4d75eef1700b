//! Server configuration: a TOML file, overridden by environment variables, overridden by flags.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::secret::{Secret, REDACTED};

/// One application allowed to use this server.
///
/// `Debug` prints `<redacted>` in place of the secret.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The app key clients pass as `appkey`.
    pub key: String,
    /// HS256 secret that signs join tokens. Required unless `insecure`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Debug mode (the vendors' 调试模式): members join without a token.
    #[serde(default)]
    pub insecure: bool,
    /// Rooms this app may hold at once (default: the server's `max_rooms`, and at most
    /// [`crate::signaling::INSECURE_APP_MAX_ROOMS`] for an insecure app), so that one app,
    /// above all one anybody can join, cannot use up the rooms of the others.
    #[serde(default)]
    pub max_rooms: Option<usize>,
}

/// The file form; every field optional so flags and env can fill the rest.
///
/// `Debug` prints `<redacted>` in place of `media_secret` and the apps' secrets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub rtmp_listen: Option<SocketAddr>,
    pub flv_listen: Option<SocketAddr>,
    /// Host name put into media URLs (default: the listener's IP).
    pub public_host: Option<String>,
    /// Secret that signs media URLs (default: random per process).
    pub media_secret: Option<Secret>,
    pub url_ttl_secs: Option<u64>,
    pub max_frame_bytes: Option<usize>,
    /// Rooms this server holds at most.
    pub max_rooms: Option<usize>,
    /// Members one room holds at most.
    pub max_members_per_room: Option<usize>,
    /// Sustained requests per second one connection may send.
    pub max_requests_per_sec: Option<u32>,
    /// Bytes queued for a connection that does not read before it is cut (it may resume).
    pub max_queued_bytes: Option<usize>,
    /// Connection caps and timeouts of the listeners (see [`Config::listen_limits`]).
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub rtmp_max_connections: Option<usize>,
    pub rtmp_max_connections_per_ip: Option<usize>,
    pub flv_max_connections: Option<usize>,
    pub flv_max_connections_per_ip: Option<usize>,
    pub http_header_timeout_ms: Option<u64>,
    pub rtmp_admission_timeout_ms: Option<u64>,
    /// Clients ping this often (milliseconds).
    pub ping_interval_ms: Option<u64>,
    /// A ping unanswered this long means a dead connection (milliseconds).
    pub ping_timeout_ms: Option<u64>,
    /// How long a member whose connection dropped keeps its place for a resume (milliseconds).
    pub resume_window_ms: Option<u64>,
    /// Serve `GET /api/v1/debug/token` (development only).
    pub debug_token_endpoint: Option<bool>,
    /// Where push tasks with `record: true` write their files.
    pub recordings_dir: Option<PathBuf>,
    /// The ffmpeg binary push-task compositors run.
    pub ffmpeg: Option<PathBuf>,
    /// Origins (`scheme://host[:port]`) whose web pages may open the signaling WebSocket;
    /// empty means any. See [`Config::allowed_origins`].
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The `[tasks]` table: what push tasks may do (images, outputs, caps, recordings).
    #[serde(default)]
    pub tasks: crate::tasks::TaskPolicy,
    #[serde(default)]
    pub apps: Vec<AppConfig>,
}

/// The resolved configuration.
///
/// `Debug` prints `<redacted>` in place of `media_secret` and the apps' secrets.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub rtmp_listen: SocketAddr,
    pub flv_listen: SocketAddr,
    pub public_host: Option<String>,
    pub media_secret: Option<Secret>,
    pub url_ttl_secs: u64,
    pub max_frame_bytes: usize,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    /// How long a member whose connection dropped stays in its room (streams, push tasks and
    /// missed events kept) for its client to resume the session; 0 makes a drop a leave.
    pub resume_window_ms: u64,
    /// Serve `GET /api/v1/debug/token`, which mints join tokens for anyone who asks (for demos
    /// and samples that fetch a token as from the app's backend). Never on a public server.
    pub debug_token_endpoint: bool,
    pub limits: crate::signaling::Limits,
    /// Connection caps of the signaling, RTMP and HTTP-FLV listeners (in total and per
    /// client IPv4 address or IPv6 /64; over a cap a connection is closed unread), the
    /// HTTP header-read timeout (also the idle keep-alive limit) and the deadline for an
    /// RTMP connection to become a publisher or player.
    pub listen_limits: crate::listen::ListenLimits,
    pub recordings_dir: PathBuf,
    pub ffmpeg: PathBuf,
    /// Origins allowed to open the signaling WebSocket, normalized by [`normalize_origin`]
    /// (lowercase scheme and host, no default port, no trailing `/`). Empty: any origin.
    ///
    /// A WebSocket upgrade that carries an `Origin` header not in this list is refused with
    /// 403. An upgrade *without* `Origin` is always accepted: WeChat mini-program sockets (the
    /// clients this server exists for) and other non-browser clients send none, while browsers
    /// always send one, so the check still stops other web sites from using a visitor's
    /// browser to connect (cross-site WebSocket hijacking) without locking out mini-programs.
    /// It is not authentication: a non-browser client can send any `Origin` it likes.
    pub allowed_origins: Vec<String>,
    /// What push tasks may do; see [`crate::tasks::TaskPolicy`].
    pub tasks: crate::tasks::TaskPolicy,
    pub apps: HashMap<String, AppConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("app {0:?} is defined twice")]
    DuplicateApp(String),
    #[error(
        "app {0:?} has no secret and is not insecure; give it a secret or set insecure = true"
    )]
    AppWithoutSecret(String),
    #[error("app key {0:?} is invalid: use 1 to 64 letters, digits, '_' or '-'")]
    BadAppKey(String),
    /// The value is not echoed: without its `:` it may well be a secret.
    #[error(
        "--app / MPRTC_APPS entry {0} is not KEY:SECRET (value not shown; it may be a secret)"
    )]
    BadAppFlag(usize),
    #[error(
        "allowed origin {0:?} is invalid: use http:// or https:// with a host and optional port, without path, query or user"
    )]
    BadOrigin(String),
    #[error("max_frame_bytes must be between 256 and 1048576")]
    BadFrameLimit,
    #[error("url_ttl_secs must be between 1 and 604800")]
    BadTtl,
    #[error(
        "ping_interval_ms must be 100 to 60000 and ping_timeout_ms from ping_interval_ms to 120000"
    )]
    BadHeartbeat,
    #[error("resume_window_ms must be at most 600000 (0 turns resuming off)")]
    BadResumeWindow,
    #[error("max_rooms, max_members_per_room and max_requests_per_sec must be at least 1")]
    BadLimit,
    /// The value is not echoed: it is a secret.
    #[error(
        "media_secret must be at least {MIN_MEDIA_SECRET} bytes (it was {0}); unset it for a random one per process"
    )]
    BadMediaSecret(usize),
    #[error("max_queued_bytes must be between 65536 and 1073741824")]
    BadQueueLimit,
    #[error("{0} must be at least 1 and a per-IP cap at most its listener's total cap")]
    BadConnectionLimit(&'static str),
    #[error("{0} must be between 100 and 600000")]
    BadListenTimeout(&'static str),
}

impl ConfigError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "config.read",
            Self::Parse { .. } => "config.parse",
            Self::DuplicateApp(_) => "config.duplicate_app",
            Self::AppWithoutSecret(_) => "config.app_without_secret",
            Self::BadAppKey(_) => "config.bad_app_key",
            Self::BadAppFlag(_) => "config.bad_app_flag",
            Self::BadOrigin(_) => "config.bad_origin",
            Self::BadFrameLimit => "config.bad_frame_limit",
            Self::BadTtl => "config.bad_ttl",
            Self::BadHeartbeat => "config.bad_heartbeat",
            Self::BadResumeWindow => "config.bad_resume_window",
            Self::BadLimit => "config.bad_limit",
            Self::BadMediaSecret(_) => "config.bad_media_secret",
            Self::BadQueueLimit => "config.bad_queue_limit",
            Self::BadConnectionLimit(_) => "config.bad_connection_limit",
            Self::BadListenTimeout(_) => "config.bad_listen_timeout",
        }
    }
}

/// Overrides from flags or the environment (clap merges those two).
///
/// `Debug` prints `<redacted>` in place of `media_secret` and the apps' secrets.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub rtmp_listen: Option<SocketAddr>,
    pub flv_listen: Option<SocketAddr>,
    pub public_host: Option<String>,
    pub media_secret: Option<Secret>,
    pub url_ttl_secs: Option<u64>,
    pub max_frame_bytes: Option<usize>,
    pub ping_interval_ms: Option<u64>,
    pub ping_timeout_ms: Option<u64>,
    pub resume_window_ms: Option<u64>,
    pub debug_token_endpoint: Option<bool>,
    pub max_rooms: Option<usize>,
    pub max_members_per_room: Option<usize>,
    pub max_requests_per_sec: Option<u32>,
    pub max_queued_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub rtmp_max_connections: Option<usize>,
    pub rtmp_max_connections_per_ip: Option<usize>,
    pub flv_max_connections: Option<usize>,
    pub flv_max_connections_per_ip: Option<usize>,
    pub http_header_timeout_ms: Option<u64>,
    pub rtmp_admission_timeout_ms: Option<u64>,
    pub recordings_dir: Option<PathBuf>,
    pub ffmpeg: Option<PathBuf>,
    /// `KEY:SECRET` pairs.
    pub apps: Vec<AppFlag>,
    /// Keys of apps that join without tokens.
    pub insecure_apps: Vec<String>,
    /// Allowed WebSocket origins; when non-empty, replaces the file's list.
    pub allowed_origins: Vec<String>,
}

/// An `--app` / `MPRTC_APPS` entry, `KEY:SECRET`, as given: split (and refused by its
/// position, without echoing it) when the config is resolved.
///
/// `Debug` shows the key only: `key:<redacted>`, or `<redacted>` for an entry without `:`.
#[derive(Clone, PartialEq, Eq)]
pub struct AppFlag(Secret);

impl AppFlag {
    /// The key and the secret, if the entry has a `:`.
    fn split(&self) -> Option<(&str, &str)> {
        self.0.expose().split_once(':')
    }
}

impl From<String> for AppFlag {
    fn from(s: String) -> Self {
        Self(s.into())
    }
}

impl From<&str> for AppFlag {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl fmt::Debug for AppFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.split() {
            Some((key, _)) => write!(f, "{key}:{REDACTED}"),
            None => f.write_str(REDACTED),
        }
    }
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: parse_message(&text, &e),
        })
    }
}

/// Where and why the file failed to parse, *without* the excerpt of the file that the TOML
/// error's `Display` shows: that excerpt could be a line holding a secret.
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

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

/// The listeners' caps and timeouts: overrides, else the file, else the defaults.
fn listen_limits(
    file: &FileConfig,
    o: &Overrides,
) -> Result<crate::listen::ListenLimits, ConfigError> {
    use crate::listen::ConnCaps;
    let d = crate::listen::ListenLimits::default();
    let caps = |name,
                total: (Option<usize>, Option<usize>),
                per_ip: (Option<usize>, Option<usize>),
                dc: ConnCaps| {
        let total = total.0.or(total.1).unwrap_or(dc.total);
        let c = ConnCaps {
            total,
            per_ip: per_ip.0.or(per_ip.1).unwrap_or(dc.per_ip.min(total)),
        };
        if c.total == 0 || c.per_ip == 0 || c.per_ip > c.total {
            return Err(ConfigError::BadConnectionLimit(name));
        }
        Ok(c)
    };
    let ms = |name, v: (Option<u64>, Option<u64>), dv: std::time::Duration| {
        let v = v.0.or(v.1).map_or(dv, std::time::Duration::from_millis);
        if !(100..=600_000).contains(&v.as_millis()) {
            return Err(ConfigError::BadListenTimeout(name));
        }
        Ok(v)
    };
    Ok(crate::listen::ListenLimits {
        signaling: caps(
            "max_connections / max_connections_per_ip",
            (o.max_connections, file.max_connections),
            (o.max_connections_per_ip, file.max_connections_per_ip),
            d.signaling,
        )?,
        rtmp: caps(
            "rtmp_max_connections / rtmp_max_connections_per_ip",
            (o.rtmp_max_connections, file.rtmp_max_connections),
            (
                o.rtmp_max_connections_per_ip,
                file.rtmp_max_connections_per_ip,
            ),
            d.rtmp,
        )?,
        flv: caps(
            "flv_max_connections / flv_max_connections_per_ip",
            (o.flv_max_connections, file.flv_max_connections),
            (
                o.flv_max_connections_per_ip,
                file.flv_max_connections_per_ip,
            ),
            d.flv,
        )?,
        header_timeout: ms(
            "http_header_timeout_ms",
            (o.http_header_timeout_ms, file.http_header_timeout_ms),
            d.header_timeout,
        )?,
        rtmp_admission_timeout: ms(
            "rtmp_admission_timeout_ms",
            (o.rtmp_admission_timeout_ms, file.rtmp_admission_timeout_ms),
            d.rtmp_admission_timeout,
        )?,
    })
}

fn valid_key(k: &str) -> bool {
    mprtc::protocol::names::is_url_safe(k, 64)
}

/// The shortest media secret accepted: it is an HMAC-SHA256 key that anyone who can guess it
/// uses to forge push and play URLs for every app's streams, so an empty or word-sized one
/// (an `.env` template's `MPRTC_MEDIA_SECRET=`) must stop the server, not weaken it.
pub const MIN_MEDIA_SECRET: usize = 32;

/// App secrets shorter than this start the server with a warning: they sign join tokens and
/// guard the server API, and a short one falls to guessing.
pub const SHORT_APP_SECRET: usize = 16;

impl Config {
    pub fn resolve(file: FileConfig, o: Overrides) -> Result<Self, ConfigError> {
        let listen_limits = listen_limits(&file, &o)?;
        let mut apps = HashMap::new();
        let mut add = |a: AppConfig| -> Result<(), ConfigError> {
            if !valid_key(&a.key) {
                return Err(ConfigError::BadAppKey(a.key));
            }
            if !a.insecure && a.secret.as_ref().is_none_or(Secret::is_empty) {
                return Err(ConfigError::AppWithoutSecret(a.key));
            }
            if apps.contains_key(&a.key) {
                return Err(ConfigError::DuplicateApp(a.key));
            }
            apps.insert(a.key.clone(), a);
            Ok(())
        };
        for a in file.apps {
            add(a)?;
        }
        for (i, s) in o.apps.iter().enumerate() {
            let (k, sec) = s.split().ok_or(ConfigError::BadAppFlag(i + 1))?;
            add(AppConfig {
                key: k.into(),
                secret: Some(sec.into()),
                insecure: false,
                max_rooms: None,
            })?;
        }
        for k in o.insecure_apps {
            add(AppConfig {
                key: k,
                secret: None,
                insecure: true,
                max_rooms: None,
            })?;
        }
        let allowed_origins = if o.allowed_origins.is_empty() {
            file.allowed_origins
        } else {
            o.allowed_origins
        }
        .into_iter()
        .map(|s| normalize_origin(&s).ok_or(ConfigError::BadOrigin(s)))
        .collect::<Result<Vec<_>, _>>()?;
        let max_frame_bytes = o
            .max_frame_bytes
            .or(file.max_frame_bytes)
            .unwrap_or(16 * 1024);
        if !(256..=1 << 20).contains(&max_frame_bytes) {
            return Err(ConfigError::BadFrameLimit);
        }
        let url_ttl_secs = o.url_ttl_secs.or(file.url_ttl_secs).unwrap_or(3600);
        if !(1..=604_800).contains(&url_ttl_secs) {
            return Err(ConfigError::BadTtl);
        }
        let ping_interval_ms = o
            .ping_interval_ms
            .or(file.ping_interval_ms)
            .unwrap_or(10_000);
        let ping_timeout_ms = o
            .ping_timeout_ms
            .or(file.ping_timeout_ms)
            .unwrap_or(ping_interval_ms * 2);
        if !(100..=60_000).contains(&ping_interval_ms)
            || !(ping_interval_ms..=120_000).contains(&ping_timeout_ms)
        {
            return Err(ConfigError::BadHeartbeat);
        }
        let resume_window_ms = o
            .resume_window_ms
            .or(file.resume_window_ms)
            .unwrap_or(30_000);
        if resume_window_ms > 600_000 {
            return Err(ConfigError::BadResumeWindow);
        }
        let dl = crate::signaling::Limits::default();
        let limits = crate::signaling::Limits {
            max_rooms: o.max_rooms.or(file.max_rooms).unwrap_or(dl.max_rooms),
            max_members_per_room: o
                .max_members_per_room
                .or(file.max_members_per_room)
                .unwrap_or(dl.max_members_per_room),
            max_requests_per_sec: o
                .max_requests_per_sec
                .or(file.max_requests_per_sec)
                .unwrap_or(dl.max_requests_per_sec),
            max_queued_bytes: o
                .max_queued_bytes
                .or(file.max_queued_bytes)
                .unwrap_or(dl.max_queued_bytes),
        };
        if limits.max_rooms == 0
            || limits.max_members_per_room == 0
            || limits.max_requests_per_sec == 0
        {
            return Err(ConfigError::BadLimit);
        }
        // Below the largest frame the server sends (a join answer into a full room) a member
        // could never be served at all.
        if !(64 * 1024..=1 << 30).contains(&limits.max_queued_bytes) {
            return Err(ConfigError::BadQueueLimit);
        }
        let media_secret = o.media_secret.or(file.media_secret);
        if let Some(s) = &media_secret {
            if s.len() < MIN_MEDIA_SECRET {
                return Err(ConfigError::BadMediaSecret(s.len()));
            }
        }
        let d = |s: &str| s.parse::<SocketAddr>().expect("default addresses parse");
        Ok(Config {
            listen: o
                .listen
                .or(file.listen)
                .unwrap_or_else(|| d("127.0.0.1:7880")),
            rtmp_listen: o
                .rtmp_listen
                .or(file.rtmp_listen)
                .unwrap_or_else(|| d("127.0.0.1:1935")),
            flv_listen: o
                .flv_listen
                .or(file.flv_listen)
                .unwrap_or_else(|| d("127.0.0.1:7881")),
            public_host: o.public_host.or(file.public_host),
            media_secret,
            url_ttl_secs,
            max_frame_bytes,
            ping_interval_ms,
            ping_timeout_ms,
            resume_window_ms,
            debug_token_endpoint: o
                .debug_token_endpoint
                .or(file.debug_token_endpoint)
                .unwrap_or(false),
            limits,
            listen_limits,
            recordings_dir: o
                .recordings_dir
                .or(file.recordings_dir)
                .unwrap_or_else(|| PathBuf::from("recordings")),
            ffmpeg: o
                .ffmpeg
                .or(file.ffmpeg)
                .unwrap_or_else(|| PathBuf::from("ffmpeg")),
            allowed_origins,
            tasks: file.tasks,
            apps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<FileConfig, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn file_env_flags_precedence() {
        let f = parse(
            "listen = \"0.0.0.0:9000\"\nurl_ttl_secs = 60\n[[apps]]\nkey = \"a\"\nsecret = \"s\"\n",
        )
        .unwrap();
        let o = Overrides {
            listen: Some("127.0.0.1:1".parse().unwrap()),
            insecure_apps: vec!["dbg".into()],
            ..Default::default()
        };
        let c = Config::resolve(f, o).unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.url_ttl_secs, 60);
        assert!(c.apps["dbg"].insecure);
        assert_eq!(c.apps["a"].secret.as_ref().map(Secret::expose), Some("s"));
    }

    #[test]
    fn bad_configs_are_typed_errors() {
        assert!(parse("nonsense = 1").is_err());
        assert!(parse("listen = \"not an address\"").is_err());
        let e = |f: &str, o: Overrides| Config::resolve(parse(f).unwrap(), o).unwrap_err().code();
        assert_eq!(
            e("[[apps]]\nkey = \"a\"\n", Overrides::default()),
            "config.app_without_secret"
        );
        assert_eq!(
            e(
                "[[apps]]\nkey = \"a b\"\ninsecure = true\n",
                Overrides::default()
            ),
            "config.bad_app_key"
        );
        assert_eq!(
            e(
                "",
                Overrides {
                    apps: vec!["nosecret".into()],
                    ..Default::default()
                }
            ),
            "config.bad_app_flag"
        );
        assert_eq!(
            e(
                "",
                Overrides {
                    insecure_apps: vec!["x".into(), "x".into()],
                    ..Default::default()
                }
            ),
            "config.duplicate_app"
        );
        assert_eq!(
            e("max_frame_bytes = 1", Overrides::default()),
            "config.bad_frame_limit"
        );
        assert_eq!(
            e("url_ttl_secs = 0", Overrides::default()),
            "config.bad_ttl"
        );
        assert_eq!(
            e("ping_interval_ms = 50", Overrides::default()),
            "config.bad_heartbeat"
        );
        assert_eq!(
            e(
                "ping_interval_ms = 1000\nping_timeout_ms = 500",
                Overrides::default()
            ),
            "config.bad_heartbeat"
        );
    }

    #[test]
    fn listen_limits_resolve_and_bad_ones_are_typed_errors() {
        let c = Config::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.listen_limits, crate::listen::ListenLimits::default());
        let c = Config::resolve(
            parse("rtmp_max_connections = 5\nhttp_header_timeout_ms = 2000").unwrap(),
            Overrides {
                rtmp_max_connections_per_ip: Some(2),
                rtmp_admission_timeout_ms: Some(500),
                ..Default::default()
            },
        )
        .unwrap();
        let l = c.listen_limits;
        assert_eq!((l.rtmp.total, l.rtmp.per_ip), (5, 2));
        assert_eq!(l.header_timeout.as_millis(), 2000);
        assert_eq!(l.rtmp_admission_timeout.as_millis(), 500);
        // A default per-IP cap above a small total shrinks to it.
        let c = Config::resolve(parse("max_connections = 3").unwrap(), Overrides::default());
        assert_eq!(c.unwrap().listen_limits.signaling.per_ip, 3);
        let e = |f: &str| {
            Config::resolve(parse(f).unwrap(), Overrides::default())
                .unwrap_err()
                .code()
        };
        for bad in [
            "max_connections = 0",
            "flv_max_connections_per_ip = 0",
            "rtmp_max_connections = 4\nrtmp_max_connections_per_ip = 5",
        ] {
            assert_eq!(e(bad), "config.bad_connection_limit", "{bad}");
        }
        for bad in [
            "http_header_timeout_ms = 0",
            "rtmp_admission_timeout_ms = 600001",
        ] {
            assert_eq!(e(bad), "config.bad_listen_timeout", "{bad}");
        }
    }

    #[test]
    fn origins_are_normalized_and_validated() {
        for (given, want) in [
            ("https://App.Example.com", "https://app.example.com"),
            ("HTTPS://app.example.com/", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://app.example.com:80/", "http://app.example.com"),
            ("http://localhost:8080", "http://localhost:8080"),
            ("https://xn--fsq.example", "https://xn--fsq.example"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://[0:0::1]", "http://[::1]"),
            (" https://a.example ", "https://a.example"),
        ] {
            assert_eq!(normalize_origin(given).as_deref(), Some(want), "{given}");
        }
        for bad in [
            "",
            "null",
            "*",
            "app.example.com",
            "ftp://app.example.com",
            "wss://app.example.com",
            "https://",
            "https://app.example.com/path",
            "https://app.example.com//",
            "https://app.example.com?x=1",
            "https://app.example.com#x",
            "https://user@app.example.com",
            "https://user:pw@app.example.com",
            "https://app.example.com:",
            "https://app.example.com:0",
            "https://app.example.com:65536",
            "https://app.example.com:+80",
            "https://app..example.com",
            "https://app_example.com",
            "https://例子.example",
            "http://[::1",
            "http://[nope]",
            "http://[::1]x",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn allowed_origins_from_file_replaced_by_overrides() {
        let f = || parse("allowed_origins = [\"https://F.example/\"]").unwrap();
        let c = Config::resolve(f(), Overrides::default()).unwrap();
        assert_eq!(c.allowed_origins, ["https://f.example"]);
        let o = Overrides {
            allowed_origins: vec!["http://o.example:8080".into(), "https://p.example".into()],
            ..Default::default()
        };
        let c = Config::resolve(f(), o).unwrap();
        assert_eq!(
            c.allowed_origins,
            ["http://o.example:8080", "https://p.example"]
        );
        let c = Config::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert!(c.allowed_origins.is_empty(), "default: any origin");
        let e = Config::resolve(
            FileConfig::default(),
            Overrides {
                allowed_origins: vec!["https://ok.example".into(), "https://x.example/p".into()],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "config.bad_origin");
        assert!(e.to_string().contains("\"https://x.example/p\""), "{e}");
    }

    #[test]
    fn short_or_empty_media_secrets_refused() {
        for (file, flag) in [
            (Some(""), None),
            (Some("short"), None),
            (None, Some("")),
            (None, Some("x".repeat(MIN_MEDIA_SECRET - 1).as_str())),
        ] {
            let f = FileConfig {
                media_secret: file.map(Into::into),
                ..Default::default()
            };
            let o = Overrides {
                media_secret: flag.map(Into::into),
                ..Default::default()
            };
            let e = Config::resolve(f, o).unwrap_err();
            assert_eq!(e.code(), "config.bad_media_secret");
        }
        let ok = Overrides {
            media_secret: Some("y".repeat(MIN_MEDIA_SECRET).into()),
            ..Default::default()
        };
        assert!(Config::resolve(FileConfig::default(), ok).is_ok());
    }

    #[test]
    fn secrets_never_printed() {
        let f = parse(
            "media_secret = \"m-secret-1-0123456789abcdef0123456789\"\n[[apps]]\nkey = \"a\"\nsecret = \"a-secret-1\"\n",
        )
        .unwrap();
        let o = Overrides {
            media_secret: Some("m-secret-2-0123456789abcdef0123456789".into()),
            apps: vec!["b:a-secret-2".into()],
            ..Default::default()
        };
        let shown = [format!("{f:?}"), format!("{o:?}")];
        let c = Config::resolve(f, o.clone()).unwrap();
        for text in shown.iter().chain([&format!("{c:?}"), &format!("{c:#?}")]) {
            for secret in ["m-secret-1", "m-secret-2", "a-secret-1", "a-secret-2"] {
                assert!(!text.contains(secret), "{text}");
            }
            assert!(text.contains("<redacted>"), "{text}");
        }
        assert!(format!("{c:?}").contains("key: \"b\""));
        // A malformed --app entry may be a bare secret: its error does not repeat it.
        let e = Config::resolve(
            FileConfig::default(),
            Overrides {
                apps: vec!["a:s".into(), "a-secret-3".into()],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "config.bad_app_flag");
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains("a-secret-3") && text.contains('2'), "{text}");
        }
        // Nor does a file that fails to parse on a line holding a secret.
        let text = "listen = \"127.0.0.1:1\"\n[[apps]]\nkey = \"a\"\nsecret = a-secret-4\n";
        let err = toml::from_str::<FileConfig>(text).unwrap_err();
        let msg = parse_message(text, &err);
        assert!(msg.starts_with("line 4, column 10: "), "{msg}");
        assert!(!msg.contains("a-secret-4"), "{msg}");
    }
}
