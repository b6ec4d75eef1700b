//! The core's error type: a stable [`ErrorCode`] and a message for people.

use crate::prelude::*;

use crate::protocol::{ErrorCode, WireError};

/// An error an API call fails with. The wasm boundary turns it into a JS `Error` whose `code`
/// is [`ErrorCode::as_u16`] and whose `reason` is [`ErrorCode::name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong, as a stable code the app can branch on.
    pub code: ErrorCode,
    /// What went wrong, for people: it may change between versions, the code does not.
    pub message: String,
    /// The offending field, when the error is about one (push-task validation).
    pub field: Option<String>,
}

impl Error {
    /// An error with no field named.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Self {
            code: e.code,
            message: e.msg,
            field: e.field,
        }
    }
}

impl From<crate::protocol::names::BadName> for Error {
    fn from(e: crate::protocol::names::BadName) -> Self {
        Self::invalid(e.0)
    }
}

impl From<crate::protocol::tasks::TaskFieldError> for Error {
    fn from(e: crate::protocol::tasks::TaskFieldError) -> Self {
        WireError::task(e).into()
    }
}

impl ::core::fmt::Display for Error {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code.name(),
            self.code.as_u16(),
            self.message
        )
    }
}

impl ::core::error::Error for Error {}
