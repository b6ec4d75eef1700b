//! [`Config::resolve`]: the flags and environment laid over the file, then the defaults and
//! the checks, each refusal a typed [`ConfigError`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::{
    normalize_origin, AppConfig, Config, ConfigError, FileConfig, IpRange, Overrides, Secret,
    Settings, MIN_MEDIA_SECRET,
};

impl Config {
    /// The configuration `o` (flags and environment) over `file` gives, with the defaults for
    /// what neither sets; refused with the first setting that is out of range.
    pub fn resolve(file: FileConfig, o: Overrides) -> Result<Self, ConfigError> {
        let s = o.over(file);
        let listen_limits = listen_limits(&s)?;
        let mut apps = HashMap::new();
        let mut add = |a: AppConfig| -> Result<(), ConfigError> {
            if !valid_key(&a.key) {
                return Err(ConfigError::BadAppKey(a.key));
            }
            if !a.insecure && a.secret.as_ref().is_none_or(Secret::is_empty) {
                return Err(ConfigError::AppWithoutSecret(a.key));
            }
            check_webhooks(&a)?;
            if apps.contains_key(&a.key) {
                return Err(ConfigError::DuplicateApp(a.key));
            }
            apps.insert(a.key.clone(), a);
            Ok(())
        };
        for a in s.file_apps {
            add(a)?;
        }
        for (i, flag) in s.apps.iter().enumerate() {
            let (k, sec) = flag.split().ok_or(ConfigError::BadAppFlag(i + 1))?;
            add(AppConfig {
                key: k.into(),
                secret: Some(sec.into()),
                insecure: false,
                max_rooms: None,
                webhooks: Vec::new(),
                webhook_queue: None,
            })?;
        }
        for k in s.insecure_apps {
            add(AppConfig {
                key: k,
                secret: None,
                insecure: true,
                max_rooms: None,
                webhooks: Vec::new(),
                webhook_queue: None,
            })?;
        }
        let allowed_origins = s
            .allowed_origins
            .into_iter()
            .map(|s| normalize_origin(&s).ok_or(ConfigError::BadOrigin(s)))
            .collect::<Result<Vec<_>, _>>()?;
        let max_frame_bytes = s.max_frame_bytes.unwrap_or(16 * 1024);
        if !(256..=1 << 20).contains(&max_frame_bytes) {
            return Err(ConfigError::BadFrameLimit);
        }
        let url_ttl_secs = s.url_ttl_secs.unwrap_or(3600);
        if !(1..=604_800).contains(&url_ttl_secs) {
            return Err(ConfigError::BadTtl);
        }
        let ping_interval_ms = s.ping_interval_ms.unwrap_or(10_000);
        let ping_timeout_ms = s.ping_timeout_ms.unwrap_or(ping_interval_ms * 2);
        if !(100..=60_000).contains(&ping_interval_ms)
            || !(ping_interval_ms..=120_000).contains(&ping_timeout_ms)
        {
            return Err(ConfigError::BadHeartbeat);
        }
        let resume_window_ms = s.resume_window_ms.unwrap_or(30_000);
        if resume_window_ms > 600_000 {
            return Err(ConfigError::BadResumeWindow);
        }
        let publisher_grace_ms = s
            .publisher_grace_ms
            .unwrap_or(crate::media::DEFAULT_PUBLISHER_GRACE.as_millis() as u64);
        if publisher_grace_ms > 60_000 {
            return Err(ConfigError::BadPublisherGrace);
        }
        let dr = crate::recording::RecordingPolicy::default();
        let recording = crate::recording::RecordingPolicy {
            segment_secs: s.recording_segment_secs.unwrap_or(dr.segment_secs),
            max_files: s.recording_max_files.unwrap_or(dr.max_files),
            max_bytes: s.recording_max_bytes.unwrap_or(dr.max_bytes),
            // One disk holds both kinds of recording: one floor for both.
            min_free_bytes: s.tasks.record_min_free_bytes,
            ..dr
        };
        if !(1..=3600).contains(&recording.segment_secs)
            || recording.max_files == 0
            || recording.max_bytes < 1 << 20
        {
            return Err(ConfigError::BadRecordingLimit);
        }
        let dl = crate::signaling::Limits::default();
        let limits = crate::signaling::Limits {
            max_rooms: s.max_rooms.unwrap_or(dl.max_rooms),
            max_members_per_room: s.max_members_per_room.unwrap_or(dl.max_members_per_room),
            max_requests_per_sec: s.max_requests_per_sec.unwrap_or(dl.max_requests_per_sec),
            max_queued_bytes: s.max_queued_bytes.unwrap_or(dl.max_queued_bytes),
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
        let media_secret = s.media_secret;
        if let Some(s) = &media_secret {
            if s.len() < MIN_MEDIA_SECRET {
                return Err(ConfigError::BadMediaSecret(s.len()));
            }
        }
        // Whoever holds it reads the server's load and the count of everything, so it is held
        // to the media secret's length: a short one would fall to guessing.
        let metrics_token = s.metrics_token;
        if let Some(t) = &metrics_token {
            if t.len() < MIN_MEDIA_SECRET {
                return Err(ConfigError::BadMetricsToken(t.len()));
            }
        }
        // The console acts (kicks, closes rooms): the same length rule, and a token of its
        // own, so a scraper's token, which sits in a monitoring system, cannot act.
        let console_token = s.console_token;
        if let Some(t) = &console_token {
            if t.len() < MIN_MEDIA_SECRET {
                return Err(ConfigError::BadConsoleToken(t.len()));
            }
        }
        let external_media = super::media::resolve_media(
            s.media,
            s.media_rtmp_base,
            s.media_flv_base,
            s.media_play_bases,
            s.media_control,
            s.media_hook_secret,
            s.media_hook_sources,
        )?;
        let trusted_proxies = s
            .trusted_proxies
            .iter()
            .map(|r| IpRange::parse(r).ok_or_else(|| ConfigError::BadTrustedProxy(r.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let cluster = super::cluster::resolve_cluster(
            s.redis_url,
            s.cluster_advertise,
            s.cluster_secret,
            s.cluster_lease_ms,
        )?;
        let d = |s: &str| s.parse::<SocketAddr>().expect("default addresses parse");
        Ok(Config {
            listen: s.listen.unwrap_or_else(|| d("127.0.0.1:7880")),
            rtmp_listen: s.rtmp_listen.unwrap_or_else(|| d("127.0.0.1:1935")),
            flv_listen: s.flv_listen.unwrap_or_else(|| d("127.0.0.1:7881")),
            public_host: s.public_host,
            media_secret,
            url_ttl_secs,
            max_frame_bytes,
            ping_interval_ms,
            ping_timeout_ms,
            resume_window_ms,
            publisher_grace_ms,
            recording,
            debug_token_endpoint: s.debug_token_endpoint.unwrap_or(false),
            limits,
            listen_limits,
            recordings_dir: s
                .recordings_dir
                .unwrap_or_else(|| PathBuf::from("recordings")),
            ffmpeg: s.ffmpeg.unwrap_or_else(|| PathBuf::from("ffmpeg")),
            allowed_origins,
            tasks: s.tasks,
            external_media,
            metrics_token,
            console_token,
            log_format: s.log_format.unwrap_or_default(),
            trusted_proxies,
            cluster,
            apps,
        })
    }
}

/// The listeners' caps and timeouts: the settings, else the defaults.
fn listen_limits(s: &Settings) -> Result<crate::listen::ListenLimits, ConfigError> {
    use crate::listen::ConnCaps;
    let d = crate::listen::ListenLimits::default();
    let caps = |name, total: Option<usize>, per_ip: Option<usize>, dc: ConnCaps| {
        let total = total.unwrap_or(dc.total);
        let c = ConnCaps {
            total,
            per_ip: per_ip.unwrap_or(dc.per_ip.min(total)),
        };
        if c.total == 0 || c.per_ip == 0 || c.per_ip > c.total {
            return Err(ConfigError::BadConnectionLimit(name));
        }
        Ok(c)
    };
    let ms = |name, v: Option<u64>, dv: std::time::Duration| {
        let v = v.map_or(dv, std::time::Duration::from_millis);
        if !(100..=600_000).contains(&v.as_millis()) {
            return Err(ConfigError::BadListenTimeout(name));
        }
        Ok(v)
    };
    Ok(crate::listen::ListenLimits {
        signaling: caps(
            "max_connections / max_connections_per_ip",
            s.max_connections,
            s.max_connections_per_ip,
            d.signaling,
        )?,
        rtmp: caps(
            "rtmp_max_connections / rtmp_max_connections_per_ip",
            s.rtmp_max_connections,
            s.rtmp_max_connections_per_ip,
            d.rtmp,
        )?,
        flv: caps(
            "flv_max_connections / flv_max_connections_per_ip",
            s.flv_max_connections,
            s.flv_max_connections_per_ip,
            d.flv,
        )?,
        header_timeout: ms(
            "http_header_timeout_ms",
            s.http_header_timeout_ms,
            d.header_timeout,
        )?,
        rtmp_admission_timeout: ms(
            "rtmp_admission_timeout_ms",
            s.rtmp_admission_timeout_ms,
            d.rtmp_admission_timeout,
        )?,
    })
}

/// An app key: 1 to 64 of `[A-Za-z0-9_-]` (it goes into URLs and logs as it is).
fn valid_key(k: &str) -> bool {
    mprtc::protocol::names::is_url_safe(k, 64)
}

/// An app's webhooks: only with a secret (they are signed with it; an insecure app has
/// none), each URL http(s) with a host and no user information, and a queue cap in range.
fn check_webhooks(a: &AppConfig) -> Result<(), ConfigError> {
    if a.webhooks.is_empty() && a.webhook_queue.is_none() {
        return Ok(());
    }
    if a.insecure || a.secret.as_ref().is_none_or(Secret::is_empty) {
        return Err(ConfigError::WebhooksWithoutSecret(a.key.clone()));
    }
    for url in &a.webhooks {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let http = matches!(scheme.as_deref(), Some("http" | "https"));
        let clean = !url.contains(|c: char| c.is_whitespace() || c.is_control());
        if !http || !clean || crate::tasks::policy::host_port(url).is_none() {
            return Err(ConfigError::BadWebhookUrl(url.clone()));
        }
    }
    if a.webhook_queue.is_some_and(|n| !(1..=100_000).contains(&n)) {
        return Err(ConfigError::BadWebhookQueue(a.key.clone()));
    }
    Ok(())
}
