//! The component bridge: what a page forwards from `<live-pusher>` and `<live-player>` (through
//! `client.dataReporter(kind, event, data, uid?)`) read into typed values.
//!
//! Everything here is lenient on purpose. The components' payloads differ between base library
//! versions and platforms, typings disagree on whether numbers are numbers or strings, and pages
//! forward what they get (`e.detail`, `e.detail.info`, or a hand-built object). So the parsers
//! never fail: a field that cannot be read is left out, a code nobody documented is kept as
//! `Unknown(code)`, and a payload with nothing readable parses to `None`. Only the *names* of
//! the component and of the event are strict (see [`ComponentKind`] and [`ReportEvent`]),
//! because a typo there is a programming error the app wants to hear about.

use ::core::str::FromStr;

use crate::prelude::*;
use crate::protocol::json::{self, Json, Num};
use crate::text::{cat, quoted};

use super::error::Error;

/// Which component a report comes from, as `dataReporter`'s first argument names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentKind {
    /// `'push'`: the page's `<live-pusher>` (this member's own stream).
    Push,
    /// `'pull'`: a `<live-player>` playing a remote member's stream.
    Pull,
}

impl ComponentKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Pull => "pull",
        }
    }
}

impl FromStr for ComponentKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "push" => Ok(Self::Push),
            "pull" => Ok(Self::Pull),
            other => Err(Error::invalid(cat(&[
                "dataReporter kind must be 'push' (<live-pusher>) or 'pull' (<live-player>), not ",
                &quoted(other),
            ]))),
        }
    }
}

/// Which component event a report carries, named after the component's attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportEvent {
    /// `'bindstatechange'`: `e.detail` is `{code}`.
    StateChange,
    /// `'bindnetstatus'`: `e.detail.info` (or `e.detail`) is the [`NetStatus`] object.
    NetStatus,
    /// `'binderror'`: `e.detail` is `{errCode, errMsg}`.
    Error,
}

impl ReportEvent {
    pub fn name(self) -> &'static str {
        match self {
            Self::StateChange => "bindstatechange",
            Self::NetStatus => "bindnetstatus",
            Self::Error => "binderror",
        }
    }
}

impl FromStr for ReportEvent {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "bindstatechange" => Ok(Self::StateChange),
            "bindnetstatus" => Ok(Self::NetStatus),
            "binderror" => Ok(Self::Error),
            other => Err(Error::invalid(cat(&[
                "dataReporter event must be 'bindstatechange', 'bindnetstatus' or 'binderror', not ",
                &quoted(other),
            ]))),
        }
    }
}

/// A `<live-pusher>` `bindstatechange` code. Positive 1xxx codes are news, negative codes are
/// fatal errors (the pusher has stopped), 11xx and 3xxx are warnings (it keeps trying).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PusherState {
    /// 1001: connected to the push server.
    Connected,
    /// 1002: handshake with the push server done; pushing has started.
    PushBegin,
    /// 1003: the camera opened.
    CameraOpened,
    /// 1004: screen recording started.
    ScreenCaptureStarted,
    /// 1005: the encoder changed the resolution to fit the uplink.
    ResolutionChanged,
    /// 1006: the encoder changed the bitrate to fit the uplink.
    BitrateChanged,
    /// 1007: the first frame was captured.
    FirstFrameCaptured,
    /// 1008: the encoder started.
    EncoderStarted,
    /// -1301: the camera could not be opened.
    CameraOpenFailed,
    /// -1302: the microphone could not be opened.
    MicOpenFailed,
    /// -1303: video encoding failed.
    VideoEncodeFailed,
    /// -1304: audio encoding failed.
    AudioEncodeFailed,
    /// -1305: the requested video resolution is not supported.
    UnsupportedResolution,
    /// -1306: the requested audio sample rate is not supported.
    UnsupportedSampleRate,
    /// -1307: the network dropped and the pusher's own retries gave up; pushing must be
    /// restarted (the core asks for a fresh push URL and emits `syncDone`).
    NetworkDisconnected,
    /// -1308: screen recording could not start.
    ScreenCaptureFailed,
    /// -1309: screen recording is not supported (Android below 5.0).
    ScreenCaptureUnsupported,
    /// -1310: screen recording was interrupted.
    ScreenCaptureInterrupted,
    /// -1311: the microphone opened but delivers no data (Android).
    MicNoData,
    /// -1312: screen recording could not follow an orientation change.
    ScreenCaptureOrientationFailed,
    /// 1101: the uplink is poor; consider lowering the resolution or bitrate.
    NetBusy,
    /// 1102: the network dropped; the pusher is reconnecting by itself.
    Reconnecting,
    /// 1103: hardware encoding failed; switched to software encoding.
    HwEncoderFallback,
    /// 1104: video encoding failed (a warning; the pusher carries on).
    VideoEncodeWarning,
    /// 1105: the new beauty filter's software encoding failed; switched to the old one.
    BeautyEncodeFallback,
    /// 1106: like 1105, reported by other builds.
    BeautyEncodeFallback2,
    /// 3001: the RTMP server's name could not be resolved.
    RtmpDnsFailed,
    /// 3002: the RTMP server could not be reached.
    RtmpConnectFailed,
    /// 3003: the RTMP handshake failed.
    RtmpHandshakeFailed,
    /// 3004: the RTMP server closed the connection (the URL may be wrong or expired).
    RtmpServerClosed,
    /// 3005: reading from or writing to the RTMP connection failed.
    RtmpReadWriteFailed,
    /// A code not listed above (TRTC room codes, newer base libraries, ...), kept as is.
    Unknown(i64),
}

impl PusherState {
    pub fn from_code(code: i64) -> Self {
        use PusherState::*;
        match code {
            1001 => Connected,
            1002 => PushBegin,
            1003 => CameraOpened,
            1004 => ScreenCaptureStarted,
            1005 => ResolutionChanged,
            1006 => BitrateChanged,
            1007 => FirstFrameCaptured,
            1008 => EncoderStarted,
            -1301 => CameraOpenFailed,
            -1302 => MicOpenFailed,
            -1303 => VideoEncodeFailed,
            -1304 => AudioEncodeFailed,
            -1305 => UnsupportedResolution,
            -1306 => UnsupportedSampleRate,
            -1307 => NetworkDisconnected,
            -1308 => ScreenCaptureFailed,
            -1309 => ScreenCaptureUnsupported,
            -1310 => ScreenCaptureInterrupted,
            -1311 => MicNoData,
            -1312 => ScreenCaptureOrientationFailed,
            1101 => NetBusy,
            1102 => Reconnecting,
            1103 => HwEncoderFallback,
            1104 => VideoEncodeWarning,
            1105 => BeautyEncodeFallback,
            1106 => BeautyEncodeFallback2,
            3001 => RtmpDnsFailed,
            3002 => RtmpConnectFailed,
            3003 => RtmpHandshakeFailed,
            3004 => RtmpServerClosed,
            3005 => RtmpReadWriteFailed,
            other => Unknown(other),
        }
    }

    pub fn code(self) -> i64 {
        use PusherState::*;
        match self {
            Connected => 1001,
            PushBegin => 1002,
            CameraOpened => 1003,
            ScreenCaptureStarted => 1004,
            ResolutionChanged => 1005,
            BitrateChanged => 1006,
            FirstFrameCaptured => 1007,
            EncoderStarted => 1008,
            CameraOpenFailed => -1301,
            MicOpenFailed => -1302,
            VideoEncodeFailed => -1303,
            AudioEncodeFailed => -1304,
            UnsupportedResolution => -1305,
            UnsupportedSampleRate => -1306,
            NetworkDisconnected => -1307,
            ScreenCaptureFailed => -1308,
            ScreenCaptureUnsupported => -1309,
            ScreenCaptureInterrupted => -1310,
            MicNoData => -1311,
            ScreenCaptureOrientationFailed => -1312,
            NetBusy => 1101,
            Reconnecting => 1102,
            HwEncoderFallback => 1103,
            VideoEncodeWarning => 1104,
            BeautyEncodeFallback => 1105,
            BeautyEncodeFallback2 => 1106,
            RtmpDnsFailed => 3001,
            RtmpConnectFailed => 3002,
            RtmpHandshakeFailed => 3003,
            RtmpServerClosed => 3004,
            RtmpReadWriteFailed => 3005,
            Unknown(c) => c,
        }
    }

    /// A documented fatal error: the pusher has stopped (negative codes -1301 to -1312).
    pub fn is_fatal(self) -> bool {
        (-1312..=-1301).contains(&self.code())
    }

    /// The pusher stopped in a way a fresh push URL fixes: only -1307 (network gone after the
    /// pusher's own retries). The other fatal codes are device failures (camera, microphone,
    /// encoder, screen recording) that a new URL cannot cure, so the core does not re-publish
    /// for them.
    pub fn needs_new_url(self) -> bool {
        self == Self::NetworkDisconnected
    }
}

/// A `<live-player>` `bindstatechange` code. 200x are news, negative codes are fatal (the
/// player has stopped), 21xx and 3xxx are warnings (it keeps trying).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlayerState {
    /// 2001: connected to the server.
    Connected,
    /// 2002: connected; pulling the stream has started.
    PullBegin,
    /// 2003: the first key frame (IDR) arrived.
    FirstIdrReceived,
    /// 2004: playback started.
    PlayBegin,
    /// 2005: playback progress.
    Progress,
    /// 2006: playback ended.
    PlayEnd,
    /// 2007: loading (buffering).
    Loading,
    /// 2008: the decoder started.
    DecoderStarted,
    /// 2009: the video resolution changed.
    ResolutionChanged,
    /// -2301: the network dropped and the player's own retries gave up; playing must be
    /// restarted (the core asks for a fresh play URL and emits `syncDone`).
    NetworkDisconnected,
    /// -2302: the accelerated play URL could not be obtained.
    AccUrlFailed,
    /// 2101: decoding a video frame failed.
    VideoDecodeFailed,
    /// 2102: decoding an audio frame failed.
    AudioDecodeFailed,
    /// 2103: the network dropped; the player is reconnecting by itself.
    Reconnecting,
    /// 2104: incoming packets are unstable (poor downlink, or the pusher's uplink).
    StreamUnstable,
    /// 2105: playback stutters.
    Stutter,
    /// 2106: hardware decoding failed; switched to software decoding.
    HwDecoderFallback,
    /// 2107: the video frames are not contiguous; some may have been dropped.
    FramesDiscontinuous,
    /// 2108: hardware decoding of the first I-frame failed; switched to software decoding.
    FirstIFrameHwDecodeFallback,
    /// 3001: the server's name could not be resolved.
    RtmpDnsFailed,
    /// 3002: the server could not be reached.
    RtmpConnectFailed,
    /// 3003: the handshake with the server failed.
    RtmpHandshakeFailed,
    /// 3004: the server closed the connection (the URL may be wrong or expired).
    RtmpServerClosed,
    /// 3005: reading from or writing to the connection failed.
    RtmpReadWriteFailed,
    /// A code not listed above (2026, 2027, 2032, 6000 have been seen), kept as is.
    Unknown(i64),
}

impl PlayerState {
    pub fn from_code(code: i64) -> Self {
        use PlayerState::*;
        match code {
            2001 => Connected,
            2002 => PullBegin,
            2003 => FirstIdrReceived,
            2004 => PlayBegin,
            2005 => Progress,
            2006 => PlayEnd,
            2007 => Loading,
            2008 => DecoderStarted,
            2009 => ResolutionChanged,
            -2301 => NetworkDisconnected,
            -2302 => AccUrlFailed,
            2101 => VideoDecodeFailed,
            2102 => AudioDecodeFailed,
            2103 => Reconnecting,
            2104 => StreamUnstable,
            2105 => Stutter,
            2106 => HwDecoderFallback,
            2107 => FramesDiscontinuous,
            2108 => FirstIFrameHwDecodeFallback,
            3001 => RtmpDnsFailed,
            3002 => RtmpConnectFailed,
            3003 => RtmpHandshakeFailed,
            3004 => RtmpServerClosed,
            3005 => RtmpReadWriteFailed,
            other => Unknown(other),
        }
    }

    pub fn code(self) -> i64 {
        use PlayerState::*;
        match self {
            Connected => 2001,
            PullBegin => 2002,
            FirstIdrReceived => 2003,
            PlayBegin => 2004,
            Progress => 2005,
            PlayEnd => 2006,
            Loading => 2007,
            DecoderStarted => 2008,
            ResolutionChanged => 2009,
            NetworkDisconnected => -2301,
            AccUrlFailed => -2302,
            VideoDecodeFailed => 2101,
            AudioDecodeFailed => 2102,
            Reconnecting => 2103,
            StreamUnstable => 2104,
            Stutter => 2105,
            HwDecoderFallback => 2106,
            FramesDiscontinuous => 2107,
            FirstIFrameHwDecodeFallback => 2108,
            RtmpDnsFailed => 3001,
            RtmpConnectFailed => 3002,
            RtmpHandshakeFailed => 3003,
            RtmpServerClosed => 3004,
            RtmpReadWriteFailed => 3005,
            Unknown(c) => c,
        }
    }

    /// A documented fatal error: the player has stopped (-2301, -2302).
    pub fn is_fatal(self) -> bool {
        matches!(self, Self::NetworkDisconnected | Self::AccUrlFailed)
    }

    /// The player stopped in a way a fresh play URL fixes: only -2301. (-2302 is about a CDN
    /// acceleration service this server does not offer.)
    pub fn needs_new_url(self) -> bool {
        self == Self::NetworkDisconnected
    }
}

/// The last `bindstatechange` of a component, typed by the component it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentState {
    Pusher(PusherState),
    Player(PlayerState),
}

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

/// A `binderror` `errCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentErrorCode {
    /// 10001: the user has not allowed the camera (`scope.camera`).
    CameraDenied,
    /// 10002: the user has not allowed recording (`scope.record`).
    RecordDenied,
    /// 10003: the background music could not be loaded.
    BgmLoadFailed,
    /// 10004: `waiting-image` could not be loaded.
    WaitingImageLoadFailed,
    /// Any other code, kept as is.
    Unknown(i64),
}

impl ComponentErrorCode {
    pub fn from_code(code: i64) -> Self {
        match code {
            10001 => Self::CameraDenied,
            10002 => Self::RecordDenied,
            10003 => Self::BgmLoadFailed,
            10004 => Self::WaitingImageLoadFailed,
            other => Self::Unknown(other),
        }
    }
    pub fn code(self) -> i64 {
        match self {
            Self::CameraDenied => 10001,
            Self::RecordDenied => 10002,
            Self::BgmLoadFailed => 10003,
            Self::WaitingImageLoadFailed => 10004,
            Self::Unknown(c) => c,
        }
    }
}

/// A `binderror` report: `{errCode, errMsg}`, either of which may be missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentError {
    pub code: Option<ComponentErrorCode>,
    pub message: Option<String>,
}

// ---- parsers ---------------------------------------------------------------------------------

/// A number, or a string holding one (surrounding spaces allowed). Not finite → `None`.
fn number(v: &Json) -> Option<f64> {
    let n = match v {
        Json::Num(n) => n.as_f64(),
        // The wire's own number reader: JSON number syntax, and no second float parser in
        // the wasm.
        Json::Str(s) => json::number_in(s)?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// A whole number (a fraction is not a code). Out of `i64` range → `None`.
fn integer(v: &Json) -> Option<i64> {
    if let Json::Num(Num::U(_) | Num::I(_)) = v {
        if let Some(i) = v.as_i64() {
            return Some(i);
        }
    }
    let n = number(v)?;
    // In range, a whole number is one the cast leaves unchanged (`f64::fract` needs std).
    (n >= i64::MIN as f64 && n <= i64::MAX as f64 && (n as i64) as f64 == n).then_some(n as i64)
}

/// A non-negative amount; fractions are rounded.
fn amount(v: &Json) -> Option<u32> {
    let n = number(v)?;
    (n >= 0.0 && n <= u32::MAX as f64).then(|| round(n) as u32)
}

/// Half away from zero, as `f64::round` (which needs std). The casts saturate.
fn round(n: f64) -> f64 {
    if n >= 0.0 {
        ((n + 0.5) as i64) as f64
    } else {
        ((n - 0.5) as i64) as f64
    }
}

fn signed(v: &Json) -> Option<i64> {
    let n = number(v)?;
    (n >= i64::MIN as f64 && n <= i64::MAX as f64).then(|| round(n) as i64)
}

fn text(v: &Json) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// The code of a statechange payload: `{code}`, `{detail: {code}}` or the bare code.
fn state_code(v: &Json) -> Option<i64> {
    match v {
        Json::Obj(_) => match v.get("code") {
            Some(c) => integer(c),
            None => v.get("detail").and_then(state_code),
        },
        other => integer(other),
    }
}

/// `<live-pusher>` `bindstatechange`. `None` when the payload has no readable code.
pub fn parse_pusher_state(v: &Json) -> Option<PusherState> {
    state_code(v).map(PusherState::from_code)
}

/// `<live-player>` `bindstatechange`. `None` when the payload has no readable code.
pub fn parse_player_state(v: &Json) -> Option<PlayerState> {
    state_code(v).map(PlayerState::from_code)
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

/// `binderror`: `{errCode, errMsg}` or `{detail: {...}}` around it. `None` when neither is
/// readable.
pub fn parse_component_error(v: &Json) -> Option<ComponentError> {
    let o = v;
    if !o.is_object() {
        return None;
    }
    let code = o
        .get("errCode")
        .or_else(|| o.get("code"))
        .and_then(integer)
        .map(ComponentErrorCode::from_code);
    let message = o.get("errMsg").or_else(|| o.get("message")).and_then(text);
    if code.is_none() && message.is_none() {
        return o.get("detail").and_then(parse_component_error);
    }
    Some(ComponentError { code, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    // The readers take the core's `Json`; these tests write reports with serde_json, as text
    // through `Json::from` (the way a report crosses from JS).
    fn parse_pusher_state(v: &Value) -> Option<PusherState> {
        super::parse_pusher_state(&Json::from(v))
    }
    fn parse_player_state(v: &Value) -> Option<PlayerState> {
        super::parse_player_state(&Json::from(v))
    }
    fn parse_net_status(v: &Value) -> Option<NetStatus> {
        super::parse_net_status(&Json::from(v))
    }
    fn parse_component_error(v: &Value) -> Option<ComponentError> {
        super::parse_component_error(&Json::from(v))
    }

    const PUSHER_CODES: &[i64] = &[
        1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, -1301, -1302, -1303, -1304, -1305, -1306,
        -1307, -1308, -1309, -1310, -1311, -1312, 1101, 1102, 1103, 1104, 1105, 1106, 3001, 3002,
        3003, 3004, 3005,
    ];
    const PLAYER_CODES: &[i64] = &[
        2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, -2301, -2302, 2101, 2102, 2103, 2104,
        2105, 2106, 2107, 2108, 3001, 3002, 3003, 3004, 3005,
    ];

    #[test]
    fn every_pusher_code_has_its_own_variant_and_round_trips() {
        let mut seen = std::collections::HashSet::new();
        for &c in PUSHER_CODES {
            let s = PusherState::from_code(c);
            assert!(!matches!(s, PusherState::Unknown(_)), "{c} is documented");
            assert_eq!(s.code(), c);
            assert!(seen.insert(s), "{c} shares a variant");
            assert_eq!(parse_pusher_state(&json!({ "code": c })), Some(s));
            assert_eq!(s.is_fatal(), c < 0, "{c}");
        }
        assert_eq!(
            PusherState::from_code(-1307),
            PusherState::NetworkDisconnected
        );
        assert_eq!(PusherState::from_code(1002), PusherState::PushBegin);
        assert_eq!(PusherState::from_code(3004), PusherState::RtmpServerClosed);
        let renew: Vec<i64> = PUSHER_CODES
            .iter()
            .copied()
            .filter(|c| PusherState::from_code(*c).needs_new_url())
            .collect();
        assert_eq!(renew, vec![-1307]);
    }

    #[test]
    fn every_player_code_has_its_own_variant_and_round_trips() {
        let mut seen = std::collections::HashSet::new();
        for &c in PLAYER_CODES {
            let s = PlayerState::from_code(c);
            assert!(!matches!(s, PlayerState::Unknown(_)), "{c} is documented");
            assert_eq!(s.code(), c);
            assert!(seen.insert(s), "{c} shares a variant");
            assert_eq!(parse_player_state(&json!({ "code": c })), Some(s));
            assert_eq!(s.is_fatal(), c < 0, "{c}");
        }
        assert_eq!(
            PlayerState::from_code(-2301),
            PlayerState::NetworkDisconnected
        );
        assert_eq!(PlayerState::from_code(2004), PlayerState::PlayBegin);
        let renew: Vec<i64> = PLAYER_CODES
            .iter()
            .copied()
            .filter(|c| PlayerState::from_code(*c).needs_new_url())
            .collect();
        assert_eq!(renew, vec![-2301]);
    }

    #[test]
    fn unknown_codes_are_kept() {
        for c in [
            0,
            1018,
            1021,
            5000,
            -100018,
            -1326,
            2026,
            6000,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(PusherState::from_code(c), PusherState::Unknown(c));
            assert_eq!(PusherState::Unknown(c).code(), c);
            assert!(!PusherState::Unknown(c).needs_new_url());
        }
        // A pusher code is not a player code and the other way round.
        assert_eq!(PlayerState::from_code(1001), PlayerState::Unknown(1001));
        assert_eq!(PusherState::from_code(2004), PusherState::Unknown(2004));
        assert_eq!(PlayerState::from_code(-1307), PlayerState::Unknown(-1307));
        assert_eq!(
            parse_player_state(&json!({"code": 6000})),
            Some(PlayerState::Unknown(6000))
        );
    }

    #[test]
    fn state_payloads_are_read_leniently() {
        let want = Some(PusherState::NetworkDisconnected);
        for v in [
            json!({"code": -1307, "reason": ""}),
            json!({"code": "-1307"}),
            json!({"code": " -1307 "}),
            json!({"code": -1307.0}),
            json!({"detail": {"code": -1307}}),
            json!(-1307),
            json!("-1307"),
        ] {
            assert_eq!(parse_pusher_state(&v), want, "{v}");
        }
        for junk in [
            json!(null),
            json!({}),
            json!({"code": null}),
            json!({"code": "abc"}),
            json!({"code": 1.5}),
            json!({"code": true}),
            json!({"code": [1002]}),
            json!({"code": {}}),
            json!({"code": "1e400"}),
            json!([]),
            json!(false),
            json!(""),
        ] {
            assert_eq!(parse_pusher_state(&junk), None, "{junk}");
            assert_eq!(parse_player_state(&junk), None, "{junk}");
        }
    }

    #[test]
    fn net_status_reads_every_field() {
        let v = json!({
            "videoBitrate": 812, "audioBitrate": 64, "videoFPS": 14.5, "videoGOP": 3,
            "netSpeed": 900, "netJitter": 12, "netQualityLevel": 2, "videoWidth": 360,
            "videoHeight": 640, "videoCache": 300, "audioCache": 250, "vDecCacheSize": 1,
            "vSumCacheSize": 4, "avPlayInterval": -40, "avRecvInterval": 20,
            "audioCacheThreshold": 0.2, "code": 0, "message": "ok"
        });
        assert_eq!(
            parse_net_status(&v),
            Some(NetStatus {
                video_bitrate: Some(812),
                audio_bitrate: Some(64),
                video_fps: Some(14.5),
                video_gop: Some(3.0),
                net_speed: Some(900),
                net_jitter: Some(12),
                net_quality_level: Some(2),
                video_width: Some(360),
                video_height: Some(640),
                video_cache: Some(300),
                audio_cache: Some(250),
                v_dec_cache_size: Some(1),
                v_sum_cache_size: Some(4),
                av_play_interval: Some(-40),
                av_recv_interval: Some(20),
                audio_cache_threshold: Some(0.2),
                code: Some(0),
                message: Some("ok".into()),
            })
        );
    }

    #[test]
    fn net_status_takes_strings_and_skips_junk_per_field() {
        let v = json!({
            "videoBitrate": "812", "audioBitrate": " 64 ", "videoFPS": "15.2",
            "netQualityLevel": "3", "videoWidth": "wide", "videoHeight": null,
            "netSpeed": -5, "netJitter": [1], "videoCache": {}, "videoGOP": "NaN",
            "avPlayInterval": "-12.4", "unknownField": 7
        });
        let s = parse_net_status(&v).unwrap();
        assert_eq!(s.video_bitrate, Some(812));
        assert_eq!(s.audio_bitrate, Some(64));
        assert_eq!(s.video_fps, Some(15.2));
        assert_eq!(s.net_quality_level, Some(3));
        assert_eq!(s.av_play_interval, Some(-12));
        for missing in [
            s.video_width,
            s.video_height,
            s.net_speed,
            s.net_jitter,
            s.video_cache,
        ] {
            assert_eq!(missing, None);
        }
        assert_eq!(s.video_gop, None);
        // Fractions of whole amounts are rounded; quality outside 0..=6 is dropped.
        let s = parse_net_status(&json!({"videoBitrate": 99.6, "netQualityLevel": 9})).unwrap();
        assert_eq!(s.video_bitrate, Some(100));
        assert_eq!(s.net_quality_level, None);
        // Wrapped as e.detail or e.detail.info.
        let wrapped = parse_net_status(&json!({"info": {"videoBitrate": 5}})).unwrap();
        assert_eq!(wrapped.video_bitrate, Some(5));
        let wrapped = parse_net_status(&json!({"detail": {"info": {"netSpeed": "7"}}})).unwrap();
        assert_eq!(wrapped.net_speed, Some(7));
        // Nothing readable.
        for junk in [
            json!(null),
            json!({}),
            json!("x"),
            json!(12),
            json!([{"videoBitrate": 1}]),
            json!({"videoBitrate": "fast", "info": 3}),
        ] {
            assert_eq!(parse_net_status(&junk), None, "{junk}");
        }
    }

    #[test]
    fn errors_read_every_documented_code_and_keep_others() {
        for (c, want) in [
            (10001, ComponentErrorCode::CameraDenied),
            (10002, ComponentErrorCode::RecordDenied),
            (10003, ComponentErrorCode::BgmLoadFailed),
            (10004, ComponentErrorCode::WaitingImageLoadFailed),
        ] {
            assert_eq!(ComponentErrorCode::from_code(c), want);
            assert_eq!(want.code(), c);
            assert_eq!(
                parse_component_error(&json!({"errCode": c, "errMsg": "m"})),
                Some(ComponentError {
                    code: Some(want),
                    message: Some("m".into())
                })
            );
        }
        assert_eq!(
            parse_component_error(&json!({"errCode": "10001"}))
                .unwrap()
                .code,
            Some(ComponentErrorCode::CameraDenied)
        );
        assert_eq!(
            parse_component_error(&json!({"errCode": 42, "errMsg": 5})),
            Some(ComponentError {
                code: Some(ComponentErrorCode::Unknown(42)),
                message: None
            })
        );
        assert_eq!(
            parse_component_error(&json!({"errMsg": "no camera"})),
            Some(ComponentError {
                code: None,
                message: Some("no camera".into())
            })
        );
        assert_eq!(
            parse_component_error(&json!({"detail": {"errCode": 10002}}))
                .unwrap()
                .code,
            Some(ComponentErrorCode::RecordDenied)
        );
        for junk in [
            json!(null),
            json!({}),
            json!({"errCode": "x", "errMsg": null}),
            json!("err"),
            json!(10001),
        ] {
            assert_eq!(parse_component_error(&junk), None, "{junk}");
        }
    }

    #[test]
    fn names_are_strict_and_errors_typed() {
        assert_eq!("push".parse::<ComponentKind>(), Ok(ComponentKind::Push));
        assert_eq!("pull".parse::<ComponentKind>(), Ok(ComponentKind::Pull));
        for bad in ["", "Push", "pusher", "player"] {
            let e = bad.parse::<ComponentKind>().unwrap_err();
            assert_eq!(e.code, crate::protocol::ErrorCode::InvalidArgument);
            assert!(e.message.contains("'push'"), "{}", e.message);
        }
        for ev in [
            ReportEvent::StateChange,
            ReportEvent::NetStatus,
            ReportEvent::Error,
        ] {
            assert_eq!(ev.name().parse::<ReportEvent>(), Ok(ev));
        }
        for bad in ["", "statechange", "bindStateChange", "binderrors"] {
            let e = bad.parse::<ReportEvent>().unwrap_err();
            assert_eq!(e.code, crate::protocol::ErrorCode::InvalidArgument);
            assert!(e.message.contains("bindnetstatus"), "{}", e.message);
        }
        assert_eq!(ComponentKind::Push.name(), "push");
    }
}
