//! Error codes that cross the wire. One numeric space for the whole product, so a code means
//! the same thing whether the server detected the problem or the client did before sending.

use crate::prelude::*;

/// Stable error codes. Numbers never change meaning once released; new codes get new numbers.
///
/// Ranges: 1xxx client-local conditions, 4xxx the request was refused, 5xxx the server failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    /// An argument of an API call is missing or out of range.
    InvalidArgument = 1001,
    /// The call needs a joined room.
    NotJoined = 1002,
    /// `join` was called while already joined or joining.
    AlreadyJoined = 1003,
    /// No answer arrived before the request's deadline.
    Timeout = 1004,
    /// The signaling connection closed or could not be opened.
    ConnectionLost = 1005,
    /// The server sent something this SDK cannot understand.
    ProtocolViolation = 1006,
    /// The operation was abandoned because the client left or was destroyed.
    Cancelled = 1007,
    /// The wasm core could not be loaded (raised by the JS shim: no `WXWebAssembly`, bad path).
    WasmUnavailable = 1008,
    /// The connection was lost and could not be got back within the reconnect policy's budget.
    ReconnectFailed = 1009,
    /// An option this SDK and server do not provide (e.g. NetEase's server-side recording).
    Unsupported = 1010,

    /// The frame is not valid JSON or lacks the envelope fields.
    MalformedFrame = 4000,
    /// The envelope's protocol version is not spoken by this peer.
    UnsupportedVersion = 4001,
    /// The request `type` is unknown.
    UnknownRequest = 4002,
    /// The request body is missing fields or has values out of range.
    InvalidParams = 4003,
    /// The frame exceeds the server's maximum frame size.
    FrameTooLarge = 4004,
    /// A push task breaks a rule; `field` names the field and the message the allowed range.
    InvalidTask = 4005,
    /// The app key is not configured on this server.
    UnknownAppKey = 4010,
    /// The app key needs a token and none was given.
    TokenRequired = 4011,
    /// The token's signature, room or uid does not match.
    TokenInvalid = 4012,
    /// The token has expired.
    TokenExpired = 4013,
    /// The token does not grant this action.
    PermissionDenied = 4014,
    /// The session has not joined a room yet.
    NotInRoom = 4020,
    /// The session already joined a room.
    AlreadyInRoom = 4021,
    /// An audience member tried to publish.
    AudienceCannotPublish = 4022,
    /// The subscribed uid publishes nothing of the requested kinds.
    NotPublishing = 4023,
    /// The uid is not a member of this room.
    NoSuchMember = 4024,
    /// The uid is held by another identity (another user id mapped to it), or a rejoin named a
    /// session with a user id that is not the session's. The same identity joining again is
    /// not refused: it replaces the first session, which receives `kicked` (reason `replaced`,
    /// also 4025 in the ZEGO dialect).
    UidInUse = 4025,
    /// `addTasks` with a task id the room already has.
    TaskExists = 4026,
    /// `updateTasks` / `deleteTasks` with a task id the room does not have.
    NoSuchTask = 4027,
    /// The server API named a room that has no members.
    NoSuchRoom = 4028,
    /// Too many requests or members.
    LimitExceeded = 4029,
    /// The session a rejoin asked to resume was ended by the server (its `kicked` or
    /// `liveRoomClose` event is sent just before this answer).
    SessionEnded = 4030,
    /// The server failed; the request may be retried.
    Internal = 5000,
}

impl ErrorCode {
    const ALL: [ErrorCode; 33] = [
        Self::InvalidArgument,
        Self::NotJoined,
        Self::AlreadyJoined,
        Self::Timeout,
        Self::ConnectionLost,
        Self::ProtocolViolation,
        Self::Cancelled,
        Self::WasmUnavailable,
        Self::ReconnectFailed,
        Self::Unsupported,
        Self::MalformedFrame,
        Self::UnsupportedVersion,
        Self::UnknownRequest,
        Self::InvalidParams,
        Self::FrameTooLarge,
        Self::InvalidTask,
        Self::UnknownAppKey,
        Self::TokenRequired,
        Self::TokenInvalid,
        Self::TokenExpired,
        Self::PermissionDenied,
        Self::NotInRoom,
        Self::AlreadyInRoom,
        Self::AudienceCannotPublish,
        Self::NotPublishing,
        Self::NoSuchMember,
        Self::UidInUse,
        Self::TaskExists,
        Self::NoSuchTask,
        Self::NoSuchRoom,
        Self::LimitExceeded,
        Self::SessionEnded,
        Self::Internal,
    ];

    /// The numeric code, as apps see it in `error.code`.
    pub fn as_u16(self) -> u16 {
        self as u16
    }

    /// A stable snake_case name, as apps see it in `error.reason`.
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid_argument",
            Self::NotJoined => "not_joined",
            Self::AlreadyJoined => "already_joined",
            Self::Timeout => "timeout",
            Self::ConnectionLost => "connection_lost",
            Self::ProtocolViolation => "protocol_violation",
            Self::Cancelled => "cancelled",
            Self::WasmUnavailable => "wasm_unavailable",
            Self::ReconnectFailed => "reconnect_failed",
            Self::Unsupported => "unsupported",
            Self::MalformedFrame => "malformed_frame",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownRequest => "unknown_request",
            Self::InvalidParams => "invalid_params",
            Self::FrameTooLarge => "frame_too_large",
            Self::InvalidTask => "invalid_task",
            Self::UnknownAppKey => "unknown_app_key",
            Self::TokenRequired => "token_required",
            Self::TokenInvalid => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::PermissionDenied => "permission_denied",
            Self::NotInRoom => "not_in_room",
            Self::AlreadyInRoom => "already_in_room",
            Self::AudienceCannotPublish => "audience_cannot_publish",
            Self::NotPublishing => "not_publishing",
            Self::NoSuchMember => "no_such_member",
            Self::UidInUse => "uid_in_use",
            Self::TaskExists => "task_exists",
            Self::NoSuchTask => "no_such_task",
            Self::NoSuchRoom => "no_such_room",
            Self::LimitExceeded => "limit_exceeded",
            Self::SessionEnded => "session_ended",
            Self::Internal => "internal",
        }
    }
}

impl From<ErrorCode> for u16 {
    fn from(c: ErrorCode) -> u16 {
        c.as_u16()
    }
}

impl TryFrom<u16> for ErrorCode {
    /// The number, which no code has.
    type Error = u16;
    fn try_from(n: u16) -> Result<Self, u16> {
        Self::ALL.iter().copied().find(|c| c.as_u16() == n).ok_or(n)
    }
}

/// The error half of a response, as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// The code, which decides what a client does (retry, rejoin, give up).
    pub code: ErrorCode,
    /// What happened, in English, for the developer reading logs.
    pub msg: String,
    /// The offending field, for errors about one field (e.g. a push task's).
    pub field: Option<String>,
}

impl WireError {
    /// An error with no `field`.
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            field: None,
        }
    }

    /// `InvalidTask` for a task that breaks a rule, with the rule as `msg` and its path as `field`.
    pub fn task(e: crate::protocol::tasks::TaskFieldError) -> Self {
        Self {
            code: ErrorCode::InvalidTask,
            msg: e.message(),
            field: Some(e.field),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_names_are_unique() {
        let mut names = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::try_from(c.as_u16()), Ok(c));
            assert!(names.insert(c.name()), "duplicate name {}", c.name());
        }
        assert!(ErrorCode::try_from(4999).is_err());
    }

    #[test]
    fn wire_error_serializes_code_as_number() {
        let e = WireError::new(ErrorCode::TokenExpired, "token expired");
        assert_eq!(
            crate::protocol::json::ToJson::to_json_string(&e),
            r#"{"code":4013,"msg":"token expired"}"#
        );
    }
}
