//! Supervisor tests with a scripted fake compositor, and end-to-end tests of the ffmpeg
//! compositor against the embedded media server (need `/usr/bin/ffmpeg` with libx264
//! and lavfi, and `/usr/bin/ffprobe`).
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | task and layout builders, the supervisor config, the scripted fake compositor |
//! | `supervisor.rs` | the supervisor's retries, stalls, timeouts, restarts and coalescing, to the millisecond on tokio's paused clock |
//! | `args.rs` | the shape of the ffmpeg command line |
//! | `e2e.rs` | ffmpeg against the embedded media server: layout, audio, recording, images, failures |
//! | `live.rs` | `mprtc-compositor` against the embedded media server: live layout changes, passthrough, refusals |
//! | `scene.rs` | what a task becomes for `mprtc-compositor`: stacking, `hostUid`, big uids, the passthrough member |

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mprtc::protocol::tasks::{
    AudioParam, Canvas, Layout, LayoutUser, RtmpTask, TaskConfig, ADAPTION_FILL, ADAPTION_FIT,
};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::media::{MediaEvent, MediaServer, MediaSigner};

mod args;
mod e2e;
mod live;
mod scene;
mod supervisor;

// ---------------------------------------------------------------------------
// Helpers

fn key(id: &str) -> TaskKey {
    TaskKey {
        app: "app1".into(),
        room: "room1".into(),
        task_id: id.into(),
    }
}

fn user(uid: u64, x: u32, y: u32, w: u32, h: u32, adaption: u8, z: i32) -> LayoutUser {
    LayoutUser {
        uid,
        x,
        y,
        width: w,
        height: h,
        adaption,
        z_order: z,
        push_audio: true,
        push_video: true,
    }
}

fn task(id: &str, url: &str, users: Vec<LayoutUser>) -> RtmpTask {
    RtmpTask {
        task_id: id.into(),
        stream_url: url.into(),
        record: false,
        host_uid: None,
        layout: Layout {
            canvas: Canvas {
                width: 1280,
                height: 720,
                color: 0x0000FF,
            },
            users,
            images: vec![],
        },
        config: TaskConfig::default(),
        extra_info: String::new(),
    }
}

async fn next_state(
    rx: &mut UnboundedReceiver<(TaskKey, TaskState)>,
    secs: u64,
) -> (TaskKey, TaskState) {
    tokio::time::timeout(Duration::from_secs(secs), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no task state within {secs} s"))
        .expect("status channel open")
}

fn quick_config() -> SupervisorConfig {
    SupervisorConfig {
        start_timeout: Duration::from_millis(400),
        stall_timeout: Duration::from_millis(300),
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        healthy_reset: Duration::from_secs(30),
        restart_debounce: Duration::from_millis(20),
        min_restart_interval: Duration::from_millis(20),
    }
}

// ---------------------------------------------------------------------------
// Fake compositor

#[derive(Clone, Debug)]
enum Script {
    /// Exits at once with this reason.
    Exit(&'static str),
    /// Reports `n` advancing progress events 50 ms apart, then hangs.
    ProgressThenHang(u64),
    /// Reports advancing progress forever.
    Healthy,
    /// Reports advancing progress forever but never takes a live scene: its update waits
    /// without end, as a write to a compositor that stopped reading its stdin does.
    Deaf,
}

#[derive(Default)]
struct FakeLog {
    starts: Vec<(Instant, TaskSpec)>,
    kills: usize,
}

struct FakeRunner {
    scripts: Mutex<VecDeque<Script>>,
    default: Script,
    log: Arc<Mutex<FakeLog>>,
}

impl FakeRunner {
    fn new(scripts: Vec<Script>, default: Script) -> (Arc<Self>, Arc<Mutex<FakeLog>>) {
        let log = Arc::new(Mutex::new(FakeLog::default()));
        (
            Arc::new(Self {
                scripts: Mutex::new(scripts.into()),
                default,
                log: log.clone(),
            }),
            log,
        )
    }
}

struct FakeComp {
    script: Script,
    sent: u64,
    killed: bool,
    log: Arc<Mutex<FakeLog>>,
}

impl CompositorRunner for FakeRunner {
    fn start(
        &self,
        spec: &TaskSpec,
        _images: &[Option<LocalImage>],
        _record: Option<&Path>,
    ) -> Result<Box<dyn Compositor>, Failure> {
        let script = self
            .scripts
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.default.clone());
        self.log
            .lock()
            .unwrap()
            .starts
            .push((Instant::now(), spec.clone()));
        Ok(Box::new(FakeComp {
            script,
            sent: 0,
            killed: false,
            log: self.log.clone(),
        }))
    }
}

impl Compositor for FakeComp {
    fn next_event(&mut self) -> BoxFuture<'_, CompositorEvent> {
        Box::pin(async move {
            match self.script {
                Script::Exit(r) => CompositorEvent::Exited(r.to_owned()),
                Script::ProgressThenHang(n) if self.sent >= n => std::future::pending().await,
                _ => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    self.sent += 1;
                    CompositorEvent::Progress {
                        frames: self.sent,
                        out_time_us: self.sent * 66_000,
                    }
                }
            }
        })
    }

    fn kill(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if !self.killed {
                self.killed = true;
                self.log.lock().unwrap().kills += 1;
            }
        })
    }

    fn pid(&self) -> Option<u32> {
        None
    }

    fn update<'a>(
        &'a mut self,
        _spec: &'a TaskSpec,
        _images: &'a [Option<LocalImage>],
    ) -> BoxFuture<'a, bool> {
        let deaf = matches!(self.script, Script::Deaf);
        Box::pin(async move {
            if deaf {
                std::future::pending::<()>().await;
            }
            false
        })
    }
}

/// A supervisor of `runner` with [`quick_config`] and no recordings directory, and the
/// receiver of the task states it reports.
fn quick_supervisor(
    runner: Arc<FakeRunner>,
) -> (Supervisor, UnboundedReceiver<(TaskKey, TaskState)>) {
    let (tx, rx) = unbounded_channel();
    let sup = Supervisor::with_config(runner, "/nonexistent".into(), tx, quick_config());
    (sup, rx)
}

fn fake_spec(id: &str) -> TaskSpec {
    spec(task(id, "rtmp://127.0.0.1/live/x", vec![]), &[])
}

/// `task` with its `inputs` as (uid, play URL).
fn spec(task: RtmpTask, inputs: &[(u64, String)]) -> TaskSpec {
    let inputs = inputs
        .iter()
        .map(|(uid, url)| TaskInput {
            uid: *uid,
            url: url.clone(),
        })
        .collect();
    TaskSpec { task, inputs }
}

/// Audio at 44.1 kHz with `bit_rate` kbit/s, `channels` and `codec_profile`.
fn audio(bit_rate: u32, channels: u8, codec_profile: u8) -> Option<AudioParam> {
    Some(AudioParam {
        bit_rate,
        channels,
        codec_profile,
        sample_rate: 44100,
        single_video_no_trans: false,
    })
}

/// Polls `f` every 100 ms until it holds; fails the test after `secs` seconds.
async fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
