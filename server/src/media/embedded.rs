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
//! refused while the first is connected. When the publisher goes away (disconnect,
//! `deleteStream`, kick) its players are disconnected (RTMP) or their HTTP response
//! ends (FLV); clients reconnect with their URL once the publisher is back.
//! New players start with the sequence headers and the cached GOP (from the last
//! keyframe), then live media. Slow players lose video up to the next keyframe.
//!
//! `rtmp-rs` routes play by the *exact* stream name, query included, so each RTMP
//! play URL gets its own registry entry fed by a small relay task from the
//! publisher's entry ("mirror"); identical concurrent play URLs share one mirror.
//!
//! Each RTMP connection runs on a loopback socket behind a byte relay
//! ([`super::pipe`]) that wakes the library up after an admitted `play`; without it,
//! players whose `play` command spans several chunks (long signed stream names)
//! receive the cached GOP and then stall.
//!
//! # Signer
//!
//! [`MediaSigner::verify`] depends only on the secret, so the signer given to
//! [`EmbeddedMedia::bind`] may carry placeholder bases: build the URL-issuing signer
//! (same secret) from [`EmbeddedMedia::rtmp_addr`] / [`EmbeddedMedia::flv_addr`]
//! after binding. [`EmbeddedHandle::set_signer`] swaps the verifying signer at any
//! time (e.g. secret rotation); URLs signed with the old secret stop being admitted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use rtmp_rs::protocol::message::{PlayParams, PublishParams};
use rtmp_rs::registry::{BroadcastFrame, FrameType, StreamKey, StreamRegistry};
use rtmp_rs::server::connection::Connection;
use rtmp_rs::server::handler::MediaDeliveryMode;
use rtmp_rs::session::{SessionContext, StreamContext};
use rtmp_rs::{AuthResult, RtmpHandler, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc::UnboundedSender, watch};
use tokio_util::sync::CancellationToken;

use super::flv::{self, TagKind};
use super::pipe::{self, Tap};
use super::signing::{AdmissionError, MediaSigner, UrlKind};
use super::{MediaError, MediaEvent, MediaServer};

/// How long `run` waits for the HTTP-FLV server to drain after shutdown.
const FLV_DRAIN: Duration = Duration::from_secs(2);
/// Mirror "publisher" ids live above this bit so they never collide with sessions.
const MIRROR_ID_BIT: u64 = 1 << 63;

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
            rtmp_addr,
            flv_addr,
            registry: Arc::new(StreamRegistry::new()),
            state: Mutex::new(Tables::default()),
            events: OnceLock::new(),
            stop: CancellationToken::new(),
            next_mirror: AtomicU64::new(1),
        });
        Ok(Self { rtmp, flv, shared })
    }

    pub fn rtmp_addr(&self) -> SocketAddr {
        self.shared.rtmp_addr
    }

    pub fn flv_addr(&self) -> SocketAddr {
        self.shared.flv_addr
    }

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
            .route("/{app}/{file}", axum::routing::get(flv_play))
            .with_state(Arc::clone(&shared));
        let stop = shared.stop.clone();
        let mut flv_task = tokio::spawn(async move {
            axum::serve(flv, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });

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
                        let id = next_session;
                        next_session += 1;
                        spawn_rtmp_session(id, socket, peer, config.clone(), &handler, &shared);
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
        let state = self.shared.lock();
        let Some(stream) = state.streams.get(&(room.to_owned(), uid)) else {
            return;
        };
        if let Some(session) = state.sessions.get(&stream.session) {
            tracing::info!(room, uid, "kicking publisher");
            session.cancel.cancel();
        }
    }

    fn is_publishing(&self, room: &str, uid: u64) -> bool {
        self.shared
            .lock()
            .streams
            .contains_key(&(room.to_owned(), uid))
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
}

// ---------------------------------------------------------------------------
// Shared state

struct Shared {
    signer: RwLock<Arc<MediaSigner>>,
    rtmp_addr: SocketAddr,
    flv_addr: SocketAddr,
    registry: Arc<StreamRegistry>,
    state: Mutex<Tables>,
    events: OnceLock<UnboundedSender<MediaEvent>>,
    /// Cancelled when `run` stops; parent of every session token.
    stop: CancellationToken,
    next_mirror: AtomicU64,
}

#[derive(Default)]
struct Tables {
    /// Admitted publishers by (room, uid).
    streams: HashMap<(String, u64), Stream>,
    /// Live RTMP connections by session id.
    sessions: HashMap<u64, Session>,
    /// RTMP play mirrors by the player's exact registry key.
    mirrors: HashMap<StreamKey, Mirror>,
}

struct Stream {
    session: u64,
    /// The publisher's registry key (stream name including its query).
    key: StreamKey,
    /// Cancelled when the publisher goes away; ends relays and FLV players.
    ended: CancellationToken,
}

struct Session {
    cancel: CancellationToken,
    role: Role,
    /// Steers the connection's loopback relay (see [`super::pipe`]).
    tap: watch::Sender<Tap>,
}

#[derive(Clone)]
enum Role {
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

struct Mirror {
    players: usize,
    stop: CancellationToken,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock must not take the media server down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn verify(
        &self,
        kind: UrlKind,
        name: &str,
        query: &str,
    ) -> Result<super::Admitted, AdmissionError> {
        let signer = Arc::clone(&self.signer.read().unwrap_or_else(|e| e.into_inner()));
        signer.verify(kind, name, query, unix_now())
    }

    fn emit(&self, event: MediaEvent) {
        tracing::debug!(?event, "media event");
        if let Some(tx) = self.events.get() {
            let _ = tx.send(event);
        }
    }

    /// Called once per RTMP connection after it ended; `cancelled` means the
    /// library's own cleanup did not run (kick, shutdown, refused play).
    async fn end_session(&self, id: u64, cancelled: bool) {
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
    fn stream(&self, room: &str, uid: u64) -> Option<(StreamKey, CancellationToken)> {
        let state = self.lock();
        let s = state.streams.get(&(room.to_owned(), uid))?;
        Some((s.key.clone(), s.ended.clone()))
    }
}

fn release_mirror(state: &mut Tables, mirror: &StreamKey) {
    if let Some(m) = state.mirrors.get_mut(mirror) {
        m.players = m.players.saturating_sub(1);
        if m.players == 0 {
            m.stop.cancel();
            state.mirrors.remove(mirror);
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `name?query` → (`name`, `query`); the query is never logged.
fn split_query(s: &str) -> (&str, &str) {
    s.split_once('?').unwrap_or((s, ""))
}

fn spawn_rtmp_session(
    id: u64,
    socket: tokio::net::TcpStream,
    peer: SocketAddr,
    config: ServerConfig,
    handler: &Arc<Handler>,
    shared: &Arc<Shared>,
) {
    let cancel = shared.stop.child_token();
    let (tap, tap_rx) = watch::channel(Tap::Watch);
    shared.lock().sessions.insert(
        id,
        Session {
            cancel: cancel.clone(),
            role: Role::Idle,
            tap,
        },
    );
    let _ = socket.set_nodelay(true);
    let handler = Arc::clone(handler);
    let shared = Arc::clone(shared);
    let registry = Arc::clone(&shared.registry);
    tokio::spawn(async move {
        let socket = match pipe::open(socket, tap_rx, cancel.clone()).await {
            Ok(inner) => inner,
            Err((socket, e)) => {
                // Still serve; only multi-chunk `play` commands may stall then.
                tracing::warn!(session = id, %peer, error = %e, "RTMP loopback relay unavailable");
                socket
            }
        };
        let cancelled = {
            let mut conn = Connection::new(id, socket, peer, config, handler, registry);
            tokio::select! {
                // Biased: let the connection flush a pending refusal before the
                // cancellation that follows it drops the socket.
                biased;
                r = conn.run() => {
                    if let Err(e) = r {
                        tracing::debug!(session = id, %peer, error = %e, "RTMP connection ended with error");
                    }
                    false
                }
                _ = cancel.cancelled() => true,
            }
        };
        // Lets the relay close the client once it has flushed what the connection wrote.
        cancel.cancel();
        shared.end_session(id, cancelled).await;
    });
}

// ---------------------------------------------------------------------------
// RTMP admission

struct Handler {
    shared: Arc<Shared>,
}

impl Handler {
    fn cancel_session(&self, id: u64) {
        if let Some(s) = self.shared.lock().sessions.get(&id) {
            s.cancel.cancel();
        }
    }

    async fn admit_play(&self, ctx: &SessionContext, params: &PlayParams) -> Result<(), String> {
        let id = ctx.session_id;
        let (name, query) = split_query(&params.stream_name);
        let a = self.shared.verify(UrlKind::Play, name, query).map_err(|e| {
            tracing::warn!(session = id, peer = %ctx.peer_addr, stream = name, code = e.code(), "RTMP play refused");
            e.to_string()
        })?;
        let viewer = a.viewer.unwrap_or_default();
        let (source, ended) = self.shared.stream(&a.room, a.uid).ok_or_else(|| {
            tracing::info!(
                session = id,
                stream = name,
                "RTMP play refused: stream not published"
            );
            format!("stream {name} is not being published")
        })?;
        let mirror = StreamKey::new(ctx.app.clone(), params.stream_name.clone());

        // Claim the session role and, if new, the mirror — atomically.
        let new_mirror = {
            let mut state = self.shared.lock();
            let Some(session) = state.sessions.get_mut(&id) else {
                return Err("connection closing".into());
            };
            if !matches!(session.role, Role::Idle) {
                return Err("one stream per connection".into());
            }
            session.role = Role::Player {
                room: a.room.clone(),
                uid: a.uid,
                viewer,
                mirror: mirror.clone(),
            };
            match state.mirrors.get_mut(&mirror) {
                Some(m) => {
                    m.players += 1;
                    None
                }
                None => {
                    let stop = ended.child_token();
                    state.mirrors.insert(
                        mirror.clone(),
                        Mirror {
                            players: 1,
                            stop: stop.clone(),
                        },
                    );
                    Some(stop)
                }
            }
        };

        if let Some(stop) = new_mirror {
            let started = async {
                let (rx, catchup) = self.shared.registry.subscribe(&source).await.ok()?;
                let mirror_id =
                    MIRROR_ID_BIT | self.shared.next_mirror.fetch_add(1, Ordering::Relaxed);
                if self
                    .shared
                    .registry
                    .register_publisher(&mirror, mirror_id)
                    .await
                    .is_err()
                {
                    self.shared.registry.unsubscribe(&source).await;
                    return None;
                }
                for frame in catchup {
                    self.shared.registry.broadcast(&mirror, frame).await;
                }
                let registry = Arc::clone(&self.shared.registry);
                tokio::spawn(relay(
                    registry,
                    source.clone(),
                    rx,
                    mirror.clone(),
                    mirror_id,
                    stop.clone(),
                ));
                Some(())
            };
            if started.await.is_none() {
                let mut state = self.shared.lock();
                stop.cancel();
                state.mirrors.remove(&mirror);
                if let Some(s) = state.sessions.get_mut(&id) {
                    s.role = Role::Idle;
                }
                return Err(format!("stream {name} is not available"));
            }
        }

        tracing::info!(
            session = id,
            room = a.room,
            uid = a.uid,
            viewer,
            "RTMP play started"
        );
        self.shared.emit(MediaEvent::PlayStarted {
            room: a.room,
            uid: a.uid,
            viewer,
        });
        Ok(())
    }
}

/// Feeds one RTMP play mirror from the publisher's registry entry.
async fn relay(
    registry: Arc<StreamRegistry>,
    source: StreamKey,
    mut rx: broadcast::Receiver<BroadcastFrame>,
    mirror: StreamKey,
    mirror_id: u64,
    stop: CancellationToken,
) {
    let mut skipping = false;
    loop {
        let frame = tokio::select! {
            _ = stop.cancelled() => break,
            r = rx.recv() => match r {
                Ok(f) => f,
                Err(broadcast::error::RecvError::Lagged(_)) => { skipping = true; continue; }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        };
        if skip_frame(&mut skipping, &frame) {
            continue;
        }
        registry.broadcast(&mirror, frame).await;
    }
    registry.unsubscribe(&source).await;
    registry.unregister_publisher(&mirror, mirror_id).await;
}

/// After a lag, drop everything but sequence headers until the next video keyframe.
fn skip_frame(skipping: &mut bool, frame: &BroadcastFrame) -> bool {
    if *skipping && !frame.is_header {
        if frame.frame_type == FrameType::Video && frame.is_keyframe {
            *skipping = false;
        } else {
            return true;
        }
    }
    false
}

impl RtmpHandler for Handler {
    async fn on_publish(&self, ctx: &SessionContext, params: &PublishParams) -> AuthResult {
        let id = ctx.session_id;
        let (name, query) = split_query(&params.stream_key);
        let a = match self.shared.verify(UrlKind::Push, name, query) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(session = id, peer = %ctx.peer_addr, stream = name, code = e.code(), "RTMP publish refused");
                return AuthResult::Reject(e.to_string());
            }
        };
        let refusal = {
            let mut state = self.shared.lock();
            let k = (a.room.clone(), a.uid);
            if state.streams.contains_key(&k) {
                Some("stream already has a publisher")
            } else if !state
                .sessions
                .get(&id)
                .is_some_and(|s| matches!(s.role, Role::Idle))
            {
                Some("one stream per connection")
            } else {
                state.streams.insert(
                    k,
                    Stream {
                        session: id,
                        key: StreamKey::new(ctx.app.clone(), params.stream_key.clone()),
                        ended: self.shared.stop.child_token(),
                    },
                );
                if let Some(s) = state.sessions.get_mut(&id) {
                    s.role = Role::Publisher {
                        room: a.room.clone(),
                        uid: a.uid,
                    };
                    s.tap.send_replace(Tap::Off);
                }
                None
            }
        };
        if let Some(reason) = refusal {
            tracing::warn!(session = id, stream = name, reason, "RTMP publish refused");
            return AuthResult::Reject(reason.into());
        }
        tracing::info!(session = id, peer = %ctx.peer_addr, room = a.room, uid = a.uid, "RTMP publish started");
        self.shared.emit(MediaEvent::PublishStarted {
            room: a.room,
            uid: a.uid,
        });
        AuthResult::Accept
    }

    async fn on_unpublish(&self, ctx: &StreamContext) {
        // deleteStream: end the connection so the stream is released at once.
        self.cancel_session(ctx.session.session_id);
    }

    async fn on_play(&self, ctx: &SessionContext, params: &PlayParams) -> AuthResult {
        match self.admit_play(ctx, params).await {
            Ok(()) => {
                // The library may now sit in a socket read without forwarding media
                // (see `super::pipe`); the relay nudges it out.
                if let Some(s) = self.shared.lock().sessions.get(&ctx.session_id) {
                    s.tap.send_replace(Tap::Nudge);
                }
                AuthResult::Accept
            }
            Err(reason) => {
                // rtmp-rs keeps the connection open after a refused play; close it
                // once the refusal has been written (see the biased select).
                self.cancel_session(ctx.session_id);
                AuthResult::Reject(reason)
            }
        }
    }

    fn media_delivery_mode(&self) -> MediaDeliveryMode {
        // We only route media; skip per-frame parsing callbacks.
        MediaDeliveryMode::RawFlv
    }
}

// ---------------------------------------------------------------------------
// HTTP-FLV play

async fn flv_play(
    AxumState(shared): AxumState<Arc<Shared>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    Path((_app, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(name) = file.strip_suffix(".flv") else {
        return refuse(StatusCode::NOT_FOUND, "not found");
    };
    let a = match shared.verify(UrlKind::Play, name, query.as_deref().unwrap_or("")) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(%peer, stream = name, code = e.code(), "HTTP-FLV play refused");
            let status = match e {
                AdmissionError::Malformed => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            };
            return refuse(status, &e.to_string());
        }
    };
    let viewer = a.viewer.unwrap_or_default();
    let Some((source, ended)) = shared.stream(&a.room, a.uid) else {
        return refuse(StatusCode::NOT_FOUND, "stream is not being published");
    };
    let Ok((rx, catchup)) = shared.registry.subscribe(&source).await else {
        return refuse(StatusCode::NOT_FOUND, "stream is not being published");
    };
    tracing::info!(%peer, room = a.room, uid = a.uid, viewer, "HTTP-FLV play started");
    shared.emit(MediaEvent::PlayStarted {
        room: a.room.clone(),
        uid: a.uid,
        viewer,
    });

    let mut first = BytesMut::new();
    first.extend_from_slice(&flv::file_header());
    for frame in &catchup {
        put_frame(&mut first, frame);
    }
    let player = FlvPlayer {
        rx,
        ended,
        stop: shared.stop.clone(),
        first: Some(first.freeze()),
        skipping: false,
        _guard: FlvGuard {
            shared,
            source,
            room: a.room,
            uid: a.uid,
            viewer,
        },
    };
    let body = futures_util::stream::unfold(player, |mut p| async move {
        let chunk = p.next_chunk().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), p))
    });
    (
        [
            (header::CONTENT_TYPE, "video/x-flv"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{reason}\n"),
    )
        .into_response()
}

fn put_frame(out: &mut BytesMut, frame: &BroadcastFrame) {
    let kind = match frame.frame_type {
        FrameType::Video => TagKind::Video,
        FrameType::Audio => TagKind::Audio,
        FrameType::Metadata => TagKind::Script,
    };
    if !flv::put_tag(out, kind, frame.timestamp, &frame.data) {
        tracing::debug!("dropping oversized FLV tag");
    }
}

struct FlvPlayer {
    rx: broadcast::Receiver<BroadcastFrame>,
    ended: CancellationToken,
    stop: CancellationToken,
    first: Option<Bytes>,
    skipping: bool,
    _guard: FlvGuard,
}

impl FlvPlayer {
    /// Next body chunk; `None` ends the response (publisher gone or shutdown).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        loop {
            let frame = tokio::select! {
                _ = self.ended.cancelled() => return None,
                _ = self.stop.cancelled() => return None,
                r = self.rx.recv() => match r {
                    Ok(f) => f,
                    Err(broadcast::error::RecvError::Lagged(_)) => { self.skipping = true; continue; }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            if skip_frame(&mut self.skipping, &frame) {
                continue;
            }
            let mut out = BytesMut::new();
            put_frame(&mut out, &frame);
            if !out.is_empty() {
                return Some(out.freeze());
            }
        }
    }
}

/// Emits `PlayStopped` and releases the subscription when the response body is
/// dropped (client gone, publisher gone, or shutdown).
struct FlvGuard {
    shared: Arc<Shared>,
    source: StreamKey,
    room: String,
    uid: u64,
    viewer: u64,
}

impl Drop for FlvGuard {
    fn drop(&mut self) {
        tracing::info!(
            room = self.room,
            uid = self.uid,
            viewer = self.viewer,
            "HTTP-FLV play stopped"
        );
        self.shared.emit(MediaEvent::PlayStopped {
            room: std::mem::take(&mut self.room),
            uid: self.uid,
            viewer: self.viewer,
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let registry = Arc::clone(&self.shared.registry);
            let source = self.source.clone();
            rt.spawn(async move { registry.unsubscribe(&source).await });
        }
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn split_query_keeps_name() {
        assert_eq!(split_query("r.1?k=push&s=x"), ("r.1", "k=push&s=x"));
        assert_eq!(split_query("r.1"), ("r.1", ""));
    }

    #[test]
    fn lag_skips_to_keyframe_but_keeps_headers() {
        let mut skipping = true;
        let audio = BroadcastFrame::audio(1, Bytes::from_static(&[0xAF, 1]), false);
        let header = BroadcastFrame::video(1, Bytes::from_static(&[0x17, 0]), true, true);
        let inter = BroadcastFrame::video(2, Bytes::from_static(&[0x27, 1]), false, false);
        let key = BroadcastFrame::video(3, Bytes::from_static(&[0x17, 1]), true, false);
        assert!(skip_frame(&mut skipping, &audio));
        assert!(!skip_frame(&mut skipping, &header));
        assert!(skip_frame(&mut skipping, &inter));
        assert!(!skip_frame(&mut skipping, &key));
        assert!(!skipping);
        assert!(!skip_frame(&mut skipping, &inter));
        assert!(!skip_frame(&mut skipping, &audio));
    }
}
