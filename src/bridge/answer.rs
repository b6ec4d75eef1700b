//! Writing what the core says back to the shim as JSON: outputs, app events with the field
//! names of the NetEase API, and errors as `{code, reason, message, field?}` (the shim makes
//! them real `Error`s).

use crate::core::component::NetStatus;
use crate::core::params::MAX_SAFE_INTEGER;
use crate::core::{AppEvent, Error, OpValue, Output, ZegoFact};
use crate::prelude::*;
use crate::protocol::json::{write_i64, write_u64, ObjOut, ToJson};
use crate::protocol::{KickReason, LeaveReason, Role};

impl ToJson for Error {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("code", &self.code.as_u16())
            .field("reason", self.code.name())
            .field("message", &self.message)
            .opt("field", &self.field)
            .end();
    }
}

/// A uid as JS gets it: a number up to 2^53-1, above that its decimal string (a JS number
/// would not hold it exactly).
pub(super) struct JsUid(pub u64);

impl ToJson for JsUid {
    fn write_json(&self, out: &mut String) {
        if self.0 > MAX_SAFE_INTEGER {
            out.push('"');
            write_u64(out, self.0);
            out.push('"');
        } else {
            write_u64(out, self.0);
        }
    }
}

/// `uid`, and `isBigNumber` as the NetEase API flags a uid that comes as a string.
fn uid_out(o: &mut ObjOut, uid: u64) {
    o.field("uid", &JsUid(uid))
        .field("isBigNumber", &(uid > MAX_SAFE_INTEGER));
}

/// A measured value of a component report. JS reads it back as the same number to about 15
/// significant digits: exact for whole numbers, and for fractions without `core::fmt`'s float
/// printing, which would cost the wasm more than the whole JSON writer.
struct Measure(f64);

impl ToJson for Measure {
    fn write_json(&self, out: &mut String) {
        let f = self.0;
        if !f.is_finite() {
            return out.push_str("null");
        }
        if f.abs() < 9.0e15 && (f as i64) as f64 == f {
            return write_i64(out, f as i64);
        }
        // f = m * 10^e with 15 digits in m, written as `{m}e{e}` (valid JSON; JS parses it).
        let mut e: i64 = 0;
        let mut m = f.abs();
        while m >= 1e15 {
            m /= 10.0;
            e += 1;
        }
        while m < 1e14 {
            m *= 10.0;
            e -= 1;
        }
        let mut digits = (m + 0.5) as u64;
        while digits.is_multiple_of(10) {
            digits /= 10;
            e += 1;
        }
        if f < 0.0 {
            out.push('-');
        }
        write_u64(out, digits);
        out.push('e');
        write_i64(out, e);
    }
}

/// `bindnetstatus` fields under their WeChat names; fields the component did not report are
/// left out.
fn net_status_out(o: &mut ObjOut, n: &NetStatus) {
    let nums: [(&str, Option<f64>); 16] = [
        ("videoBitrate", n.video_bitrate.map(f64::from)),
        ("audioBitrate", n.audio_bitrate.map(f64::from)),
        ("videoFPS", n.video_fps),
        ("videoGOP", n.video_gop),
        ("netSpeed", n.net_speed.map(f64::from)),
        ("netJitter", n.net_jitter.map(f64::from)),
        ("netQualityLevel", n.net_quality_level.map(f64::from)),
        ("videoWidth", n.video_width.map(f64::from)),
        ("videoHeight", n.video_height.map(f64::from)),
        ("videoCache", n.video_cache.map(f64::from)),
        ("audioCache", n.audio_cache.map(f64::from)),
        ("vDecCacheSize", n.v_dec_cache_size.map(f64::from)),
        ("vSumCacheSize", n.v_sum_cache_size.map(f64::from)),
        ("avPlayInterval", n.av_play_interval.map(|v| v as f64)),
        ("avRecvInterval", n.av_recv_interval.map(|v| v as f64)),
        ("audioCacheThreshold", n.audio_cache_threshold),
    ];
    for (k, v) in nums {
        if let Some(v) = v {
            o.field(k, &Measure(v));
        }
    }
}

/// The `data` of an app event.
struct EventData<'a>(&'a AppEvent);

impl ToJson for EventData<'_> {
    fn write_json(&self, out: &mut String) {
        let mut d = ObjOut::start(out);
        match self.0 {
            AppEvent::Open | AppEvent::LiveRoomClose => {}
            AppEvent::Disconnect { code, reason } => {
                d.field("code", code).field("reason", reason);
            }
            AppEvent::ClientJoin { uid } | AppEvent::MuteChanged { uid, .. } => {
                uid_out(&mut d, *uid)
            }
            AppEvent::ClientLeave { uid, reason } => {
                uid_out(&mut d, *uid);
                d.field(
                    "reason",
                    match reason {
                        LeaveReason::Left => "left",
                        LeaveReason::ConnectionLost => "connection_lost",
                        LeaveReason::Kicked => "kicked",
                    },
                );
            }
            AppEvent::StreamAdded { uid, media } | AppEvent::StreamRemoved { uid, media } => {
                uid_out(&mut d, *uid);
                d.field("mediaType", media.name());
            }
            AppEvent::RtmpTasksStatus {
                task_id,
                code,
                msg,
                stream_url,
            } => {
                d.field("taskId", task_id)
                    .field("code", code)
                    .field("msg", msg)
                    .field("streamUrl", stream_url);
            }
            AppEvent::SyncDone { kind, uid, url } => {
                uid_out(&mut d, *uid);
                d.field("url", url).field("kind", kind.name());
                // Newer NetEase docs describe the same news as a list.
                let mut one = String::new();
                let mut o = ObjOut::start(&mut one);
                uid_out(&mut o, *uid);
                o.field("url", url).end();
                d.raw("userlist", &crate::text::cat(&["[", &one, "]"]));
            }
            AppEvent::Kicked { reason } => {
                d.field(
                    "reason",
                    match reason {
                        KickReason::Replaced => "replaced",
                        KickReason::Kicked => "kicked",
                        KickReason::TokenExpired => "token_expired",
                    },
                );
            }
            AppEvent::TokenWillExpire { remaining_s } => {
                d.field("remainingSeconds", remaining_s);
            }
            AppEvent::WillReconnect { count, gap } => {
                d.field("count", count);
                // Only when it is so: an ordinary drop stays `{count}`.
                if *gap {
                    d.field("gap", gap);
                }
            }
            AppEvent::Reconnected { resumed } => {
                d.field("resumed", resumed);
            }
            AppEvent::ReconnectFailed {
                attempts,
                elapsed_ms,
            } => {
                d.field("attempts", attempts).field("elapsedMs", elapsed_ms);
            }
            AppEvent::SendCommandOverTime { command } => {
                d.field("command", *command);
            }
            AppEvent::PusherState { phase, code } => {
                d.field("phase", phase.name());
                d.field("code", code);
            }
            AppEvent::PlayerState { uid, phase, code } => {
                uid_out(&mut d, *uid);
                d.field("phase", phase.name());
                d.field("code", code);
            }
            AppEvent::Identity { uid, user, stream } => {
                uid_out(&mut d, *uid);
                if let Some(u) = user {
                    d.field("userID", &u.id).field("userName", &u.name);
                }
                d.opt("streamID", stream);
            }
            AppEvent::Zego(ZegoFact::Ended { code }) => {
                d.field("code", &code.as_u16());
            }
            AppEvent::Quality { kind, uid, net } => {
                d.field("kind", kind.name());
                uid_out(&mut d, *uid);
                net_status_out(&mut d, net);
            }
            AppEvent::Message {
                id,
                kind,
                uid,
                text,
                ts,
            } => {
                uid_out(&mut d, *uid);
                d.field("id", id)
                    .field("type", kind)
                    .field("text", text)
                    .field("ts", ts);
            }
            AppEvent::ExtraInfo {
                uid,
                key,
                value,
                ts,
            } => {
                uid_out(&mut d, *uid);
                d.opt("key", key).field("value", value).field("ts", ts);
            }
            AppEvent::RoleChanged { uid, role } => {
                uid_out(&mut d, *uid);
                d.field(
                    "role",
                    if *role == Role::Audience {
                        "audience"
                    } else {
                        "broadcaster"
                    },
                );
            }
        }
        d.end();
    }
}

/// One output as the object the shim acts on: `{kind: 'connect' | 'send' | 'close' | 'event'
/// | 'resolve' | 'reject', ...}`.
impl ToJson for Output {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjOut::start(out);
        match self {
            Output::Connect { url } => {
                o.field("kind", "connect").field("url", url);
            }
            Output::Send(data) => {
                o.field("kind", "send").field("data", data);
            }
            Output::Close { code, reason } => {
                o.field("kind", "close")
                    .field("code", code)
                    .field("reason", reason);
            }
            Output::Event(ev) => {
                o.field("kind", "event")
                    .field("name", ev.name())
                    .field("data", &EventData(ev));
            }
            Output::Resolve { op, value } => {
                o.field("kind", "resolve").field("op", op);
                match value {
                    // No `value`: the promise resolves with `undefined`.
                    OpValue::Done => {}
                    OpValue::PushUrl(url) => {
                        o.field("value", url);
                    }
                    OpValue::Message { id, ts } => {
                        let mut v = String::new();
                        ObjOut::start(&mut v).field("id", id).field("ts", ts).end();
                        o.raw("value", &v);
                    }
                    OpValue::Play { url, flv_url } => {
                        let mut v = String::new();
                        ObjOut::start(&mut v)
                            .field("url", url)
                            .field("flvUrl", flv_url)
                            .end();
                        o.raw("value", &v);
                    }
                }
            }
            Output::Reject { op, error } => {
                o.field("kind", "reject")
                    .field("op", op)
                    .field("error", error);
            }
        }
        o.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(f: f64) -> String {
        Measure(f).to_json_string()
    }

    #[test]
    fn measures_read_back_as_the_same_number() {
        assert_eq!(measure(15.0), "15");
        assert_eq!(measure(-2301.0), "-2301");
        assert_eq!(measure(0.0), "0");
        assert_eq!(measure(f64::NAN), "null");
        assert_eq!(measure(14.928), "14928e-3");
        assert_eq!(measure(-0.25), "-25e-2");
        for f in [
            14.928,
            0.1,
            1.0 / 3.0,
            123456.789,
            1e-7,
            2.5e20,
            -7.75,
            9.5e15,
        ] {
            let back: f64 = measure(f).parse().unwrap();
            assert!(((back - f) / f).abs() < 1e-14, "{f} -> {back}");
        }
    }
}
