//! What players of the embedded media server get, with real ffmpeg publishers and players
//! (and ffprobe) on loopback: a publisher that drops and comes back keeps its players, the
//! publisher's `onMetaData` reaches them, a late viewer's first packets have sound, and the
//! HTTP-FLV answer carries the headers players expect.

use std::process::Stdio;
use std::time::{Duration, Instant};

use rtmp_rs::amf::{amf0, AmfValue};
use rtmp_rs::registry::FrameType;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout, Command};

use crate::media::tests::{
    is_publish_started, now, output_within, path_of, publish_lavfi, start_media, start_media_with,
    Server, FFMPEG,
};
use crate::media::{MediaEvent, MediaServer, DEFAULT_PUBLISHER_GRACE};

const SECRET: &[u8] = b"embedded-player-tests";
const FFPROBE: &str = "/usr/bin/ffprobe";
/// Players decode to tiny RGB pictures: the colour is all these tests look at.
const SIDE: usize = 8;
const FRAME: usize = SIDE * SIDE * 3;

/// A flat-colour publisher with a tone, 15 fps, a key frame a second.
fn publish_colour(url: &str, colour: &str, hz: u32) -> Child {
    publish_lavfi(
        url,
        &format!("color=c={colour}:size=320x240:rate=15"),
        &format!("sine=frequency={hz}"),
        &[],
    )
}

/// An ffmpeg player of `url` that writes every decoded picture as it comes, 8x8 RGB.
fn player(url: &str) -> (Child, ChildStdout) {
    let mut child = Command::new(FFMPEG)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-rw_timeout", "30000000", "-i", url])
        .args(["-an", "-vf", &format!("scale={SIDE}:{SIDE}")])
        .args(["-pix_fmt", "rgb24", "-fps_mode", "passthrough"])
        .args(["-flush_packets", "1", "-f", "rawvideo", "pipe:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ffmpeg player");
    let out = child.stdout.take().expect("piped");
    (child, out)
}

/// The mean colour of one 8x8 RGB picture.
fn mean_rgb(frame: &[u8]) -> [u32; 3] {
    let mut sum = [0u32; 3];
    for px in frame.chunks_exact(3) {
        for (s, &c) in sum.iter_mut().zip(px) {
            *s += u32::from(c);
        }
    }
    sum.map(|s| s / (SIDE * SIDE) as u32)
}

fn is_red(c: [u32; 3]) -> bool {
    c[0] > 160 && c[1] < 80 && c[2] < 80
}

fn is_blue(c: [u32; 3]) -> bool {
    c[2] > 160 && c[0] < 80 && c[1] < 80
}

/// Reads pictures from a player until one matches `want`; how many were read before it.
async fn until_picture(out: &mut ChildStdout, what: &str, want: fn([u32; 3]) -> bool) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut frame = [0u8; FRAME];
    let mut seen = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, out.read_exact(&mut frame)).await {
            Ok(Ok(_)) if want(mean_rgb(&frame)) => return seen,
            Ok(Ok(_)) => seen += 1,
            Ok(Err(e)) => panic!("player ended before a {what} picture: {e}"),
            Err(_) => panic!("no {what} picture in time"),
        }
    }
}

/// Waits until the server noticed that the publisher of (room, uid) dropped: its stream
/// waits for it.
async fn until_waiting(srv: &Server, room: &str, uid: u64) {
    let k = (room.to_owned(), uid);
    let deadline = Instant::now() + Duration::from_secs(20);
    let waiting = || {
        let state = srv.handle.shared.lock();
        state.streams.get(&k).is_some_and(|s| s.session.is_none())
    };
    while !waiting() {
        assert!(Instant::now() < deadline, "the drop was not noticed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn ends_a_play_or_publish(e: &MediaEvent) -> bool {
    matches!(
        e,
        MediaEvent::PlayStopped { .. } | MediaEvent::PublishStopped { .. }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_dropping_for_two_seconds_keeps_its_players() {
    // A grace far longer than the outage and the new publisher's start, so that a slow start
    // on a loaded machine cannot decide the test; the default's own length is checked below.
    let mut srv = start_media_with(SECRET, 600, Duration::from_secs(60)).await;
    let push = srv.urls.push_url("drop", 3, now());
    let mut red = publish_colour(&push, "red", 440);
    srv.expect_event("PublishStarted", is_publish_started("drop", 3))
        .await;
    let urls = srv.urls.play_urls("drop", 3, 9, now());
    let (_flv, mut flv_out) = player(&urls.flv);
    let (_rtmp, mut rtmp_out) = player(&urls.rtmp);
    until_picture(&mut flv_out, "red (HTTP-FLV)", is_red).await;
    until_picture(&mut rtmp_out, "red (RTMP)", is_red).await;

    // The publisher drops (SIGKILL: no deleteStream) and is away for two seconds, which the
    // default grace also covers.
    assert!(DEFAULT_PUBLISHER_GRACE > Duration::from_secs(3));
    red.kill().await.expect("kill the publisher");
    until_waiting(&srv, "drop", 3).await;
    assert!(
        srv.handle.is_publishing("drop", 3),
        "signaling still sees it"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    // It comes back with a fresh push URL (another expiry, so another stream name).
    let again = srv.urls.push_url("drop", 3, now());
    assert_ne!(again, push);
    let mut blue = publish_colour(&again, "blue", 880);

    // The same player processes go on to the returning publisher's pictures.
    until_picture(&mut flv_out, "blue (HTTP-FLV)", is_blue).await;
    until_picture(&mut rtmp_out, "blue (RTMP)", is_blue).await;
    let events = srv.drain();
    assert!(
        !events.iter().any(ends_a_play_or_publish),
        "no play or publish ended: {events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, MediaEvent::PublishStarted { .. })),
        "signaling heard nothing of the drop: {events:?}"
    );
    blue.kill().await.expect("kill");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_gone_for_longer_than_the_grace_ends_its_players() {
    let mut srv = start_media_with(SECRET, 600, Duration::from_millis(300)).await;
    let mut red = publish_colour(&srv.urls.push_url("gone", 4, now()), "red", 440);
    srv.expect_event("PublishStarted", is_publish_started("gone", 4))
        .await;
    let (mut flv, mut out) = player(&srv.urls.play_urls("gone", 4, 9, now()).flv);
    until_picture(&mut out, "red", is_red).await;
    red.kill().await.expect("kill");
    srv.expect_event("PublishStopped after the grace", |e| {
        matches!(e, MediaEvent::PublishStopped { uid: 4, .. })
    })
    .await;
    srv.expect_event("PlayStopped", |e| {
        matches!(e, MediaEvent::PlayStopped { uid: 4, .. })
    })
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(20), flv.wait()).await;
    assert!(ended.is_ok(), "the player's stream ended");
    assert!(!srv.handle.is_publishing("gone", 4));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_during_the_grace_ends_the_stream_at_once() {
    // A grace far longer than the test's deadlines: only the kick can end the stream.
    let mut srv = start_media_with(SECRET, 600, Duration::from_secs(60)).await;
    let push = srv.urls.push_url("kick", 5, now());
    let mut red = publish_colour(&push, "red", 440);
    srv.expect_event("PublishStarted", is_publish_started("kick", 5))
        .await;
    red.kill().await.expect("kill");
    until_waiting(&srv, "kick", 5).await;
    srv.handle.kick_publisher("kick", 5);
    srv.expect_event("PublishStopped at the kick", |e| {
        matches!(e, MediaEvent::PublishStopped { uid: 5, .. })
    })
    .await;
    assert!(!srv.handle.is_publishing("kick", 5));
    // And the kicked publisher does not get the stream back by the grace.
    let mut again = publish_colour(&push, "blue", 880);
    srv.expect_event("PublishStarted anew", is_publish_started("kick", 5))
        .await;
    again.kill().await.expect("kill");
    srv.stop().await;
}

/// ffprobe's JSON about `url` (`args` say what), within 30 s.
async fn probe(url: &str, args: &[&str]) -> Value {
    let mut cmd = Command::new(FFPROBE);
    cmd.args(["-hide_banner", "-loglevel", "error", "-of", "json"])
        .args(args)
        .args(["-rw_timeout", "20000000", url]);
    let out = output_within(&mut cmd, 30).await.expect("ffprobe");
    serde_json::from_slice(&out).expect("ffprobe JSON")
}

/// The `onMetaData` values of the first script tag in an FLV byte stream.
fn first_metadata(mut b: &[u8]) -> Option<AmfValue> {
    b = b.get(13..)?; // file header and PreviousTagSize0
    while b.len() >= 11 {
        let size = u32::from_be_bytes([0, b[1], b[2], b[3]]) as usize;
        let body = b.get(11..11 + size)?;
        if b[0] == 18 {
            let values = amf0::decode_all(body).ok()?;
            return values.into_iter().nth(1);
        }
        b = b.get(15 + size..)?;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publishers_metadata_reaches_players() {
    let mut srv = start_media(SECRET, 600).await;
    let video = "testsrc2=size=352x288:rate=25";
    let mut pusher = srv
        .publish_live(
            ("meta", 6),
            video,
            "sine=frequency=440",
            &["-metadata", "title=mprtc-metadata-probe"],
        )
        .await;
    let urls = srv.urls.play_urls("meta", 6, 9, now());
    // Both protocols' players see the publisher's own tag (only onMetaData carries it).
    for url in [&urls.flv, &urls.rtmp] {
        let got = probe(url, &["-show_entries", "format_tags=title"]).await;
        assert_eq!(
            got["format"]["tags"]["title"], "mprtc-metadata-probe",
            "{:.5}: {got}",
            url
        );
    }
    // And the size and frame rate the publisher announced, as they travel.
    let mut sock = tokio::net::TcpStream::connect(srv.flv_addr).await.unwrap();
    let req = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", path_of(&urls.flv));
    sock.write_all(req.as_bytes()).await.unwrap();
    let body = read_body_start(&mut sock, 64 * 1024).await;
    let meta = first_metadata(&body).expect("an onMetaData script tag first");
    assert_eq!(meta.get_number("width"), Some(352.0));
    assert_eq!(meta.get_number("height"), Some(288.0));
    assert_eq!(meta.get_number("framerate"), Some(25.0));
    pusher.kill().await.expect("kill");
    srv.stop().await;
}

/// Reads a chunked HTTP/1.1 response on `sock` until `want` body bytes (chunk framing
/// removed) are in, or 20 s passed.
async fn read_body_start(sock: &mut tokio::net::TcpStream, want: usize) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = match tokio::time::timeout(left, sock.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => break,
        };
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > want + 4096 {
            break;
        }
    }
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    dechunk(&raw[at + 4..])
}

/// The data of HTTP/1.1 chunks, as far as they are complete.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let Ok(size) = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap_or("x"), 16)
        else {
            break;
        };
        let Some(data) = b.get(eol + 2..eol + 2 + size) else {
            break;
        };
        out.extend_from_slice(data);
        b = b.get(eol + 4 + size..).unwrap_or_default();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_viewers_first_packets_have_sound() {
    let mut srv = start_media(SECRET, 600).await;
    // A key frame every 10 s: a viewer joining later starts deep inside a GOP.
    let video = "testsrc2=size=320x240:rate=15";
    let mut pusher = srv
        .publish_live(("late", 8), video, "sine=frequency=440", &["-g", "150"])
        .await;
    // Until the cached GOP spans two seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (fanout, _) = srv.handle.shared.stream("late", 8).expect("published");
        let (start, _) = fanout.subscribe();
        let media = start
            .iter()
            .filter(|f| !f.is_header && f.frame_type != FrameType::Metadata);
        let ts: Vec<u32> = media.map(|f| f.timestamp).collect();
        if ts
            .last()
            .zip(ts.first())
            .is_some_and(|(l, f)| l.saturating_sub(*f) > 2000)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the GOP never grew");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let urls = srv.urls.play_urls("late", 8, 9, now());
    for url in [&urls.flv, &urls.rtmp] {
        let got = probe(
            url,
            &[
                "-read_intervals",
                "%+#60",
                "-show_entries",
                "packet=codec_type,pts_time,flags",
            ],
        )
        .await;
        let packets = got["packets"].as_array().expect("packets");
        let first = |kind: &str| {
            packets
                .iter()
                .find(|p| p["codec_type"] == kind)
                .and_then(|p| p["pts_time"].as_str()?.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("{url:.5}: no {kind} packet in {got}"))
        };
        let (video, audio) = (first("video"), first("audio"));
        assert!(
            (audio - video).abs() < 0.1,
            "{url:.5}: the first audio ({audio} s) plays with the first picture ({video} s)"
        );
        let key = packets.iter().find(|p| p["codec_type"] == "video").unwrap();
        assert!(
            key["flags"].as_str().unwrap_or("").starts_with('K'),
            "{url:.5}: starts on a key frame"
        );
    }
    pusher.kill().await.expect("kill");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_flv_answers_with_the_headers_players_expect() {
    let mut srv = start_media(SECRET, 600).await;
    let mut pusher = publish_colour(&srv.urls.push_url("head", 2, now()), "red", 440);
    srv.expect_event("PublishStarted", is_publish_started("head", 2))
        .await;
    let url = srv.urls.play_urls("head", 2, 9, now()).flv;
    let mut sock = tokio::net::TcpStream::connect(srv.flv_addr).await.unwrap();
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nOrigin: https://console.example\r\n\r\n",
        path_of(&url)
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tokio::time::timeout(Duration::from_secs(20), sock.read_exact(&mut byte))
            .await
            .expect("response head in time")
            .expect("response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    for line in [
        "http/1.1 200 ok\r\n",
        "\r\ncontent-type: video/x-flv\r\n",
        "\r\ncache-control: no-cache, no-store\r\n",
        "\r\naccess-control-allow-origin: *\r\n",
        "\r\ntransfer-encoding: chunked\r\n",
    ] {
        assert!(head.contains(line), "{line:?} in {head}");
    }
    assert!(
        !head.contains("content-length"),
        "a live body has no length"
    );
    pusher.kill().await.expect("kill");
    srv.stop().await;
}
