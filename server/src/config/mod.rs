//! Server configuration: a TOML file, overridden by environment variables, overridden by flags.
//!
//! | file | what |
//! | --- | --- |
//! | `settings.rs` | [`Settings`]: every setting once, for the file (serde) and the flags and environment (clap); how one set is laid over another |
//! | `mod.rs` | [`Config`], the resolved settings the server runs with, and [`AppConfig`] |
//! | `resolve.rs` | [`Config::resolve`]: precedence, defaults and checks |
//! | `errors.rs` | [`ConfigError`] and its stable codes |
//! | `media.rs` | [`MediaEngine`] and an external engine's bases and hook secret |
//! | `cluster.rs` | the cluster settings (`redis_url` and its company) checked |
//! | `origin.rs` | [`normalize_origin`] for the WebSocket's `Origin` check |
//!
//! Secrets are [`Secret`]s, so every type here derives `Debug` without printing one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

mod cluster;
mod errors;
mod media;
mod origin;
mod resolve;
mod settings;
#[cfg(test)]
mod tests;

pub use crate::secret::{Secret, REDACTED};
pub use errors::ConfigError;
pub use media::{parse_http_base, ExternalMediaConfig, HttpBase, IpRange, MediaEngine, MAX_NODES};
pub use origin::normalize_origin;
pub use settings::{AppFlag, FileConfig, Overrides, Settings};

/// One application allowed to use this server (a `[[apps]]` table, `--app` or
/// `--insecure-app`). Its secret prints as `<redacted>`.
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
    /// URLs (http or https) that receive this app's signed events (see `crate::webhooks`).
    /// In the file only: a list of URLs per app does not fit a flag, and an app given by
    /// `--app` has its backend configured where its other settings are.
    #[serde(default)]
    pub webhooks: Vec<String>,
    /// Events each of those URLs may have waiting (1 to 100000; default
    /// [`crate::webhooks::DEFAULT_QUEUE`]); past it the oldest is dropped.
    #[serde(default)]
    pub webhook_queue: Option<usize>,
}

/// The resolved configuration: every setting given a value and checked. The media secret and
/// the apps' secrets print as `<redacted>`.
#[derive(Clone, Debug)]
pub struct Config {
    /// The signaling HTTP/WebSocket address (default `127.0.0.1:7880`).
    pub listen: SocketAddr,
    /// The embedded media server's RTMP address (default `127.0.0.1:1935`).
    pub rtmp_listen: SocketAddr,
    /// The embedded media server's HTTP-FLV address (default `127.0.0.1:7881`).
    pub flv_listen: SocketAddr,
    /// Host name put into media URLs; `None`: the IP each media listener is bound to.
    pub public_host: Option<String>,
    /// Key that signs push and play URLs, at least [`MIN_MEDIA_SECRET`] bytes; `None`: 32
    /// random bytes per process (URLs then die with the process).
    pub media_secret: Option<Secret>,
    /// Lifetime of a signed media URL in seconds (1 to 604800; default 3600). A play URL
    /// also stops working when its viewer leaves ([`crate::signaling::Hub::may_play`]).
    pub url_ttl_secs: u64,
    /// Largest signaling frame answered normally (256 to 1 MiB; default 16 KiB).
    pub max_frame_bytes: usize,
    /// How often clients ping, told to them at join (100 to 60000; default 10000).
    pub ping_interval_ms: u64,
    /// A ping unanswered this long means a dead connection (from `ping_interval_ms` to 120000;
    /// default twice the interval).
    pub ping_timeout_ms: u64,
    /// How long a member whose connection dropped stays in its room (streams, push tasks and
    /// missed events kept) for its client to resume the session; 0 makes a drop a leave.
    pub resume_window_ms: u64,
    /// How long the embedded media server keeps a dropped publisher's stream and players for
    /// it to come back (0 to 60000 ms; 0: a drop ends the stream).
    pub publisher_grace_ms: u64,
    /// Member recordings: segment length and each app's quota (see [`crate::recording`]).
    pub recording: crate::recording::RecordingPolicy,
    /// Serve `GET /api/v1/debug/token`, which mints join tokens for anyone who asks (for demos
    /// and samples that fetch a token as from the app's backend). Never on a public server.
    pub debug_token_endpoint: bool,
    /// Rooms, members per room, requests per second and unread bytes per connection.
    pub limits: crate::signaling::Limits,
    /// Connection caps of the signaling, RTMP and HTTP-FLV listeners (in total and per
    /// client IPv4 address or IPv6 /64; over a cap a connection is closed unread), the
    /// HTTP header-read timeout (also the idle keep-alive limit) and the deadline for an
    /// RTMP connection to become a publisher or player.
    pub listen_limits: crate::listen::ListenLimits,
    /// Where push tasks with `record: true` write their files (default `recordings`).
    pub recordings_dir: PathBuf,
    /// The ffmpeg binary push-task compositors run (default `ffmpeg` on the `PATH`).
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
    /// The external media engine (nginx-rtmp or SRS) carrying the media; `None`: the
    /// embedded server (the default).
    pub external_media: Option<ExternalMediaConfig>,
    /// The bearer token `GET /metrics` asks for (at least [`MIN_MEDIA_SECRET`] bytes);
    /// `None`: `/metrics` is not served at all. The signaling port faces the internet, and
    /// the counts it exposes (rooms, members, load) are the operator's business only.
    pub metrics_token: Option<Secret>,
    /// The bearer token of the operator console (`/console`), at least [`MIN_MEDIA_SECRET`]
    /// bytes; `None`: no console. Kept apart from `metrics_token`: the console kicks and
    /// closes, a scraper only reads.
    pub console_token: Option<Secret>,
    /// Log lines as text (the default) or JSON objects; the same caps either way.
    pub log_format: crate::logging::LogFormat,
    /// Reverse proxies whose `X-Real-IP` names the client (see [`crate::throttle`]).
    pub trusted_proxies: Vec<IpRange>,
    /// This node's part in a cluster of nodes over Redis; `None`: a single node (the
    /// default). See [`crate::cluster`].
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// The apps allowed to use this server, by app key: the file's `[[apps]]`, then `--app`
    /// and `--insecure-app` (a key given twice is refused).
    pub apps: HashMap<String, AppConfig>,
}

/// The shortest media secret accepted: it is an HMAC-SHA256 key that anyone who can guess it
/// uses to forge push and play URLs for every app's streams, so an empty or word-sized one
/// (an `.env` template's `MPRTC_MEDIA_SECRET=`) must stop the server, not weaken it.
pub const MIN_MEDIA_SECRET: usize = 32;

/// App secrets shorter than this start the server with a warning: they sign join tokens and
/// guard the server API, and a short one falls to guessing.
pub const SHORT_APP_SECRET: usize = 16;
