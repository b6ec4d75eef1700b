//! One stream's fan-out: the publisher's tags go in, every player of the stream (HTTP-FLV
//! bodies, RTMP play mirrors) reads them out, and a new player starts from a cache.
//!
//! Why not the `rtmp-rs` registry entry of the publisher itself: that entry is named by the
//! publisher's exact stream name (its signed query included) and dies with the connection, and
//! its late-joiner cache keeps only video. The fan-out belongs to the *stream* `(room, uid)`, so
//! a publisher that drops and reconnects (see [`super::state`]'s grace) feeds the same players,
//! and its cache keeps what a viewer needs for a first frame with sound and the right size:
//!
//! * the last `onMetaData` (width, height, frame rate, encoder, as the publisher sent them),
//! * the video and audio sequence headers (AVC / AAC decoder configuration),
//! * every audio *and* video tag since the last video key frame.
//!
//! Taking a snapshot of the cache and subscribing to the live tags happen under the same lock as
//! adding a tag to both, so a new player gets every tag exactly once, in order.
//!
//! Timestamps: a reconnecting publisher starts its clock at zero again. Players must see one
//! clock, so the fan-out shifts the new publisher's timestamps to continue from the last tag
//! sent, plus the wall time the stream stalled (what a player's jitter buffer expects).

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use rtmp_rs::amf::{amf0, AmfValue};
use rtmp_rs::registry::{BroadcastFrame, FrameType};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// Tags a player may fall behind the publisher before it loses some (it then skips to the
/// next key frame): about 3 s of 30 fps video with 44.1 kHz AAC.
pub(super) const LIVE_QUEUE: usize = 256;

/// Largest cached GOP (bytes of tag bodies). Over it the cache is emptied until the next key
/// frame: a viewer then waits for that key frame, which is better than memory without bound.
pub(super) const MAX_GOP_BYTES: usize = 4 * 1024 * 1024;

/// Largest cached GOP in tags (a publisher sending key frames rarely, or tiny tags).
pub(super) const MAX_GOP_TAGS: usize = 2048;

/// Largest `onMetaData` body kept and forwarded; a bigger one is dropped (it is advice to the
/// player, never needed to decode).
pub(super) const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A stream's fan-out (see the module docs). Shared by the stream's publisher connection(s)
/// and every player setting up.
pub(super) struct Fanout {
    inner: Mutex<Inner>,
}

struct Inner {
    live: broadcast::Sender<BroadcastFrame>,
    cache: GopCache,
    clock: Clock,
}

impl Fanout {
    pub(super) fn new() -> Self {
        let (live, _) = broadcast::channel(LIVE_QUEUE);
        Self {
            inner: Mutex::new(Inner {
                live,
                cache: GopCache::default(),
                clock: Clock::default(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing under this lock can leave the cache half-updated in a harmful way.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One tag from the publisher: re-timed, cached and sent to every player.
    pub(super) fn push(&self, mut frame: BroadcastFrame, now: Instant) {
        let mut inner = self.lock();
        frame.timestamp = inner.clock.retime(&frame, now);
        inner.cache.push(&frame);
        // No receiver is no error: players come and go.
        let _ = inner.live.send(frame);
    }

    /// A new publisher connection took the stream over: its clock restarts, and the cached GOP
    /// (the old connection's pictures) is dropped at once, so that new viewers wait for the new
    /// key frame rather than decode against new sequence headers.
    pub(super) fn resume(&self) {
        let mut inner = self.lock();
        inner.clock.resume();
        inner.cache.drop_gop();
    }

    /// What a new player starts with (metadata, sequence headers, the cached GOP) and its
    /// subscription to everything after it.
    pub(super) fn subscribe(&self) -> (Vec<BroadcastFrame>, broadcast::Receiver<BroadcastFrame>) {
        let inner = self.lock();
        (inner.cache.snapshot(), inner.live.subscribe())
    }
}

/// The late-joiner cache of one stream.
#[derive(Default)]
struct GopCache {
    metadata: Option<BroadcastFrame>,
    video_header: Option<BroadcastFrame>,
    audio_header: Option<BroadcastFrame>,
    /// Audio and video tags since the last video key frame, in arrival order.
    gop: VecDeque<BroadcastFrame>,
    /// Sum of the bodies in `gop`.
    bytes: usize,
    /// Whether `gop` starts at a key frame; tags are cached only then.
    open: bool,
}

impl GopCache {
    fn push(&mut self, f: &BroadcastFrame) {
        match f.frame_type {
            FrameType::Metadata => {
                self.metadata = Some(f.clone());
                return;
            }
            FrameType::Video if f.is_header => {
                self.video_header = Some(f.clone());
                return;
            }
            FrameType::Audio if f.is_header => {
                self.audio_header = Some(f.clone());
                return;
            }
            FrameType::Video if f.is_keyframe => {
                self.drop_gop();
                self.open = true;
            }
            _ => {}
        }
        if !self.open {
            return;
        }
        if self.gop.len() >= MAX_GOP_TAGS || self.bytes + f.data.len() > MAX_GOP_BYTES {
            tracing::debug!(
                cached = self.gop.len(),
                size = self.bytes,
                "GOP cache full; emptied until the next key frame"
            );
            self.drop_gop();
            return;
        }
        self.bytes += f.data.len();
        self.gop.push_back(f.clone());
    }

    fn drop_gop(&mut self) {
        self.gop.clear();
        self.bytes = 0;
        self.open = false;
    }

    fn snapshot(&self) -> Vec<BroadcastFrame> {
        let heads = [&self.metadata, &self.video_header, &self.audio_header];
        let mut out = Vec::with_capacity(3 + self.gop.len());
        out.extend(heads.into_iter().flatten().cloned());
        out.extend(self.gop.iter().cloned());
        out
    }
}

/// Keeps the players' timeline continuous across publisher connections.
#[derive(Default)]
struct Clock {
    /// Added (wrapping, as FLV timestamps wrap) to the current connection's timestamps.
    offset: u32,
    /// The last timestamp sent, and when.
    last: Option<(u32, Instant)>,
    /// A new connection started; the offset is set at its first tag.
    resumed: bool,
}

impl Clock {
    fn resume(&mut self) {
        self.resumed = true;
    }

    fn retime(&mut self, f: &BroadcastFrame, now: Instant) -> u32 {
        if f.frame_type == FrameType::Metadata {
            // Script tags carry no media time; they go out at the current time.
            return self.last.map_or(0, |(ts, _)| ts);
        }
        if std::mem::take(&mut self.resumed) {
            if let Some((ts, at)) = self.last {
                let stalled = now.saturating_duration_since(at).as_millis();
                let stalled = u32::try_from(stalled).unwrap_or(u32::MAX).max(1);
                self.offset = ts.wrapping_add(stalled).wrapping_sub(f.timestamp);
            }
        }
        let out = f.timestamp.wrapping_add(self.offset);
        self.last = Some((out, now));
        out
    }
}

/// The publisher's `onMetaData` as the body of a script tag / RTMP data message
/// (`"onMetaData"`, then the values as an ECMA array), or `None` if it is too large to forward.
pub(super) fn metadata_frame(
    values: &std::collections::HashMap<String, AmfValue>,
) -> Option<BroadcastFrame> {
    let body: Bytes = amf0::encode_all(&[
        AmfValue::String("onMetaData".into()),
        AmfValue::EcmaArray(values.clone()),
    ]);
    (body.len() <= MAX_METADATA_BYTES).then(|| BroadcastFrame::metadata(body))
}

#[cfg(test)]
mod tests;
