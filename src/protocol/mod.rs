//! The wire protocol, shared by the SDK core and `mprtc-server` so the two cannot disagree.
//!
//! Versioned JSON envelopes over one WebSocket: each request id gets exactly one response, and
//! every server event carries a per-session `seq` (the basis for resume). See [`frame`].

// Everything public here is read by two programs (the SDK and the server): documented, always.
#![warn(missing_docs)]

mod codec;
pub mod error;
pub mod frame;
pub mod json;
#[cfg(any(test, all(feature = "fuzzing", not(target_arch = "wasm32"))))]
mod json_serde;
pub mod messages;
pub mod names;

pub use error::{ErrorCode, WireError};
pub use frame::{RequestKind, ServerFrame, VERSION};
pub use messages::*;
/// Property-test strategies for the wire format (for this crate's tests, and for the server's
/// with the `fuzzing` feature).
#[cfg(all(not(target_arch = "wasm32"), any(test, feature = "fuzzing")))]
pub mod arbitrary;
#[cfg(test)]
pub(crate) mod fuzz;
pub mod tasks;
