//! Moving frames out of a stream's fan-out: the relay that feeds an RTMP play mirror,
//! and the lag policy it shares with HTTP-FLV players.

use std::sync::Arc;
use std::time::Duration;

use rtmp_rs::registry::{BroadcastFrame, FrameType, StreamKey, StreamRegistry};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// How soon the relay first looks whether its first player has subscribed to the mirror
/// (it usually has within a few milliseconds of the admission).
const SUBSCRIBE_POLL: Duration = Duration::from_millis(2);
/// The longest pause between two looks: the pause doubles up to it, so that a player that
/// never subscribes (it stalls after its play) costs a few dozen looks over the admission
/// timeout, not one every 2 ms on each of thousands of connections.
const SUBSCRIBE_POLL_MAX: Duration = Duration::from_millis(100);

/// Feeds one RTMP play mirror from a stream's fan-out: `start` (the fan-out's cache), then
/// `rx`.
///
/// `rtmp-rs` subscribes the player to the mirror only after the play was admitted, and
/// serves a new subscriber the entry's own late-joiner cache, which keeps no audio. So the
/// relay waits (up to `wait`) for that subscription before it sends `start`: the first
/// player gets the fan-out's cache, audio included, as live tags.
pub(super) async fn relay(
    registry: Arc<StreamRegistry>,
    start: Vec<BroadcastFrame>,
    mut rx: broadcast::Receiver<BroadcastFrame>,
    mirror: StreamKey,
    mirror_id: u64,
    stop: CancellationToken,
    wait: Duration,
) {
    let deadline = tokio::time::Instant::now() + wait;
    let mut pause = SUBSCRIBE_POLL;
    while !stop.is_cancelled() && tokio::time::Instant::now() < deadline {
        let stats = registry.get_stream_stats(&mirror).await;
        if stats.is_some_and(|s| s.subscriber_count > 0) {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(SUBSCRIBE_POLL_MAX);
    }
    for frame in start {
        registry.broadcast(&mirror, frame).await;
    }
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
    registry.unregister_publisher(&mirror, mirror_id).await;
}

/// After a lag, drop everything but sequence headers until the next video keyframe.
pub(super) fn skip_frame(skipping: &mut bool, frame: &BroadcastFrame) -> bool {
    if *skipping && !frame.is_header {
        if frame.frame_type == FrameType::Video && frame.is_keyframe {
            *skipping = false;
        } else {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

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
