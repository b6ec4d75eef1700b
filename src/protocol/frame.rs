//! The envelope. Every frame is one JSON object with the protocol version `v`.
//!
//! ```text
//! C→S {"v":1,"id":7,"type":"join","body":{...}}      request; id is the client's, per connection
//! S→C {"v":1,"re":7,"ok":true,"body":{...}}          exactly one response per request id
//! S→C {"v":1,"re":7,"ok":false,"err":{"code":4013,"msg":"..."}}
//! S→C {"v":1,"seq":42,"type":"stream-added","body":{...}}   event; seq is per session, from 1
//! ```
//! A frame that cannot be attributed to a request is answered with `re` absent and `ok:false`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ErrorCode, WireError};
use super::messages::Event;

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// Request kinds, by wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Join,
    Leave,
    Publish,
    Unpublish,
    Subscribe,
    Unsubscribe,
    SetRole,
    AddTasks,
    UpdateTasks,
    DeleteTasks,
    Ping,
    RenewToken,
    Mute,
}

impl RequestKind {
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Leave => "leave",
            Self::Publish => "publish",
            Self::Unpublish => "unpublish",
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::SetRole => "set-role",
            Self::AddTasks => "add-tasks",
            Self::UpdateTasks => "update-tasks",
            Self::DeleteTasks => "delete-tasks",
            Self::Ping => "ping",
            Self::RenewToken => "renew-token",
            Self::Mute => "mute",
        }
    }
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "join" => Self::Join,
            "leave" => Self::Leave,
            "publish" => Self::Publish,
            "unpublish" => Self::Unpublish,
            "subscribe" => Self::Subscribe,
            "unsubscribe" => Self::Unsubscribe,
            "set-role" => Self::SetRole,
            "add-tasks" => Self::AddTasks,
            "update-tasks" => Self::UpdateTasks,
            "delete-tasks" => Self::DeleteTasks,
            "ping" => Self::Ping,
            "renew-token" => Self::RenewToken,
            "mute" => Self::Mute,
            _ => return None,
        })
    }
}

#[derive(Serialize)]
struct RequestOut<'a, B: Serialize> {
    v: u32,
    id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    body: &'a B,
}

/// Encode a request.
pub fn encode_request<B: Serialize>(id: u32, kind: RequestKind, body: &B) -> String {
    let f = RequestOut {
        v: VERSION,
        id,
        kind: kind.wire_name(),
        body,
    };
    serde_json::to_string(&f).expect("request bodies always serialize")
}

/// Read a request; on failure say which request (if any) the error belongs to.
pub fn decode_request(text: &str) -> Result<(u32, RequestKind, Value), (Option<u32>, WireError)> {
    let malformed = |re, msg: String| (re, WireError::new(ErrorCode::MalformedFrame, msg));
    if !text.trim_start().starts_with('{') {
        return Err(malformed(None, "a frame must be a JSON object".into()));
    }
    // One parse into a map: a repeated key keeps its last value (RFC 8259 leaves repeats to
    // the reader), so a readable id is always found and answered.
    let mut map: serde_json::Map<String, Value> = serde_json::from_str(text).map_err(|e| {
        // The body may hold what a map cannot (a number beyond f64): if the envelope itself
        // reads, the error still goes to its id.
        #[derive(Deserialize)]
        struct Envelope {
            v: u32,
            id: u32,
        }
        let re = serde_json::from_str::<Envelope>(text)
            .ok()
            .filter(|p| p.v == VERSION)
            .map(|p| p.id);
        malformed(re, format!("not a JSON object frame: {e}"))
    })?;
    let int = |k: &str| {
        map.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let (v, id) = (int("v"), int("id"));
    if v != Some(VERSION) {
        return Err((
            id,
            WireError::new(
                ErrorCode::UnsupportedVersion,
                format!("protocol version {v:?} not supported; this server speaks {VERSION}"),
            ),
        ));
    }
    let id = id.ok_or_else(|| malformed(None, "bad envelope: `id` must be a u32".into()))?;
    let kind = match map.get("type") {
        Some(Value::String(t)) => RequestKind::from_wire(t).ok_or_else(|| {
            (
                Some(id),
                WireError::new(
                    ErrorCode::UnknownRequest,
                    format!("unknown request type {t:?}"),
                ),
            )
        })?,
        _ => {
            return Err(malformed(
                Some(id),
                "bad envelope: `type` must be a string".into(),
            ))
        }
    };
    Ok((id, kind, map.remove("body").unwrap_or(Value::Null)))
}

/// Type a request body, mapping failures to `InvalidParams`.
pub fn body<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, WireError> {
    serde_json::from_value(v).map_err(|e| WireError::new(ErrorCode::InvalidParams, e.to_string()))
}

#[derive(Serialize)]
struct OkOut<'a, B: Serialize> {
    v: u32,
    re: u32,
    ok: bool,
    body: &'a B,
}

#[derive(Serialize)]
struct ErrOut<'a> {
    v: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    re: Option<u32>,
    ok: bool,
    err: &'a WireError,
}

#[derive(Serialize)]
struct EventOut<'a> {
    v: u32,
    seq: u64,
    #[serde(flatten)]
    ev: &'a Event,
}

pub fn encode_ok<B: Serialize>(re: u32, body: &B) -> String {
    serde_json::to_string(&OkOut {
        v: VERSION,
        re,
        ok: true,
        body,
    })
    .expect("bodies serialize")
}

pub fn encode_err(re: Option<u32>, err: &WireError) -> String {
    serde_json::to_string(&ErrOut {
        v: VERSION,
        re,
        ok: false,
        err,
    })
    .expect("errors serialize")
}

pub fn encode_event(seq: u64, ev: &Event) -> String {
    serde_json::to_string(&EventOut {
        v: VERSION,
        seq,
        ev,
    })
    .expect("events serialize")
}

/// An event's `"type"` and `"body"` as one JSON object, without the envelope: encoded once
/// when many members get the same event, each frame then made by [`event_frame`].
pub fn encode_event_body(ev: &Event) -> String {
    serde_json::to_string(ev).expect("events serialize")
}

/// The frame [`encode_event`] makes, from a body made by [`encode_event_body`].
pub fn event_frame(seq: u64, body: &str) -> String {
    let rest = body.strip_prefix('{').unwrap_or(body);
    format!("{{\"v\":{VERSION},\"seq\":{seq},{rest}")
}

/// A server frame as the client reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    Ok { re: u32, body: Value },
    Err { re: Option<u32>, err: WireError },
    Event { seq: u64, event: Event },
}

/// Read a server frame. Errors are human-readable descriptions of what was wrong.
pub fn decode_server(text: &str) -> Result<ServerFrame, String> {
    #[derive(Deserialize)]
    struct Raw {
        v: u32,
        re: Option<u32>,
        ok: Option<bool>,
        seq: Option<u64>,
        #[serde(rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        body: Value,
        err: Option<WireError>,
    }
    let raw: Raw = serde_json::from_str(text).map_err(|e| format!("bad server frame: {e}"))?;
    if raw.v != VERSION {
        return Err(format!(
            "server speaks protocol {}, this SDK {VERSION}",
            raw.v
        ));
    }
    match (raw.ok, raw.seq) {
        (Some(true), _) => {
            let re = raw.re.ok_or("ok response without re")?;
            Ok(ServerFrame::Ok { re, body: raw.body })
        }
        (Some(false), _) => {
            let err = raw.err.ok_or("error response without err")?;
            Ok(ServerFrame::Err { re: raw.re, err })
        }
        (None, Some(seq)) => {
            let kind = raw.kind.ok_or("event without type")?;
            let event: Event =
                serde_json::from_value(serde_json::json!({ "type": kind, "body": raw.body }))
                    .map_err(|e| format!("bad event {kind:?}: {e}"))?;
            Ok(ServerFrame::Event { seq, event })
        }
        (None, None) => Err("frame is neither response nor event".into()),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_event_encoded_once_makes_the_same_frames() {
        use crate::protocol::{KickReason, Media, Role};
        let evs = [
            Event::MemberJoined {
                uid: 7,
                role: Role::Audience,
                user: None,
            },
            Event::StreamAdded {
                uid: 1,
                media: Media::BOTH,
                stream: Some("cam".into()),
            },
            Event::MuteChanged {
                uid: 2,
                media: Media::BOTH,
                muted: true,
            },
            Event::RoomClosed {},
            Event::Kicked {
                reason: KickReason::TokenExpired,
            },
        ];
        for ev in evs {
            let body = encode_event_body(&ev);
            for seq in [1, 42, u64::MAX] {
                assert_eq!(event_frame(seq, &body), encode_event(seq, &ev));
            }
        }
    }
    use super::*;
    use crate::protocol::messages::*;

    #[test]
    fn request_round_trip() {
        let s = encode_request(
            7,
            RequestKind::Publish,
            &PublishReq {
                stream: None,
                media: Media {
                    audio: true,
                    video: false,
                },
            },
        );
        assert_eq!(
            s,
            r#"{"v":1,"id":7,"type":"publish","body":{"audio":true,"video":false}}"#
        );
        let (id, kind, b) = decode_request(&s).unwrap();
        assert_eq!((id, kind), (7, RequestKind::Publish));
        let p: PublishReq = body(b).unwrap();
        assert!(p.media.audio && !p.media.video);
    }

    #[test]
    fn request_errors_are_typed_and_attributed() {
        let (re, e) = decode_request("{oops").unwrap_err();
        assert_eq!((re, e.code), (None, ErrorCode::MalformedFrame));
        let (re, e) = decode_request(r#"{"v":9,"id":3,"type":"join"}"#).unwrap_err();
        assert_eq!((re, e.code), (Some(3), ErrorCode::UnsupportedVersion));
        let (re, e) = decode_request(r#"{"v":1,"id":4,"type":"dance"}"#).unwrap_err();
        assert_eq!((re, e.code), (Some(4), ErrorCode::UnknownRequest));
        let (re, e) = decode_request(r#"[1,2]"#).unwrap_err();
        assert_eq!((re, e.code), (None, ErrorCode::MalformedFrame));
        let (re, e) = decode_request(r#"{"v":1,"type":"join"}"#).unwrap_err();
        assert_eq!((re, e.code), (None, ErrorCode::MalformedFrame));
        let err = body::<JoinReq>(serde_json::json!({"room": 5})).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParams);
    }

    #[test]
    fn server_frames_round_trip() {
        let ev = Event::StreamAdded {
            uid: u64::MAX,
            media: Media::BOTH,
            stream: None,
        };
        let s = encode_event(3, &ev);
        assert_eq!(
            decode_server(&s).unwrap(),
            ServerFrame::Event { seq: 3, event: ev }
        );
        let s = encode_err(Some(2), &WireError::new(ErrorCode::NotPublishing, "x"));
        assert!(matches!(
            decode_server(&s).unwrap(),
            ServerFrame::Err { re: Some(2), .. }
        ));
        let s = encode_ok(
            5,
            &SubscribeOk {
                url: "u".into(),
                flv_url: "f".into(),
            },
        );
        assert!(matches!(
            decode_server(&s).unwrap(),
            ServerFrame::Ok { re: 5, .. }
        ));
        assert!(decode_server(r#"{"v":1}"#).is_err());
        assert!(decode_server(r#"{"v":2,"re":1,"ok":true}"#).is_err());
        assert!(decode_server(r#"{"v":1,"seq":1,"type":"nope","body":{}}"#).is_err());
    }
}
