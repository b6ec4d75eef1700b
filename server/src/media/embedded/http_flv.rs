//! HTTP-FLV play: `GET /{app}/{name}.flv?{signed query}` streams the publisher's
//! registry entry as one endless FLV file (header, cached GOP, then live tags).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use rtmp_rs::registry::{BroadcastFrame, FrameType, StreamKey};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::relay::skip_frame;
use super::state::Shared;
use crate::media::flv::{self, TagKind};
use crate::media::signing::{AdmissionError, UrlKind};
use crate::media::MediaEvent;

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
    let kick = CancellationToken::new();
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
            source,
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
    /// Cancelled when the viewer is revoked (see [`Shared::kick_viewer`]).
    kick: CancellationToken,
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
                _ = self.kick.cancelled() => return None,
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
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let registry = Arc::clone(&self.shared.registry);
            let source = self.source.clone();
            rt.spawn(async move { registry.unsubscribe(&source).await });
        }
    }
}
