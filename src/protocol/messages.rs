//! Request, response and event bodies. Field names are the wire names; `codec/messages.rs`
//! reads and writes them. Absent (or `null`) on the wire: an `Option` is `None`; `role` is
//! broadcaster, `sdk` and a user's `name` empty, `live`/`muted`/`media` flags false, `resumed`
//! false, and the ping periods the constants below. Everything else is required. A body
//! "with media" (publish, mute, subscribe, ...) carries `audio` and `video` as its own members.

use crate::prelude::*;

/// What a member does in a room. Audience members watch; broadcasters may publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Publishes and watches; the default when `role` is absent.
    #[default]
    Broadcaster,
    /// Watches only; a `set-role` to broadcaster comes before publishing.
    Audience,
}

/// Which media kinds a request or event is about. A member pushes one RTMP stream that may carry
/// audio, video or both, so kinds travel as a pair of flags rather than as separate streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Media {
    /// Audio is concerned.
    pub audio: bool,
    /// Video is concerned.
    pub video: bool,
}

impl Media {
    /// Neither kind.
    pub const NONE: Media = Media {
        audio: false,
        video: false,
    };
    /// Audio and video.
    pub const BOTH: Media = Media {
        audio: true,
        video: true,
    };

    /// Neither kind is set.
    pub fn is_empty(self) -> bool {
        !self.audio && !self.video
    }
    /// The kinds in either.
    pub fn union(self, o: Media) -> Media {
        Media {
            audio: self.audio || o.audio,
            video: self.video || o.video,
        }
    }
    /// The kinds in `self` but not in `o`.
    pub fn minus(self, o: Media) -> Media {
        Media {
            audio: self.audio && !o.audio,
            video: self.video && !o.video,
        }
    }
    /// The kinds in both.
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
    /// The app's key: which app the room belongs to.
    pub appkey: String,
    /// The room to join (see `names` for the rules of its name).
    pub room: String,
    /// The member's numeric id, unique in the room.
    pub uid: u64,
    /// The signed join token, when the server requires one.
    pub token: Option<String>,
    /// The role to join with (broadcaster when absent).
    pub role: Role,
    /// The SDK's name and version, for the server's logs (empty when absent).
    pub sdk: String,
    /// Set when the client rejoins after losing its connection: the server hands the same
    /// session back, with the events after `last_seq`, if it still holds it.
    pub resume: Option<Resume>,
    /// The app's own user id and display name (ZEGO's `userID` / `userName`), shown to the
    /// others with the member. `uid` is then derived from `user` (see `names::uid_for_user`).
    pub user: Option<UserTag>,
    /// What of this member's streams the server records (NetEase's `recordAudio` /
    /// `recordVideo`); nothing when empty.
    pub record: Media,
}

/// An app-chosen user identity carried beside the numeric uid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserTag {
    /// The app's user id.
    pub id: String,
    /// Its display name (empty when absent).
    pub name: String,
}

/// The session a rejoin asks for, and the last event seq the client applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The session id from the lost session's `JoinOk`.
    pub session: String,
    /// The `seq` of the last event the client applied, every one before it applied too (the
    /// last contiguous one): the server sends everything after it again.
    pub last_seq: u64,
}

/// One member as the joiner first sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberInfo {
    /// The member's uid.
    pub uid: u64,
    /// The member's role.
    pub role: Role,
    /// The media this member is live with (declared by `publish` and flowing into the media server).
    pub live: Media,
    /// The kinds the member has muted.
    pub muted: Media,
    /// The app's identity for the member, if it joined with one.
    pub user: Option<UserTag>,
    /// The app's id for the member's stream, if it gave one at `publish`.
    pub stream: Option<String>,
}

/// The answer to `join`: the session, who is in the room, and the heartbeat to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinOk {
    /// The session id, to `resume` with after a disconnect.
    pub session: String,
    /// The room joined.
    pub room: String,
    /// The uid joined with.
    pub uid: u64,
    /// The role joined with.
    pub role: Role,
    /// Everyone else in the room, in uid order.
    pub members: Vec<MemberInfo>,
    /// The seq of the last event this session has been sent (events start after it).
    pub seq: u64,
    /// The server's clock at the answer (ms since the Unix epoch).
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
    /// The client's clock, echoed back in `PingOk`.
    pub ts: u64,
}

/// The answer to `ping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingOk {
    /// The `ts` of the ping, echoed.
    pub ts: u64,
    /// The server's clock when it answered (ms since the Unix epoch).
    pub server_time_ms: u64,
}

/// `publish` adds media kinds to the member's stream; the answer is the push URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReq {
    /// The kinds to add to the stream.
    pub media: Media,
    /// The app's id for this stream (ZEGO's `streamID`); others see it with the stream.
    pub stream: Option<String>,
}

/// `mute`: stop (or, with `muted: false`, resume) sending the kinds given; the others hear of
/// it. The stream stays up, so unmuting needs no new URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteReq {
    /// The kinds concerned.
    pub media: Media,
    /// `true` to mute, `false` to unmute.
    pub muted: bool,
}

/// The answer to `publish`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOk {
    /// The RTMP push URL, for `<live-pusher url>`.
    pub url: String,
    /// All kinds now declared by this member.
    pub media: Media,
}

/// `unpublish`: stop publishing the kinds given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpublishReq {
    /// The kinds to stop.
    pub media: Media,
}

/// `subscribe`: watch a member's stream; the answer is the pull URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeReq {
    /// Whose stream.
    pub uid: u64,
    /// The kinds to receive.
    pub media: Media,
}

/// The answer to `subscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOk {
    /// RTMP play URL, for `<live-player src>`.
    pub url: String,
    /// HTTP-FLV play URL of the same stream.
    pub flv_url: String,
}

/// `unsubscribe`: stop receiving kinds of a member's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubscribeReq {
    /// Whose stream.
    pub uid: u64,
    /// The kinds to stop receiving.
    pub media: Media,
}

/// `set-role`: switch between broadcaster and audience in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetRoleReq {
    /// The new role.
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

/// Server events. Every event frame carries a per-session `seq`, contiguous from 1: a client
/// that sees one skipped resumes from its last contiguous `seq` (see `frame.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A member joined the room.
    MemberJoined {
        /// Who.
        uid: u64,
        /// With which role.
        role: Role,
        /// The app's identity for the member, if it gave one.
        user: Option<UserTag>,
    },
    /// A member left the room.
    MemberLeft {
        /// Who.
        uid: u64,
        /// Why.
        reason: LeaveReason,
    },
    /// `media` are the kinds that just became live.
    StreamAdded {
        /// Whose stream.
        uid: u64,
        /// The kinds that became live.
        media: Media,
        /// The app's id for the stream, if it gave one.
        stream: Option<String>,
    },
    /// `media` are the kinds that just stopped.
    StreamRemoved {
        /// Whose stream.
        uid: u64,
        /// The kinds that stopped.
        media: Media,
    },
    /// A member's role changed. Sent to every member, the one whose role it is included, whether
    /// it asked (`set-role`) or the server decided (a token that no longer grants publishing).
    RoleChanged {
        /// Whose.
        uid: u64,
        /// The new role.
        role: Role,
    },
    /// `uid` muted (or unmuted) the kinds in `media`.
    MuteChanged {
        /// Who.
        uid: u64,
        /// The kinds concerned.
        media: Media,
        /// Muted (`true`) or unmuted.
        muted: bool,
    },
    /// A push task's state: 505 pushing, 506 failed (`msg` says why), 511 ended.
    TaskStatus {
        /// The task's `taskId`.
        task_id: String,
        /// [`TASK_PUSHING`](crate::protocol::tasks::TASK_PUSHING), `TASK_FAILED` or `TASK_ENDED`.
        code: u16,
        /// Why it failed; empty otherwise.
        msg: String,
        /// The URL the task pushes to.
        stream_url: String,
    },
    /// This session is over: the same uid joined elsewhere (`replaced`) or the server API
    /// removed it (`kicked`). The server closes the socket next.
    Kicked {
        /// Why the session ended.
        reason: KickReason,
    },
    /// The server API closed the room; every session in it is over.
    RoomClosed {},
    /// The session's join token expires in `remaining_s` seconds: call `renewToken`.
    TokenWillExpire {
        /// Seconds left before the token expires.
        remaining_s: u64,
    },
    /// A room message (`send-message`) from another member: to everyone, or to this member
    /// among the command's targets. Ordered, numbered and resumed like every event.
    Message {
        /// The room's number for it, from 1, the same for everyone it went to.
        id: u64,
        /// Broadcast, barrage or command.
        kind: MessageKind,
        /// The sender.
        from: u64,
        /// What was sent.
        text: String,
        /// When the server took it (ms since the Unix epoch).
        ts: u64,
    },
    /// Extra info changed (`set-extra-info`): a member's stream extra info (`key` absent) or a
    /// room extra info `key`. A joiner gets the current ones this way right after its join.
    ExtraInfo {
        /// Who set it (the stream's member, for stream extra info).
        uid: u64,
        /// The room extra info's key; `None` for the member's stream extra info.
        key: Option<String>,
        /// The value.
        value: String,
        /// When the server took it (ms since the Unix epoch).
        ts: u64,
    },
}

/// Keys of room extra info one room holds at most (ZEGO's rooms hold one).
pub const MAX_ROOM_INFO_KEYS: usize = 10;
/// The longest room extra info key, in bytes.
pub const MAX_INFO_KEY_BYTES: usize = 32;
/// The longest extra info value (stream or room), in bytes.
pub const MAX_INFO_VALUE_BYTES: usize = 1024;

/// `set-extra-info`: set this member's stream extra info (`key` absent) or a room extra info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetExtraInfoReq {
    /// The room extra info's key (1 to [`MAX_INFO_KEY_BYTES`] bytes); `None`: the stream's.
    pub key: Option<String>,
    /// Up to [`MAX_INFO_VALUE_BYTES`] bytes.
    pub value: String,
}

/// What a room message is, as ZEGO's apps tell them apart (chat, barrage, custom command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A chat message to the whole room (ZEGO's `sendBroadcastMessage`).
    Broadcast,
    /// A barrage (danmaku) message to the whole room (`sendBarrageMessage`).
    Barrage,
    /// A custom command, to the members in `to` or, with none, to everyone (`sendCustomCommand`).
    Command,
}

/// The most bytes one room message carries (ZEGO's limit for each of the three kinds).
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// The most members one command names.
pub const MAX_MESSAGE_TARGETS: usize = 100;

/// `send-message`: a room message, answered with [`SendMessageOk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageReq {
    /// Broadcast, barrage or command.
    pub kind: MessageKind,
    /// 1 to [`MAX_MESSAGE_BYTES`] bytes of text.
    pub text: String,
    /// A command's targets (uids); empty for everyone else in the room.
    pub to: Vec<u64>,
}

/// The answer to `send-message`: the message's id and time, as the others get them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendMessageOk {
    /// The room's number for the message.
    pub id: u64,
    /// When the server took it (ms since the Unix epoch).
    pub ts: u64,
}

/// Why a session was ended by the server, in `kicked`.
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
    /// The new join token.
    pub token: String,
}
