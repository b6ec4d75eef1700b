//! Media: signed push/play URLs and the embedded RTMP + HTTP-FLV server.
//!
//! The signaling side owns rooms and members; this module only moves media and
//! admits peers that present a URL signed by [`MediaSigner`]. It reports what
//! happens as [`MediaEvent`]s and lets signaling stop a pusher through
//! [`MediaServer::kick_publisher`]. [`EmbeddedMedia`] is the built-in server;
//! [`ExternalMedia`] admits and kicks on an nginx-rtmp or SRS deployment through its hooks
//! and control interface.

pub mod embedded;
pub mod external;
mod flv;
pub mod front;
#[cfg(test)]
mod front_fuzz;
mod pipe;
pub mod signing;

/// The embedded server's end-to-end tests; `tests::start_media` is shared with the
/// push-task tests, which need the same server.
#[cfg(test)]
pub(crate) mod tests;

use std::net::SocketAddr;

pub use embedded::{EmbeddedHandle, EmbeddedMedia, DEFAULT_PUBLISHER_GRACE};
pub use external::ExternalMedia;
pub use signing::{AdmissionError, Admitted, MediaSigner, PlayUrls, UrlKind};

/// Something the media server observed, sent to signaling over an unbounded channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// `uid` was admitted to publish `{room}.{uid}`.
    PublishStarted { room: String, uid: u64 },
    /// The publisher of `{room}.{uid}` went away (disconnected, unpublished or kicked).
    PublishStopped { room: String, uid: u64 },
    /// `viewer` started playing `{room}.{uid}` (RTMP or HTTP-FLV).
    PlayStarted { room: String, uid: u64, viewer: u64 },
    /// `viewer` stopped playing `{room}.{uid}`.
    PlayStopped { room: String, uid: u64, viewer: u64 },
}

/// Errors of the media server itself (not of individual peers, which are only logged).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// A listening socket could not be bound.
    #[error("cannot bind media {what} listener on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A listener failed while serving.
    #[error("media {what} listener failed: {source}")]
    Serve {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl MediaError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::Bind { .. } => "media.bind_failed",
            MediaError::Serve { .. } => "media.serve_failed",
        }
    }
}

/// What `/metrics` shows of the media server, now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaSample {
    /// Admitted publishers.
    pub publishers: usize,
    /// Admitted plays, RTMP and HTTP-FLV.
    pub players: usize,
    /// Bytes received from RTMP clients so far.
    pub bytes_in: u64,
    /// Bytes written to RTMP and HTTP-FLV clients so far.
    pub bytes_out: u64,
}

/// Bytes through the media listeners, counted where they are relayed: shared by every
/// connection of one media server, so plain atomics, read by [`MediaServer::sample`].
#[derive(Debug, Default)]
pub struct MediaBytes {
    /// From clients (publishers' media, players' commands).
    pub received: std::sync::atomic::AtomicU64,
    /// To clients (players' media, publishers' acknowledgements).
    pub sent: std::sync::atomic::AtomicU64,
}

impl MediaBytes {
    /// Counts `n` bytes received.
    pub fn add_in(&self, n: usize) {
        self.received
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts `n` bytes sent.
    pub fn add_out(&self, n: usize) {
        self.sent
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What signaling needs from a media server, embedded or external.
pub trait MediaServer: Send + Sync {
    /// Address of the RTMP listener, if this process owns one.
    fn rtmp_addr(&self) -> Option<SocketAddr>;

    /// Address of the HTTP-FLV listener, if this process owns one.
    fn flv_addr(&self) -> Option<SocketAddr>;

    /// Stops the pusher of `{room}.{uid}` (e.g. its member left the room) and ends
    /// its players. A no-op if nobody publishes that stream, or if the server
    /// cannot kick (adapters that cannot must document it).
    fn kick_publisher(&self, room: &str, uid: u64);

    /// Whether `{room}.{uid}` currently has an admitted publisher.
    fn is_publishing(&self, room: &str, uid: u64) -> bool;

    /// Ends every play of `viewer` in `room` now (it left, was kicked, its token expired or
    /// no longer grants subscribing). Its URLs are refused from then on by the play gate.
    fn kick_viewer(&self, room: &str, viewer: u64);

    /// Publishers, players and bytes now; `None` where the media runs elsewhere (an
    /// external engine counts its own: scrape it beside this server).
    fn sample(&self) -> Option<MediaSample> {
        None
    }
}
