//! End-to-end tests of the embedded media server with real ffmpeg pushers and players
//! on loopback. Need `/usr/bin/ffmpeg` with libx264 and the lavfi sources.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::*;

pub(crate) const FFMPEG: &str = "/usr/bin/ffmpeg";
const SECRET: &[u8] = b"media-test-secret";
const W: usize = 320;
const H: usize = 240;

/// A running embedded media server on loopback ports, and a signer for its URLs.
pub(crate) struct Server {
    pub(crate) handle: EmbeddedHandle,
    pub(crate) urls: MediaSigner,
    pub(crate) events: UnboundedReceiver<MediaEvent>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) task: JoinHandle<Result<(), MediaError>>,
    pub(crate) flv_addr: SocketAddr,
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn start() -> Server {
    start_media(SECRET, 60).await
}

/// Starts the embedded media server with `secret`, its URLs living `ttl_secs`.
pub(crate) async fn start_media(secret: &[u8], ttl_secs: u64) -> Server {
    start_media_with(secret, ttl_secs, DEFAULT_PUBLISHER_GRACE).await
}

/// [`start_media`] with the publisher grace `grace`.
pub(crate) async fn start_media_with(secret: &[u8], ttl_secs: u64, grace: Duration) -> Server {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    // Verification needs only the secret; bases are filled in once ports are known.
    let verify = Arc::new(MediaSigner::new(secret, "", "", ttl_secs));
    let media = EmbeddedMedia::bind(any, any, verify)
        .await
        .expect("bind")
        .with_publisher_grace(grace);
    let urls = MediaSigner::new(
        secret,
        format!("rtmp://{}/live", media.rtmp_addr()),
        format!("http://{}/live", media.flv_addr()),
        ttl_secs,
    );
    let (tx, events) = unbounded_channel();
    let shutdown = CancellationToken::new();
    let handle = media.handle();
    let flv_addr = media.flv_addr();
    let task = tokio::spawn(media.run(tx, shutdown.clone()));
    Server {
        handle,
        urls,
        events,
        shutdown,
        task,
        flv_addr,
    }
}

impl Server {
    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        let r = tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("run() returns promptly after shutdown")
            .expect("run() did not panic");
        r.expect("run() returned Ok");
    }

    /// Waits for an event matching `pred`, skipping others.
    pub(crate) async fn expect_event(
        &mut self,
        what: &str,
        pred: impl Fn(&MediaEvent) -> bool,
    ) -> MediaEvent {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.recv()).await {
                Ok(Some(e)) if pred(&e) => return e,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("event channel closed waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    /// Publishes the lavfi sources to (room, uid) (see [`publish_lavfi`]) and waits until the
    /// server admitted the pusher.
    pub(crate) async fn publish_live(
        &mut self,
        (room, uid): (&str, u64),
        video: &str,
        audio: &str,
        extra: &[&str],
    ) -> Child {
        let pusher = publish_lavfi(&self.urls.push_url(room, uid, now()), video, audio, extra);
        self.expect_event("PublishStarted", is_publish_started(room, uid))
            .await;
        pusher
    }

    /// Drains events already queued.
    pub(crate) fn drain(&mut self) -> Vec<MediaEvent> {
        let mut v = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            v.push(e);
        }
        v
    }
}

fn push(url: &str) -> Child {
    publish_lavfi(
        url,
        "testsrc2=size=320x240:rate=15",
        "sine=frequency=440",
        &[],
    )
}

/// Publishes the lavfi sources `video` and `audio` to `url` in real time, as x264 (fast to
/// start: ultrafast, zerolatency, a key frame a second at 15 fps) and AAC in FLV; `extra`
/// options go between the two codecs' settings.
pub(crate) fn publish_lavfi(url: &str, video: &str, audio: &str, extra: &[&str]) -> Child {
    Command::new(FFMPEG)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", video])
        .args(["-f", "lavfi", "-i", audio])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-g",
            "15",
        ])
        .args(extra)
        .args(["-c:a", "aac", "-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ffmpeg publisher")
}

/// Runs `cmd` with stdin closed, killed if it outlives `secs` seconds: its stdout, or why it
/// failed (timed out, or its exit status and stderr).
pub(crate) async fn output_within(cmd: &mut Command, secs: u64) -> Result<Vec<u8>, String> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let out = tokio::time::timeout(Duration::from_secs(secs), child.wait_with_output())
        .await
        .map_err(|_| "timed out".to_owned())?
        .expect("wait");
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Pulls `url`, decodes 5 video frames as 8-bit gray and returns the raw bytes
/// (5*W*H of them if the frames are W x H), or the exit status on failure.
async fn pull_frames(url: &str) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new(FFMPEG);
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-rw_timeout", "10000000", "-i", url])
        .args([
            "-an",
            "-frames:v",
            "5",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ]);
    output_within(&mut cmd, 20).await
}

/// Waits for a process expected to fail quickly; returns whether it exited
/// unsuccessfully within `secs`.
async fn exits_with_failure(child: &mut Child, secs: u64) -> bool {
    match tokio::time::timeout(Duration::from_secs(secs), child.wait()).await {
        Ok(Ok(status)) => !status.success(),
        _ => false,
    }
}

/// Raw HTTP/1.1 GET; returns the status code.
async fn http_status(addr: SocketAddr, path_and_query: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    std::str::from_utf8(&buf[9..12]).unwrap().parse().unwrap()
}

pub(crate) fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").unwrap().1;
    &rest[rest.find('/').unwrap()..]
}

pub(crate) fn is_publish_started(room: &str, uid: u64) -> impl Fn(&MediaEvent) -> bool + '_ {
    move |e| matches!(e, MediaEvent::PublishStarted { room: r, uid: u } if r == room && *u == uid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_push_then_play_rtmp_and_flv() {
    let mut srv = start().await;
    let mut pusher = push(&srv.urls.push_url("demo", 7, now()));
    srv.expect_event("PublishStarted", is_publish_started("demo", 7))
        .await;
    assert!(srv.handle.is_publishing("demo", 7));
    // Players that start from the cache: once a first player (viewer 41) decoded frames, a
    // key frame reached the server and is cached.
    let first = srv.urls.play_urls("demo", 7, 41, now()).flv;
    pull_frames(&first).await.expect("a first play");

    let urls = srv.urls.play_urls("demo", 7, 42, now());
    for (proto, url) in [("rtmp", &urls.rtmp), ("flv", &urls.flv)] {
        let frames = pull_frames(url)
            .await
            .unwrap_or_else(|e| panic!("{proto} play failed: {e}"));
        assert_eq!(frames.len(), 5 * W * H, "{proto}: 5 decoded 320x240 frames");
        // testsrc2 is not a flat picture.
        assert!(
            frames.iter().any(|&p| p != frames[0]),
            "{proto}: picture has content"
        );
        srv.expect_event(
            "PlayStarted",
            |e| matches!(e, MediaEvent::PlayStarted { room, uid: 7, viewer: 42 } if room == "demo"),
        )
        .await;
        srv.expect_event(
            "PlayStopped",
            |e| matches!(e, MediaEvent::PlayStopped { room, uid: 7, viewer: 42 } if room == "demo"),
        )
        .await;
    }

    pusher.kill().await.unwrap();
    srv.expect_event(
        "PublishStopped",
        |e| matches!(e, MediaEvent::PublishStopped { room, uid: 7 } if room == "demo"),
    )
    .await;
    assert!(!srv.handle.is_publishing("demo", 7));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_bad_push_urls_refused() {
    let mut srv = start().await;
    let good = srv.urls.push_url("r1", 1, now());
    let sig = good.split("s=").nth(1).unwrap();
    let forged = good.replace(sig, &"A".repeat(sig.len()));
    let expired = srv.urls.push_url("r1", 1, now() - 3600);
    let other_uid = good.replace("/r1.1?", "/r1.2?");
    let play_as_push = srv.urls.play_urls("r1", 1, 9, now()).rtmp;
    let garbage = format!(
        "rtmp://{}/live/r1.1?k=push",
        srv.handle.rtmp_addr().unwrap()
    );
    for (what, url) in [
        ("forged", &forged),
        ("expired", &expired),
        ("other uid", &other_uid),
        ("play url", &play_as_push),
        ("garbage", &garbage),
    ] {
        let mut child = push(url);
        assert!(
            exits_with_failure(&mut child, 15).await,
            "{what} push URL must be refused"
        );
    }
    assert!(!srv.handle.is_publishing("r1", 1));
    assert!(!srv.handle.is_publishing("r1", 2));
    let events = srv.drain();
    assert!(
        events.is_empty(),
        "no events for refused pushers: {events:?}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_second_pusher_refused_and_kick() {
    let mut srv = start().await;
    let mut first = push(&srv.urls.push_url("dup", 5, now()));
    srv.expect_event("PublishStarted", is_publish_started("dup", 5))
        .await;

    // A different but valid push URL for the same stream.
    let mut second = push(&srv.urls.push_url("dup", 5, now() + 1));
    assert!(
        exits_with_failure(&mut second, 15).await,
        "second pusher refused"
    );
    assert!(
        first.try_wait().unwrap().is_none(),
        "first pusher unaffected"
    );

    // An RTMP player of this stream is ended with its publisher.
    let player_url = srv.urls.play_urls("dup", 5, 77, now()).rtmp;
    let mut player = Command::new(FFMPEG)
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-i",
            &player_url,
            "-f",
            "null",
            "-",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    srv.expect_event("PlayStarted", |e| {
        matches!(e, MediaEvent::PlayStarted { viewer: 77, .. })
    })
    .await;

    srv.handle.kick_publisher("dup", 5);
    // Both end, in either order: the player's connection may be seen closing first.
    let (mut publish_stopped, mut play_stopped) = (false, false);
    while !(publish_stopped && play_stopped) {
        match srv
            .expect_event("PublishStopped and PlayStopped", |e| {
                matches!(e, MediaEvent::PublishStopped { uid: 5, .. })
                    || matches!(e, MediaEvent::PlayStopped { viewer: 77, .. })
            })
            .await
        {
            MediaEvent::PublishStopped { room, .. } => {
                assert_eq!(room, "dup");
                publish_stopped = true;
            }
            _ => play_stopped = true,
        }
    }
    assert!(!srv.handle.is_publishing("dup", 5));
    let status = tokio::time::timeout(Duration::from_secs(15), first.wait()).await;
    assert!(status.is_ok(), "kicked pusher's connection was closed");
    let _ = tokio::time::timeout(Duration::from_secs(15), player.wait())
        .await
        .expect("player ended");

    // Kicking an unknown stream is a no-op; the stream can be published again.
    srv.handle.kick_publisher("dup", 6);
    let _again = push(&srv.urls.push_url("dup", 5, now()));
    srv.expect_event("PublishStarted again", is_publish_started("dup", 5))
        .await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_bad_play_urls_refused() {
    let mut srv = start().await;
    let flv = srv.flv_addr;

    // Nothing published yet: valid URL, no stream.
    let urls = srv.urls.play_urls("p", 3, 4, now());
    assert_eq!(http_status(flv, path_of(&urls.flv)).await, 404);

    let _pusher = push(&srv.urls.push_url("p", 3, now()));
    srv.expect_event("PublishStarted", is_publish_started("p", 3))
        .await;

    let sig = urls.flv.split("s=").nth(1).unwrap();
    let forged = urls.flv.replace(sig, &"A".repeat(sig.len()));
    let expired = srv.urls.play_urls("p", 3, 4, now() - 3600).flv;
    let push_as_play = srv.urls.push_url("p", 3, now()).replace(".3?", ".3.flv?");
    let push_as_play = format!("/live/p.3.flv?{}", push_as_play.split_once('?').unwrap().1);
    assert_eq!(http_status(flv, path_of(&forged)).await, 403);
    assert_eq!(http_status(flv, path_of(&expired)).await, 403);
    assert_eq!(http_status(flv, &push_as_play).await, 403);
    assert_eq!(http_status(flv, "/live/p.3.flv?k=play").await, 400);
    assert_eq!(http_status(flv, "/live/p.3?k=play").await, 404);
    assert_eq!(http_status(flv, "/nothing").await, 404);

    // RTMP: forged and push-kind URLs are refused.
    let rtmp_sig = urls.rtmp.split("s=").nth(1).unwrap();
    let rtmp_forged = urls.rtmp.replace(rtmp_sig, &"A".repeat(rtmp_sig.len()));
    let rtmp_push = srv.urls.push_url("p", 3, now());
    for url in [&rtmp_forged, &rtmp_push] {
        assert!(pull_frames(url).await.is_err(), "refused: {url:.40}");
    }
    // The real stream still plays after all that.
    let frames = pull_frames(&urls.flv).await.expect("valid FLV play");
    assert_eq!(frames.len(), 5 * W * H);
    let started: Vec<_> = srv
        .drain()
        .into_iter()
        .filter(|e| matches!(e, MediaEvent::PlayStarted { .. }))
        .collect();
    assert_eq!(started.len(), 1, "only the valid play started: {started:?}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_shutdown_is_prompt_with_live_peers() {
    let mut srv = start().await;
    let _pusher = push(&srv.urls.push_url("s", 1, now()));
    srv.expect_event("PublishStarted", is_publish_started("s", 1))
        .await;
    // An HTTP-FLV player that stays connected.
    let mut sock = tokio::net::TcpStream::connect(srv.flv_addr).await.unwrap();
    let url = srv.urls.play_urls("s", 1, 2, now()).flv;
    let req = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", path_of(&url));
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    sock.read_exact(&mut head).await.unwrap();
    assert_eq!(&head[9..12], b"200");
    srv.expect_event("PlayStarted", |e| {
        matches!(e, MediaEvent::PlayStarted { .. })
    })
    .await;

    // `stop` fails unless the server returns within its (generous) bound; how fast it does is
    // measured by scripts/bench, not decided here.
    srv.stop().await;
    // The FLV response ends.
    let mut rest = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut rest)).await;
    assert!(r.is_ok(), "FLV connection closed after shutdown");
}

/// Regression: signed play URLs with realistic ids are longer than ffmpeg's 128-byte
/// command chunks, so `play` arrives in two chunks. `rtmp-rs` then subscribed the
/// player in the middle of a socket-only read and never forwarded live media: the
/// player decoded the cached keyframe and stalled (see `pipe`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_rtmp_play_with_long_stream_names() {
    let mut srv = start().await;
    let (room, uid) = ("slice12345", 1001);
    let _pusher = push(&srv.urls.push_url(room, uid, now()));
    srv.expect_event("PublishStarted", is_publish_started(room, uid))
        .await;
    // Players arrive right after the publisher, before a GOP is cached.
    // Two players share one URL (and mirror); `v=2` keeps `play` in one chunk.
    let viewers = [9007199254740993, 9007199254740993, u64::MAX, 2];
    let players = viewers.map(|viewer| {
        let url = srv.urls.play_urls(room, uid, viewer, now()).rtmp;
        tokio::spawn(async move { (pull_frames(&url).await, url) })
    });
    for (viewer, player) in viewers.into_iter().zip(players) {
        let (frames, url) = player.await.unwrap();
        let name = url.rsplit_once('/').unwrap().1;
        let frames = frames.unwrap_or_else(|e| {
            panic!(
                "viewer {viewer}: play of a {}-byte stream name failed: {e}",
                name.len()
            )
        });
        assert_eq!(frames.len(), 5 * W * H, "viewer {viewer}: 5 frames");
    }
    let started = srv
        .drain()
        .into_iter()
        .filter(|e| matches!(e, MediaEvent::PlayStarted { uid: 1001, .. }))
        .count();
    assert_eq!(started, viewers.len());
    srv.stop().await;
}
