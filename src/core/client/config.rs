//! [`ClientConfig`]: the settings fixed for a client's life.

use crate::prelude::*;

use crate::core::error::Error;
use crate::core::reconnect::ReconnectPolicy;

/// Settings fixed for the client's life.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The app's key: the server finds the app's secret and settings by it.
    pub appkey: String,
    /// `ws://` or `wss://` URL of the server's signaling endpoint.
    pub server: String,
    /// Deadline of every request, from the moment it is issued.
    pub request_timeout_ms: u64,
    /// How long opening the socket may take.
    pub connect_timeout_ms: u64,
    /// Sent to the server at join, for its logs.
    pub sdk: String,
    /// When to try a lost connection again; see [`crate::core::reconnect`].
    pub reconnect: ReconnectPolicy,
    /// Seeds the reconnect jitter. Drivers pass real randomness; tests pass their seed.
    pub seed: u64,
    /// Also emit [`crate::core::AppEvent::Zego`]: the client drives a ZEGO engine. Off for
    /// NetEase clients, whose events stay exactly NetEase's.
    pub zego: bool,
}

impl ClientConfig {
    /// The defaults (10 s deadlines, the default [`ReconnectPolicy`], seed 0) for this app
    /// and server. Fails on an empty `appkey` or a `server` that is not a WebSocket URL, so a
    /// typo shows at setup rather than at the first join.
    pub fn new(appkey: impl Into<String>, server: impl Into<String>) -> Result<Self, Error> {
        let appkey = appkey.into();
        let server = server.into();
        if appkey.is_empty() {
            return Err(Error::invalid("appkey is required"));
        }
        if !(server.starts_with("ws://") || server.starts_with("wss://")) {
            return Err(Error::invalid("server must be a ws:// or wss:// URL"));
        }
        Ok(Self {
            appkey,
            server,
            request_timeout_ms: 10_000,
            connect_timeout_ms: 10_000,
            sdk: concat!("mprtc/", env!("CARGO_PKG_VERSION")).into(),
            reconnect: ReconnectPolicy::default(),
            seed: 0,
            zego: false,
        })
    }
}
