//! Server configuration: a TOML file, overridden by environment variables, overridden by flags.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One application allowed to use this server.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The app key clients pass as `appkey`.
    pub key: String,
    /// HS256 secret that signs join tokens. Required unless `insecure`.
    #[serde(default)]
    pub secret: Option<String>,
    /// Debug mode (the vendors' 调试模式): members join without a token.
    #[serde(default)]
    pub insecure: bool,
}

/// The file form; every field optional so flags and env can fill the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub rtmp_listen: Option<SocketAddr>,
    pub flv_listen: Option<SocketAddr>,
    /// Host name put into media URLs (default: the listener's IP).
    pub public_host: Option<String>,
    /// Secret that signs media URLs (default: random per process).
    pub media_secret: Option<String>,
    pub url_ttl_secs: Option<u64>,
    pub max_frame_bytes: Option<usize>,
    /// Rooms this server holds at most.
    pub max_rooms: Option<usize>,
    /// Members one room holds at most.
    pub max_members_per_room: Option<usize>,
    /// Sustained requests per second one connection may send.
    pub max_requests_per_sec: Option<u32>,
    /// Clients ping this often (milliseconds).
    pub ping_interval_ms: Option<u64>,
    /// A ping unanswered this long means a dead connection (milliseconds).
    pub ping_timeout_ms: Option<u64>,
    /// Where push tasks with `record: true` write their files.
    pub recordings_dir: Option<PathBuf>,
    /// The ffmpeg binary push-task compositors run.
    pub ffmpeg: Option<PathBuf>,
    #[serde(default)]
    pub apps: Vec<AppConfig>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub rtmp_listen: SocketAddr,
    pub flv_listen: SocketAddr,
    pub public_host: Option<String>,
    pub media_secret: Option<String>,
    pub url_ttl_secs: u64,
    pub max_frame_bytes: usize,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub limits: crate::signaling::Limits,
    pub recordings_dir: PathBuf,
    pub ffmpeg: PathBuf,
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
    #[error("--app expects KEY:SECRET, got {0:?}")]
    BadAppFlag(String),
    #[error("max_frame_bytes must be between 256 and 1048576")]
    BadFrameLimit,
    #[error("url_ttl_secs must be between 1 and 604800")]
    BadTtl,
    #[error(
        "ping_interval_ms must be 100 to 60000 and ping_timeout_ms from ping_interval_ms to 120000"
    )]
    BadHeartbeat,
    #[error("max_rooms, max_members_per_room and max_requests_per_sec must be at least 1")]
    BadLimit,
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
            Self::BadFrameLimit => "config.bad_frame_limit",
            Self::BadTtl => "config.bad_ttl",
            Self::BadHeartbeat => "config.bad_heartbeat",
            Self::BadLimit => "config.bad_limit",
        }
    }
}

/// Overrides from flags or the environment (clap merges those two).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub rtmp_listen: Option<SocketAddr>,
    pub flv_listen: Option<SocketAddr>,
    pub public_host: Option<String>,
    pub media_secret: Option<String>,
    pub url_ttl_secs: Option<u64>,
    pub max_frame_bytes: Option<usize>,
    pub ping_interval_ms: Option<u64>,
    pub ping_timeout_ms: Option<u64>,
    pub max_rooms: Option<usize>,
    pub max_members_per_room: Option<usize>,
    pub max_requests_per_sec: Option<u32>,
    pub recordings_dir: Option<PathBuf>,
    pub ffmpeg: Option<PathBuf>,
    /// `KEY:SECRET` pairs.
    pub apps: Vec<String>,
    /// Keys of apps that join without tokens.
    pub insecure_apps: Vec<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Config {
    pub fn resolve(file: FileConfig, o: Overrides) -> Result<Self, ConfigError> {
        let mut apps = HashMap::new();
        let mut add = |a: AppConfig| -> Result<(), ConfigError> {
            if !valid_key(&a.key) {
                return Err(ConfigError::BadAppKey(a.key));
            }
            if !a.insecure && a.secret.as_deref().unwrap_or("").is_empty() {
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
        for s in o.apps {
            let (k, sec) = s
                .split_once(':')
                .ok_or_else(|| ConfigError::BadAppFlag(s.clone()))?;
            add(AppConfig {
                key: k.into(),
                secret: Some(sec.into()),
                insecure: false,
            })?;
        }
        for k in o.insecure_apps {
            add(AppConfig {
                key: k,
                secret: None,
                insecure: true,
            })?;
        }
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
        };
        if limits.max_rooms == 0
            || limits.max_members_per_room == 0
            || limits.max_requests_per_sec == 0
        {
            return Err(ConfigError::BadLimit);
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
            media_secret: o.media_secret.or(file.media_secret),
            url_ttl_secs,
            max_frame_bytes,
            ping_interval_ms,
            ping_timeout_ms,
            limits,
            recordings_dir: o
                .recordings_dir
                .or(file.recordings_dir)
                .unwrap_or_else(|| PathBuf::from("recordings")),
            ffmpeg: o
                .ffmpeg
                .or(file.ffmpeg)
                .unwrap_or_else(|| PathBuf::from("ffmpeg")),
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
        assert_eq!(c.apps["a"].secret.as_deref(), Some("s"));
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
}
