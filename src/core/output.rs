//! What the core asks its driver (the JS shim, or a test harness) to do.

use crate::prelude::*;

use super::component::{ComponentKind, NetStatus};
use super::error::Error;
use crate::protocol::{LeaveReason, MessageKind, Role};

/// Identifies one API call whose outcome arrives later as [`Output::Resolve`] or [`Output::Reject`].
pub type OpId = u32;

/// Audio or video, as the NetEase API names them in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// The microphone's track.
    Audio,
    /// The camera's track.
    Video,
}

impl MediaKind {
    /// The name events carry (`'audio'` / `'video'`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
        }
    }
}

/// Where a `<live-pusher>` or `<live-player>` stands, as far as the app needs to know: the
/// core reads it from the component's state codes the page forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Asked for (publish / subscribe called), not flowing yet.
    Requesting,
    /// Media flows (pusher 1002, player 2004).
    Active,
    /// Stopped by a failure; `code` says which.
    Failed,
}

impl Phase {
    /// The name `pusher-state` / `player-state` events carry.
    pub fn name(self) -> &'static str {
        match self {
            Self::Requesting => "requesting",
            Self::Active => "active",
            Self::Failed => "failed",
        }
    }
}

/// Events the app sees, named as in the NetEase API ([`AppEvent::name`]). The bridge writes
/// each one's payload for JavaScript; the order they come out in is the order things happened.
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    /// The signaling socket opened.
    Open,
    /// The signaling socket closed while in a room.
    Disconnect {
        /// The close code (the socket's, or [`crate::core::HEARTBEAT_CLOSE_CODE`], or the
        /// error code of a refused rejoin).
        code: u16,
        /// What happened, for logs.
        reason: String,
    },
    /// A member is in the room: one who joined, or one already there when this client joined
    /// or came back with a new session.
    ClientJoin {
        /// The member's uid.
        uid: u64,
    },
    /// A member left the room (its streams were removed just before).
    ClientLeave {
        /// The member's uid.
        uid: u64,
        /// Why it left, as the server says (or `ConnectionLost` when a new session no longer
        /// has it).
        reason: LeaveReason,
    },
    /// A member's audio or video can be subscribed to now.
    StreamAdded {
        /// The publishing member.
        uid: u64,
        /// Which kind; audio and video come as two events.
        media: MediaKind,
    },
    /// A member stopped publishing one kind.
    StreamRemoved {
        /// The member that published it.
        uid: u64,
        /// Which kind.
        media: MediaKind,
    },
    /// A member switched between broadcaster and audience.
    RoleChanged {
        /// The member.
        uid: u64,
        /// Its role now.
        role: Role,
    },
    /// A push task's state: 505 pushing, 506 failed, 511 ended.
    RtmpTasksStatus {
        /// The app's id of the task.
        task_id: String,
        /// 505, 506 or 511.
        code: u16,
        /// The server's words on it.
        msg: String,
        /// Where the task pushes to, as the server reports it.
        stream_url: String,
    },
    /// A push or play URL changed: the core recovered a `<live-pusher>` (`uid` is this member)
    /// or a `<live-player>` (`uid` is the member it plays) that gave up, and the page must set
    /// `url` on that component.
    SyncDone {
        /// The pusher or a player: the dialects that name components by stream rather than
        /// by uid (ZEGO) need to be told, and only the core knows which recovery this was.
        kind: ComponentKind,
        /// Which component: this member's uid for the pusher, the played member's for a player.
        uid: u64,
        /// The fresh URL.
        url: String,
    },
    /// The session was ended by the server: same uid elsewhere, or the server API.
    Kicked {
        /// Why, as the server says.
        reason: crate::protocol::KickReason,
    },
    /// The server API closed the room.
    LiveRoomClose,
    /// The join token expires soon: call `renewToken`.
    TokenWillExpire {
        /// Seconds left.
        remaining_s: u64,
    },
    /// The connection was lost; the SDK is about to try (again) to get it back. `count` is the
    /// attempt about to be made, from 1.
    WillReconnect {
        /// The attempt about to be made, from 1.
        count: u32,
        /// The SDK dropped the connection itself because a room event was missing (its `seq`
        /// skipped one): the reconnect gets the missing events, or a fresh snapshot.
        gap: bool,
    },
    /// The connection is back. `resumed`: the same session, with every missed event delivered
    /// after this one; otherwise a new session, and the app has seen the difference as ordinary
    /// events (a page should reset its components on the `syncDone`s that follow).
    Reconnected {
        /// The server resumed the old session (rather than starting a new one).
        resumed: bool,
    },
    /// Reconnecting gave up; `disconnect` follows.
    ReconnectFailed {
        /// Attempts made.
        attempts: u32,
        /// Since the connection was lost.
        elapsed_ms: u64,
    },
    /// A request got no answer in time (its promise rejects with code 1004).
    SendCommandOverTime {
        /// The API call's name (`publish`, `setRole` …).
        command: &'static str,
    },
    /// A remote member muted or unmuted one kind (`mute-audio`, `unmute-video`, ...).
    MuteChanged {
        /// The member.
        uid: u64,
        /// Which kind.
        media: MediaKind,
        /// Muted now (or unmuted).
        muted: bool,
    },
    /// This member's `<live-pusher>` changed phase (from the codes the page forwards, or
    /// `Requesting` when `publish` was called). `code` is the component's state code.
    PusherState {
        /// Where it stands now.
        phase: Phase,
        /// The component's state code (0 for `Requesting`).
        code: i64,
    },
    /// The `<live-player>` playing `uid` changed phase.
    PlayerState {
        /// The member it plays.
        uid: u64,
        /// Where it stands now.
        phase: Phase,
        /// The component's state code (0 for `Requesting`).
        code: i64,
    },
    /// The app-chosen ids of a member, before the `clientJoin` / `stream-added` they belong
    /// to (only for members that have them: ZEGO-style user and stream ids).
    Identity {
        /// The member.
        uid: u64,
        /// Its user id and name, if it joined with them.
        user: Option<crate::protocol::UserTag>,
        /// Its stream id, if it published with one.
        stream: Option<String>,
    },
    /// What the ZEGO engine reports, decided here so that its shim only renames; only with
    /// [`crate::core::ClientConfig::zego`].
    Zego(ZegoFact),
    /// A room message from another member ([`crate::protocol::Event::Message`], with the
    /// sender as `uid` like every member event the app gets).
    Message {
        /// Its number in the room.
        id: u64,
        /// Chat, barrage or custom command.
        kind: MessageKind,
        /// Who sent it.
        uid: u64,
        /// Its text.
        text: String,
        /// Its time (server clock, ms).
        ts: u64,
    },
    /// Extra info from another member, as the server's `extra-info` event has it (see
    /// [`crate::protocol::Event::ExtraInfo`]): its stream's when `key` is `None`.
    ExtraInfo {
        /// The room value's name, or `None`.
        key: Option<String>,
        /// What was set.
        value: String,
        /// The member who set it.
        uid: u64,
        /// When (server clock, ms).
        ts: u64,
    },
    /// A component's `bindnetstatus`, at most once per second per component.
    Quality {
        /// Pusher or player.
        kind: ComponentKind,
        /// This member (pusher) or the member played.
        uid: u64,
        /// The sample.
        net: NetStatus,
    },
}

impl AppEvent {
    /// The event name passed to `client.on(name, ...)`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Disconnect { .. } => "disconnect",
            Self::ClientJoin { .. } => "clientJoin",
            Self::ClientLeave { .. } => "clientLeave",
            Self::StreamAdded { .. } => "stream-added",
            Self::StreamRemoved { .. } => "stream-removed",
            Self::RoleChanged { .. } => "role-Changed",
            Self::RtmpTasksStatus { .. } => "rtmp-tasks-status",
            Self::SyncDone { .. } => "syncDone",
            Self::Kicked { .. } => "kicked",
            Self::LiveRoomClose => "liveRoomClose",
            Self::TokenWillExpire { .. } => "tokenWillExpire",
            Self::WillReconnect { .. } => "willreconnect",
            Self::Reconnected { .. } => "reconnected",
            Self::ReconnectFailed { .. } => "reconnectFailed",
            Self::SendCommandOverTime { .. } => "sendCommandOverTime",
            Self::MuteChanged {
                media: MediaKind::Audio,
                muted: true,
                ..
            } => "mute-audio",
            Self::MuteChanged {
                media: MediaKind::Audio,
                muted: false,
                ..
            } => "unmute-audio",
            Self::MuteChanged {
                media: MediaKind::Video,
                muted: true,
                ..
            } => "mute-video",
            Self::MuteChanged {
                media: MediaKind::Video,
                muted: false,
                ..
            } => "unmute-video",
            Self::PusherState { .. } => "pusher-state",
            Self::PlayerState { .. } => "player-state",
            Self::Quality { .. } => "quality",
            Self::Message { .. } => "message",
            Self::ExtraInfo { .. } => "extra-info",
            Self::Identity { .. } => "identity",
            Self::Zego(ZegoFact::Ended { .. }) => "kickout",
        }
    }
}

/// What ZEGO's API reports that NetEase's does not say the same way: the core decides it, so
/// the ZEGO shim only renames (it would otherwise keep its own copy of the core's rules).
#[derive(Debug, Clone, PartialEq)]
pub enum ZegoFact {
    /// The server ended the session (kicked, the room closed, the token expired); `code` is
    /// what `roomStateUpdate` reports it with.
    Ended {
        /// 4025 same user elsewhere, 4030 server API, 4013 token expired.
        code: crate::protocol::ErrorCode,
    },
}

/// The value an operation resolves with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpValue {
    /// Nothing to hand back: the call took effect.
    Done,
    /// `publish`: the URL for `<live-pusher url>`.
    PushUrl(String),
    /// `sendMessage`: the room's id for the message and when the server took it.
    Message {
        /// The message id, as the others get it.
        id: u64,
        /// The server's time of it (ms since the Unix epoch).
        ts: u64,
    },
    /// `subscribe`: the URLs for `<live-player src>`.
    Play {
        /// The RTMP play URL.
        url: String,
        /// The same stream over HTTP-FLV, for players that cannot take RTMP.
        flv_url: String,
    },
}

/// What the core asks its driver to do, one at a time from [`crate::core::Client::poll_output`].
/// An API call's outcome comes back this way too, keyed by the [`OpId`] the call returned, so
/// the driver can settle the matching JavaScript promise.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open the signaling socket to this URL (there is never more than one).
    Connect {
        /// The server's `ws://` or `wss://` URL.
        url: String,
    },
    /// Send this text frame on the open socket.
    Send(String),
    /// Close the socket.
    Close {
        /// 1000 when leaving for good, [`crate::core::RECONNECT_CLOSE_CODE`] when another
        /// socket follows.
        code: u16,
        /// For the server's logs.
        reason: String,
    },
    /// Tell the app (its `client.on(name, …)` listeners).
    Event(AppEvent),
    /// The call `op` succeeded.
    Resolve {
        /// The call's id.
        op: OpId,
        /// What it resolves with.
        value: OpValue,
    },
    /// The call `op` failed.
    Reject {
        /// The call's id.
        op: OpId,
        /// Why.
        error: Error,
    },
}
