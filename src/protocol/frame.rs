//! The envelope. Every frame is one JSON object with the protocol version `v`.
//!
//! ```text
//! C→S {"v":1,"id":7,"type":"join","body":{...}}      request; id is the client's, per connection
//! S→C {"v":1,"re":7,"ok":true,"body":{...}}          exactly one response per request id
//! S→C {"v":1,"re":7,"ok":false,"err":{"code":4013,"msg":"..."}}
//! S→C {"v":1,"seq":42,"type":"stream-added","body":{...}}   event; seq is per session, from 1
//! ```
//! A frame that cannot be attributed to a request is answered with `re` absent and `ok:false`.
//!
//! An event's `seq` is per session and contiguous: 1, 2, 3 … with no number skipped and none
//! reused, whichever connection of the session carries it. So a client that sees a hole (a
//! `seq` past its last + 1) knows an event is missing: it does not apply the later one,
//! drops the connection and resumes from its last contiguous `seq`, and the server sends
//! the missing events again (if it no longer has them, the client joins afresh for a
//! snapshot). A `seq` at or below the last applied is a repeat and is ignored.

use super::error::{ErrorCode, WireError};
use super::json::{self, write_u64, FromJson, Json, ToJson};
use super::messages::Event;
use crate::prelude::*;

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;
// The encoders below write the envelope's `"v":1` as a literal.
const _: () = assert!(VERSION == 1, "update the envelope literals in frame.rs");

/// Request kinds, by wire name.
///
/// The `type` of a request frame. Kept a closed enum so the server can answer an unknown
/// type with `UnknownRequest` (and the id) instead of a generic malformed-frame error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `join`: body [`JoinReq`](crate::protocol::JoinReq), answered with `JoinOk`.
    Join,
    /// `leave`: empty body `{}` (any JSON is accepted); the session ends.
    Leave,
    /// `publish`: body `PublishReq`, answered with `PublishOk` (the push URL).
    Publish,
    /// `unpublish`: body `UnpublishReq`, the media to stop.
    Unpublish,
    /// `subscribe`: body `SubscribeReq`, answered with `SubscribeOk` (the pull URLs).
    Subscribe,
    /// `unsubscribe`: body `UnsubscribeReq`.
    Unsubscribe,
    /// `set-role`: body `SetRoleReq`.
    SetRole,
    /// `add-tasks`: body `tasks::TasksReq`, checked by `tasks::check_tasks` on both ends.
    AddTasks,
    /// `update-tasks`: same body and checks as `add-tasks`, for tasks that exist.
    UpdateTasks,
    /// `delete-tasks`: body `tasks::DeleteTasksReq`.
    DeleteTasks,
    /// `ping`: body `PingReq`, answered with `PingOk`; also the keep-alive.
    Ping,
    /// `renew-token`: body `RenewTokenReq`, before the token expires.
    RenewToken,
    /// `mute`: body `MuteReq`.
    Mute,
    /// `send-message`: body `SendMessageReq`, answered with `SendMessageOk`.
    SendMessage,
    /// `set-extra-info`: body `SetExtraInfoReq`.
    SetExtraInfo,
}

impl RequestKind {
    /// The `type` string on the wire, e.g. `set-role`.
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
            Self::SendMessage => "send-message",
            Self::SetExtraInfo => "set-extra-info",
        }
    }
    /// The kind for a wire `type`; `None` for a type this build does not know.
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
            "send-message" => Self::SendMessage,
            "set-extra-info" => Self::SetExtraInfo,
            _ => return None,
        })
    }
}

/// Encode a request.
///
/// `{"v":1,"id":7,"type":"join","body":{...}}`. The envelope is written by hand rather than
/// through `ObjOut`: its shape is fixed, and the `"v":1` literal is guarded by the assertion
/// under [`VERSION`].
pub fn encode_request<B: ToJson + ?Sized>(id: u32, kind: RequestKind, body: &B) -> String {
    let mut s = String::with_capacity(64);
    s.push_str("{\"v\":1,\"id\":");
    write_u64(&mut s, u64::from(id));
    s.push_str(",\"type\":\"");
    s.push_str(kind.wire_name());
    s.push_str("\",\"body\":");
    body.write_json(&mut s);
    s.push('}');
    s
}

/// The `u32` at `key` of an envelope, if it is one.
fn envelope_u32(v: &Json, key: &str) -> Option<u32> {
    v.get(key)
        .and_then(Json::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// Read a request; on failure say which request (if any) the error belongs to.
///
/// The checks, in the order that lets each error be attributed as precisely as possible:
/// 1. the text starts with `{` (cheap, before parsing anything else), else `MalformedFrame`;
/// 2. it parses, else `MalformedFrame` with the syntax error and its byte offset;
/// 3. `v` is [`VERSION`], else `UnsupportedVersion`, answered to `id` when that is readable so
///    an old client learns why its request failed;
/// 4. `id` is a `u32`, else there is nothing to answer to (`re` absent);
/// 5. `type` is a known request, else `UnknownRequest` answered to `id`.
///
/// The body is returned untyped (`null` when absent): the caller types it with [`body`] once
/// it knows the kind, so a bad body is an `InvalidParams` answered to the right `id`.
pub fn decode_request(text: &str) -> Result<(u32, RequestKind, Json), (Option<u32>, WireError)> {
    let malformed = |re, msg: String| (re, WireError::new(ErrorCode::MalformedFrame, msg));
    if !text.trim_start().starts_with('{') {
        return Err(malformed(None, "a frame must be a JSON object".into()));
    }
    let frame = json::parse(text).map_err(|e| {
        let mut msg = String::from("not a JSON object frame: ");
        msg.push_str(&e.message());
        malformed(None, msg)
    })?;
    let (v, id) = (envelope_u32(&frame, "v"), envelope_u32(&frame, "id"));
    if v != Some(VERSION) {
        return Err((
            id,
            WireError::new(ErrorCode::UnsupportedVersion, {
                let mut msg = String::from("protocol version not supported; this server speaks ");
                write_u64(&mut msg, u64::from(VERSION));
                msg
            }),
        ));
    }
    let id = id.ok_or_else(|| malformed(None, "bad envelope: `id` must be a u32".into()))?;
    let kind = match frame.get("type") {
        Some(Json::Str(t)) => RequestKind::from_wire(t).ok_or_else(|| {
            let mut msg = String::from("unknown request type ");
            json::write_str(&mut msg, t);
            (Some(id), WireError::new(ErrorCode::UnknownRequest, msg))
        })?,
        _ => {
            return Err(malformed(
                Some(id),
                "bad envelope: `type` must be a string".into(),
            ))
        }
    };
    Ok((id, kind, take_member(frame, "body")))
}

/// The (last) member `key` of an object, moved out; `null` when there is none.
// Moving the body out instead of cloning it matters for large `add-tasks` bodies; the last
// member wins, as in `Json::get`, so both readers agree on repeated keys.
fn take_member(v: Json, key: &str) -> Json {
    match v {
        Json::Obj(mut members) => match members.iter().rposition(|(k, _)| k == key) {
            Some(i) => members.swap_remove(i).1,
            None => Json::Null,
        },
        _ => Json::Null,
    }
}

/// Type a request body, mapping failures to `InvalidParams`.
pub fn body<T: FromJson>(v: &Json) -> Result<T, WireError> {
    T::from_json(v).map_err(|e| WireError::new(ErrorCode::InvalidParams, e.message()))
}

/// Encode a success response: `{"v":1,"re":7,"ok":true,"body":{...}}`.
pub fn encode_ok<B: ToJson + ?Sized>(re: u32, body: &B) -> String {
    let mut s = String::with_capacity(64);
    s.push_str("{\"v\":1,\"re\":");
    write_u64(&mut s, u64::from(re));
    s.push_str(",\"ok\":true,\"body\":");
    body.write_json(&mut s);
    s.push('}');
    s
}

/// Encode an error response: `{"v":1,"re":7,"ok":false,"err":{"code":...,"msg":...}}`, with
/// `re` left out when the failed frame had no readable `id`.
pub fn encode_err(re: Option<u32>, err: &WireError) -> String {
    let mut s = String::from("{\"v\":1,");
    if let Some(re) = re {
        s.push_str("\"re\":");
        write_u64(&mut s, u64::from(re));
        s.push(',');
    }
    s.push_str("\"ok\":false,\"err\":");
    err.write_json(&mut s);
    s.push('}');
    s
}

/// Encode an event: `{"v":1,"seq":42,"type":"member-left","body":{...}}`. `seq` counts the
/// session's events from 1; a resuming client sends the last one it saw.
pub fn encode_event(seq: u64, ev: &Event) -> String {
    event_frame(seq, &encode_event_body(ev))
}

/// An event's `"type"` and `"body"` as one JSON object, without the envelope: encoded once
/// when many members get the same event, each frame then made by [`event_frame`].
pub fn encode_event_body(ev: &Event) -> String {
    ev.to_json_string()
}

/// The frame [`encode_event`] makes, from a body made by [`encode_event_body`].
pub fn event_frame(seq: u64, body: &str) -> String {
    let rest = body.strip_prefix('{').unwrap_or(body);
    let mut s = String::with_capacity(rest.len() + 32);
    s.push_str("{\"v\":1,\"seq\":");
    write_u64(&mut s, seq);
    s.push(',');
    s.push_str(rest);
    s
}

/// A server frame as the client reads it.
///
/// Exactly one of three shapes, told apart by `ok`: `true` a success response, `false` an error
/// response, absent an event (which then needs `seq` and `type`).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    /// `ok:true`: the response to request `re`, its body untyped until the caller knows the kind.
    Ok {
        /// The request's `id`.
        re: u32,
        /// The response body, untyped.
        body: Json,
    },
    /// `ok:false`: `re` is `None` when the server could not tell which request failed.
    Err {
        /// The request's `id`, when the server could read it.
        re: Option<u32>,
        /// What went wrong.
        err: WireError,
    },
    /// An event, with its per-session sequence number.
    Event {
        /// The event's number in the session, from 1.
        seq: u64,
        /// The event, typed.
        event: Event,
    },
}

/// Why a server frame could not be read. Static descriptions keep the `fmt` machinery out of
/// the wasm; `field` says where a typed part failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// What was wrong with the frame, e.g. `event without type`.
    pub what: &'static str,
    /// The typed part's error (a path and what was expected there), or empty.
    pub detail: String,
}

impl FrameError {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            detail: String::new(),
        }
    }
    fn with(what: &'static str, detail: String) -> Self {
        Self { what, detail }
    }
    /// "`what`: `detail`", or just `what` when there is no detail.
    pub fn message(&self) -> String {
        let mut s = String::from(self.what);
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

/// Read a server frame.
///
/// The checks: it parses and is an object; `v` is [`VERSION`] (a mismatch is reported as such,
/// so an out-of-date SDK says so instead of failing on some later field); `re`, when present and
/// not `null`, is a `u32`; then `ok` picks the shape. `ok:true` needs `re` (a success nobody
/// asked for is a server bug); `ok:false` needs a readable `err`; an event needs `seq` and a
/// known `type`. An unknown event type is its own error, naming the type, so the caller can
/// tell a newer server from a broken one.
pub fn decode_server(text: &str) -> Result<ServerFrame, FrameError> {
    let frame = json::parse(text).map_err(|e| FrameError::with("bad server frame", e.message()))?;
    if !frame.is_object() {
        return Err(FrameError::new("bad server frame: not an object"));
    }
    if envelope_u32(&frame, "v") != Some(VERSION) {
        return Err(FrameError::new(
            "the server speaks another protocol version than this SDK (1)",
        ));
    }
    let re = match frame.get("re") {
        None | Some(Json::Null) => None,
        Some(v) => Some(
            u32::from_json(v)
                .map_err(|e| FrameError::with("bad server frame", e.at("re").message()))?,
        ),
    };
    let body = frame.get("body").unwrap_or(&Json::Null);
    match frame.get("ok") {
        Some(Json::Bool(true)) => {
            let re = re.ok_or(FrameError::new("ok response without re"))?;
            Ok(ServerFrame::Ok {
                re,
                body: take_member(frame, "body"),
            })
        }
        Some(Json::Bool(false)) => {
            let err = match frame.get("err") {
                Some(e) => WireError::from_json(e)
                    .map_err(|e| FrameError::with("bad error response", e.at("err").message()))?,
                None => return Err(FrameError::new("error response without err")),
            };
            Ok(ServerFrame::Err { re, err })
        }
        Some(_) => Err(FrameError::new(
            "bad server frame: ok must be true or false",
        )),
        None => {
            let seq = match frame.get("seq") {
                Some(v) => u64::from_json(v)
                    .map_err(|e| FrameError::with("bad event", e.at("seq").message()))?,
                None => return Err(FrameError::new("frame is neither response nor event")),
            };
            let kind = frame
                .get("type")
                .and_then(Json::as_str)
                .ok_or(FrameError::new("event without type"))?;
            let event = Event::from_wire(kind, body)
                .ok_or(FrameError::with("unknown event type", kind.to_owned()))?
                .map_err(|e| FrameError::with("bad event", e.message()))?;
            Ok(ServerFrame::Event { seq, event })
        }
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
        let p: PublishReq = body(&b).unwrap();
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
        let err = body::<JoinReq>(&json::parse(r#"{"room": 5}"#).unwrap()).unwrap_err();
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
