//! `bindnetstatus`: the quality samples both components report, read field by field.

use crate::prelude::*;
use crate::protocol::json::Json;

use super::lenient::{amount, integer, number, signed, text};

/// A `bindnetstatus` `info` object. `<live-pusher>` and `<live-player>` share the shape; each
/// reports the fields that make sense for it, so every field is optional. Numbers given as
/// strings are read; a field that is not a usable number is left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetStatus {
    /// `videoBitrate`: video bitrate, kbit/s.
    pub video_bitrate: Option<u32>,
    /// `audioBitrate`: audio bitrate, kbit/s.
    pub audio_bitrate: Option<u32>,
    /// `videoFPS`: video frame rate.
    pub video_fps: Option<f64>,
    /// `videoGOP`: key-frame interval, seconds.
    pub video_gop: Option<f64>,
    /// `netSpeed`: network speed, kbit/s.
    pub net_speed: Option<u32>,
    /// `netJitter`: network jitter; larger is less stable.
    pub net_jitter: Option<u32>,
    /// `netQualityLevel`: 0 unknown, 1 excellent, 2 good, 3 poor, 4 bad, 5 very bad, 6 unusable.
    /// Values outside 0 to 6 are left out.
    pub net_quality_level: Option<u8>,
    /// `videoWidth`: pixels.
    pub video_width: Option<u32>,
    /// `videoHeight`: pixels.
    pub video_height: Option<u32>,
    /// `videoCache`: buffered video, ms.
    pub video_cache: Option<u32>,
    /// `audioCache`: buffered audio, ms.
    pub audio_cache: Option<u32>,
    /// `vDecCacheSize`: frames waiting in the hardware decoder (Android).
    pub v_dec_cache_size: Option<u32>,
    /// `vSumCacheSize`: frames waiting in all video buffers.
    pub v_sum_cache_size: Option<u32>,
    /// `avPlayInterval`: audio/video play-time difference, ms (may be negative).
    pub av_play_interval: Option<i64>,
    /// `avRecvInterval`: audio/video receive-time difference, ms (may be negative).
    pub av_recv_interval: Option<i64>,
    /// `audioCacheThreshold`: the audio buffer's threshold.
    pub audio_cache_threshold: Option<f64>,
    /// `code`: a state code some platforms put into pusher netstatus.
    pub code: Option<i64>,
    /// `message`: the text that goes with `code`.
    pub message: Option<String>,
}

impl NetStatus {
    /// True when no field could be read.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `bindnetstatus`: the `info` object itself, or `{info}` / `{detail: {info}}` around it.
/// `None` when nothing in it is readable.
pub fn parse_net_status(v: &Json) -> Option<NetStatus> {
    let o = v;
    if !o.is_object() {
        return None;
    }
    if let Some(inner @ Json::Obj(_)) = o.get("info").or_else(|| o.get("detail")) {
        if let Some(s) = parse_net_status(inner) {
            return Some(s);
        }
    }
    let f = |k: &str| o.get(k);
    let s = NetStatus {
        video_bitrate: f("videoBitrate").and_then(amount),
        audio_bitrate: f("audioBitrate").and_then(amount),
        video_fps: f("videoFPS").and_then(number).filter(|n| *n >= 0.0),
        video_gop: f("videoGOP").and_then(number).filter(|n| *n >= 0.0),
        net_speed: f("netSpeed").and_then(amount),
        net_jitter: f("netJitter").and_then(amount),
        net_quality_level: f("netQualityLevel")
            .and_then(integer)
            .filter(|q| (0..=6).contains(q))
            .map(|q| q as u8),
        video_width: f("videoWidth").and_then(amount),
        video_height: f("videoHeight").and_then(amount),
        video_cache: f("videoCache").and_then(amount),
        audio_cache: f("audioCache").and_then(amount),
        v_dec_cache_size: f("vDecCacheSize").and_then(amount),
        v_sum_cache_size: f("vSumCacheSize").and_then(amount),
        av_play_interval: f("avPlayInterval").and_then(signed),
        av_recv_interval: f("avRecvInterval").and_then(signed),
        audio_cache_threshold: f("audioCacheThreshold").and_then(number),
        code: f("code").and_then(integer),
        message: f("message").and_then(text),
    };
    (!s.is_empty()).then_some(s)
}
