//! HTTP-FLV play: `GET /{app}/{name}.flv?{signed query}` streams the publisher's
//! fan-out as one endless FLV file (header, the fan-out's cache, then live tags).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use rtmp_rs::registry::{BroadcastFrame, FrameType};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::relay::skip_frame;
use super::state::Shared;
use crate::media::flv::{self, TagKind};
use crate::media::signing::{AdmissionError, UrlKind};
use crate::media::MediaEvent;

/// The HTTP-FLV play handler. The URL's signature is checked before anything is looked up,
/// so an unsigned request learns nothing about which streams exist; a refusal says only why
/// (400 for a malformed URL, 403 otherwise). The body is an [`FlvPlayer`]; when hyper drops
/// it (the client went away), its [`FlvGuard`] reports the play stopped.
pub(super) async fn flv_play(
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
    // A play URL always names its viewer (`verify` refuses one without); the default is
    // never taken.
    let viewer = a.viewer.unwrap_or_default();
    let Some((fanout, ended)) = shared.stream(&a.room, a.uid) else {
        return refuse(StatusCode::NOT_FOUND, "stream is not being published");
    };
    let (catchup, rx) = fanout.subscribe();
    tracing::info!(%peer, room = a.room, uid = a.uid, viewer, "HTTP-FLV play started");
    shared.emit(MediaEvent::PlayStarted {
        room: a.room.clone(),
        uid: a.uid,
        viewer,
    });

    // The first chunk is the file header and the cached GOP, so that a player starts on a
    // key frame at once instead of waiting for the publisher's next one.
    let mut first = BytesMut::new();
    first.extend_from_slice(&flv::file_header());
    for frame in &catchup {
        put_frame(&mut first, frame);
    }
    let kick = CancellationToken::new();
    // Registered so that revoking the viewer (it left the room) ends this response too.
    let flv_id = {
        let mut state = shared.lock();
        state.next_flv += 1;
        let id = state.next_flv;
        state
            .flv_players
            .insert(id, (a.room.clone(), viewer, kick.clone()));
        id
    };
    let player = FlvPlayer {
        rx,
        ended,
        kick,
        stop: shared.stop.clone(),
        first: Some(first.freeze()),
        skipping: false,
        _guard: FlvGuard {
            shared,
            room: a.room,
            uid: a.uid,
            viewer,
            flv_id,
        },
    };
    let body = futures_util::stream::unfold(player, |mut p| async move {
        let chunk = p.next_chunk().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), p))
    });
    (play_headers(), Body::from_stream(body)).into_response()
}

/// The headers of a play response, as `<live-player>` and browser FLV players (flv.js,
/// mpegts.js: `fetch` from another origin) expect them: the FLV type, nothing cached (it
/// is live), and CORS open to any origin, since the signed URL, not the origin, admits.
/// The body has no length, so HTTP/1.1 sends it chunked on a kept-alive connection.
fn play_headers() -> [(header::HeaderName, &'static str); 4] {
    [
        (header::CONTENT_TYPE, "video/x-flv"),
        (header::CACHE_CONTROL, "no-cache, no-store"),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ]
}

/// A plain-text refusal: players show the body, and it says no more than the status does.
fn refuse(status: StatusCode, reason: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{reason}\n"),
    )
        .into_response()
}

/// Appends a registry frame as an FLV tag. A frame too large for a tag is dropped, not the
/// stream: one bad frame should cost the viewer a glitch, not the connection.
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

/// One HTTP-FLV response body, pulled chunk by chunk as the client reads: a client that
/// reads slowly slows only its own body, never the publisher.
struct FlvPlayer {
    /// The publisher's live frames.
    rx: broadcast::Receiver<BroadcastFrame>,
    /// Cancelled when the publisher stops.
    ended: CancellationToken,
    /// Cancelled when the viewer is revoked (see [`Shared::kick_viewer`]).
    kick: CancellationToken,
    /// Server shutdown.
    stop: CancellationToken,
    /// The header and catch-up, until sent.
    first: Option<Bytes>,
    /// Lagged behind the broadcast: frames are dropped up to the next key frame, since a
    /// decoder cannot resume in the middle of a GOP.
    skipping: bool,
    _guard: FlvGuard,
}

impl FlvPlayer {
    /// Next body chunk; `None` ends the response (publisher gone or shutdown).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let chunk = self.next_unseen().await;
        if let Some(c) = &chunk {
            self._guard.shared.bytes.add_out(c.len());
        }
        chunk
    }

    /// [`FlvPlayer::next_chunk`] before it is counted.
    async fn next_unseen(&mut self) -> Option<Bytes> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        loop {
            let frame = tokio::select! {
                _ = self.ended.cancelled() => return None,
                _ = self.kick.cancelled() => return None,
                _ = self.stop.cancelled() => return None,
                r = self.rx.recv() => match r {
                    Ok(f) => f,
                    // Too slow a reader loses frames; the broadcast queue does not grow for it.
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

/// Emits `PlayStopped` when the response body is dropped (client gone, publisher gone,
/// or shutdown).
struct FlvGuard {
    shared: Arc<Shared>,
    room: String,
    uid: u64,
    viewer: u64,
    flv_id: u64,
}

impl Drop for FlvGuard {
    fn drop(&mut self) {
        self.shared.lock().flv_players.remove(&self.flv_id);
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
    }
}
