//! The request, response and event bodies of `messages.rs`, and the wire error.

use super::named_enum;
use crate::prelude::*;
use crate::protocol::error::{ErrorCode, WireError};
use crate::protocol::json::{DecodeError, Fields, FromJson, Json, ObjOut, ToJson};
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
impl ToJson for WireError {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("code", &self.code)
            .field("msg", &self.msg)
            .opt("field", &self.field)
            .end()
    }
}
impl FromJson for WireError {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(WireError {
            code: f.req("code")?,
            msg: f.req("msg")?,
            field: f.opt("field")?,
        })
    }
}

// Media travels either as an object of its own or as `audio` / `video` members of the body
// it belongs to (publish, mute, subscribe, ...).
// `{"audio":true,"video":false}`: both members are always written; an absent or `null` one
// reads as false, so `{}` means "neither".
impl Media {
    fn read(f: &Fields) -> Result<Self, DecodeError> {
        Ok(Media {
            audio: f.or("audio", false)?,
            video: f.or("video", false)?,
        })
    }
    fn write<'a, 'b>(&self, o: &'a mut ObjOut<'b>) -> &'a mut ObjOut<'b> {
        o.field("audio", &self.audio).field("video", &self.video)
    }
}
impl ToJson for Media {
    fn write_json(&self, out: &mut String) {
        self.write(&mut ObjOut::start(out)).end()
    }
}
impl FromJson for Media {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        Media::read(&Fields::of(v)?)
    }
}

// `{"id":"u-42","name":"Ann"}`: `id` is required; `name` is left out when empty and reads as
// empty when absent or `null`, so the two forms round-trip to the same value.
impl ToJson for UserTag {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjOut::start(out);
        o.field("id", &self.id);
        if !self.name.is_empty() {
            o.field("name", &self.name);
        }
        o.end()
    }
}
impl FromJson for UserTag {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(UserTag {
            id: f.req("id")?,
            name: f.or_default("name")?,
        })
    }
}

// `{"session":"s1","last_seq":12}`, both required: the session to take over and the last
// event `seq` the client saw, from which the server replays.
impl ToJson for Resume {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("session", &self.session)
            .field("last_seq", &self.last_seq)
            .end()
    }
}
impl FromJson for Resume {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(Resume {
            session: f.req("session")?,
            last_seq: f.req("last_seq")?,
        })
    }
}

// `{"appkey":"k","room":"r1","uid":7,"role":"broadcaster"}` plus optional `token`, `sdk`,
// `resume` and `user`. `appkey`, `room` and `uid` are required; `role` defaults to broadcaster
// and `sdk` to empty when absent or `null`. Optional members are left out rather than written
// as `null`, which keeps requests short and readable by older servers.
impl ToJson for JoinReq {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjOut::start(out);
        o.field("appkey", &self.appkey)
            .field("room", &self.room)
            .field("uid", &self.uid)
            .opt("token", &self.token)
            .field("role", &self.role);
        if !self.sdk.is_empty() {
            o.field("sdk", &self.sdk);
        }
        o.opt("resume", &self.resume).opt("user", &self.user).end()
    }
}
impl FromJson for JoinReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(JoinReq {
            appkey: f.req("appkey")?,
            room: f.req("room")?,
            uid: f.req("uid")?,
            token: f.opt("token")?,
            role: f.or_default("role")?,
            sdk: f.or_default("sdk")?,
            resume: f.opt("resume")?,
            user: f.opt("user")?,
        })
    }
}

// `{"uid":7,"role":"audience","live":false}` plus `muted`, `user` and `stream` when set.
// `uid` and `role` are required; `live` reads as false and `muted` as nothing muted when absent.
// `muted` is left out when empty, the common case, to keep member lists short.
impl ToJson for MemberInfo {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjOut::start(out);
        o.field("uid", &self.uid)
            .field("role", &self.role)
            .field("live", &self.live);
        if !self.muted.is_empty() {
            o.field("muted", &self.muted);
        }
        o.opt("user", &self.user).opt("stream", &self.stream).end()
    }
}
impl FromJson for MemberInfo {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(MemberInfo {
            uid: f.req("uid")?,
            role: f.req("role")?,
            live: f.or_default("live")?,
            muted: f.or_default("muted")?,
            user: f.opt("user")?,
            stream: f.opt("stream")?,
        })
    }
}

// `{"session":"s1","room":"r1","uid":7,"role":"broadcaster","members":[...],"seq":0,
// "server_time_ms":1700000000000,"ping_interval_ms":...,"ping_timeout_ms":...}`.
// The ping timings fall back to the defaults when absent (servers before them did not send
// them); `resumed` is written only when true and reads as false when absent.
impl ToJson for JoinOk {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjOut::start(out);
        o.field("session", &self.session)
            .field("room", &self.room)
            .field("uid", &self.uid)
            .field("role", &self.role)
            .field("members", &self.members)
            .field("seq", &self.seq)
            .field("server_time_ms", &self.server_time_ms)
            .field("ping_interval_ms", &self.ping_interval_ms)
            .field("ping_timeout_ms", &self.ping_timeout_ms);
        if self.resumed {
            o.field("resumed", &true);
        }
        o.end()
    }
}
impl FromJson for JoinOk {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(JoinOk {
            session: f.req("session")?,
            room: f.req("room")?,
            uid: f.req("uid")?,
            role: f.req("role")?,
            members: f.req("members")?,
            seq: f.req("seq")?,
            server_time_ms: f.req("server_time_ms")?,
            ping_interval_ms: f.or("ping_interval_ms", DEFAULT_PING_INTERVAL_MS)?,
            ping_timeout_ms: f.or("ping_timeout_ms", DEFAULT_PING_TIMEOUT_MS)?,
            resumed: f.or("resumed", false)?,
        })
    }
}

// `{"ts":123}`: the client's clock, echoed back so it can measure the round trip.
impl ToJson for PingReq {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out).field("ts", &self.ts).end()
    }
}
impl FromJson for PingReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        Ok(PingReq {
            ts: Fields::of(v)?.req("ts")?,
        })
    }
}

// `{"ts":123,"server_time_ms":1700000000000}`, both required: the echoed `ts` gives the round
// trip, `server_time_ms` the clock offset.
impl ToJson for PingOk {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("ts", &self.ts)
            .field("server_time_ms", &self.server_time_ms)
            .end()
    }
}
impl FromJson for PingOk {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(PingOk {
            ts: f.req("ts")?,
            server_time_ms: f.req("server_time_ms")?,
        })
    }
}

// Media members flattened into the body, plus an optional `stream`:
// `{"audio":true,"video":true,"stream":{...}}`.
impl ToJson for PublishReq {
    fn write_json(&self, out: &mut String) {
        self.media
            .write(&mut ObjOut::start(out))
            .opt("stream", &self.stream)
            .end()
    }
}
impl FromJson for PublishReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(PublishReq {
            media: Media::read(&f)?,
            stream: f.opt("stream")?,
        })
    }
}

// `{"audio":true,"video":false,"muted":true}`: the media named true change; `muted` is
// required, since guessing its value would silently do the opposite of what was asked.
impl ToJson for MuteReq {
    fn write_json(&self, out: &mut String) {
        self.media
            .write(&mut ObjOut::start(out))
            .field("muted", &self.muted)
            .end()
    }
}
impl FromJson for MuteReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(MuteReq {
            media: Media::read(&f)?,
            muted: f.req("muted")?,
        })
    }
}

// `{"url":"rtmp://...","media":{"audio":true,"video":true}}`, both required: where to push,
// and the media the server accepted (here `media` is a nested object, not flattened).
impl ToJson for PublishOk {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("url", &self.url)
            .field("media", &self.media)
            .end()
    }
}
impl FromJson for PublishOk {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(PublishOk {
            url: f.req("url")?,
            media: f.req("media")?,
        })
    }
}

// The body is a bare media object, `{"audio":true,"video":true}`: what to stop publishing.
impl ToJson for UnpublishReq {
    fn write_json(&self, out: &mut String) {
        self.media.write_json(out)
    }
}
impl FromJson for UnpublishReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        Ok(UnpublishReq {
            media: Media::from_json(v)?,
        })
    }
}

// `{"uid":7,"audio":true,"video":true}`: whose stream, and which media of it.
impl ToJson for SubscribeReq {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjOut::start(out);
        o.field("uid", &self.uid);
        self.media.write(&mut o).end()
    }
}
impl FromJson for SubscribeReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(SubscribeReq {
            uid: f.req("uid")?,
            media: Media::read(&f)?,
        })
    }
}

// Same shape as subscribe: `{"uid":7,"audio":true,"video":false}`.
impl ToJson for UnsubscribeReq {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjOut::start(out);
        o.field("uid", &self.uid);
        self.media.write(&mut o).end()
    }
}
impl FromJson for UnsubscribeReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(UnsubscribeReq {
            uid: f.req("uid")?,
            media: Media::read(&f)?,
        })
    }
}

// `{"url":"rtmp://...","flv_url":"https://..."}`, both required: the pull URL for
// `<live-player>` and its FLV form for players that need HTTP.
impl ToJson for SubscribeOk {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("url", &self.url)
            .field("flv_url", &self.flv_url)
            .end()
    }
}
impl FromJson for SubscribeOk {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(SubscribeOk {
            url: f.req("url")?,
            flv_url: f.req("flv_url")?,
        })
    }
}

// `{"role":"audience"}`; `role` is required (no default: a role change must say which).
impl ToJson for SetRoleReq {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out).field("role", &self.role).end()
    }
}
impl FromJson for SetRoleReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        Ok(SetRoleReq {
            role: Fields::of(v)?.req("role")?,
        })
    }
}

// `{"token":"..."}`: the replacement token, required.
impl ToJson for RenewTokenReq {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out).field("token", &self.token).end()
    }
}
impl FromJson for RenewTokenReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        Ok(RenewTokenReq {
            token: Fields::of(v)?.req("token")?,
        })
    }
}

// Events are `{"type":"member-joined","body":{...}}`. The body members are those of the
// `Event` variant, in snake_case, e.g. `member-left` is `{"uid":7,"reason":"left"}` and
// `task-status` is `{"task_id":"t1","code":505,"msg":"","stream_url":"rtmp://..."}`.
// Only `user` (member-joined) and `stream` (stream-added) are optional.
impl Event {
    /// The event's wire `type`.
    pub fn wire_name(&self) -> &'static str {
        match self {
            Event::MemberJoined { .. } => "member-joined",
            Event::MemberLeft { .. } => "member-left",
            Event::StreamAdded { .. } => "stream-added",
            Event::StreamRemoved { .. } => "stream-removed",
            Event::RoleChanged { .. } => "role-changed",
            Event::MuteChanged { .. } => "mute-changed",
            Event::TaskStatus { .. } => "task-status",
            Event::Kicked { .. } => "kicked",
            Event::RoomClosed {} => "room-closed",
            Event::TokenWillExpire { .. } => "token-will-expire",
        }
    }

    /// The event's body object.
    pub fn write_body(&self, out: &mut String) {
        let mut o = ObjOut::start(out);
        match self {
            Event::MemberJoined { uid, role, user } => {
                o.field("uid", uid).field("role", role).opt("user", user)
            }
            Event::MemberLeft { uid, reason } => o.field("uid", uid).field("reason", reason),
            Event::StreamAdded { uid, media, stream } => o
                .field("uid", uid)
                .field("media", media)
                .opt("stream", stream),
            Event::StreamRemoved { uid, media } => o.field("uid", uid).field("media", media),
            Event::RoleChanged { uid, role } => o.field("uid", uid).field("role", role),
            Event::MuteChanged { uid, media, muted } => o
                .field("uid", uid)
                .field("media", media)
                .field("muted", muted),
            Event::TaskStatus {
                task_id,
                code,
                msg,
                stream_url,
            } => o
                .field("task_id", task_id)
                .field("code", code)
                .field("msg", msg)
                .field("stream_url", stream_url),
            Event::Kicked { reason } => o.field("reason", reason),
            Event::RoomClosed {} => &mut o,
            Event::TokenWillExpire { remaining_s } => o.field("remaining_s", remaining_s),
        }
        .end()
    }

    /// Type an event from its wire `type` and `body`. `None` for a type this build does not
    /// know (a newer server's).
    pub fn from_wire(kind: &str, body: &Json) -> Option<Result<Event, DecodeError>> {
        let typed = |f: Fields| -> Result<Event, DecodeError> {
            Ok(match kind {
                "member-joined" => Event::MemberJoined {
                    uid: f.req("uid")?,
                    role: f.req("role")?,
                    user: f.opt("user")?,
                },
                "member-left" => Event::MemberLeft {
                    uid: f.req("uid")?,
                    reason: f.req("reason")?,
                },
                "stream-added" => Event::StreamAdded {
                    uid: f.req("uid")?,
                    media: f.req("media")?,
                    stream: f.opt("stream")?,
                },
                "stream-removed" => Event::StreamRemoved {
                    uid: f.req("uid")?,
                    media: f.req("media")?,
                },
                "role-changed" => Event::RoleChanged {
                    uid: f.req("uid")?,
                    role: f.req("role")?,
                },
                "mute-changed" => Event::MuteChanged {
                    uid: f.req("uid")?,
                    media: f.req("media")?,
                    muted: f.req("muted")?,
                },
                "task-status" => Event::TaskStatus {
                    task_id: f.req("task_id")?,
                    code: f.req("code")?,
                    msg: f.req("msg")?,
                    stream_url: f.req("stream_url")?,
                },
                "kicked" => Event::Kicked {
                    reason: f.req("reason")?,
                },
                "room-closed" => Event::RoomClosed {},
                _ => Event::TokenWillExpire {
                    remaining_s: f.req("remaining_s")?,
                },
            })
        };
        // Checked before typing so that an unknown type is `None` (skipped by the caller, for
        // forward compatibility) and never mistaken for `token-will-expire`, the match's fallback.
        const KNOWN: [&str; 10] = [
            "member-joined",
            "member-left",
            "stream-added",
            "stream-removed",
            "role-changed",
            "mute-changed",
            "task-status",
            "kicked",
            "room-closed",
            "token-will-expire",
        ];
        if !KNOWN.contains(&kind) {
            return None;
        }
        Some(Fields::of(body).and_then(typed).map_err(|e| e.at("body")))
    }
}

/// An event as `{"type": ..., "body": {...}}`: what follows `v` and `seq` in an event frame.
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
