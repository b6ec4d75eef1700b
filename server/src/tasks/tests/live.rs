//! The live compositor (`mprtc-compositor`, built beside this test binary by
//! `cargo build -p mprtc-compositor`) against the embedded media server: layouts changed
//! while a viewer reads the output, checked pixel by pixel, with the output's timestamps
//! showing no gap, one process and one recording file; `singleVideoNoTrans` packets
//! compared bit for bit; HE-AAC refused with its field named.

use std::collections::HashSet;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::e2e::{alive, now, probe, publish_colour, Media};
use super::*;
use crate::media::tests::{publish_lavfi, FFMPEG};

/// The viewer's picture: the output scaled down to this (a quarter of 640x360).
const VW: usize = 160;
const VH: usize = 90;

fn live_runner() -> LiveRunner {
    let r = LiveRunner::new(FFMPEG);
    assert!(
        r.compositor.is_file(),
        "{} missing: run `cargo build -p mprtc-compositor` first",
        r.compositor.display()
    );
    r
}

/// A viewer reading the output continuously: the latest decoded frame (scaled to VWxVH)
/// and every frame's timestamp.
struct Viewer {
    frame: Arc<Mutex<Option<Vec<u8>>>>,
    pts: Arc<Mutex<Vec<f64>>>,
    child: Child,
}

impl Viewer {
    fn start(url: &str) -> Self {
        let mut child = Command::new(FFMPEG)
            .args(["-hide_banner", "-loglevel", "info", "-nostdin"])
            // One decoding thread, as a live player: no frame-threading delay.
            .args(["-rw_timeout", "10000000", "-threads", "1", "-i", url, "-an"])
            .args(["-vf", &format!("scale={VW}:{VH},showinfo")])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn viewer");
        let frame = Arc::new(Mutex::new(None));
        let pts = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().unwrap();
        let f = frame.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; VW * VH * 3];
            while out.read_exact(&mut buf).await.is_ok() {
                *f.lock().unwrap() = Some(buf.clone());
            }
        });
        let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
        let p = pts.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err.next_line().await {
                let Some(rest) = line.split("pts_time:").nth(1) else {
                    continue;
                };
                if let Some(t) = rest.split_whitespace().next().and_then(|t| t.parse().ok()) {
                    p.lock().unwrap().push(t);
                }
            }
        });
        Self { frame, pts, child }
    }

    /// Waits until the latest frame has every `(x, y, rgb)` of `want` (canvas coordinates
    /// of the 640x360 output); returns how long that took.
    async fn wait_for(&self, what: &str, want: &[(usize, usize, [u8; 3])]) -> Duration {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(20);
        loop {
            let got: Option<Vec<[u8; 3]>> = self.frame.lock().unwrap().as_ref().map(|f| {
                want.iter()
                    .map(|(x, y, _)| super::e2e::pixel(f, VW, x / 4, y / 4))
                    .collect()
            });
            if let Some(g) = &got {
                if g.iter().zip(want).all(|(p, w)| super::e2e::near(*p, w.2)) {
                    return t0.elapsed();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{what}: never seen; last {got:?}, want {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The largest step between consecutive frame timestamps, and the frame count.
    fn largest_gap(&self) -> (f64, usize) {
        let p = self.pts.lock().unwrap();
        let gap = p.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        (gap, p.len())
    }
}

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const WHITE: [u8; 3] = [255, 255, 255];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_layout_changes_keep_one_process_one_file_and_no_gap() {
    let mut media = Media::start().await;
    let mut red = publish_colour(&media.urls.push_url("r", 1, now()), "0xFF0000");
    let mut green = publish_colour(&media.urls.push_url("r", 2, now()), "0x00FF00");
    media.wait_publishing("r", 1).await;
    media.wait_publishing("r", 2).await;
    let inputs = [(1, media.play("r", 1)), (2, media.play("r", 2))];
    let out_url = media.urls.push_url("mix", 99, now());
    let layout = |users: Vec<LayoutUser>, color: u32| {
        let mut t = task("lv", &out_url, users);
        t.layout.canvas = Canvas {
            width: 640,
            height: 360,
            color,
        };
        t.record = true;
        spec(t, &inputs)
    };
    let rec_dir = std::env::temp_dir().join(format!("mprtc-live-test-{}", std::process::id()));
    let (tx, mut rx) = unbounded_channel();
    let sup = Supervisor::new(Arc::new(live_runner()), rec_dir.clone(), tx);
    sup.apply(
        key("lv"),
        layout(
            vec![
                user(1, 0, 0, 320, 180, ADAPTION_FILL, 1),
                user(2, 320, 180, 320, 180, ADAPTION_FILL, 2),
            ],
            0x0000FF,
        ),
    );
    assert_eq!(
        next_state(&mut rx, 30).await,
        (key("lv"), TaskState::Pushing)
    );
    let pid = sup.compositor_pid(&key("lv")).expect("compositor pid");
    let viewer = Viewer::start(&media.play("mix", 99));
    viewer
        .wait_for(
            "first layout",
            &[(160, 90, RED), (480, 270, GREEN), (480, 90, BLUE)],
        )
        .await;

    // Each step: its users (uid, x, y, zOrder; 320x180, fill), canvas colour, what shows.
    type Step = (
        &'static str,
        &'static [(u64, u32, u32, i32)],
        u32,
        Vec<(usize, usize, [u8; 3])>,
    );
    let steps: [Step; 3] = [
        (
            "moved, restacked, new canvas colour: red over green",
            &[(1, 160, 90, 5), (2, 0, 0, 1)],
            0xFFFFFF,
            vec![(240, 135, RED), (60, 40, GREEN), (560, 320, WHITE)],
        ),
        (
            "green leaves the layout",
            &[(1, 160, 90, 5)],
            0xFFFFFF,
            vec![(60, 40, WHITE), (240, 135, RED)],
        ),
        (
            "green joins again, on top",
            &[(1, 160, 90, 1), (2, 320, 180, 2)],
            0x0000FF,
            vec![(400, 220, GREEN), (200, 120, RED), (60, 40, BLUE)],
        ),
    ];
    let steps = steps.into_iter().map(|(what, users, color, want)| {
        let users = users
            .iter()
            .map(|&(uid, x, y, z)| user(uid, x, y, 320, 180, ADAPTION_FILL, z))
            .collect();
        (what, layout(users, color), want)
    });
    for (what, s, want) in steps {
        sup.apply(key("lv"), s);
        let took = viewer.wait_for(what, &want).await;
        eprintln!("{what}: visible after {took:?}");
    }
    let (gap, frames) = viewer.largest_gap();
    eprintln!("largest gap between output frames: {gap:.3} s over {frames} frames");
    assert!(frames > 30, "{frames} frames");
    // 15 fps: 67 ms a frame (the benchmark sees exactly that). A restart is a gap of seconds;
    // the bound leaves room for a starved CPU (a loaded test machine skips a few frames).
    assert!(gap < 1.0, "output stopped for {gap} s");
    assert_eq!(
        sup.compositor_pid(&key("lv")),
        Some(pid),
        "compositor restarted"
    );
    assert_eq!(sup.sample().restarts, 0);
    assert!(rx.try_recv().is_err(), "a state change during live updates");

    sup.stop(&key("lv"));
    assert_eq!(next_state(&mut rx, 15).await.1, TaskState::Ended);
    assert!(!alive(pid));
    let dir = rec_dir.join("app1").join("room1");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one recording across layout changes: {files:?}"
    );
    let rec = probe(files[0].to_str().unwrap()).await;
    assert!(rec.contains("width=640|height=360"), "{rec}");
    let _ = std::fs::remove_dir_all(&rec_dir);
    sup.shutdown().await;
    drop(viewer.child);
    red.kill().await.unwrap();
    green.kill().await.unwrap();
}

/// md5 of each of the first `n` video packets of `url`, copied, never decoded.
async fn packet_hashes(url: &str, n: u32) -> Vec<String> {
    let n = n.to_string();
    let copy = ["-map", "0:v", "-c", "copy", "-frames:v", &n];
    let out = super::e2e::read_with_ffmpeg(url, &copy, &["-f", "framemd5", "-"], 30).await;
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_video_no_trans_copies_video_packets_bit_for_bit() {
    let mut media = Media::start().await;
    // A moving picture: every frame's packet differs.
    let mut src = publish_lavfi(
        &media.urls.push_url("nt", 1, now()),
        "testsrc=s=320x240:r=15",
        "sine=frequency=440:sample_rate=48000",
        &["-pix_fmt", "yuv420p"],
    );
    media.wait_publishing("nt", 1).await;
    let mut t = task(
        "nt",
        &media.urls.push_url("ntout", 5, now()),
        vec![user(1, 0, 0, 640, 360, ADAPTION_FIT, 0)],
    );
    t.config.single_video_no_trans = true;
    let (tx, mut rx) = unbounded_channel();
    let sup = Supervisor::new(Arc::new(live_runner()), std::env::temp_dir(), tx);
    // The member's packets from before the task starts (150: 10 s), so that every packet the
    // output can carry is among them however late the output is read.
    let member_url = media.play("nt", 1);
    let input = tokio::spawn(async move { packet_hashes(&member_url, 150).await });
    sup.apply(key("nt"), spec(t, &[(1, media.play("nt", 1))]));
    assert_eq!(next_state(&mut rx, 30).await.1, TaskState::Pushing);
    let output = packet_hashes(&media.play("ntout", 5), 30).await;
    let input = input.await.unwrap();
    let input: HashSet<_> = input.into_iter().collect();
    assert_eq!(output.len(), 30);
    let copied = output.iter().filter(|h| input.contains(*h)).count();
    assert_eq!(
        copied,
        output.len(),
        "packets not found in the member's stream"
    );
    let streams = probe(&media.play("ntout", 5)).await;
    assert!(
        streams.contains("width=320|height=240"),
        "not re-scaled: {streams}"
    );
    sup.stop(&key("nt"));
    assert_eq!(next_state(&mut rx, 15).await.1, TaskState::Ended);
    sup.shutdown().await;
    src.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn he_aac_without_an_encoder_is_refused_naming_the_field() {
    let media = Media::start().await;
    let mut t = task("he", &media.urls.push_url("heout", 5, now()), vec![]);
    t.config.audio_param = audio(48, 2, 1);
    let (tx, mut rx) = unbounded_channel();
    let sup = Supervisor::new(Arc::new(live_runner()), std::env::temp_dir(), tx);
    sup.apply(key("he"), spec(t, &[]));
    let runner = live_runner();
    if he_aac_available(&runner.compositor) {
        // An encoder exists here: the task runs with it instead.
        assert_eq!(next_state(&mut rx, 30).await.1, TaskState::Pushing);
        sup.shutdown().await;
        return;
    }
    match next_state(&mut rx, 30).await.1 {
        TaskState::Failed(f) => {
            assert_eq!(f.code, FailCode::Unsupported, "{f:?}");
            assert!(f.detail.contains("output.audio.he_aac"), "{f:?}");
        }
        s => panic!("expected a refusal, got {s:?}"),
    }
    sup.stop(&key("he"));
    assert_eq!(next_state(&mut rx, 15).await.1, TaskState::Ended);
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_images_move_and_go_without_a_restart() {
    use mprtc::protocol::tasks::LayoutImage;
    let media = Media::start().await;
    let http = super::e2e::image_server().await;
    let out_url = media.urls.push_url("liveimg", 1, now());
    // The 64x64 yellow logo at (x, y, w, h); none for an empty list.
    let with_images = |rects: &[(u32, u32, u32, u32)]| {
        let mut t = task("li", &out_url, vec![]);
        t.layout.canvas = Canvas {
            width: 640,
            height: 360,
            color: 0x0000FF,
        };
        t.layout.images = rects
            .iter()
            .map(|&(x, y, width, height)| LayoutImage {
                url: format!("http://{http}/logo.png"),
                x,
                y,
                width,
                height,
                adaption: ADAPTION_FIT,
            })
            .collect();
        spec(t, &[])
    };
    let fetcher = ImageFetcher::new(&TaskPolicy {
        image_allow_private: true,
        ..TaskPolicy::default()
    })
    .unwrap();
    let outputs = OutputPolicy {
        allow_private: true,
        ..OutputPolicy::default()
    };
    let (tx, mut rx) = unbounded_channel();
    let sup = Supervisor::new(Arc::new(live_runner()), std::env::temp_dir(), tx)
        .with_policy(Some(Arc::new(fetcher)), outputs);
    // Fit: 100x100 centred in 200x100, x 150..250.
    sup.apply(key("li"), with_images(&[(100, 100, 200, 100)]));
    assert_eq!(next_state(&mut rx, 30).await.1, TaskState::Pushing);
    let pid = sup.compositor_pid(&key("li")).expect("compositor pid");
    let viewer = Viewer::start(&media.play("liveimg", 1));
    const YELLOW: [u8; 3] = [255, 255, 0];
    viewer
        .wait_for("image", &[(200, 150, YELLOW), (120, 150, BLUE)])
        .await;
    sup.apply(key("li"), with_images(&[(400, 200, 100, 100)]));
    viewer
        .wait_for("image moved", &[(450, 250, YELLOW), (200, 150, BLUE)])
        .await;
    sup.apply(key("li"), with_images(&[]));
    viewer.wait_for("image gone", &[(450, 250, BLUE)]).await;
    assert_eq!(
        sup.compositor_pid(&key("li")),
        Some(pid),
        "compositor restarted"
    );
    assert!(rx.try_recv().is_err(), "a state change during live updates");
    sup.shutdown().await;
    assert_eq!(next_state(&mut rx, 15).await.1, TaskState::Ended);
    drop(viewer.child);
}

/// What `mprtc-compositor` answers to `input` on stdin: its exit code and its event lines.
async fn compositor_answer(input: Vec<u8>) -> (Option<i32>, Vec<serde_json::Value>) {
    use tokio::io::AsyncWriteExt;
    let mut child = Command::new(live_runner().compositor)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // It may stop reading early (a refused first line): a broken pipe is an answer too.
    let _ = stdin.write_all(&input).await;
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the compositor answers")
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out.status.code(), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_commands_get_typed_errors_naming_the_field() {
    let start = |member_url: &str, fps: u32| {
        json!({"cmd": "start",
               "output": {"url": "rtmp://127.0.0.1:1/live/x", "record": null, "width": 640,
                          "height": 360, "fps": fps, "video_kbps": 800,
                          "audio": {"rate": 48000, "channels": 2, "kbps": 64, "he_aac": false}},
               "scene": {"canvas": 0, "images": [],
                         "members": [{"uid": 1, "url": member_url, "video": null, "audio": true}]}})
        .to_string()
    };
    let mut long = vec![b'x'; 300 * 1024];
    long.push(b'\n');
    for (input, code, field) in [
        (long, "bad_command", "line"),
        (b"{\"cmd\":\"launch\"}\n".to_vec(), "bad_command", "line"),
        (b"\xff\xfe\n".to_vec(), "bad_command", "line"),
        (
            format!("{}\n", start("file:///etc/passwd", 15)).into_bytes(),
            "bad_value",
            "scene.members[0].url",
        ),
        (
            format!("{}\n", start("rtmp://127.0.0.1:1/live/m", 0)).into_bytes(),
            "bad_value",
            "output.fps",
        ),
    ] {
        let (status, events) = compositor_answer(input).await;
        assert_eq!(status, Some(2), "{events:?}");
        let e = events.last().expect("an error event");
        assert_eq!(
            (&e["event"], &e["code"], &e["field"]),
            (&json!("error"), &json!(code), &json!(field)),
            "{events:?}"
        );
    }
}
