//! The server ends a member's push for real: a real ffmpeg publishes to the embedded RTMP
//! server with the URL `publish` gave, and turning audience, unpublishing everything, a kick by
//! the server API or the room's close cuts its connection — ffmpeg exits. A pusher that comes
//! back with the same, still signed URL is cut again and never announced.
//!
//! Everything waits on events (a frame, ffmpeg's exit) with generous deadlines; no clock
//! decides.

use std::process::ExitStatus;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::Child;

mod live;
use live::http::api;
use live::*;

/// How long ffmpeg may take to start pushing, or to notice its connection is gone, on a
/// loaded machine: generous, because only the event decides.
const PATIENCE: Duration = Duration::from_secs(60);

/// Waits for ffmpeg to exit: the server cut its connection.
async fn exits(child: &mut Child, what: &str) -> ExitStatus {
    tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap_or_else(|_| panic!("{what}: the pusher is still connected"))
        .unwrap()
}

/// The next event of `kind` on `ws`, skipping answers and other events.
async fn event(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = recv_within(ws, PATIENCE).await;
        if v["type"] == kind {
            return v;
        }
    }
}

/// Sends `frame` and fails unless its answer is a success: the answer.
async fn done(ws: &mut Ws, frame: Value) -> Value {
    let r = answer(ws, frame).await;
    assert_eq!(r["ok"], true, "{r}");
    r
}

/// A server-API call that must succeed.
async fn api_ok(server: &Live, method: &str, path: &str) {
    let (status, body) = api(&server.addr(), method, path, "").await;
    assert_eq!(status, 200, "{method} {path}: {body}");
}

/// Two members of app `sec` in `room`: the publisher (uid 1), live with a real ffmpeg, and a
/// watcher (uid 2) who heard its streams added. Returns (publisher, watcher, ffmpeg, push URL).
async fn live_pusher(server: &Live, room: &str) -> (Ws, Ws, Child, String) {
    let mut publisher = join_sec(&server.url, room, 1).await;
    let mut watcher = join_sec(&server.url, room, 2).await;
    let publish = json!({"v":1,"id":2,"type":"publish","body":{"audio":true,"video":true}});
    let r = done(&mut publisher, publish).await;
    let url = r["body"]["url"].as_str().unwrap().to_owned();
    let ffmpeg = probe::pusher(&url);
    let added = event(&mut watcher, "stream-added").await;
    assert_eq!(added["body"]["uid"], 1, "{added}");
    (publisher, watcher, ffmpeg, url)
}

/// Finding (issue 18): "to audience while publishing ends the push" was never asserted — the
/// demo stood in by killing its own ffmpeg. Here the server does it: the watcher hears the
/// streams go and the role change, the publisher's ffmpeg is cut, and the same URL pushed again
/// is cut again without the watcher hearing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_audience_while_publishing_ends_the_push() {
    let server = start_with(|_| {}).await;
    let (mut publisher, mut watcher, mut ffmpeg, url) = live_pusher(&server, "aud").await;
    let audience = json!({"v":1,"id":3,"type":"set-role","body":{"role":"audience"}});
    done(&mut publisher, audience).await;
    let removed = event(&mut watcher, "stream-removed").await;
    assert_eq!(removed["body"]["uid"], 1);
    let role = event(&mut watcher, "role-changed").await;
    assert_eq!(role["body"]["role"], "audience");
    exits(&mut ffmpeg, "turned audience").await;

    // The URL is still signed, but the member may not push: admitted, then cut at once.
    let mut again = probe::pusher(&url);
    exits(&mut again, "pushing again as audience").await;
    let heard = heard_so_far(&mut watcher).await;
    assert!(
        !heard.iter().any(|v| v["type"] == "stream-added"),
        "a pusher the member may not have is never announced: {heard:?}"
    );
    server.stop().await;
}

/// The other ways a push ends on the server's word: `unpublish` of everything, a kick by the
/// server API, and the room closed by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpublish_kick_and_close_end_the_push() {
    let server = start_with(|_| {}).await;

    let (mut publisher, mut watcher, mut ffmpeg, _) = live_pusher(&server, "unpub").await;
    let unpublish = json!({"v":1,"id":3,"type":"unpublish","body":{"audio":true,"video":true}});
    done(&mut publisher, unpublish).await;
    event(&mut watcher, "stream-removed").await;
    exits(&mut ffmpeg, "unpublished").await;

    let (_publisher, mut watcher, mut ffmpeg, _) = live_pusher(&server, "kick").await;
    api_ok(&server, "POST", "/api/v1/rooms/kick/members/1/kick").await;
    let left = event(&mut watcher, "member-left").await;
    assert_eq!(left["body"]["reason"], "kicked");
    exits(&mut ffmpeg, "kicked").await;

    let (_publisher, _watcher, mut ffmpeg, _) = live_pusher(&server, "close").await;
    api_ok(&server, "DELETE", "/api/v1/rooms/close").await;
    exits(&mut ffmpeg, "room closed").await;
    server.stop().await;
}
