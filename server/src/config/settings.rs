//! [`Settings`]: every server setting, listed once, for the three places they come from.
//!
//! One struct serves the TOML file (serde), the flags and the environment (clap, which merges
//! those two). [`Settings::over`] lays one set over another field by field (a value given
//! wins), so the precedence file < environment < flags is `flags_and_env.over(file)`; then
//! [`Config::resolve`](super::Config::resolve) applies the defaults and checks the result.
//!
//! A few fields have only one source: `config` (the file's own path), `--app` and
//! `--insecure-app` are flags only (`#[serde(skip)]`: the file has its `[[apps]]` tables), and
//! the `[[apps]]` and `[tasks]` tables are in the file only (`#[arg(skip)]`). A skipped key is
//! unknown to the file, which refuses it. Doc comments on fields are the `--help` text.

use std::fmt;
use std::mem::take;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{AppConfig, ConfigError, Secret, REDACTED};

/// Every setting of `mprtc-server serve`: from the TOML file, or from flags and `MPRTC_*`
/// environment variables. `None` or empty: not given here.
#[derive(clap::Args, Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// TOML config file.
    #[arg(long, env = "MPRTC_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Signaling HTTP/WebSocket address.
    #[arg(long, env = "MPRTC_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// RTMP address of the embedded media server.
    #[arg(long, env = "MPRTC_RTMP_LISTEN")]
    pub rtmp_listen: Option<SocketAddr>,
    /// HTTP-FLV address of the embedded media server.
    #[arg(long, env = "MPRTC_FLV_LISTEN")]
    pub flv_listen: Option<SocketAddr>,
    /// Host name to put into media URLs.
    #[arg(long, env = "MPRTC_PUBLIC_HOST")]
    pub public_host: Option<String>,
    /// Secret that signs media URLs (random per process if unset).
    #[arg(long, env = "MPRTC_MEDIA_SECRET", hide_env_values = true)]
    pub media_secret: Option<Secret>,
    /// Lifetime of media URLs in seconds.
    #[arg(long, env = "MPRTC_URL_TTL_SECS")]
    pub url_ttl_secs: Option<u64>,
    /// Largest signaling frame answered normally.
    #[arg(long, env = "MPRTC_MAX_FRAME_BYTES")]
    pub max_frame_bytes: Option<usize>,
    /// Rooms this server holds at most.
    #[arg(long, env = "MPRTC_MAX_ROOMS")]
    pub max_rooms: Option<usize>,
    /// Members one room holds at most.
    #[arg(long, env = "MPRTC_MAX_MEMBERS_PER_ROOM")]
    pub max_members_per_room: Option<usize>,
    /// Sustained requests per second one connection may send.
    #[arg(long, env = "MPRTC_MAX_REQUESTS_PER_SEC")]
    pub max_requests_per_sec: Option<u32>,
    /// Bytes queued for a connection that does not read before it is cut (it may resume).
    #[arg(long, env = "MPRTC_MAX_QUEUED_BYTES")]
    pub max_queued_bytes: Option<usize>,
    /// Signaling connections held at most (in total / per client IP or IPv6 /64).
    #[arg(long, env = "MPRTC_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    #[arg(long, env = "MPRTC_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// RTMP connections held at most (in total / per client IP or IPv6 /64).
    #[arg(long, env = "MPRTC_RTMP_MAX_CONNECTIONS")]
    pub rtmp_max_connections: Option<usize>,
    #[arg(long, env = "MPRTC_RTMP_MAX_CONNECTIONS_PER_IP")]
    pub rtmp_max_connections_per_ip: Option<usize>,
    /// HTTP-FLV connections held at most (in total / per client IP or IPv6 /64).
    #[arg(long, env = "MPRTC_FLV_MAX_CONNECTIONS")]
    pub flv_max_connections: Option<usize>,
    #[arg(long, env = "MPRTC_FLV_MAX_CONNECTIONS_PER_IP")]
    pub flv_max_connections_per_ip: Option<usize>,
    /// HTTP connections must send a request's headers within this (ms), also between requests.
    #[arg(long, env = "MPRTC_HTTP_HEADER_TIMEOUT_MS")]
    pub http_header_timeout_ms: Option<u64>,
    /// RTMP connections must publish or play within this after connecting (ms).
    #[arg(long, env = "MPRTC_RTMP_ADMISSION_TIMEOUT_MS")]
    pub rtmp_admission_timeout_ms: Option<u64>,
    /// Clients ping this often (ms).
    #[arg(long, env = "MPRTC_PING_INTERVAL_MS")]
    pub ping_interval_ms: Option<u64>,
    /// A ping unanswered this long means a dead connection (ms).
    #[arg(long, env = "MPRTC_PING_TIMEOUT_MS")]
    pub ping_timeout_ms: Option<u64>,
    /// How long a dropped member keeps its place for a resume (ms; 0: a drop is a leave).
    #[arg(long, env = "MPRTC_RESUME_WINDOW_MS")]
    pub resume_window_ms: Option<u64>,
    /// A dropped RTMP publisher's players wait this long for it to come back (ms; 0: they end).
    #[arg(long, env = "MPRTC_PUBLISHER_GRACE_MS")]
    pub publisher_grace_ms: Option<u64>,
    /// Member recordings are cut into files of this many seconds (1 to 3600; default 60).
    #[arg(long, env = "MPRTC_RECORDING_SEGMENT_SECS")]
    pub recording_segment_secs: Option<u32>,
    /// Finished member-recording files an app may have (default 10000).
    #[arg(long, env = "MPRTC_RECORDING_MAX_FILES")]
    pub recording_max_files: Option<usize>,
    /// Bytes of finished member recordings an app may have (at least 1 MiB; default 10 GiB).
    #[arg(long, env = "MPRTC_RECORDING_MAX_BYTES")]
    pub recording_max_bytes: Option<u64>,
    /// Serve GET /api/v1/debug/token, which mints join tokens for anyone (development only).
    #[arg(long, env = "MPRTC_DEBUG_TOKEN_ENDPOINT", num_args = 0..=1, default_missing_value = "true")]
    pub debug_token_endpoint: Option<bool>,
    /// Directory for push-task recordings.
    #[arg(long, env = "MPRTC_RECORDINGS_DIR")]
    pub recordings_dir: Option<PathBuf>,
    /// ffmpeg binary used by push-task compositors.
    #[arg(long, env = "MPRTC_FFMPEG")]
    pub ffmpeg: Option<PathBuf>,
    /// Media engine: embedded, nginx-rtmp or srs.
    #[arg(long, env = "MPRTC_MEDIA", value_enum)]
    pub media: Option<super::MediaEngine>,
    /// An external engine's public RTMP base (rtmp://host:port/app) pushers are given.
    #[arg(long, env = "MPRTC_MEDIA_RTMP_BASE")]
    pub media_rtmp_base: Option<String>,
    /// An external engine's public HTTP-FLV base (http://host:port/app), if it serves one.
    #[arg(long, env = "MPRTC_MEDIA_FLV_BASE")]
    pub media_flv_base: Option<String>,
    /// RTMP base of an edge players are spread over (repeatable; none: the RTMP base).
    #[arg(
        long = "media-play-base",
        env = "MPRTC_MEDIA_PLAY_BASES",
        value_delimiter = ','
    )]
    pub media_play_bases: Vec<String>,
    /// Control base of an engine node (repeatable): the origin first, then each edge, as
    /// numbered in their hook URLs (nginx-rtmp: the rtmp_control location; SRS: its HTTP API).
    #[arg(
        long = "media-control",
        env = "MPRTC_MEDIA_CONTROL",
        value_delimiter = ','
    )]
    pub media_control: Vec<String>,
    /// Address or ADDRESS/PREFIX hooks may come from (repeatable; none: any, with the secret).
    #[arg(
        long = "media-hook-source",
        env = "MPRTC_MEDIA_HOOK_SOURCES",
        value_delimiter = ','
    )]
    pub media_hook_sources: Vec<String>,
    /// Address or ADDRESS/PREFIX of a reverse proxy whose `X-Real-IP` header names the client
    /// (repeatable; none: no header is believed). The server API's failed-login throttle then
    /// counts the client, not the proxy.
    #[arg(
        long = "trusted-proxy",
        env = "MPRTC_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Secret carried in the engine's hook URLs (at least 32 URL-safe characters).
    #[arg(long, env = "MPRTC_MEDIA_HOOK_SECRET", hide_env_values = true)]
    pub media_hook_secret: Option<Secret>,
    /// An app as KEY:SECRET (repeatable).
    #[arg(
        long = "app",
        env = "MPRTC_APPS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    #[serde(skip)]
    pub apps: Vec<AppFlag>,
    /// An app key that joins without tokens (debug mode; repeatable).
    #[arg(
        long = "insecure-app",
        env = "MPRTC_INSECURE_APPS",
        value_delimiter = ','
    )]
    #[serde(skip)]
    pub insecure_apps: Vec<String>,
    /// A web origin (scheme://host[:port]) allowed to open the signaling WebSocket
    /// (repeatable; none: any). Requests without an Origin header, as mini-programs send,
    /// are always accepted.
    #[arg(
        long = "allowed-origin",
        env = "MPRTC_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Bearer token that may scrape GET /metrics (at least 32 bytes; unset: no /metrics).
    #[arg(long, env = "MPRTC_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,
    /// Bearer token of the operator console at /console, which may kick members, close rooms
    /// and stop tasks (at least 32 bytes; unset: no console).
    #[arg(long, env = "MPRTC_CONSOLE_TOKEN", hide_env_values = true)]
    pub console_token: Option<Secret>,
    /// Log lines as text or as JSON objects, one per line (for log shippers).
    #[arg(long, env = "MPRTC_LOG_FORMAT", value_enum)]
    pub log_format: Option<crate::logging::LogFormat>,
    /// Redis that joins this node to a cluster: redis://[user:password@]host:port[/db]
    /// (unset: a single node; Redis is never needed).
    #[arg(long, env = "MPRTC_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,
    /// Where the other nodes reach this node's signaling listener: http://host:port.
    #[arg(long, env = "MPRTC_CLUSTER_ADVERTISE")]
    pub cluster_advertise: Option<String>,
    /// Secret that authenticates node-to-node calls (at least 32 bytes; the same on every node).
    #[arg(long, env = "MPRTC_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<Secret>,
    /// How long a node's registration and its rooms' ownership live without renewal (ms).
    #[arg(long, env = "MPRTC_CLUSTER_LEASE_MS")]
    pub cluster_lease_ms: Option<u64>,
    /// The file's `[[apps]]` tables.
    #[arg(skip)]
    #[serde(rename = "apps")]
    pub file_apps: Vec<AppConfig>,
    /// The file's `[tasks]` table: what push tasks may do (images, outputs, caps, recordings).
    #[arg(skip)]
    pub tasks: crate::tasks::TaskPolicy,
}

/// The file form (every field optional so flags and env can fill the rest).
pub type FileConfig = Settings;

/// Overrides from flags or the environment (clap merges those two).
pub type Overrides = Settings;

/// Lays `$over` over `$under` field by field: an `Option` given in `$over` wins; the `$own`
/// fields, merged by hand, are taken from `$over`. Every field must be named in one of the
/// two lists: a field added to [`Settings`] and not merged fails to compile here.
macro_rules! over {
    ($over:ident, $under:ident; own: $($own:ident),*; $($field:ident),* $(,)?) => {{
        let Settings { $($own: _,)* $($field: _,)* } = &$over;
        Settings {
            $($field: $over.$field.or($under.$field),)*
            ..$over
        }
    }};
}

impl Settings {
    /// Reads and parses a TOML config file.
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

    /// `self` laid over `under`: each setting `self` gives wins; lists given in both add up
    /// (`under`'s first), except the allowed origins, which `self` replaces when it has any;
    /// the `[tasks]` table is `self`'s unless `self` leaves it at its defaults.
    pub fn over(mut self, mut under: Settings) -> Settings {
        let file_apps = [take(&mut under.file_apps), take(&mut self.file_apps)].concat();
        let apps = [take(&mut under.apps), take(&mut self.apps)].concat();
        let insecure_apps = [
            take(&mut under.insecure_apps),
            take(&mut self.insecure_apps),
        ]
        .concat();
        let allowed_origins = if self.allowed_origins.is_empty() {
            take(&mut under.allowed_origins)
        } else {
            take(&mut self.allowed_origins)
        };
        let tasks = if self.tasks == crate::tasks::TaskPolicy::default() {
            take(&mut under.tasks)
        } else {
            take(&mut self.tasks)
        };
        let media_play_bases =
            replace_list(&mut self.media_play_bases, &mut under.media_play_bases);
        let media_control = replace_list(&mut self.media_control, &mut under.media_control);
        let media_hook_sources =
            replace_list(&mut self.media_hook_sources, &mut under.media_hook_sources);
        let trusted_proxies = replace_list(&mut self.trusted_proxies, &mut under.trusted_proxies);
        let merged = over!(self, under;
            own: file_apps, apps, insecure_apps, allowed_origins, tasks, media_play_bases,
                media_control, media_hook_sources, trusted_proxies;
            config, listen, rtmp_listen, flv_listen, public_host, media_secret, url_ttl_secs,
            max_frame_bytes, max_rooms, max_members_per_room, max_requests_per_sec,
            max_queued_bytes, max_connections, max_connections_per_ip, rtmp_max_connections,
            rtmp_max_connections_per_ip, flv_max_connections, flv_max_connections_per_ip,
            http_header_timeout_ms, rtmp_admission_timeout_ms, ping_interval_ms,
            ping_timeout_ms, resume_window_ms, publisher_grace_ms, recording_segment_secs,
            recording_max_files, recording_max_bytes, debug_token_endpoint, recordings_dir, ffmpeg,
            media, media_rtmp_base, media_flv_base, media_hook_secret, metrics_token,
            console_token, log_format, redis_url, cluster_advertise, cluster_secret,
            cluster_lease_ms,
        );
        Settings {
            file_apps,
            apps,
            insecure_apps,
            allowed_origins,
            tasks,
            media_play_bases,
            media_control,
            media_hook_sources,
            trusted_proxies,
            ..merged
        }
    }
}

/// A list `over` replaces when it gives any (the edges of a deployment are listed whole).
fn replace_list(over: &mut Vec<String>, under: &mut Vec<String>) -> Vec<String> {
    if over.is_empty() {
        take(under)
    } else {
        take(over)
    }
}

/// Where and why the file failed to parse, *without* the excerpt of the file that the TOML
/// error's `Display` shows: that excerpt could be a line holding a secret.
pub(super) fn parse_message(text: &str, e: &toml::de::Error) -> String {
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

/// An `--app` / `MPRTC_APPS` entry, `KEY:SECRET`, as given: split (and refused by its
/// position, without echoing it) when the config is resolved.
///
/// `Debug` shows the key only: `key:<redacted>`, or `<redacted>` for an entry without `:`.
#[derive(Clone, PartialEq, Eq)]
pub struct AppFlag(Secret);

impl AppFlag {
    /// The key and the secret, if the entry has a `:`.
    pub(super) fn split(&self) -> Option<(&str, &str)> {
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
