//! The publisher grace as members see it, through the real server and real ffmpeg pushers: a
//! pusher whose connection drops and that comes back is never announced gone (no
//! `stream-removed`, no second `stream-added`) while its player goes on; one that does not come
//! back is announced gone once the grace is over. Every wait is on an event (a frame, a
//! marker in the stream, ffmpeg's exit) with a generous deadline.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::process::Child;

mod live;
use live::*;

const PATIENCE: Duration = Duration::from_secs(60);

/// The marker the returning pusher puts in its `onMetaData` (its `title`).
const MARKER: &[u8] = b"mprtc-returning-pusher";

/// The next event of `kind` on `ws`, and the events before it.
async fn event(ws: &mut Ws, kind: &str) -> (Value, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        let v = recv_within(ws, PATIENCE).await;
        if v["type"] == kind {
            return (v, before);
        }
        before.push(v);
    }
}

/// A pusher like [`probe::pusher`] whose `onMetaData` carries [`MARKER`].
fn marked_pusher(url: &str) -> Child {
    let title = format!("title={}", String::from_utf8_lossy(MARKER));
    probe::pusher_with(url, &["-metadata", &title])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pusher_back_within_the_grace_is_never_announced_gone() {
    let server = start_with(|_| {}).await;
    let mut publisher = join_sec(&server.url, "grace", 1).await;
    let mut watcher = join_sec(&server.url, "grace", 2).await;
    let publish = json!({"v":1,"id":2,"type":"publish","body":{"audio":true,"video":true}});
    let r = answer(&mut publisher, publish).await;
    let push = r["body"]["url"].as_str().unwrap().to_owned();
    let mut first = probe::pusher(&push);
    event(&mut watcher, "stream-added").await;
    let subscribe = json!({"v":1,"id":3,"type":"subscribe","body":{"uid":1,"video":true}});
    let r = answer(&mut watcher, subscribe).await;
    let (mut player, status) =
        probe::flv_open(r["body"]["flv_url"].as_str().unwrap(), PATIENCE).await;
    assert_eq!(status, 200);

    // The pusher drops (SIGKILL: no deleteStream). Another comes back with the same URL; one
    // that comes before the server saw the drop is refused as a second publisher and tried
    // again, until the player reads the returning pusher's marker.
    first.kill().await.unwrap();
    let mut seen: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut back = marked_pusher(&push);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        tokio::select! {
            _ = back.wait() => back = marked_pusher(&push),
            n = player.read(&mut buf) => {
                let n = n.expect("the player's stream goes on");
                assert!(n > 0, "the player's stream ended");
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(MARKER.len()).any(|w| w == MARKER) {
                    break;
                }
                // Only the tail can hold the start of a marker cut in two.
                seen.drain(..seen.len().saturating_sub(MARKER.len()));
            }
            _ = tokio::time::sleep_until(deadline) => panic!("the returning pusher never reached the player"),
        }
    }

    // Members heard nothing of the drop and the return: the events up to a ping's answer.
    let heard = heard_so_far(&mut watcher).await;
    assert!(
        !heard
            .iter()
            .any(|v| v["type"] == "stream-removed" || v["type"] == "stream-added"),
        "a drop and a return inside the grace are not news: {heard:?}"
    );

    // Gone for good: announced once the grace is over, and the return never was.
    back.kill().await.unwrap();
    let (removed, before) = event(&mut watcher, "stream-removed").await;
    assert_eq!(removed["body"]["uid"], 1, "{removed}");
    assert!(
        !before.iter().any(|v| v["type"] == "stream-added"),
        "the returning pusher was not announced again: {before:?}"
    );
    server.stop().await;
}
