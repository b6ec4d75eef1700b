//! The WebSocket shell: one task per connection feeding the [`Hub`] under a lock and carrying
//! its outputs to sockets and to the media server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::hub::{Hub, HubCounters, HubOut, SessionId};
use crate::media::{MediaEvent, MediaServer};
use crate::tasks::{Supervisor, TaskKey, TaskState};

/// Frames larger than this are cut off by the WebSocket layer itself; between the hub's
/// `max_frame_bytes` and this, the hub answers with a typed `FrameTooLarge` error.
pub const HARD_FRAME_LIMIT: usize = 1 << 20;

/// Each socket's read buffer, client or relay. tungstenite's default (128 KiB) is zero-filled
/// up to its capacity before every read, so every idle member would cost that much resident
/// memory and every frame read that much `memset`. A request or an event is a few hundred
/// bytes, and a larger frame still arrives: the buffer grows for it (read 1 KiB at a time).
/// A relayed member has three sockets (client, relay, owner's end), so this counts thrice.
pub const READ_BUFFER: usize = 1024;

pub use super::writer::MAX_BURST_FRAMES;

/// Close code for a connection whose client stopped reading while the server had more for it
/// than [`crate::signaling::Limits::max_queued_bytes`]. The client may resume: its member
/// waits the resume window and keeps its missed events, as after any drop.
pub const SLOW_CONSUMER_CLOSE_CODE: u16 = 4429;
/// Close code for a binary frame: the protocol is JSON text, and answering each binary frame
/// would let a peer make the server write for it.
pub const BINARY_FRAME_CLOSE_CODE: u16 = 1003;
/// Frames queued for one connection at most, whatever their size.
const MAX_QUEUED_FRAMES: usize = 4096;

/// The hub and the outgoing queue of every connection, under one lock.
pub struct Shared {
    /// The sans-IO signaling state.
    pub hub: Hub,
    senders: HashMap<SessionId, Outbox>,
    /// Event frames (those with a `seq`) handed to connections so far, for `/metrics`.
    events_sent: u64,
}

/// The signaling side of a `/metrics` scrape, read under one lock.
#[derive(Debug, Clone, Default)]
pub struct SignalingSample {
    /// Connections open now, joined or not.
    pub connections: usize,
    /// Rooms open now.
    pub rooms: usize,
    /// Members in all rooms, detached ones included.
    pub members: usize,
    /// The hub's totals: joins, resumes, members given up, refused joins.
    pub counters: HubCounters,
    /// Event frames handed to connections so far.
    pub events_sent: u64,
    /// Text bytes queued for all connections and not yet written.
    pub queued_bytes: usize,
    /// The most bytes queued for any one connection (a client falling behind shows here
    /// before it reaches `max_queued_bytes` and is cut).
    pub queued_bytes_max: usize,
    /// Frames queued for all connections.
    pub queued_frames: usize,
}

/// How an event frame starts (`mprtc::protocol::frame::event_frame`): answers and errors
/// carry no `seq`.
const EVENT_PREFIX: &str = "{\"v\":1,\"seq\":";

/// One connection's outgoing queue: bounded in frames and in bytes. When a frame does not
/// fit, the connection is cut (`cut`), not the frame dropped: a member that silently missed
/// an event would never know, while a cut member resumes and gets it.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::Sender<Message>,
    /// Bytes of text frames queued and not yet written.
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
    cut: CancellationToken,
}

impl Outbox {
    fn send(&self, m: Message) {
        let len = match &m {
            Message::Text(t) => t.len(),
            _ => 0,
        };
        if self.queued.fetch_add(len, Ordering::Relaxed) + len > self.max_bytes
            || self.tx.try_send(m).is_err()
        {
            self.cut.cancel();
        }
    }
}

/// A relayed connection's way back to its client: its bounded queue ([`Outbox`]). The hub
/// sends nothing to a connection that joined no room here, so only the relay writes to it,
/// and [`Signaling::close_all`] still reaches it (see `crate::cluster::relay`).
pub struct ClientSink(Outbox);

impl ClientSink {
    /// Queues `m` for the client; false once the client has been cut (it does not read).
    pub fn send(&self, m: Message) -> bool {
        self.0.send(m);
        !self.0.cut.is_cancelled()
    }

    /// Cancelled when the client is cut.
    pub fn cut(&self) -> CancellationToken {
        self.0.cut.clone()
    }
}

/// Where a connection comes from: a client, or another node relaying one of its clients
/// to this node, the room's owner (which must serve it here or refuse: never relay again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    Client,
    Relayed,
}

#[derive(Clone)]
pub struct Signaling {
    shared: Arc<Mutex<Shared>>,
    media: Arc<dyn MediaServer>,
    supervisor: Arc<Supervisor>,
    /// Normalized allowed origins; empty: any (see [`crate::config::Config::allowed_origins`]).
    allowed_origins: Arc<[String]>,
    max_queued_bytes: usize,
    /// The apps' webhook queues, fed the hub's [`HubOut::Hook`]s.
    webhooks: crate::webhooks::Webhooks,
    /// This node's part in a cluster (`redis_url`); `None`: a single node.
    cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Member recordings, started and stopped by the hub's [`HubOut::RecordMember`] /
    /// [`HubOut::RecordStop`].
    recorder: Option<crate::recording::Recorder>,
}

/// Wall-clock milliseconds since the Unix epoch: the hub's `now_ms` (tokens carry Unix
/// seconds, so the hub's clock must be the wall clock).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Signaling {
    /// The shell around `hub`, carrying its kicks to `media` and its tasks to `supervisor`.
    pub fn new(hub: Hub, media: Arc<dyn MediaServer>, supervisor: Arc<Supervisor>) -> Self {
        let max_queued_bytes = hub.limits().max_queued_bytes;
        Self {
            shared: Arc::new(Mutex::new(Shared {
                hub,
                senders: HashMap::new(),
                events_sent: 0,
            })),
            media,
            supervisor,
            allowed_origins: Arc::from(Vec::new()),
            max_queued_bytes,
            webhooks: crate::webhooks::Webhooks::default(),
            cluster: None,
            recorder: None,
        }
    }

    /// Route each connection's first join through `cluster`: served here if this node owns
    /// the room, else relayed to its owner.
    pub fn with_cluster(mut self, cluster: Arc<crate::cluster::Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// Record members with `recorder` (the hub must be told with
    /// [`Hub::with_member_recording`]).
    pub fn with_recorder(mut self, recorder: crate::recording::Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// The member recorder, if members are recorded.
    pub fn recorder(&self) -> Option<&crate::recording::Recorder> {
        self.recorder.as_ref()
    }

    /// Hand the hub's webhook events to `webhooks` (by default they go nowhere).
    pub fn with_webhooks(mut self, webhooks: crate::webhooks::Webhooks) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// Refuse WebSocket upgrades from web pages of other origins. `origins` are normalized
    /// with [`crate::config::normalize_origin`] (as [`crate::config::Config`] holds them);
    /// empty allows any origin.
    pub fn with_allowed_origins(mut self, origins: Vec<String>) -> Self {
        self.allowed_origins = origins.into();
        self
    }

    /// `Err(origin)` with the first `Origin` header value that is not allowed.
    ///
    /// No `Origin` header passes: WeChat mini-program sockets and other non-browser clients
    /// send none, and browsers always send one, so refusing absent headers would lock out
    /// the very clients this server is for without stopping any cross-site page.
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), String> {
        if self.allowed_origins.is_empty() {
            return Ok(());
        }
        for v in headers.get_all(header::ORIGIN) {
            let allowed = v
                .to_str()
                .ok()
                .and_then(crate::config::normalize_origin)
                .is_some_and(|o| self.allowed_origins.contains(&o));
            if !allowed {
                // Visible ASCII as sent, anything else escaped; bounded either way.
                let shown = match v.to_str() {
                    Ok(s) => s.to_owned(),
                    Err(_) => format!("{v:?}"),
                };
                return Err(shown.chars().take(200).collect());
            }
        }
        Ok(())
    }

    /// Run `f` on the hub and carry out what it asks for.
    fn with_hub(&self, f: impl FnOnce(&mut Hub, &mut Vec<HubOut>)) {
        let mut outs = Vec::new();
        let mut kicks = Vec::new();
        let mut revoked = Vec::new();
        let mut records = Vec::new();
        {
            let mut g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut g.hub, &mut outs);
            for o in outs {
                match o {
                    HubOut::Send(sid, text) => {
                        let event = text.starts_with(EVENT_PREFIX);
                        let sh = &mut *g;
                        if let Some(tx) = sh.senders.get(&sid) {
                            tx.send(Message::Text(text.into()));
                            sh.events_sent += u64::from(event);
                        }
                    }
                    HubOut::KickPublisher { media_room, uid } => kicks.push((media_room, uid)),
                    HubOut::KickViewer { media_room, viewer } => revoked.push((media_room, viewer)),
                    HubOut::TaskApply { key, spec } => self.supervisor.apply(key, spec),
                    HubOut::TaskStop { key } => self.supervisor.stop(&key),
                    // Queued under the hub's lock, so that the backend hears a room's events
                    // in the hub's order; queuing never waits (see `crate::webhooks`).
                    HubOut::Hook(ev) => self.webhooks.emit(ev),
                    // Started after the lock: a recording is a process to spawn.
                    r @ (HubOut::RecordMember { .. } | HubOut::RecordStop { .. }) => {
                        records.push(r)
                    }
                    HubOut::Close { sid, code, reason } => {
                        if let Some(tx) = g.senders.get(&sid) {
                            tx.send(Message::Close(Some(CloseFrame {
                                code,
                                reason: reason.into(),
                            })));
                        }
                    }
                }
            }
        }
        for (room, uid) in kicks {
            self.media.kick_publisher(&room, uid);
        }
        for (room, viewer) in revoked {
            self.media.kick_viewer(&room, viewer);
        }
        for r in records {
            crate::recording::carry(self.recorder.as_ref(), r);
        }
    }

    /// The media server admitted or lost a pusher or a play.
    pub fn media_event(&self, ev: MediaEvent) {
        tracing::debug!(?ev, "media event");
        let now = now_ms();
        self.with_hub(|h, out| h.media_event(ev, now, out));
    }

    /// Once a second: token expiry warnings and expirations.
    pub fn tick(&self) {
        let now = now_ms();
        self.with_hub(|h, out| h.tick(now, out));
    }

    /// A push task's compositor changed state.
    pub fn task_state(&self, key: TaskKey, state: TaskState) {
        tracing::debug!(?key, ?state, "task state");
        self.with_hub(|h, out| h.task_state(&key, state, out));
    }

    /// Run a server-API operation on the hub.
    pub fn api<T>(&self, f: impl FnOnce(&mut Hub, &mut Vec<HubOut>) -> T) -> T {
        let mut result = None;
        self.with_hub(|h, out| result = Some(f(h, out)));
        result.expect("with_hub runs its closure")
    }

    /// See [`Hub::may_play`]: the media server's play gate.
    pub fn may_play(&self, media_room: &str, viewer: u64) -> bool {
        let g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        g.hub.may_play(media_room, viewer)
    }

    /// `(connections, rooms)` now.
    pub fn stats(&self) -> (usize, usize) {
        let g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        (g.hub.session_count(), g.hub.room_count())
    }

    /// What `/metrics` shows of signaling, now.
    pub fn sample(&self) -> SignalingSample {
        let g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = SignalingSample {
            connections: g.hub.session_count(),
            rooms: g.hub.room_count(),
            members: g.hub.member_count(),
            counters: g.hub.counters().clone(),
            events_sent: g.events_sent,
            ..Default::default()
        };
        for o in g.senders.values() {
            let bytes = o.queued.load(Ordering::Relaxed);
            s.queued_bytes += bytes;
            s.queued_bytes_max = s.queued_bytes_max.max(bytes);
            s.queued_frames += o.tx.max_capacity() - o.tx.capacity();
        }
        s
    }

    /// Serves one WebSocket until it closes.
    pub(crate) async fn serve(self, socket: WebSocket, hop: Hop) {
        let (tx, rx) = mpsc::channel::<Message>(MAX_QUEUED_FRAMES);
        let queued = Arc::new(AtomicUsize::new(0));
        let cut = CancellationToken::new();
        let outbox = Outbox {
            tx,
            queued: Arc::clone(&queued),
            max_bytes: self.max_queued_bytes,
            cut: cut.clone(),
        };
        let (sid, silence_limit) = {
            let mut g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            let sid = g.hub.connect();
            let (interval, timeout) = g.hub.heartbeat();
            g.senders.insert(sid, outbox);
            (sid, Duration::from_millis(interval + timeout))
        };
        tracing::debug!(sid, "connected");
        let (sink, mut stream) = socket.split();
        let writer = tokio::spawn(super::writer::run(
            sink,
            super::writer::Queue {
                rx,
                queued,
                cut: cut.clone(),
            },
        ));
        // A client that closes with 1000 (normal) is done: its member leaves at once instead
        // of waiting out the resume window. Clients about to reconnect close with 4000.
        let mut said_goodbye = false;
        let close = |code: u16, reason: &'static str| {
            let g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(tx) = g.senders.get(&sid) {
                tx.send(Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })));
            }
        };
        loop {
            // A client pings every interval; one silent for interval + timeout is gone even if
            // TCP has not noticed (phones that lost their network say nothing).
            let next = tokio::select! {
                n = tokio::time::timeout(silence_limit, stream.next()) => n,
                () = cut.cancelled() => {
                    tracing::info!(sid, "cut: the client does not read what it is sent");
                    break;
                }
            };
            let msg = match next {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => {
                    tracing::debug!(sid, "heartbeat timeout");
                    close(4408, "heartbeat timeout");
                    break;
                }
            };
            match msg {
                Ok(Message::Text(t)) => {
                    if let Some(c) = self.cluster.clone() {
                        let joined = self.api(|h, _| h.is_joined(sid));
                        // Routing and relaying are boxed: their futures (a Redis call, a
                        // WebSocket handshake) would otherwise make every connection's task,
                        // relayed or not, as large as theirs.
                        let admit = match joined {
                            true => crate::cluster::Admit::Here,
                            false => Box::pin(c.admit(joined, hop, t.as_str())).await,
                        };
                        match admit {
                            crate::cluster::Admit::Here => {}
                            crate::cluster::Admit::Relay(up) => {
                                let taken = self.relay_sink(sid);
                                if let Some(sink) = taken {
                                    let relay = crate::cluster::relay::pipe(
                                        up,
                                        t.as_str(),
                                        &mut stream,
                                        sink,
                                    );
                                    Box::pin(relay).await;
                                }
                                break;
                            }
                            crate::cluster::Admit::Refuse(code, reason) => {
                                close(code, reason);
                                break;
                            }
                        }
                    }
                    let now = now_ms();
                    self.with_hub(|h, out| h.handle_frame(sid, t.as_str(), now, out));
                }
                Ok(Message::Binary(_)) => {
                    tracing::debug!(sid, "binary frame: closing");
                    close(
                        BINARY_FRAME_CLOSE_CODE,
                        "binary frames are not part of the protocol",
                    );
                    break;
                }
                Ok(Message::Close(frame)) => {
                    said_goodbye = frame.is_some_and(|f| f.code == 1000);
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    // Oversized frames land here: tell the peer why before the socket goes.
                    tracing::debug!(sid, error = %e, "socket error");
                    close(1009, "frame too large or broken");
                    break;
                }
            }
        }
        {
            let mut g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            g.senders.remove(&sid);
        }
        let now = now_ms();
        if said_goodbye {
            self.with_hub(|h, out| h.closed_by_client(sid, now, out));
        } else {
            self.with_hub(|h, out| h.disconnect(sid, now, out));
        }
        // The writer ends once the queue it drains is dropped (above) and empty, or at once if
        // the client was cut; a client that stops reading cannot keep it for long.
        let mut writer = writer;
        if tokio::time::timeout(Duration::from_secs(5), &mut writer)
            .await
            .is_err()
        {
            tracing::debug!(sid, "writer did not drain in time");
            writer.abort();
        }
        tracing::debug!(sid, "disconnected");
    }

    /// Connection `sid`'s queue, for a relay to write to.
    fn relay_sink(&self, sid: SessionId) -> Option<ClientSink> {
        let g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        g.senders.get(&sid).cloned().map(ClientSink)
    }

    /// Close every connection (server shutdown).
    pub fn close_all(&self) {
        let g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        for tx in g.senders.values() {
            tx.send(Message::Close(Some(CloseFrame {
                code: 1001,
                reason: "server shutting down".into(),
            })));
        }
    }
}

/// The `GET /ws` handler: check the origin, upgrade, and serve the connection.
pub async fn upgrade(
    State(sig): State<Signaling>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(origin) = sig.check_origin(&headers) {
        tracing::info!(%origin, "WebSocket upgrade refused: origin not allowed");
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |s| sig.serve(s, Hop::Client))
}
