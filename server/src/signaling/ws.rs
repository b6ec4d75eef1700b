//! The WebSocket shell: one task per connection feeding the [`Hub`] under a lock and carrying
//! its outputs to sockets and to the media server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use mprtc::protocol::frame::encode_err;
use mprtc::protocol::{ErrorCode, WireError};
use tokio::sync::mpsc;

use super::hub::{Hub, HubOut, SessionId};
use crate::media::{MediaEvent, MediaServer};
use crate::tasks::{Supervisor, TaskKey, TaskState};

/// Frames larger than this are cut off by the WebSocket layer itself; between the hub's
/// `max_frame_bytes` and this, the hub answers with a typed `FrameTooLarge` error.
pub const HARD_FRAME_LIMIT: usize = 1 << 20;

/// `tracing` directive to add to the server's `EnvFilter`.
///
/// At trace level `tungstenite` (through the `log` bridge) prints every frame it reads or
/// writes, in text and in hex: join tokens and signed media URLs included. Its debug lines
/// (handshakes, close frames) carry none of that. Like [`crate::media::LIBRARY_LOG_DIRECTIVE`],
/// the more specific target wins over a global `MPRTC_LOG=trace`.
pub const LIBRARY_LOG_DIRECTIVE: &str = "tungstenite=debug";

/// The hub and the outgoing queue of every connection, under one lock.
pub struct Shared {
    pub hub: Hub,
    senders: HashMap<SessionId, mpsc::UnboundedSender<Message>>,
}

#[derive(Clone)]
pub struct Signaling {
    shared: Arc<Mutex<Shared>>,
    media: Arc<dyn MediaServer>,
    supervisor: Arc<Supervisor>,
    /// Normalized allowed origins; empty: any (see [`crate::config::Config::allowed_origins`]).
    allowed_origins: Arc<[String]>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Signaling {
    pub fn new(hub: Hub, media: Arc<dyn MediaServer>, supervisor: Arc<Supervisor>) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Shared {
                hub,
                senders: HashMap::new(),
            })),
            media,
            supervisor,
            allowed_origins: Arc::from(Vec::new()),
        }
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
        {
            let mut g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut g.hub, &mut outs);
            for o in outs {
                match o {
                    HubOut::Send(sid, text) => {
                        if let Some(tx) = g.senders.get(&sid) {
                            let _ = tx.send(Message::Text(text.into()));
                        }
                    }
                    HubOut::KickPublisher { media_room, uid } => kicks.push((media_room, uid)),
                    HubOut::TaskApply { key, spec } => self.supervisor.apply(key, spec),
                    HubOut::TaskStop { key } => self.supervisor.stop(&key),
                    HubOut::Close { sid, code, reason } => {
                        if let Some(tx) = g.senders.get(&sid) {
                            let _ = tx.send(Message::Close(Some(CloseFrame {
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
    }

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

    pub fn stats(&self) -> (usize, usize) {
        let g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        (g.hub.session_count(), g.hub.room_count())
    }

    async fn serve(self, socket: WebSocket) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let (sid, silence_limit) = {
            let mut g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            let sid = g.hub.connect();
            g.senders.insert(sid, tx.clone());
            let (interval, timeout) = g.hub.heartbeat();
            (sid, Duration::from_millis(interval + timeout))
        };
        tracing::debug!(sid, "connected");
        let (mut sink, mut stream) = socket.split();
        let writer = tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                let closing = matches!(m, Message::Close(_));
                if sink.send(m).await.is_err() || closing {
                    break;
                }
            }
        });
        // A client that closes with 1000 (normal) is done: its member leaves at once instead
        // of waiting out the resume window. Clients about to reconnect close with 4000.
        let mut said_goodbye = false;
        loop {
            // A client pings every interval; one silent for interval + timeout is gone even if
            // TCP has not noticed (phones that lost their network say nothing).
            let msg = match tokio::time::timeout(silence_limit, stream.next()).await {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => {
                    tracing::debug!(sid, "heartbeat timeout");
                    let _ = tx.send(Message::Close(Some(CloseFrame {
                        code: 4408,
                        reason: "heartbeat timeout".into(),
                    })));
                    break;
                }
            };
            match msg {
                Ok(Message::Text(t)) => {
                    let now = now_ms();
                    self.with_hub(|h, out| h.handle_frame(sid, t.as_str(), now, out));
                }
                Ok(Message::Binary(_)) => {
                    let e = WireError::new(
                        ErrorCode::MalformedFrame,
                        "binary frames are not part of the protocol",
                    );
                    let _ = tx.send(Message::Text(encode_err(None, &e).into()));
                }
                Ok(Message::Close(frame)) => {
                    said_goodbye = frame.is_some_and(|f| f.code == 1000);
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    // Oversized frames land here: tell the peer why before the socket goes.
                    tracing::debug!(sid, error = %e, "socket error");
                    let _ = tx.send(Message::Close(Some(CloseFrame {
                        code: 1009,
                        reason: "frame too large or broken".into(),
                    })));
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
        drop(tx);
        let _ = writer.await;
        tracing::debug!(sid, "disconnected");
    }

    /// Close every connection (server shutdown).
    pub fn close_all(&self) {
        let g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        for tx in g.senders.values() {
            let _ = tx.send(Message::Close(Some(CloseFrame {
                code: 1001,
                reason: "server shutting down".into(),
            })));
        }
    }
}

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
        // The default 128 KiB read buffer is zero-filled on first use, so every idle member
        // would cost that much; frames are small, and the buffer still grows for a large one.
        .read_buffer_size(4096)
        .on_upgrade(move |s| sig.serve(s))
}
