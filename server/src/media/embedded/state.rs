//! State shared by the RTMP handler, the HTTP-FLV handler and [`EmbeddedHandle`]:
//! admitted publishers, live RTMP connections and RTMP play mirrors.
//!
//! A stream outlives a publisher connection that *drops* (the socket closes without a
//! `deleteStream`: a phone changing networks, a pusher restarting) by the publisher grace:
//! its players keep their connections and see a stall, the signaling side hears nothing, and
//! a publisher admitted for the same `(room, uid)` within the grace takes the stream over
//! (see [`super::fanout`] for how the players' timeline continues). Only when the grace runs
//! out is the stream ended and `PublishStopped` sent. A publisher that says it stopped
//! (`deleteStream`) or is kicked ends the stream at once: a kick must not leave a window in
//! which the kicked pusher could come back.
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

use super::fanout::Fanout;
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
    /// How long a dropped publisher's stream waits for it (zero: a drop ends the stream).
    pub(super) publisher_grace: Duration,
}

/// The publisher grace when none is set (see the module docs): long enough for a pusher's
/// own reconnect (WeChat's `<live-pusher>` retries within a few seconds), short enough that a
/// publisher really gone is noticed soon.
pub const DEFAULT_PUBLISHER_GRACE: Duration = Duration::from_secs(5);

impl From<&ListenLimits> for MediaLimits {
    fn from(l: &ListenLimits) -> Self {
        Self {
            rtmp: l.rtmp,
            flv: l.flv,
            header_timeout: l.header_timeout,
            admission_timeout: l.rtmp_admission_timeout,
            front: FrontLimits::default(),
            publisher_grace: DEFAULT_PUBLISHER_GRACE,
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

/// A stream being published: its publisher's session, its players' fan-out, and what ends
/// with it.
pub(super) struct Stream {
    /// The publishing connection; `None` while the stream waits out the publisher grace.
    pub(super) session: Option<u64>,
    /// The publisher's registry key (stream name including its query).
    pub(super) key: StreamKey,
    /// Cancelled when the stream ends; ends relays and FLV players.
    pub(super) ended: CancellationToken,
    /// What the players read.
    pub(super) fanout: Arc<Fanout>,
    /// Counts the publisher's drops: a grace timer ends the stream only if no publisher came
    /// back since *its* drop.
    pub(super) drops: u64,
    /// End without grace when the publisher goes (it was kicked, or said it stopped).
    pub(super) stop_now: bool,
}

/// An RTMP connection: what it is (idle, publisher or player) and how to end it.
pub(super) struct Session {
    pub(super) cancel: CancellationToken,
    pub(super) role: Role,
    /// Steers the connection's loopback relay (see [`crate::media::pipe`]).
    pub(super) tap: watch::Sender<Tap>,
    /// An admitted publisher's fan-out, found here for each of its tags.
    pub(super) feeds: Option<Arc<Fanout>>,
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
    pub(super) async fn end_session(self: &Arc<Self>, id: u64, cancelled: bool) {
        let (role, unsubscribe, unregister, stopped) = {
            let mut state = self.lock();
            let Some(session) = state.sessions.remove(&id) else {
                return;
            };
            let mut unsubscribe = None;
            let mut unregister = None;
            let mut stopped = false;
            match &session.role {
                Role::Idle => {}
                Role::Publisher { room, uid } => {
                    let k = (room.clone(), *uid);
                    let grace = self.limits.publisher_grace;
                    let shutting_down = self.stop.is_cancelled();
                    if let Some(stream) =
                        state.streams.get_mut(&k).filter(|s| s.session == Some(id))
                    {
                        unregister = Some(stream.key.clone());
                        if stream.stop_now || grace.is_zero() || shutting_down {
                            finish_stream(&mut state, &k);
                            stopped = true;
                        } else {
                            stream.session = None;
                            stream.drops += 1;
                            self.spawn_grace(k, stream.drops, grace);
                        }
                    }
                }
                Role::Player { mirror, .. } => {
                    unsubscribe = Some(mirror.clone());
                    release_mirror(&mut state, mirror);
                }
            }
            (session.role, unsubscribe, unregister, stopped)
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
            Role::Publisher { room, uid } if stopped => {
                tracing::info!(room, uid, "RTMP publish stopped");
                self.emit(MediaEvent::PublishStopped { room, uid });
            }
            Role::Publisher { room, uid } => {
                tracing::info!(
                    room,
                    uid,
                    grace = ?self.limits.publisher_grace,
                    "RTMP publisher dropped; its players wait for it"
                );
            }
            Role::Player {
                room, uid, viewer, ..
            } => {
                tracing::info!(room, uid, viewer, "RTMP play stopped");
                self.emit(MediaEvent::PlayStopped { room, uid, viewer });
            }
        }
    }

    /// Ends stream `k` after `grace` unless a publisher took it over since drop number `drop`
    /// (or the server stops first: then at once).
    fn spawn_grace(self: &Arc<Self>, k: (String, u64), drop: u64, grace: Duration) {
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(grace) => {}
                _ = shared.stop.cancelled() => {}
            }
            let expired = {
                let mut state = shared.lock();
                let waiting = state
                    .streams
                    .get(&k)
                    .is_some_and(|s| s.session.is_none() && s.drops == drop);
                if waiting {
                    finish_stream(&mut state, &k);
                }
                waiting
            };
            if expired {
                let (room, uid) = k;
                tracing::info!(room, uid, "publisher grace over; RTMP publish stopped");
                shared.emit(MediaEvent::PublishStopped { room, uid });
            }
        });
    }

    /// Kicks the publisher of (room, uid): its connection ends and, with it, the stream at
    /// once (no grace: a kicked pusher must not come back).
    pub(super) fn kick_publisher(&self, room: &str, uid: u64) {
        let k = (room.to_owned(), uid);
        let mut state = self.lock();
        let Some(stream) = state.streams.get_mut(&k) else {
            return;
        };
        stream.stop_now = true;
        tracing::info!(room, uid, "kicking publisher");
        match stream.session {
            Some(session) => {
                if let Some(s) = state.sessions.get(&session) {
                    s.cancel.cancel();
                }
            }
            None => {
                // Waiting out the grace: no connection to end, so the stream ends here.
                finish_stream(&mut state, &k);
                drop(state);
                self.emit(MediaEvent::PublishStopped {
                    room: room.to_owned(),
                    uid,
                });
            }
        }
    }

    /// Admits connection `id` as the publisher of (room, uid) under registry `key`: a new
    /// stream (`Ok(false)`) or one waiting out its grace, taken over (`Ok(true)`). Refused
    /// (the reason) while another connection publishes it, or if `id` already has a role.
    pub(super) fn admit_publisher(
        &self,
        id: u64,
        room: &str,
        uid: u64,
        key: StreamKey,
    ) -> Result<bool, &'static str> {
        let mut state = self.lock();
        if !state
            .sessions
            .get(&id)
            .is_some_and(|s| matches!(s.role, Role::Idle))
        {
            return Err("one stream per connection");
        }
        let k = (room.to_owned(), uid);
        let (fanout, resumed) = match state.streams.get_mut(&k) {
            Some(s) if s.session.is_some() => return Err("stream already has a publisher"),
            Some(s) => {
                s.session = Some(id);
                s.key = key;
                s.stop_now = false;
                s.fanout.resume();
                (Arc::clone(&s.fanout), true)
            }
            None => {
                let fanout = Arc::new(Fanout::new());
                let stream = Stream {
                    session: Some(id),
                    key,
                    ended: self.stop.child_token(),
                    fanout: Arc::clone(&fanout),
                    drops: 0,
                    stop_now: false,
                };
                state.streams.insert(k, stream);
                (fanout, false)
            }
        };
        if let Some(s) = state.sessions.get_mut(&id) {
            s.role = Role::Publisher {
                room: room.to_owned(),
                uid,
            };
            s.feeds = Some(fanout);
            s.tap.send_replace(Tap::Off);
        }
        Ok(resumed)
    }

    /// The publisher on connection `id` said it stopped (`deleteStream`): no grace for it.
    pub(super) fn publisher_stopping(&self, id: u64) {
        let mut state = self.lock();
        if let Some(s) = state.streams.values_mut().find(|s| s.session == Some(id)) {
            s.stop_now = true;
        }
    }

    /// The fan-out publisher connection `id` feeds, if it is an admitted publisher.
    pub(super) fn feeds(&self, id: u64) -> Option<Arc<Fanout>> {
        self.lock().sessions.get(&id)?.feeds.clone()
    }

    /// Looks up the stream (room, uid), publishing or waiting out its grace: its fan-out and
    /// end token.
    pub(super) fn stream(&self, room: &str, uid: u64) -> Option<(Arc<Fanout>, CancellationToken)> {
        let state = self.lock();
        let s = state.streams.get(&(room.to_owned(), uid))?;
        Some((Arc::clone(&s.fanout), s.ended.clone()))
    }
}

/// Removes stream `k` and ends what plays it: the FLV bodies and relays (through its end
/// token) and the RTMP players' connections.
fn finish_stream(state: &mut Tables, k: &(String, u64)) {
    let Some(stream) = state.streams.remove(k) else {
        return;
    };
    stream.ended.cancel();
    for s in state.sessions.values() {
        if matches!(&s.role, Role::Player { room, uid, .. } if *room == k.0 && *uid == k.1) {
            s.cancel.cancel();
        }
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
