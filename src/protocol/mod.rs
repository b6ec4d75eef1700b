//! The wire protocol, shared by the SDK core and `mprtc-server` so the two cannot disagree.
//!
//! Versioned JSON envelopes over one WebSocket: each request id gets exactly one response, and
//! every server event carries a per-session `seq` (the basis for resume). See [`frame`].

pub mod error;
pub mod frame;
pub mod messages;

pub use error::{ErrorCode, WireError};
pub use frame::{RequestKind, ServerFrame, VERSION};
pub use messages::*;
#[cfg(test)]
mod fuzz;
pub mod tasks;
