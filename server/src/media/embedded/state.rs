//! State shared by the RTMP handler, the HTTP-FLV handler and [`EmbeddedHandle`]:
//! admitted publishers, live RTMP connections and RTMP play mirrors.
//!
//! One mutex guards all three tables so that admission (one publisher per stream,
//! one stream per connection, one mirror per play URL) is decided atomically; it is
//! never held across an `.await`.
//!
//! [`EmbeddedHandle`]: super::EmbeddedHandle

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rtmp_rs::registry::{StreamKey, StreamRegistry};
use tokio::sync::{mpsc::UnboundedSender, watch};
use tokio_util::sync::CancellationToken;

use crate::listen::{ConnCaps, ListenLimits};
use crate::media::front::FrontLimits;
use crate::media::pipe::Tap;
use crate::media::signing::{AdmissionError, Admitted, MediaSigner, UrlKind};
use crate::media::MediaEvent;

/// Asked at every play admission whether `viewer` may still play in media room `room`
/// (signaling answers from its membership; see [`super::EmbeddedHandle::set_play_gate`]).
pub type PlayGate = Arc<dyn Fn(&str, u64) -> bool + Send + Sync>;

pub(super) struct Shared {
    pub(super) signer: RwLock<Arc<MediaSigner>>,
    pub(super) gate: RwLock<Option<PlayGate>>,
    pub(super) rtmp_addr: SocketAddr,
    pub(super) flv_addr: SocketAddr,
    pub(super) registry: Arc<StreamRegistry>,
    pub(super) state: Mutex<Tables>,
    pub(super) events: OnceLock<UnboundedSender<MediaEvent>>,
    /// Cancelled when `run` stops; parent of every session token.
    pub(super) stop: CancellationToken,
    pub(super) next_mirror: AtomicU64,
    pub(super) limits: MediaLimits,
    /// Bytes through the RTMP relays and HTTP-FLV bodies, for `/metrics`.
    pub(super) bytes: Arc<crate::media::MediaBytes>,
}

/// The limits the media listeners enforce (from [`ListenLimits`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct MediaLimits {
    pub(super) rtmp: ConnCaps,
    pub(super) flv: ConnCaps,
    pub(super) header_timeout: Duration,
    pub(super) admission_timeout: Duration,
    pub(super) front: FrontLimits,
}

impl From<&ListenLimits> for MediaLimits {
    fn from(l: &ListenLimits) -> Self {
        Self {
            rtmp: l.rtmp,
            flv: l.flv,
            header_timeout: l.header_timeout,
            admission_timeout: l.rtmp_admission_timeout,
            front: FrontLimits::default(),
        }
    }
}

#[derive(Default)]
pub(super) struct Tables {
    /// Admitted publishers by (room, uid).
    pub(super) streams: HashMap<(String, u64), Stream>,
    /// Live RTMP connections by session id.
    pub(super) sessions: HashMap<u64, Session>,
    /// RTMP play mirrors by the player's exact registry key.
    pub(super) mirrors: HashMap<StreamKey, Mirror>,
    /// HTTP-FLV players by an id of their own: (room, viewer, kick).
    pub(super) flv_players: HashMap<u64, (String, u64, CancellationToken)>,
    pub(super) next_flv: u64,
}

/// A stream being published: its publisher's session, and what ends with it.
pub(super) struct Stream {
    pub(super) session: u64,
    /// The publisher's registry key (stream name including its query).
    pub(super) key: StreamKey,
    /// Cancelled when the publisher goes away; ends relays and FLV players.
    pub(super) ended: CancellationToken,
}

/// An RTMP connection: what it is (idle, publisher or player) and how to end it.
pub(super) struct Session {
    pub(super) cancel: CancellationToken,
    pub(super) role: Role,
    /// Steers the connection's loopback relay (see [`crate::media::pipe`]).
    pub(super) tap: watch::Sender<Tap>,
}

/// What an RTMP connection was admitted as.
#[derive(Clone)]
pub(super) enum Role {
    Idle,
    Publisher {
        room: String,
        uid: u64,
    },
    Player {
        room: String,
        uid: u64,
        viewer: u64,
        mirror: StreamKey,
    },
}

/// An RTMP play mirror (keyed by the players' registry key): how many players use it, and
/// how to stop it when the last one goes.
pub(super) struct Mirror {
    pub(super) players: usize,
    pub(super) stop: CancellationToken,
}

impl Shared {
    /// The tables, even after a panic under the lock.
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock must not take the media server down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn verify(
        &self,
        kind: UrlKind,
        name: &str,
        query: &str,
    ) -> Result<Admitted, AdmissionError> {
        let signer = Arc::clone(&self.signer.read().unwrap_or_else(|e| e.into_inner()));
        let a = signer.verify(kind, name, query, unix_now())?;
        if let Some(viewer) = a.viewer {
            let gate = self.gate.read().unwrap_or_else(|e| e.into_inner()).clone();
            if gate.is_some_and(|may_play| !may_play(&a.room, viewer)) {
                return Err(AdmissionError::Revoked);
            }
        }
        Ok(a)
    }

    /// Ends every RTMP and HTTP-FLV play of `viewer` in `room`, at once; how many it ended.
    pub(super) fn kick_viewer(&self, room: &str, viewer: u64) -> usize {
        let state = self.lock();
        let mut ended = 0;
        for s in state.sessions.values() {
            if matches!(&s.role, Role::Player { room: r, viewer: v, .. } if r == room && *v == viewer)
            {
                s.cancel.cancel();
                ended += 1;
            }
        }
        for (r, v, kick) in state.flv_players.values() {
            if r == room && *v == viewer {
                kick.cancel();
                ended += 1;
            }
        }
        ended
    }

    pub(super) fn emit(&self, event: MediaEvent) {
        tracing::debug!(?event, "media event");
        if let Some(tx) = self.events.get() {
            let _ = tx.send(event);
        }
    }

    /// Called once per RTMP connection after it ended; `cancelled` means the
    /// library's own cleanup did not run (kick, shutdown, refused play).
    pub(super) async fn end_session(&self, id: u64, cancelled: bool) {
        let (role, unsubscribe, unregister) = {
            let mut state = self.lock();
            let Some(session) = state.sessions.remove(&id) else {
                return;
            };
            let mut unsubscribe = None;
            let mut unregister = None;
            match &session.role {
                Role::Idle => {}
                Role::Publisher { room, uid } => {
                    let k = (room.clone(), *uid);
                    if state.streams.get(&k).is_some_and(|s| s.session == id) {
                        let stream = state.streams.remove(&k).expect("checked above");
                        stream.ended.cancel();
                        unregister = Some(stream.key);
                        for s in state.sessions.values() {
                            if matches!(&s.role, Role::Player { room: r, uid: u, .. } if r == room && u == uid)
                            {
                                s.cancel.cancel();
                            }
                        }
                    }
                }
                Role::Player { mirror, .. } => {
                    unsubscribe = Some(mirror.clone());
                    release_mirror(&mut state, mirror);
                }
            }
            (session.role, unsubscribe, unregister)
        };
        if cancelled {
            if let Some(key) = unregister {
                self.registry.unregister_publisher(&key, id).await;
            }
            if let Some(key) = unsubscribe {
                self.registry.unsubscribe(&key).await;
            }
        }
        match role {
            Role::Idle => {}
            Role::Publisher { room, uid } => {
                tracing::info!(room, uid, "RTMP publish stopped");
                self.emit(MediaEvent::PublishStopped { room, uid });
            }
            Role::Player {
                room, uid, viewer, ..
            } => {
                tracing::info!(room, uid, viewer, "RTMP play stopped");
                self.emit(MediaEvent::PlayStopped { room, uid, viewer });
            }
        }
    }

    /// Looks up the publisher of (room, uid): its registry key and end token.
    pub(super) fn stream(&self, room: &str, uid: u64) -> Option<(StreamKey, CancellationToken)> {
        let state = self.lock();
        let s = state.streams.get(&(room.to_owned(), uid))?;
        Some((s.key.clone(), s.ended.clone()))
    }
}

/// One player fewer on `mirror`; the last one out stops it.
fn release_mirror(state: &mut Tables, mirror: &StreamKey) {
    if let Some(m) = state.mirrors.get_mut(mirror) {
        m.players = m.players.saturating_sub(1);
        if m.players == 0 {
            m.stop.cancel();
            state.mirrors.remove(mirror);
        }
    }
}

/// Wall-clock Unix seconds, for URL expiry.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
