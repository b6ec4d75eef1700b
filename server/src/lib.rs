//! `mprtc-server`: WebSocket signaling, JWT join tokens, signed media URLs and an embedded
//! RTMP / HTTP-FLV media server, in one process.

pub mod app;
pub mod cluster;
pub mod config;
pub mod console;
pub mod debug_token;
pub mod http_api;
pub mod listen;
pub mod logging;
pub mod media;
pub mod metrics;
pub mod ready;
pub mod recording;
pub mod secret;
pub mod signaling;
pub mod tasks;
pub mod throttle;
pub mod token;
pub mod webhooks;
