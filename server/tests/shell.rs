//! How the WebSocket shell reads the end of a connection: a close with 1000 is the client
//! saying goodbye, so its member leaves at once (reason `left`) and cannot resume; any other
//! close, or a connection cut without one, is a drop: the member waits out its resume window
//! (then leaves with `connection_lost`) and its client may resume meanwhile.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

mod live;
use live::*;

/// Longer than any test here runs: a member that leaves at all left because of how its
/// connection ended, not because its window ran out.
const LONG_WINDOW_MS: u64 = 600_000;

/// Long enough for a rejoin, short enough to wait out: a dropped member's leave comes after it.
const SHORT_WINDOW_MS: u64 = 300;

/// How a test client ends its connection.
#[derive(Debug, Clone, Copy)]
enum End {
    /// A close frame with this code.
    Close(u16),
    /// No close frame: the TCP connection just goes.
    Cut,
}

async fn end(mut ws: Ws, how: End) {
    match how {
        End::Close(code) => {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: "test".into(),
            };
            ws.close(Some(frame)).await.unwrap();
        }
        End::Cut => drop(ws),
    }
}

/// A new connection joined to app `dbg`'s room as `uid`: the socket and its session id.
async fn member(url: &str, room: &str, uid: u64) -> (Ws, String) {
    let mut ws = connect(url).await;
    let r = answer(&mut ws, join(1, "dbg", room, uid, None)).await;
    assert_eq!(r["ok"], true, "{r}");
    let session = r["body"]["session"].as_str().unwrap().to_owned();
    (ws, session)
}

/// A rejoin of `uid` on a new connection naming `session`: the answer's body.
async fn rejoin(url: &str, room: &str, uid: u64, session: &str) -> Value {
    let mut ws = connect(url).await;
    let frame = json!({"v":1,"id":1,"type":"join","body":{"appkey":"dbg","room":room,"uid":uid,
        "resume":{"session":session,"last_seq":0}}});
    let r = answer(&mut ws, frame).await;
    assert_eq!(r["ok"], true, "{r}");
    r["body"].clone()
}

/// The next `member-left` on `ws` (within `bound`): `(uid, reason)`.
async fn next_leave(ws: &mut Ws, bound: Duration) -> (u64, String) {
    loop {
        let v = recv_within(ws, bound).await;
        if v["type"] == "member-left" {
            let reason = v["body"]["reason"].as_str().unwrap().to_owned();
            return (v["body"]["uid"].as_u64().unwrap(), reason);
        }
    }
}

#[tokio::test]
async fn a_close_with_1000_is_a_leave_at_once_and_no_resume() {
    let server = start_with(|o| o.resume_window_ms = Some(LONG_WINDOW_MS)).await;
    let (mut watcher, _) = member(&server.url, "bye", 1).await;
    let (ws, session) = member(&server.url, "bye", 2).await;
    end(ws, End::Close(1000)).await;
    assert_eq!(
        next_leave(&mut watcher, Duration::from_secs(20)).await,
        (2, "left".to_owned()),
        "seen long before a ten-minute window could end"
    );
    let body = rejoin(&server.url, "bye", 2, &session).await;
    // `resumed` is sent only when true.
    assert_eq!(
        body["resumed"],
        Value::Null,
        "the session ended with the goodbye"
    );
    assert_ne!(body["session"], session.as_str(), "a new session");
    server.stop().await;
}

/// Any close code but 1000 (the SDK's own 4000 before it reconnects, a going-away 1001, an
/// application's 3000) and a cut are drops: the member stays for its window and leaves with
/// `connection_lost` when it runs out, never with `left`.
#[tokio::test]
async fn any_other_close_or_a_cut_is_a_drop_that_waits_out_the_window() {
    let server = start_with(|o| o.resume_window_ms = Some(SHORT_WINDOW_MS)).await;
    let (mut watcher, _) = member(&server.url, "drop", 1).await;
    for (uid, how) in [
        (2, End::Close(4000)),
        (3, End::Close(1001)),
        (4, End::Close(3000)),
        (5, End::Cut),
    ] {
        let (ws, _) = member(&server.url, "drop", uid).await;
        end(ws, how).await;
        assert_eq!(
            next_leave(&mut watcher, Duration::from_secs(30)).await,
            (uid, "connection_lost".to_owned()),
            "{how:?}"
        );
    }
    server.stop().await;
}

/// Every frame `ws` is sent until the answer to a ping sent now: what it was told meanwhile.
async fn told_until_pong(ws: &mut Ws, id: u64) -> Vec<Value> {
    ws.send(Message::Text(
        json!({"v":1,"id":id,"type":"ping","body":{"ts":1}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let mut told = Vec::new();
    loop {
        let v = recv_within(ws, Duration::from_secs(30)).await;
        if v["re"] == id {
            return told;
        }
        told.push(v);
    }
}

/// Within the window, a client whose connection closed with anything but 1000, or was cut,
/// resumes its session, and the others never hear it was gone.
#[tokio::test]
async fn any_other_close_or_a_cut_resumes() {
    let server = start_with(|o| o.resume_window_ms = Some(LONG_WINDOW_MS)).await;
    let (mut watcher, _) = member(&server.url, "back", 1).await;
    for (uid, how) in [(2, End::Close(4000)), (3, End::Close(1001)), (4, End::Cut)] {
        let (ws, session) = member(&server.url, "back", uid).await;
        end(ws, how).await;
        let body = rejoin(&server.url, "back", uid, &session).await;
        assert_eq!(body["resumed"], true, "{how:?}");
        let told = told_until_pong(&mut watcher, uid).await;
        let kinds: Vec<&Value> = told.iter().map(|v| &v["type"]).collect();
        assert_eq!(kinds, vec!["member-joined"], "{how:?}: {told:?}");
    }
    // A newcomer finds every resumed member in the room.
    let mut late = connect(&server.url).await;
    let r = answer(&mut late, join(1, "dbg", "back", 9, None)).await;
    let uids: Vec<u64> = r["body"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["uid"].as_u64().unwrap())
        .collect();
    assert_eq!(uids, vec![1, 2, 3, 4]);
    server.stop().await;
}
