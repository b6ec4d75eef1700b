//! Request, response and event bodies. Field names are the wire names; `codec/messages.rs`
//! reads and writes them. Absent (or `null`) on the wire: an `Option` is `None`; `role` is
//! broadcaster, `sdk` and a user's `name` empty, `live`/`muted`/`media` flags false, `resumed`
//! false, and the ping periods the constants below. Everything else is required. A body
//! "with media" (publish, mute, subscribe, ...) carries `audio` and `video` as its own members.

use crate::prelude::*;

/// What a member does in a room. Audience members watch; broadcasters may publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Broadcaster,
    Audience,
}

/// Which media kinds a request or event is about. A member pushes one RTMP stream that may carry
/// audio, video or both, so kinds travel as a pair of flags rather than as separate streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Media {
    pub audio: bool,
    pub video: bool,
}

impl Media {
    pub const NONE: Media = Media {
        audio: false,
        video: false,
    };
    pub const BOTH: Media = Media {
        audio: true,
        video: true,
    };

    pub fn is_empty(self) -> bool {
        !self.audio && !self.video
    }
    pub fn union(self, o: Media) -> Media {
        Media {
            audio: self.audio || o.audio,
            video: self.video || o.video,
        }
    }
    pub fn minus(self, o: Media) -> Media {
        Media {
            audio: self.audio && !o.audio,
            video: self.video && !o.video,
        }
    }
    pub fn intersect(self, o: Media) -> Media {
        Media {
            audio: self.audio && o.audio,
            video: self.video && o.video,
        }
    }
}

/// `join`: enter a room. The first request of every session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinReq {
    pub appkey: String,
    pub room: String,
    pub uid: u64,
    pub token: Option<String>,
    pub role: Role,
    pub sdk: String,
    /// Set when the client rejoins after losing its connection: the server hands the same
    /// session back, with the events after `last_seq`, if it still holds it.
    pub resume: Option<Resume>,
    /// The app's own user id and display name (ZEGO's `userID` / `userName`), shown to the
    /// others with the member. `uid` is then derived from `user` (see `names::uid_for_user`).
    pub user: Option<UserTag>,
}

/// An app-chosen user identity carried beside the numeric uid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserTag {
    pub id: String,
    pub name: String,
}

/// The session a rejoin asks for, and the last event seq the client applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub session: String,
    pub last_seq: u64,
}

/// One member as the joiner first sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberInfo {
    pub uid: u64,
    pub role: Role,
    /// The media this member is live with (declared by `publish` and flowing into the media server).
    pub live: Media,
    /// The kinds the member has muted.
    pub muted: Media,
    pub user: Option<UserTag>,
    /// The app's id for the member's stream, if it gave one at `publish`.
    pub stream: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinOk {
    pub session: String,
    pub room: String,
    pub uid: u64,
    pub role: Role,
    /// Everyone else in the room, in uid order.
    pub members: Vec<MemberInfo>,
    /// The seq of the last event this session has been sent (events start after it).
    pub seq: u64,
    pub server_time_ms: u64,
    /// Send a `ping` this often while joined.
    pub ping_interval_ms: u64,
    /// A ping unanswered for this long means the connection is dead, whatever the socket says.
    pub ping_timeout_ms: u64,
    /// The `resume` of the request was granted: same session, the events after its `last_seq`
    /// follow this answer, and `members` is informational. Otherwise this is a new session and
    /// `members` is the whole truth.
    pub resumed: bool,
}

/// `ping_interval_ms` when a server leaves it out.
pub const DEFAULT_PING_INTERVAL_MS: u64 = 10_000;
/// `ping_timeout_ms` when a server leaves it out.
pub const DEFAULT_PING_TIMEOUT_MS: u64 = 20_000;

/// `ping`: the heartbeat. `ts` is the client's clock, echoed back to measure the round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingReq {
    pub ts: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingOk {
    pub ts: u64,
    pub server_time_ms: u64,
}

/// `publish` adds media kinds to the member's stream; the answer is the push URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReq {
    pub media: Media,
    /// The app's id for this stream (ZEGO's `streamID`); others see it with the stream.
    pub stream: Option<String>,
}

/// `mute`: stop (or, with `muted: false`, resume) sending the kinds given; the others hear of
/// it. The stream stays up, so unmuting needs no new URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteReq {
    pub media: Media,
    pub muted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOk {
    pub url: String,
    /// All kinds now declared by this member.
    pub media: Media,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpublishReq {
    pub media: Media,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeReq {
    pub uid: u64,
    pub media: Media,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOk {
    /// RTMP play URL, for `<live-player src>`.
    pub url: String,
    /// HTTP-FLV play URL of the same stream.
    pub flv_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubscribeReq {
    pub uid: u64,
    pub media: Media,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetRoleReq {
    pub role: Role,
}

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// The member called `leave`.
    Left,
    /// The member's connection dropped.
    ConnectionLost,
    /// The server ended the member's session (server API, or the uid joined again elsewhere).
    Kicked,
}

/// Server events. Every event frame carries a per-session `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    MemberJoined {
        uid: u64,
        role: Role,
        user: Option<UserTag>,
    },
    MemberLeft {
        uid: u64,
        reason: LeaveReason,
    },
    /// `media` are the kinds that just became live.
    StreamAdded {
        uid: u64,
        media: Media,
        stream: Option<String>,
    },
    /// `media` are the kinds that just stopped.
    StreamRemoved {
        uid: u64,
        media: Media,
    },
    RoleChanged {
        uid: u64,
        role: Role,
    },
    /// `uid` muted (or unmuted) the kinds in `media`.
    MuteChanged {
        uid: u64,
        media: Media,
        muted: bool,
    },
    /// A push task's state: 505 pushing, 506 failed (`msg` says why), 511 ended.
    TaskStatus {
        task_id: String,
        code: u16,
        msg: String,
        stream_url: String,
    },
    /// This session is over: the same uid joined elsewhere (`replaced`) or the server API
    /// removed it (`kicked`). The server closes the socket next.
    Kicked {
        reason: KickReason,
    },
    /// The server API closed the room; every session in it is over.
    RoomClosed {},
    /// The session's join token expires in `remaining_s` seconds: call `renewToken`.
    TokenWillExpire {
        remaining_s: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    /// The same uid joined the room on another connection.
    Replaced,
    /// The app's backend removed the member through the server API.
    Kicked,
    /// The join token expired and was not renewed.
    TokenExpired,
}

/// `renew-token`: replace the session's join token before it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewTokenReq {
    pub token: String,
}
