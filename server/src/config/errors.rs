//! [`ConfigError`]: why a configuration is refused, each with a stable code (`config.*`) that
//! `mprtc-server` prints as `error[code]: message`. A message never repeats a secret.

use std::path::PathBuf;

use super::MIN_MEDIA_SECRET;

/// A configuration the server refuses to start with.
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
    #[error(
        "publisher_grace_ms must be at most 60000 (0 makes a publisher's drop end its stream)"
    )]
    BadPublisherGrace,
    #[error("recording_segment_secs must be 1 to 3600, recording_max_files at least 1 and recording_max_bytes at least 1048576")]
    BadRecordingLimit,
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
    /// An external media engine needs this setting.
    #[error("{0} must be set when media is nginx-rtmp or srs")]
    MediaSettingMissing(&'static str),
    #[error(
        "media base {0:?} is invalid: use rtmp://host[:port]/app or http://host[:port][/path] (URL-safe characters, no query)"
    )]
    BadMediaBase(String),
    /// The value is not echoed: it is a secret.
    #[error(
        "media_hook_secret must be at least {MIN_MEDIA_SECRET} letters, digits, '_' or '-' (it was {0} bytes)"
    )]
    BadHookSecret(usize),
    #[error("media hook source {0:?} is invalid: use an IP address or ADDRESS/PREFIX")]
    BadHookSource(String),
    #[error("trusted proxy {0:?} is invalid: use an IP address or ADDRESS/PREFIX")]
    BadTrustedProxy(String),
    /// The value is not echoed: it is a secret.
    #[error(
        "metrics_token must be at least {MIN_MEDIA_SECRET} bytes (it was {0}); unset it to serve no /metrics"
    )]
    BadMetricsToken(usize),
    /// The value is not echoed: it is a secret.
    #[error(
        "console_token must be at least {MIN_MEDIA_SECRET} bytes (it was {0}); unset it to serve no console"
    )]
    BadConsoleToken(usize),
    #[error(
        "app {0:?} lists webhooks but has no secret to sign them with (insecure apps get none)"
    )]
    WebhooksWithoutSecret(String),
    #[error(
        "webhook URL {0:?} is invalid: use http:// or https:// with a host, optional port and path, no user"
    )]
    BadWebhookUrl(String),
    #[error("webhook_queue of app {0:?} must be between 1 and 100000")]
    BadWebhookQueue(String),
    /// A cluster node (`redis_url` set) needs this setting.
    #[error("{0} must be set when redis_url is")]
    ClusterSettingMissing(&'static str),
    #[error("{0} is a cluster setting: it needs redis_url")]
    ClusterWithoutRedis(&'static str),
    /// The value is not echoed: it is a secret.
    #[error("cluster_secret must be at least {MIN_MEDIA_SECRET} bytes (it was {0})")]
    BadClusterSecret(usize),
    #[error("cluster_advertise {0:?} is invalid: use http://host:port")]
    BadClusterAdvertise(String),
    #[error("cluster_lease_ms must be between 1000 and 60000")]
    BadClusterLease,
    /// The value is not echoed: it may hold a password.
    #[error("redis_url is invalid: use redis://[user:password@]host:port[/db]")]
    BadRedisUrl,
}

impl ConfigError {
    /// The stable code of this error (`config.*`), printed as `error[code]`.
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
            Self::BadPublisherGrace => "config.bad_publisher_grace",
            Self::BadRecordingLimit => "config.bad_recording_limit",
            Self::BadLimit => "config.bad_limit",
            Self::BadMediaSecret(_) => "config.bad_media_secret",
            Self::BadQueueLimit => "config.bad_queue_limit",
            Self::BadConnectionLimit(_) => "config.bad_connection_limit",
            Self::BadListenTimeout(_) => "config.bad_listen_timeout",
            Self::MediaSettingMissing(_) => "config.media_setting_missing",
            Self::BadMediaBase(_) => "config.bad_media_base",
            Self::BadHookSecret(_) => "config.bad_hook_secret",
            Self::BadHookSource(_) => "config.bad_hook_source",
            Self::BadTrustedProxy(_) => "config.bad_trusted_proxy",
            Self::BadMetricsToken(_) => "config.bad_metrics_token",
            Self::BadConsoleToken(_) => "config.bad_console_token",
            Self::WebhooksWithoutSecret(_) => "config.webhooks_without_secret",
            Self::BadWebhookUrl(_) => "config.bad_webhook_url",
            Self::BadWebhookQueue(_) => "config.bad_webhook_queue",
            Self::ClusterSettingMissing(_) => "config.cluster_setting_missing",
            Self::ClusterWithoutRedis(_) => "config.cluster_without_redis_url",
            Self::BadClusterSecret(_) => "config.bad_cluster_secret",
            Self::BadClusterAdvertise(_) => "config.bad_cluster_advertise",
            Self::BadClusterLease => "config.bad_cluster_lease",
            Self::BadRedisUrl => "config.bad_redis_url",
        }
    }
}
