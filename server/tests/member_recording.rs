//! Member recording through the real server: a NetEase member that joins with `record` (the
//! SDK's `recordAudio` / `recordVideo`) and pushes with a real ffmpeg has its streams written
//! to `recordings_dir` as MP4 segments the server API lists; the app's backend starts and stops
//! a member's recording through the server API (how ZEGO apps record); a member whose token
//! does not grant recording is refused at join, naming the field.
//!
//! The colour and tone of a recording are checked by `recording::tests` (the library's tests);
//! here, that the files are there, listed, and hold the member's video and audio.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod live;
use live::http::api;
use live::*;

const PATIENCE: Duration = Duration::from_secs(60);

fn privileges(record: bool) -> mprtc_server::token::Privileges {
    mprtc_server::token::Privileges {
        record: Some(record),
        ..Default::default()
    }
}

/// A member of app `sec` in `room` as `uid`, joined with `record` in its join (none: null).
async fn join_recorded(
    server: &Live,
    room: &str,
    uid: u64,
    record: Value,
    may: bool,
) -> (Ws, Value) {
    let mut ws = connect(&server.url).await;
    let t = token_for(room, &uid.to_string(), privileges(may));
    let mut frame = join(1, "sec", room, uid, Some(&t));
    frame["body"]["record"] = record;
    let r = answer(&mut ws, frame).await;
    (ws, r)
}

/// Publishes as the member on `ws` and pushes with a real ffmpeg.
async fn push(ws: &mut Ws) -> tokio::process::Child {
    let publish = json!({"v":1,"id":2,"type":"publish","body":{"audio":true,"video":true}});
    let r = answer(ws, publish).await;
    assert_eq!(r["ok"], true, "{r}");
    probe::pusher(r["body"]["url"].as_str().unwrap())
}

/// The server API's list of app `sec`'s finished recordings of `uid`, once it holds `n`.
async fn listed(server: &Live, uid: u64, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = api(&server.addr(), "GET", "/api/v1/recordings", "").await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let mine: Vec<Value> = v["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["uid"] == uid)
            .cloned()
            .collect();
        if mine.len() >= n {
            return mine;
        }
        assert!(Instant::now() < deadline, "{n} recordings of {uid}: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A server recording into a fresh directory (removed with the first value) in 1 s files.
async fn recording_server(tag: &str) -> (probe::Scratch, std::path::PathBuf, Live) {
    let dir = probe::scratch(tag);
    let root = dir.to_path_buf();
    let server = start_with(|o| {
        o.recordings_dir = Some(root.clone());
        o.recording_segment_secs = Some(1);
    })
    .await;
    (dir, root, server)
}

/// The kinds of stream ffprobe finds in `file`.
fn streams_of(file: &std::path::Path) -> String {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout).replace('\n', " ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joined_with_record_is_recorded_and_listed() {
    let (_dir, root, server) = recording_server("member-rec").await;
    let both = json!({"audio": true, "video": true});
    let (mut ws, r) = join_recorded(&server, "rec", 5, both.clone(), true).await;
    assert_eq!(r["ok"], true, "{r}");
    let mut ffmpeg = push(&mut ws).await;
    let files = listed(&server, 5, 2).await;
    for f in &files {
        assert_eq!(f["room"], "rec");
        assert!(f["bytes"].as_u64().unwrap() > 0, "{f}");
        let file = f["file"].as_str().unwrap();
        assert!(
            file.starts_with("sec/rec/uid-5-") && file.ends_with(".mp4"),
            "{file}"
        );
    }
    let second = root.join(files[1]["file"].as_str().unwrap());
    assert_eq!(streams_of(&second).trim(), "video audio", "{second:?}");

    // Without the privilege: refused at join, the field named.
    let (_ws, r) = join_recorded(&server, "rec", 6, both, false).await;
    assert_eq!(code(&r), 4014, "{r}");
    assert_eq!(r["err"]["field"], "record");
    ffmpeg.kill().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_api_starts_and_stops_a_members_recording() {
    let (_dir, root, server) = recording_server("api-rec").await;
    let (mut ws, r) = join_recorded(&server, "zr", 7, Value::Null, false).await;
    assert_eq!(r["ok"], true, "{r}");
    let mut ffmpeg = push(&mut ws).await;
    let path = "/api/v1/rooms/zr/members/7/recording";
    // Refused: nothing asked for, no such member.
    let body = r#"{"audio": false, "video": false}"#;
    assert_eq!(api(&server.addr(), "POST", path, body).await.0, 400);
    let none = "/api/v1/rooms/zr/members/8/recording";
    assert_eq!(api(&server.addr(), "POST", none, "").await.0, 404);
    // Whether the member's stream is live yet or not: it is recorded from when it is.
    let (status, body) = api(&server.addr(), "POST", path, r#"{"audio": true}"#).await;
    assert_eq!(status, 200, "{body}");
    let files = listed(&server, 7, 1).await;
    let first = root.join(files[0]["file"].as_str().unwrap());
    assert_eq!(
        streams_of(&first).trim(),
        "audio",
        "only the audio asked for"
    );
    assert_eq!(api(&server.addr(), "DELETE", path, "").await.0, 200);
    ffmpeg.kill().await.unwrap();
    server.stop().await;
}
