//! The request, response and event bodies of `messages.rs`, and the wire error.

use super::{named_enum, wire_events, wire_object};
use crate::prelude::*;
use crate::protocol::error::{ErrorCode, WireError};
use crate::protocol::json::{DecodeError, Fields, FromJson, Json, ToJson};
use crate::protocol::messages::*;

// Enums travel as lower-case strings (`"role":"audience"`); any other string is refused with
// the list of allowed values, so a typo names what was meant instead of decoding to a default.
named_enum!(Role, "\"broadcaster\" or \"audience\"", {
    Broadcaster => "broadcaster",
    Audience => "audience",
});

// Why a member left, in `member-left`: `{"uid":7,"reason":"connection_lost"}`.
named_enum!(LeaveReason, "\"left\", \"connection_lost\" or \"kicked\"", {
    Left => "left",
    ConnectionLost => "connection_lost",
    Kicked => "kicked",
});

// Why this session ends, in `kicked`: `replaced` when the same uid joined from elsewhere.
named_enum!(KickReason, "\"replaced\", \"kicked\" or \"token_expired\"", {
    Replaced => "replaced",
    Kicked => "kicked",
    TokenExpired => "token_expired",
});

// What a room message is, in `send-message` and `message`.
named_enum!(MessageKind, "\"broadcast\", \"barrage\" or \"command\"", {
    Broadcast => "broadcast",
    Barrage => "barrage",
    Command => "command",
});

// Error codes travel as bare numbers (`"code":403`). Reading refuses a number this build does
// not know rather than mapping it to a catch-all: the caller then reports the whole frame as
// undecodable, which is the honest answer for a server newer than the SDK.
impl ToJson for ErrorCode {
    fn write_json(&self, out: &mut String) {
        self.as_u16().write_json(out)
    }
}
impl FromJson for ErrorCode {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        u16::from_json(v)
            .ok()
            .and_then(|n| ErrorCode::try_from(n).ok())
            .ok_or(DecodeError::expected("a known error code"))
    }
}

// `{"code":400,"msg":"...","field":"rtmpTasks[0].taskId"}`: `code` and `msg` are required;
// `field` (the JSON path of the offending input) is written only when known, and an absent or
// `null` `field` reads as `None`.
wire_object!(WireError {
    code: req,
    msg: req,
    field: opt,
});

// Media travels either as an object of its own or as `audio` / `video` members of the body
// it belongs to (publish, mute, subscribe, ...: `flatten` there).
// `{"audio":true,"video":false}`: both members are always written; an absent or `null` one
// reads as false, so `{}` means "neither".
wire_object!(Media {
    audio: or(false),
    video: or(false),
});

// `{"id":"u-42","name":"Ann"}`: `id` is required; `name` is left out when empty and reads as
// empty when absent or `null`, so the two forms round-trip to the same value.
wire_object!(UserTag {
    id: req,
    name: omit_empty,
});

// `{"session":"s1","last_seq":12}`, both required: the session to take over and the last
// event `seq` the client saw, from which the server replays.
wire_object!(Resume {
    session: req,
    last_seq: req,
});

// `{"appkey":"k","room":"r1","uid":7,"role":"broadcaster"}` plus optional `token`, `sdk`,
// `resume` and `user`. `appkey`, `room` and `uid` are required; `role` defaults to broadcaster
// and `sdk` to empty when absent or `null`. Optional members are left out rather than written
// as `null`, which keeps requests short and readable by older servers.
wire_object!(JoinReq {
    appkey: req,
    room: req,
    uid: req,
    token: opt,
    role: or_default,
    sdk: omit_empty,
    resume: opt,
    user: opt,
    record: omit_empty,
});

// `{"uid":7,"role":"audience","live":false}` plus `muted`, `user` and `stream` when set.
// `uid` and `role` are required; `live` reads as false and `muted` as nothing muted when absent.
// `muted` is left out when empty, the common case, to keep member lists short.
wire_object!(MemberInfo {
    uid: req,
    role: req,
    live: or_default,
    muted: omit_empty,
    user: opt,
    stream: opt,
});

// `{"session":"s1","room":"r1","uid":7,"role":"broadcaster","members":[...],"seq":0,
// "server_time_ms":1700000000000,"ping_interval_ms":...,"ping_timeout_ms":...}`.
// The ping timings fall back to the defaults when absent (servers before them did not send
// them); `resumed` is written only when true and reads as false when absent.
wire_object!(JoinOk {
    session: req,
    room: req,
    uid: req,
    role: req,
    members: req,
    seq: req,
    server_time_ms: req,
    ping_interval_ms: or(DEFAULT_PING_INTERVAL_MS),
    ping_timeout_ms: or(DEFAULT_PING_TIMEOUT_MS),
    resumed: when_true,
});

// `{"ts":123}`: the client's clock, echoed back so it can measure the round trip.
wire_object!(PingReq { ts: req });

// `{"ts":123,"server_time_ms":1700000000000}`, both required: the echoed `ts` gives the round
// trip, `server_time_ms` the clock offset.
wire_object!(PingOk {
    ts: req,
    server_time_ms: req,
});

// Media members flattened into the body, plus an optional `stream`:
// `{"audio":true,"video":true,"stream":{...}}`.
wire_object!(PublishReq {
    media: flatten,
    stream: opt,
});

// `{"audio":true,"video":false,"muted":true}`: the media named true change; `muted` is
// required, since guessing its value would silently do the opposite of what was asked.
wire_object!(MuteReq {
    media: flatten,
    muted: req,
});

// `{"url":"rtmp://...","media":{"audio":true,"video":true}}`, both required: where to push,
// and the media the server accepted (here `media` is a nested object, not flattened).
wire_object!(PublishOk {
    url: req,
    media: req,
});

// The body is a bare media object, `{"audio":true,"video":true}`: what to stop publishing.
wire_object!(UnpublishReq { media: flatten });

// `{"uid":7,"audio":true,"video":true}`: whose stream, and which media of it.
wire_object!(SubscribeReq {
    uid: req,
    media: flatten,
});

// Same shape as subscribe: `{"uid":7,"audio":true,"video":false}`.
wire_object!(UnsubscribeReq {
    uid: req,
    media: flatten,
});

// `{"url":"rtmp://...","flv_url":"https://..."}`, both required: the pull URL for
// `<live-player>` and its FLV form for players that need HTTP.
wire_object!(SubscribeOk {
    url: req,
    flv_url: req,
});

// `{"role":"audience"}`; `role` is required (no default: a role change must say which).
wire_object!(SetRoleReq { role: req });

// `{"token":"..."}`: the replacement token, required.
wire_object!(RenewTokenReq { token: req });

// `{"kind":"command","text":"...","to":[7,8]}`: `to` is left out (and read as empty) when the
// message goes to everyone.
wire_object!(SendMessageReq {
    kind: req,
    text: req,
    to: omit_empty,
});

// `{"id":3,"ts":1700000000000}`, both required.
wire_object!(SendMessageOk { id: req, ts: req });

// `{"key":"topic","value":"..."}`; without `key`, the member's stream extra info.
wire_object!(SetExtraInfoReq {
    key: opt,
    value: req,
});

// Events are `{"type":"member-joined","body":{...}}`. The body members are those of the
// `Event` variant, in snake_case, e.g. `member-left` is `{"uid":7,"reason":"left"}` and
// `task-status` is `{"task_id":"t1","code":505,"msg":"","stream_url":"rtmp://..."}`.
// Only `user` (member-joined) and `stream` (stream-added) are optional.
wire_events!(Event {
    MemberJoined "member-joined" { uid: req, role: req, user: opt },
    MemberLeft "member-left" { uid: req, reason: req },
    StreamAdded "stream-added" { uid: req, media: req, stream: opt },
    StreamRemoved "stream-removed" { uid: req, media: req },
    RoleChanged "role-changed" { uid: req, role: req },
    MuteChanged "mute-changed" { uid: req, media: req, muted: req },
    TaskStatus "task-status" { task_id: req, code: req, msg: req, stream_url: req },
    Kicked "kicked" { reason: req },
    RoomClosed "room-closed" {},
    TokenWillExpire "token-will-expire" { remaining_s: req },
    Message "message" { id: req, kind: req, from: req, text: req, ts: req },
    ExtraInfo "extra-info" { uid: req, key: opt, value: req, ts: req },
});

/// An event as `{"type": ..., "body": {...}}`: what follows `v` and `seq` in an event frame.
// By hand, like `ErrorCode` above: the envelope's `type` picks the body's shape, which no
// `wire_object!` kind expresses.
impl ToJson for Event {
    fn write_json(&self, out: &mut String) {
        out.push_str("{\"type\":\"");
        out.push_str(self.wire_name());
        out.push_str("\",\"body\":");
        self.write_body(out);
        out.push('}');
    }
}
// An absent `body` reads as `null` and is refused (`body: expected an object`) even for
// `room-closed`, whose body is `{}`: every event carries an object body.
impl FromJson for Event {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        let kind: String = f.req("type")?;
        let body = f.get("body").unwrap_or(&Json::Null);
        Event::from_wire(&kind, body)
            .unwrap_or(Err(DecodeError::expected("a known event type").at("type")))
    }
}
