//! Moving frames out of a publisher's registry entry: the relay that feeds an RTMP
//! play mirror, and the lag policy it shares with HTTP-FLV players.

use std::sync::Arc;

use rtmp_rs::registry::{BroadcastFrame, FrameType, StreamKey, StreamRegistry};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Feeds one RTMP play mirror from the publisher's registry entry.
pub(super) async fn relay(
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
