//! Embedded media server: RTMP publish/play (via the `rtmp-rs` crate) and HTTP-FLV
//! play (axum + [`super::flv`]), with signed-URL admission.
//!
//! # Admission on the wire
//!
//! Every pusher and player must present a URL from [`MediaSigner`]; the query string
//! travels in the RTMP stream name (`publish("room.7?k=push&e=..&s=..")`), as ffmpeg
//! and WeChat `<live-pusher>` send it. The check runs in the `publish` / `play`
//! command handler, *before* the library registers the publisher or subscribes the
//! player, so a refused peer never gets a single media byte in or out:
//!
//! * **RTMP publish refused** (bad/expired/wrong-kind URL, or the stream already has
//!   a publisher): the server answers `onStatus` level `error`, code
//!   `NetStream.Publish.BadName`, description = the [`AdmissionError`] message, then
//!   closes the TCP connection. ffmpeg exits non-zero. No [`MediaEvent`].
//! * **RTMP play refused** (bad URL or no such stream): `onStatus` level `error`, code
//!   `NetStream.Play.StreamNotFound`, description = the reason, then the connection is
//!   closed.
//! * **HTTP-FLV play refused**: `400` (malformed URL), `403` (bad signature,
//!   expired, wrong kind) or `404` (no such stream / path), `text/plain` reason.
//!
//! The RTMP `connect` itself is accepted for any app name (the signature covers room,
//! uid, viewer and expiry — not the app), so `rtmp://host/live/..` and
//! `rtmp://host/anything/..` address the same streams.
//!
//! # Streams and players
//!
//! Streams are keyed by `(room, uid)`. A second pusher for the same stream is
//! refused while the first is connected. A publisher that drops (its connection closes
//! without `deleteStream`) keeps its stream and players for the publisher grace
//! ([`EmbeddedMedia::with_publisher_grace`]); coming back within it, it feeds the same
//! players, who saw a stall. When the publisher stops (`deleteStream`, kick, grace over)
//! its players are disconnected (RTMP) or their HTTP response ends (FLV).
//! New players start with the publisher's `onMetaData`, the sequence headers and the
//! cached GOP with its audio (from the last keyframe), then live media (see
//! [`fanout`]). Slow players lose video up to the next keyframe.
//!
//! `rtmp-rs` routes play by the *exact* stream name, query included, so each RTMP
//! play URL gets its own registry entry fed by a small relay task from the
//! publisher's entry ("mirror"); identical concurrent play URLs share one mirror.
//!
//! Each RTMP connection runs on a loopback socket behind a byte relay
//! ([`super::pipe`]) that wakes the library up after an admitted `play`; without it,
//! players whose `play` command spans several chunks (long signed stream names)
//! receive the cached GOP and then stall. The relay also passes every client byte
//! through the chunk guard of [`super::front`] (message size, chunk streams, reserved
//! bytes) and closes a connection that is not admitted as a publisher or player
//! within the admission deadline.
//!
//! # Limits
//!
//! Both listeners count connections in total and per client address
//! ([`crate::listen::ConnLimiter`]); one over a cap is closed unread. HTTP-FLV
//! connections must send their request headers within the header timeout (also
//! between keep-alive requests). Set them with [`EmbeddedMedia::with_limits`].
//!
//! # Signer
//!
//! [`MediaSigner::verify`] depends only on the secret, so the signer given to
//! [`EmbeddedMedia::bind`] may carry placeholder bases: build the URL-issuing signer
//! (same secret) from [`EmbeddedMedia::rtmp_addr`] / [`EmbeddedMedia::flv_addr`]
//! after binding. [`EmbeddedHandle::set_signer`] swaps the verifying signer at any
//! time (e.g. secret rotation); URLs signed with the old secret stop being admitted.
//!
//! [`AdmissionError`]: super::AdmissionError

mod fanout;
mod http_flv;
mod relay;
mod rtmp;
mod state;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use rtmp_rs::registry::StreamRegistry;
use rtmp_rs::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use self::rtmp::Handler;
use self::state::{MediaLimits, Shared, Tables};
pub use self::state::{PlayGate, DEFAULT_PUBLISHER_GRACE};
use super::signing::MediaSigner;
use super::{MediaError, MediaEvent, MediaServer};
use crate::listen::{ConnLimiter, ListenLimits};

/// How long `run` waits for the HTTP-FLV server to drain after shutdown.
const FLV_DRAIN: Duration = Duration::from_secs(2);

/// The embedded RTMP + HTTP-FLV server. Bind first (addresses known, port 0 works),
/// then [`run`](Self::run). Take a [`handle`](Self::handle) before `run` to kick
/// publishers or query state while it runs.
pub struct EmbeddedMedia {
    rtmp: TcpListener,
    flv: TcpListener,
    shared: Arc<Shared>,
}

/// Cheap clonable control handle of a running [`EmbeddedMedia`].
#[derive(Clone)]
pub struct EmbeddedHandle {
    shared: Arc<Shared>,
}

impl EmbeddedMedia {
    /// Binds both listeners now. See the module docs for what `signer` needs.
    pub async fn bind(
        rtmp_listen: SocketAddr,
        flv_listen: SocketAddr,
        signer: Arc<MediaSigner>,
    ) -> Result<Self, MediaError> {
        let bind = |what, addr| async move {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| MediaError::Bind { what, addr, source })?;
            let local = l
                .local_addr()
                .map_err(|source| MediaError::Bind { what, addr, source })?;
            Ok::<_, MediaError>((l, local))
        };
        let (rtmp, rtmp_addr) = bind("RTMP", rtmp_listen).await?;
        let (flv, flv_addr) = bind("HTTP-FLV", flv_listen).await?;
        let shared = Arc::new(Shared {
            signer: RwLock::new(signer),
            gate: RwLock::new(None),
            rtmp_addr,
            flv_addr,
            registry: Arc::new(StreamRegistry::new()),
            state: Mutex::new(Tables::default()),
            events: OnceLock::new(),
            stop: CancellationToken::new(),
            next_mirror: AtomicU64::new(1),
            limits: MediaLimits::from(&ListenLimits::default()),
            bytes: Arc::default(),
        });
        Ok(Self { rtmp, flv, shared })
    }

    /// Replaces the default connection caps, timeouts and chunk limits; call before
    /// [`run`](Self::run).
    pub fn with_limits(mut self, limits: &ListenLimits) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            let grace = shared.limits.publisher_grace;
            shared.limits = MediaLimits::from(limits);
            shared.limits.publisher_grace = grace;
        }
        self
    }

    /// Sets how long a dropped publisher's stream waits for it to come back (zero: a drop
    /// ends the stream at once); call before [`run`](Self::run).
    pub fn with_publisher_grace(mut self, grace: Duration) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.limits.publisher_grace = grace;
        }
        self
    }

    /// The RTMP listener's bound address (port 0 resolved).
    pub fn rtmp_addr(&self) -> SocketAddr {
        self.shared.rtmp_addr
    }

    /// The HTTP-FLV listener's bound address (port 0 resolved).
    pub fn flv_addr(&self) -> SocketAddr {
        self.shared.flv_addr
    }

    /// A cheap handle to this media server, for the signaling side (see [`EmbeddedHandle`]).
    pub fn handle(&self) -> EmbeddedHandle {
        EmbeddedHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serves until `shutdown` is cancelled, then closes every RTMP and HTTP-FLV
    /// connection and returns (within about [`FLV_DRAIN`]). Peer errors are logged,
    /// never returned.
    pub async fn run(
        self,
        events: UnboundedSender<MediaEvent>,
        shutdown: CancellationToken,
    ) -> Result<(), MediaError> {
        let Self { rtmp, flv, shared } = self;
        let _ = shared.events.set(events);
        tracing::info!(rtmp = %shared.rtmp_addr, flv = %shared.flv_addr, "media server running");

        let cleanup = shared.registry.spawn_cleanup_task();
        let app = axum::Router::new()
            .route("/{app}/{file}", axum::routing::get(http_flv::flv_play))
            .with_state(Arc::clone(&shared));
        let stop = shared.stop.clone();
        let flv_limiter = ConnLimiter::new("HTTP-FLV", shared.limits.flv);
        let header_timeout = shared.limits.header_timeout;
        let mut flv_task = tokio::spawn(async move {
            crate::listen::http::serve(
                flv,
                app,
                flv_limiter,
                header_timeout,
                stop.cancelled_owned(),
            )
            .await
        });
        let rtmp_limiter = ConnLimiter::new("RTMP", shared.limits.rtmp);

        let config = ServerConfig::default();
        let handler = Arc::new(Handler {
            shared: Arc::clone(&shared),
        });
        let mut next_session: u64 = 1;
        let mut result = Ok(());
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = &mut flv_task => {
                    result = match r {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(source)) => Err(MediaError::Serve { what: "HTTP-FLV", source }),
                        Err(e) => Err(MediaError::Serve { what: "HTTP-FLV", source: std::io::Error::other(e) }),
                    };
                    break;
                }
                accepted = rtmp.accept() => match accepted {
                    Ok((socket, peer)) => {
                        // Over a cap: closed unread (dropping the socket).
                        if let Some(permit) = rtmp_limiter.try_acquire(peer.ip()) {
                            let id = next_session;
                            next_session += 1;
                            rtmp::spawn_rtmp_session(id, socket, peer, config.clone(), &handler, &shared, permit);
                        }
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "RTMP accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }

        shared.stop.cancel();
        if !flv_task.is_finished()
            && tokio::time::timeout(FLV_DRAIN, &mut flv_task)
                .await
                .is_err()
        {
            flv_task.abort();
        }
        cleanup.abort();
        tracing::info!("media server stopped");
        result
    }
}

impl EmbeddedHandle {
    /// From now on, a play URL admits only viewers `gate` allows: a valid signature is not
    /// enough once its viewer left, was kicked or lost the subscribe privilege.
    pub fn set_play_gate(&self, gate: PlayGate) {
        *self.shared.gate.write().unwrap_or_else(|e| e.into_inner()) = Some(gate);
    }

    /// Replaces the signer used to verify URLs from now on.
    pub fn set_signer(&self, signer: Arc<MediaSigner>) {
        *self
            .shared
            .signer
            .write()
            .unwrap_or_else(|e| e.into_inner()) = signer;
    }
}

impl MediaServer for EmbeddedHandle {
    fn rtmp_addr(&self) -> Option<SocketAddr> {
        Some(self.shared.rtmp_addr)
    }

    fn flv_addr(&self) -> Option<SocketAddr> {
        Some(self.shared.flv_addr)
    }

    fn kick_publisher(&self, room: &str, uid: u64) {
        self.shared.kick_publisher(room, uid);
    }

    fn is_publishing(&self, room: &str, uid: u64) -> bool {
        self.shared
            .lock()
            .streams
            .contains_key(&(room.to_owned(), uid))
    }

    fn sample(&self) -> Option<crate::media::MediaSample> {
        use std::sync::atomic::Ordering::Relaxed;
        let state = self.shared.lock();
        let rtmp_players = state
            .sessions
            .values()
            .filter(|s| matches!(s.role, state::Role::Player { .. }))
            .count();
        Some(crate::media::MediaSample {
            publishers: state.streams.len(),
            players: rtmp_players + state.flv_players.len(),
            bytes_in: self.shared.bytes.received.load(Relaxed),
            bytes_out: self.shared.bytes.sent.load(Relaxed),
        })
    }

    fn kick_viewer(&self, room: &str, viewer: u64) {
        // Every member that leaves is revoked; only plays really ended are worth a line.
        let ended = self.shared.kick_viewer(room, viewer);
        if ended > 0 {
            tracing::info!(room, viewer, ended, "ended a revoked viewer's plays");
        }
    }
}

impl MediaServer for EmbeddedMedia {
    fn rtmp_addr(&self) -> Option<SocketAddr> {
        Some(self.shared.rtmp_addr)
    }

    fn flv_addr(&self) -> Option<SocketAddr> {
        Some(self.shared.flv_addr)
    }

    fn kick_publisher(&self, room: &str, uid: u64) {
        self.handle().kick_publisher(room, uid)
    }

    fn is_publishing(&self, room: &str, uid: u64) -> bool {
        self.handle().is_publishing(room, uid)
    }

    fn kick_viewer(&self, room: &str, viewer: u64) {
        self.handle().kick_viewer(room, viewer)
    }

    fn sample(&self) -> Option<crate::media::MediaSample> {
        self.handle().sample()
    }
}
