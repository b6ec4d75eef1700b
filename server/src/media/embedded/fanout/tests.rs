//! The fan-out's cache, bounds and clock, without sockets (tags made by hand).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use rtmp_rs::amf::{amf0, AmfValue};
use rtmp_rs::registry::{BroadcastFrame, FrameType};
use tokio::time::Instant;

use super::*;

fn video(ts: u32, key: bool, len: usize) -> BroadcastFrame {
    let mut body = vec![if key { 0x17 } else { 0x27 }, 1];
    body.resize(len.max(2), 0);
    BroadcastFrame::video(ts, Bytes::from(body), key, false)
}

fn audio(ts: u32) -> BroadcastFrame {
    BroadcastFrame::audio(ts, Bytes::from_static(&[0xAF, 1, 9]), false)
}

fn kinds(frames: &[BroadcastFrame]) -> Vec<(char, u32)> {
    frames
        .iter()
        .map(|f| {
            let k = match (f.frame_type, f.is_header) {
                (FrameType::Metadata, _) => 'm',
                (FrameType::Video, true) => 'V',
                (FrameType::Audio, true) => 'A',
                (FrameType::Video, false) if f.is_keyframe => 'k',
                (FrameType::Video, false) => 'v',
                (FrameType::Audio, false) => 'a',
            };
            (k, f.timestamp)
        })
        .collect()
}

#[test]
fn late_joiner_gets_metadata_headers_and_audio_since_the_key_frame() {
    let f = Fanout::new();
    let t = Instant::now();
    let meta = metadata_frame(&HashMap::from([("width".into(), AmfValue::Number(320.0))]));
    f.push(meta.expect("small metadata is kept"), t);
    f.push(
        BroadcastFrame::video(0, Bytes::from_static(&[0x17, 0]), true, true),
        t,
    );
    f.push(
        BroadcastFrame::audio(0, Bytes::from_static(&[0xAF, 0]), true),
        t,
    );
    f.push(audio(10), t); // before any key frame: nothing to start from
    f.push(video(20, true, 10), t);
    f.push(audio(30), t);
    f.push(video(40, false, 10), t);
    f.push(video(100, true, 10), t); // a new GOP replaces the old one
    f.push(audio(110), t);
    let (start, mut live) = f.subscribe();
    assert_eq!(
        kinds(&start),
        [('m', 0), ('V', 0), ('A', 0), ('k', 100), ('a', 110)]
    );
    f.push(video(120, false, 10), t);
    let next = live.try_recv().expect("live after the snapshot");
    assert_eq!(kinds(&[next]), [('v', 120)]);
    assert!(live.try_recv().is_err(), "nothing twice");
}

#[test]
fn gop_cache_is_bounded_in_bytes_and_tags() {
    let f = Fanout::new();
    let t = Instant::now();
    f.push(video(0, true, 1000), t);
    // Bytes: one huge GOP empties the cache until the next key frame.
    let big = MAX_GOP_BYTES / 4;
    for i in 1..=4 {
        f.push(video(i, false, big), t);
    }
    assert!(f.subscribe().0.is_empty(), "over the byte cap");
    f.push(video(5, false, 10), t);
    assert!(f.subscribe().0.is_empty(), "still waiting for a key frame");
    f.push(video(6, true, 10), t);
    assert_eq!(f.subscribe().0.len(), 1);
    // Tags: a stream of tiny tags without a key frame.
    for i in 0..MAX_GOP_TAGS as u32 {
        f.push(audio(7 + i), t);
    }
    assert!(f.subscribe().0.len() < MAX_GOP_TAGS, "over the tag cap");
}

#[test]
fn oversized_metadata_is_not_forwarded() {
    let huge = "x".repeat(MAX_METADATA_BYTES);
    let values = HashMap::from([("comment".into(), AmfValue::String(huge))]);
    assert!(metadata_frame(&values).is_none());
}

#[test]
fn metadata_frame_is_an_on_metadata_script_body() {
    let values = HashMap::from([("framerate".into(), AmfValue::Number(15.0))]);
    let frame = metadata_frame(&values).expect("kept");
    let decoded = amf0::decode_all(&frame.data).expect("AMF0");
    assert_eq!(decoded[0], AmfValue::String("onMetaData".into()));
    assert_eq!(decoded[1].get_number("framerate"), Some(15.0));
}

#[test]
fn a_resumed_publisher_continues_the_players_clock() {
    let f = Fanout::new();
    let t = Instant::now();
    let (_, mut live) = f.subscribe();
    f.push(video(5000, true, 10), t);
    f.resume();
    // The new connection starts at 0, two seconds later.
    let later = t + Duration::from_millis(2000);
    f.push(video(0, true, 10), later);
    f.push(audio(23), later + Duration::from_millis(23));
    let got: Vec<u32> = (0..3).map(|_| live.try_recv().unwrap().timestamp).collect();
    assert_eq!(got, [5000, 7000, 7023]);
    // The old GOP went at the resume; the new one starts at the new key frame.
    assert_eq!(kinds(&f.subscribe().0), [('k', 7000), ('a', 7023)]);
}
