//! Push tasks as an attacker uses them, against the real server over real sockets: layout
//! images aimed at an internal HTTP service (a loopback stand-in), a token that may not
//! subscribe showing others, push secrets and engine errors sent to the audience, compositor
//! caps, an update flood, and recording without the privilege.
//!
//! Configurations are written as TOML text and tokens as JSON claims, so that this file
//! builds against older servers too (each test was run against the code before the fix).
//! Tests wait on events and processes with generous failure timeouts; no clock decides a pass.
//!
//! [`support`] holds the fixtures; each other module is one finding, its tests reading top to
//! bottom.

#[path = "../live/mod.rs"]
mod live;
mod support;

mod audience;
mod caps;
mod images;
mod recording;
