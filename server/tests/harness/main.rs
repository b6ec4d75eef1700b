//! Two-party harness in virtual time: real SDK cores ([`mprtc::core::Client`]) talking to the
//! real signaling logic ([`mprtc_server::signaling::Hub`]) with frames passed in memory, so whole
//! flows run in microseconds and deterministically.
//!
//! [`support`] holds the fixtures (the [`support::Net`] of [`support::Peer`]s and its helpers);
//! each other module is one behaviour, its tests reading top to bottom.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod codes;
mod components;
mod console;
mod convergence;
mod dialects;
mod join;
mod limits;
mod messages;
mod resume;
mod sessions;
mod streams;
mod takeover;
mod tasks;
mod tokens;
