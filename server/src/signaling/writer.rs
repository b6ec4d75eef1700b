//! A connection's writer: drains the connection's bounded queue into its socket a burst at a
//! time, so that frames queued while the last write was under way leave in one write.
//!
//! Each `send` on a WebSocket sink is a write of its own (a `write` syscall, and on loopback
//! the receiver's processing too). A member, or a relay carrying one to its room's owner,
//! often has several frames waiting at once (an answer and the events it caused, the events
//! of a burst): they are fed into the sink's buffer and flushed once. A burst stops at
//! [`MAX_BURST_FRAMES`] or [`MAX_BURST_BYTES`], which bounds what the socket's write buffer
//! holds (and keeps, since it does not shrink) to one burst and one frame.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ws::SLOW_CONSUMER_CLOSE_CODE;

/// Frames fed to the socket before a flush, at most.
pub const MAX_BURST_FRAMES: usize = 64;
/// Text bytes fed to the socket before a flush, at most (a frame that passes it still goes,
/// and ends the burst).
pub const MAX_BURST_BYTES: usize = 8 * 1024;

/// What a writer drains: the connection's queue, its count of queued text bytes (the
/// [`super::ws`] outbox's bound), and the token that cuts a client that does not read.
pub struct Queue {
    pub rx: mpsc::Receiver<Message>,
    pub queued: Arc<AtomicUsize>,
    pub cut: CancellationToken,
}

/// Writes what `q` receives to `sink` until the queue ends, a close frame was written, a
/// write fails or the connection is cut. A cut connection is told why (4429) only if its
/// socket takes the close at once: a client that does not read cannot hold the writer.
pub async fn run<S: Sink<Message> + Unpin>(mut sink: S, mut q: Queue) {
    loop {
        let first = tokio::select! {
            m = q.rx.recv() => match m {
                Some(m) => m,
                None => break,
            },
            () = q.cut.cancelled() => {
                let bye = Message::Close(Some(CloseFrame {
                    code: SLOW_CONSUMER_CLOSE_CODE,
                    reason: "too much unread: reconnect to resume".into(),
                }));
                let _ = tokio::time::timeout(Duration::from_millis(100), sink.send(bye)).await;
                break;
            }
        };
        let go_on = tokio::select! {
            r = burst(&mut sink, &mut q.rx, &q.queued, first) => r,
            () = q.cut.cancelled() => false,
        };
        if !go_on {
            break;
        }
    }
}

/// Feeds `first` and whatever else is queued already (up to the burst's bounds), then
/// flushes once. False once the connection is done: a close frame went out or a write failed.
async fn burst<S: Sink<Message> + Unpin>(
    sink: &mut S,
    rx: &mut mpsc::Receiver<Message>,
    queued: &AtomicUsize,
    first: Message,
) -> bool {
    let (mut frames, mut bytes) = (0, 0);
    let mut next = Some(first);
    while let Some(m) = next.take() {
        let closing = matches!(m, Message::Close(_));
        if let Message::Text(t) = &m {
            queued.fetch_sub(t.len(), Ordering::Relaxed);
            bytes += t.len();
        }
        if sink.feed(m).await.is_err() {
            return false;
        }
        frames += 1;
        if closing {
            // Nothing is written after a close; the flush puts it on the wire.
            let _ = sink.flush().await;
            return false;
        }
        if frames < MAX_BURST_FRAMES && bytes < MAX_BURST_BYTES {
            next = rx.try_recv().ok();
        }
    }
    sink.flush().await.is_ok()
}
