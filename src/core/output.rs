//! What the core asks its driver (the JS shim, or a test harness) to do.

use crate::prelude::*;

use super::component::{ComponentKind, NetStatus};
use super::error::Error;
use crate::protocol::{LeaveReason, Role};

/// Identifies one API call whose outcome arrives later as [`Output::Resolve`] or [`Output::Reject`].
pub type OpId = u32;

/// Audio or video, as the NetEase API names them in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
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
    pub fn name(self) -> &'static str {
        match self {
            Self::Requesting => "requesting",
            Self::Active => "active",
            Self::Failed => "failed",
        }
    }
}

/// Events the app sees, named as in the NetEase API.
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    /// The signaling socket opened.
    Open,
    /// The signaling socket closed while in a room.
    Disconnect {
        code: u16,
        reason: String,
    },
    ClientJoin {
        uid: u64,
    },
    ClientLeave {
        uid: u64,
        reason: LeaveReason,
    },
    StreamAdded {
        uid: u64,
        media: MediaKind,
    },
    StreamRemoved {
        uid: u64,
        media: MediaKind,
    },
    RoleChanged {
        uid: u64,
        role: Role,
    },
    /// A push task's state: 505 pushing, 506 failed, 511 ended.
    RtmpTasksStatus {
        task_id: String,
        code: u16,
        msg: String,
        stream_url: String,
    },
    /// A push or play URL changed: the core recovered a `<live-pusher>` (`uid` is this member)
    /// or a `<live-player>` (`uid` is the member it plays) that gave up, and the page must set
    /// `url` on that component.
    SyncDone {
        uid: u64,
        url: String,
    },
    /// The session was ended by the server: same uid elsewhere, or the server API.
    Kicked {
        reason: crate::protocol::KickReason,
    },
    /// The server API closed the room.
    LiveRoomClose,
    /// The join token expires soon: call `renewToken`.
    TokenWillExpire {
        remaining_s: u64,
    },
    /// The connection was lost; the SDK is about to try (again) to get it back. `count` is the
    /// attempt about to be made, from 1.
    WillReconnect {
        count: u32,
    },
    /// The connection is back. `resumed`: the same session, with every missed event delivered
    /// after this one; otherwise a new session, and the app has seen the difference as ordinary
    /// events (a page should reset its components on the `syncDone`s that follow).
    Reconnected {
        resumed: bool,
    },
    /// Reconnecting gave up; `disconnect` follows.
    ReconnectFailed {
        attempts: u32,
        elapsed_ms: u64,
    },
    /// A request got no answer in time (its promise rejects with code 1004).
    SendCommandOverTime {
        command: &'static str,
    },
    /// A remote member muted or unmuted one kind (`mute-audio`, `unmute-video`, ...).
    MuteChanged {
        uid: u64,
        media: MediaKind,
        muted: bool,
    },
    /// This member's `<live-pusher>` changed phase (from the codes the page forwards, or
    /// `Requesting` when `publish` was called). `code` is the component's state code.
    PusherState {
        phase: Phase,
        code: i64,
    },
    /// The `<live-player>` playing `uid` changed phase.
    PlayerState {
        uid: u64,
        phase: Phase,
        code: i64,
    },
    /// The app-chosen ids of a member, before the `clientJoin` / `stream-added` they belong
    /// to (only for members that have them: ZEGO-style user and stream ids).
    Identity {
        uid: u64,
        user: Option<crate::protocol::UserTag>,
        stream: Option<String>,
    },
    /// A component's `bindnetstatus`, at most once per second per component.
    Quality {
        kind: ComponentKind,
        uid: u64,
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
            Self::Identity { .. } => "identity",
        }
    }
}

/// The value an operation resolves with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpValue {
    Done,
    /// `publish`: the URL for `<live-pusher url>`.
    PushUrl(String),
    /// `subscribe`: the URLs for `<live-player src>`.
    Play {
        url: String,
        flv_url: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open the signaling socket to this URL (there is never more than one).
    Connect {
        url: String,
    },
    /// Send this text frame on the open socket.
    Send(String),
    /// Close the socket.
    Close {
        code: u16,
        reason: String,
    },
    Event(AppEvent),
    Resolve {
        op: OpId,
        value: OpValue,
    },
    Reject {
        op: OpId,
        error: Error,
    },
}
