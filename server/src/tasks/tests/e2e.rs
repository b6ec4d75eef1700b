//! End to end with ffmpeg and the embedded media server (needs `/usr/bin/ffmpeg` with libx264
//! and lavfi, and `/usr/bin/ffprobe`).

use super::*;
use crate::media::tests::{output_within, publish_lavfi, FFMPEG};

const FFPROBE: &str = "/usr/bin/ffprobe";
const SECRET: &[u8] = b"tasks-test-secret";

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub(super) struct Media {
    pub(super) urls: MediaSigner,
    events: UnboundedReceiver<MediaEvent>,
    shutdown: CancellationToken,
    handle: crate::media::EmbeddedHandle,
}

impl Media {
    pub(super) async fn start() -> Self {
        let m = crate::media::tests::start_media(SECRET, 600).await;
        Self {
            urls: m.urls,
            events: m.events,
            shutdown: m.shutdown,
            handle: m.handle,
        }
    }

    pub(super) async fn wait_publishing(&mut self, room: &str, uid: u64) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.handle.is_publishing(room, uid) {
            assert!(Instant::now() < deadline, "{room}.{uid} never published");
            let _ = tokio::time::timeout(Duration::from_millis(200), self.events.recv()).await;
        }
    }

    pub(super) fn play(&self, room: &str, uid: u64) -> String {
        self.urls.play_urls(room, uid, 9000 + uid, now()).rtmp
    }
}

impl Drop for Media {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Publishes a solid colour (320x240) with a 440 Hz tone.
pub(super) fn publish_colour(url: &str, colour: &str) -> Child {
    publish_lavfi(
        url,
        &format!("color=c={colour}:s=320x240:r=15"),
        "sine=frequency=440:sample_rate=48000",
        &["-pix_fmt", "yuv420p"],
    )
}

/// One decoded RGB frame of `url` (skipping the first `skip` frames).
pub(super) async fn grab_rgb(url: &str, skip: u32) -> Vec<u8> {
    let select = format!("select=gte(n\\,{skip})");
    let out = ["-an", "-vf", &select, "-frames:v", "1", "-f", "rawvideo"];
    read_with_ffmpeg(url, &out, &["-pix_fmt", "rgb24", "-"], 15).await
}

/// What ffmpeg writes to stdout reading `url` with the output options `a` then `b`, within
/// `secs` seconds.
pub(super) async fn read_with_ffmpeg(url: &str, a: &[&str], b: &[&str], secs: u64) -> Vec<u8> {
    let mut cmd = Command::new(FFMPEG);
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-rw_timeout", "10000000", "-i", url])
        .args(a)
        .args(b);
    output_within(&mut cmd, secs)
        .await
        .unwrap_or_else(|e| panic!("ffmpeg reading {url}: {e}"))
}

/// `codec_type,width,height,sample_rate,channels` of each stream of `url`.
pub(super) async fn probe(url: &str) -> String {
    let mut cmd = Command::new(FFPROBE);
    cmd.args(["-v", "error", "-rw_timeout", "10000000"])
        .args([
            "-show_entries",
            "stream=codec_name,codec_type,width,height,sample_rate,channels",
        ])
        .args(["-of", "compact=p=0:nk=0", url]);
    let out = output_within(&mut cmd, 15)
        .await
        .unwrap_or_else(|e| panic!("probe: {e}"));
    String::from_utf8(out).unwrap()
}

pub(super) fn pixel(frame: &[u8], w: usize, x: usize, y: usize) -> [u8; 3] {
    let i = (y * w + x) * 3;
    [frame[i], frame[i + 1], frame[i + 2]]
}

pub(super) fn near(p: [u8; 3], want: [u8; 3]) -> bool {
    p.iter()
        .zip(want)
        .all(|(a, b)| (i32::from(*a) - i32::from(b)).abs() <= 48)
}

pub(super) fn alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie would still have one.
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_composes_layout_audio_and_record() {
    let mut media = Media::start().await;
    let mut red = publish_colour(&media.urls.push_url("r", 1, now()), "0xFF0000");
    let mut green = publish_colour(&media.urls.push_url("r", 2, now()), "0x00FF00");
    media.wait_publishing("r", 1).await;
    media.wait_publishing("r", 2).await;

    let out_url = media.urls.push_url("mix", 99, now());
    let mut t = task(
        "t1",
        &out_url,
        vec![
            // Fill: 320x240 cropped into 640x360 at the top left.
            user(1, 0, 0, 640, 360, ADAPTION_FILL, 0),
            // Fit: 480x360 centred in 640..1280 x 360..720 (x 720..1200), canvas aside.
            user(2, 640, 360, 640, 360, ADAPTION_FIT, 1),
        ],
    );
    t.record = true;
    t.config.audio_param = audio(64, 1, 0);
    let spec = spec(t, &[(1, media.play("r", 1)), (2, media.play("r", 2))]);
    let rec_dir = std::env::temp_dir().join(format!("mprtc-tasks-test-{}", std::process::id()));
    let (tx, mut rx) = unbounded_channel();
    let sup = Supervisor::new(Arc::new(FfmpegRunner::new(FFMPEG)), rec_dir.clone(), tx);
    let started = Instant::now();
    sup.apply(key("t1"), spec);
    assert_eq!(
        next_state(&mut rx, 20).await,
        (key("t1"), TaskState::Pushing)
    );
    eprintln!("Pushing after {:?}", started.elapsed());
    let pid = sup.compositor_pid(&key("t1")).expect("compositor pid");
    assert!(alive(pid));

    let play = media.play("mix", 99);
    let streams = probe(&play).await;
    eprintln!("output streams:\n{streams}");
    assert!(
        streams.contains("codec_name=h264|codec_type=video|width=1280|height=720"),
        "{streams}"
    );
    assert!(
        streams.contains("codec_name=aac|codec_type=audio|sample_rate=44100|channels=1"),
        "{streams}"
    );

    let frame = grab_rgb(&play, 5).await;
    assert_eq!(frame.len(), 1280 * 720 * 3);
    let w = 1280;
    for (x, y, want, what) in [
        (320, 180, [255, 0, 0], "red user (fill)"),
        (20, 20, [255, 0, 0], "red user corner (fill covers)"),
        (620, 340, [255, 0, 0], "red user far corner"),
        (960, 540, [0, 255, 0], "green user (fit)"),
        (730, 370, [0, 255, 0], "green user left edge"),
        (660, 540, [0, 0, 255], "fit user's letterbox: canvas"),
        (1260, 540, [0, 0, 255], "letterbox right"),
        (960, 180, [0, 0, 255], "canvas top right"),
        (320, 540, [0, 0, 255], "canvas bottom left"),
    ] {
        let p = pixel(&frame, w, x, y);
        assert!(
            near(p, want),
            "{what} at ({x},{y}): got {p:?}, want {want:?}"
        );
    }

    sup.stop(&key("t1"));
    assert_eq!(next_state(&mut rx, 10).await.1, TaskState::Ended);
    assert!(!alive(pid), "compositor {pid} still exists after Ended");
    assert!(rx.try_recv().is_err());

    // The recording: <dir>/app1/room1/t1-<unix>.flv, a playable FLV with both streams.
    let dir = rec_dir.join("app1").join("room1");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.starts_with("t1-") && name.ends_with(".flv"), "{name}");
    let rec = probe(files[0].to_str().unwrap()).await;
    assert!(
        rec.contains("width=1280|height=720") && rec.contains("sample_rate=44100"),
        "{rec}"
    );
    let _ = std::fs::remove_dir_all(&rec_dir);
    sup.shutdown().await;
    // Reap the publishers too (a test process leaves unreaped children to init).
    red.kill().await.unwrap();
    green.kill().await.unwrap();
}

/// Counts starts of the ffmpeg runner.
struct Counting {
    inner: FfmpegRunner,
    starts: AtomicUsize,
}

impl CompositorRunner for Counting {
    fn start(
        &self,
        spec: &TaskSpec,
        images: &[Option<LocalImage>],
        record: Option<&Path>,
    ) -> Result<Box<dyn Compositor>, Failure> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        self.inner.start(spec, images, record)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_unreachable_output_fails_and_retries() {
    let runner = Arc::new(Counting {
        inner: FfmpegRunner::new(FFMPEG),
        starts: AtomicUsize::new(0),
    });
    let (tx, mut rx) = unbounded_channel();
    let sup = Supervisor::new(runner.clone(), std::env::temp_dir(), tx);
    let spec = spec(task("bad", "rtmp://127.0.0.1:1/live/x", vec![]), &[]);
    sup.apply(key("bad"), spec);
    match next_state(&mut rx, 10).await.1 {
        TaskState::Failed(r) => {
            eprintln!("reason: {r:?}");
            assert_eq!(r.code, FailCode::ConnectFailed, "{r:?}");
            assert!(r.detail.contains("Connection refused"), "{r:?}");
        }
        s => panic!("expected Failed, got {s:?}"),
    }
    // Retries after 1 s, then 2 s.
    wait_for("two retries", 30, || {
        runner.starts.load(Ordering::SeqCst) >= 3
    })
    .await;
    sup.stop(&key("bad"));
    assert_eq!(next_state(&mut rx, 10).await.1, TaskState::Ended);
    assert!(rx.try_recv().is_err(), "same failure reported twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_publisher_leaving_does_not_stop_output() {
    let mut media = Media::start().await;
    let mut red = publish_colour(&media.urls.push_url("p", 1, now()), "0xFF0000");
    media.wait_publishing("p", 1).await;
    let lv = task(
        "lv",
        &media.urls.push_url("mix2", 7, now()),
        vec![user(1, 0, 0, 640, 360, ADAPTION_FILL, 0)],
    );
    let spec = spec(lv, &[(1, media.play("p", 1))]);
    let (tx, mut rx) = unbounded_channel();
    let sup = Supervisor::new(
        Arc::new(FfmpegRunner::new(FFMPEG)),
        std::env::temp_dir(),
        tx,
    );
    sup.apply(key("lv"), spec);
    assert_eq!(next_state(&mut rx, 20).await.1, TaskState::Pushing);
    let pid = sup.compositor_pid(&key("lv")).unwrap();
    red.kill().await.unwrap();
    // Output keeps flowing (each grab needs live frames) and the canvas comes back where the
    // user was, once ffmpeg has seen its input end: waited for, within a generous deadline.
    let out = media.play("mix2", 7);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = pixel(&grab_rgb(&out, 3).await, 1280, 320, 180);
        if near(p, [0, 0, 255]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the departed user's rect never showed the canvas: {p:?}"
        );
    }
    assert!(rx.try_recv().is_err(), "no failure when a publisher leaves");
    assert_eq!(sup.compositor_pid(&key("lv")), Some(pid), "same compositor");
    sup.shutdown().await;
    assert_eq!(next_state(&mut rx, 5).await.1, TaskState::Ended);
    assert!(!alive(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_shutdown_leaves_no_child() {
    let media = Media::start().await;
    let (tx, mut rx) = unbounded_channel();
    let sup = Supervisor::new(
        Arc::new(FfmpegRunner::new(FFMPEG)),
        std::env::temp_dir(),
        tx,
    );
    for (i, id) in ["a", "b"].iter().enumerate() {
        let mut t = task(id, &media.urls.push_url("sd", i as u64, now()), vec![]);
        t.layout.canvas = Canvas {
            width: 320,
            height: 240,
            color: 0x336699,
        };
        sup.apply(key(id), spec(t, &[]));
    }
    let mut pushing = 0;
    while pushing < 2 {
        if next_state(&mut rx, 20).await.1 == TaskState::Pushing {
            pushing += 1;
        }
    }
    let pids: Vec<u32> = ["a", "b"]
        .iter()
        .map(|id| sup.compositor_pid(&key(id)).unwrap())
        .collect();
    assert!(pids.iter().all(|p| alive(*p)));
    sup.shutdown().await;
    for p in &pids {
        assert!(!alive(*p), "compositor {p} survived shutdown");
    }
    let mut ended = 0;
    while let Ok((_, s)) = rx.try_recv() {
        assert_eq!(s, TaskState::Ended);
        ended += 1;
    }
    assert_eq!(ended, 2);
}

/// A one-shot-per-connection HTTP server: `/logo.png` is a 64x64 yellow PNG, anything
/// else is 404.
pub(super) async fn image_server() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let png = Command::new(FFMPEG)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "color=c=0xFFFF00:s=64x64",
            "-frames:v",
            "1",
        ])
        .args(["-f", "image2pipe", "-c:v", "png", "-"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap()
        .stdout;
    assert!(png.starts_with(b"\x89PNG"));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let png = png.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let resp = if req.starts_with("GET /logo.png ") {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        png.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&png);
                    r
                } else {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                };
                let _ = s.write_all(&resp).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_overlays_images_and_reports_missing_ones() {
    use mprtc::protocol::tasks::LayoutImage;
    let media = Media::start().await;
    let http = image_server().await;
    let mut t = task("img", &media.urls.push_url("im", 1, now()), vec![]);
    t.layout.images = vec![LayoutImage {
        url: format!("http://{http}/logo.png"),
        x: 100,
        y: 100,
        width: 200,
        height: 100,
        adaption: ADAPTION_FIT, // 100x100, centred: x 150..250
    }];
    let (tx, mut rx) = unbounded_channel();
    // Tests only have loopback: the operator switch that allows private image hosts.
    let fetcher = ImageFetcher::new(&TaskPolicy {
        image_allow_private: true,
        ..TaskPolicy::default()
    })
    .unwrap();
    let sup = Supervisor::new(
        Arc::new(FfmpegRunner::new(FFMPEG)),
        std::env::temp_dir(),
        tx,
    )
    .with_policy(
        Some(Arc::new(fetcher)),
        OutputPolicy {
            allow_private: true,
            ..OutputPolicy::default()
        },
    );
    sup.apply(key("img"), spec(t.clone(), &[]));
    assert_eq!(next_state(&mut rx, 20).await.1, TaskState::Pushing);
    let frame = grab_rgb(&media.play("im", 1), 3).await;
    for (x, y, want) in [
        (200, 150, [255, 255, 0]),
        (155, 105, [255, 255, 0]),
        (120, 150, [0, 0, 255]),
        (280, 150, [0, 0, 255]),
        (640, 360, [0, 0, 255]),
    ] {
        let p = pixel(&frame, 1280, x, y);
        assert!(near(p, want), "({x},{y}): got {p:?}, want {want:?}");
    }
    // Same task, image gone: a restart that fails with a reason naming the problem.
    t.layout.images[0].url = format!("http://{http}/missing.png");
    sup.apply(key("img"), spec(t, &[]));
    match next_state(&mut rx, 20).await.1 {
        TaskState::Failed(r) => {
            eprintln!("reason: {r:?}");
            assert_eq!(r.code, FailCode::ImageFetchFailed, "{r:?}");
            assert!(r.detail.contains("404"), "{r:?}");
        }
        s => panic!("expected Failed, got {s:?}"),
    }
    sup.shutdown().await;
    assert_eq!(next_state(&mut rx, 5).await.1, TaskState::Ended);
}
