//! Signaling: the sans-IO [`hub`] and the WebSocket shell around it ([`ws`]).

pub mod hub;
mod writer;
pub mod ws;

pub use hub::{Hub, HubOut, Limits, SessionId, FIRST_RESERVED_UID, INSECURE_APP_MAX_ROOMS};
