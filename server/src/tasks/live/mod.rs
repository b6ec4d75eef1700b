//! The live compositor: one `mprtc-compositor` process per task (GStreamer's `compositor`
//! and `audiomixer`), driven over its stdin with JSON lines.
//!
//! A new layout, members joining or leaving, images and the canvas colour reach the running
//! process as a new scene: the output never stops, the recording stays one file. Only a
//! change of the output itself (destination, canvas size, audio parameters, recording on or
//! off) starts a new process. `singleVideoNoTrans` is not composed at all: the
//! [`FfmpegRunner`] copies the member's video packets (see its `copy` module).
//!
//! Why its own process: a GStreamer crash or leak costs one task a restart, never the server;
//! and the server binary does not link GStreamer.

pub(super) mod scene;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

use super::ffmpeg::passthrough_input;
use super::process::{child_parts, ChildCompositor, Protocol};
use super::{
    BoxFuture, Compositor, CompositorEvent, CompositorRunner, FailCode, Failure, FfmpegRunner,
    LocalImage, TaskSpec,
};

/// Output frame rate when the task does not say (its client API has no field for it).
pub const DEFAULT_FPS: u32 = 15;

/// Starts live compositors (and passthrough pushes through ffmpeg).
#[derive(Debug, Clone)]
pub struct LiveRunner {
    /// The `mprtc-compositor` binary.
    pub compositor: PathBuf,
    /// Output frames per second.
    pub fps: u32,
    /// Runs `singleVideoNoTrans` tasks.
    pub ffmpeg: FfmpegRunner,
    /// How long a stopped compositor gets to close its outputs before SIGKILL.
    pub stop_grace: Duration,
}

/// Where `mprtc-compositor` is: beside the running executable (an install, or cargo's
/// target directory; a test binary sits one level deeper, in `deps/`), else on the `PATH`.
pub fn default_compositor() -> PathBuf {
    let name = "mprtc-compositor";
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(2) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    PathBuf::from(name)
}

/// Whether the compositor at `path` can encode HE-AAC (it says so on `--capabilities`;
/// one that cannot run cannot).
pub fn he_aac_available(path: &Path) -> bool {
    std::process::Command::new(path)
        .arg("--capabilities")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|v| v["he_aac"].as_bool())
        .unwrap_or(false)
}

impl LiveRunner {
    /// Live compositors from [`default_compositor`]; `ffmpeg` for passthrough.
    pub fn new(ffmpeg: impl Into<PathBuf>) -> Self {
        Self {
            compositor: default_compositor(),
            fps: DEFAULT_FPS,
            ffmpeg: FfmpegRunner::new(ffmpeg),
            stop_grace: Duration::from_secs(3),
        }
    }

    fn spawn(&self, spec: &TaskSpec) -> Result<tokio::process::Child, Failure> {
        let mut cmd = match &self.ffmpeg.pdeathsig_wrapper {
            Some(w) => {
                let mut c = Command::new(w);
                c.arg("--pdeathsig")
                    .arg("KILL")
                    .arg("--")
                    .arg(&self.compositor);
                c
            }
            None => Command::new(&self.compositor),
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            Failure::new(
                FailCode::StartFailed,
                format!("cannot start {}: {e}", self.compositor.display()),
            )
        })?;
        tracing::debug!(pid = ?child.id(), task = %spec.task.task_id, "live compositor started");
        Ok(child)
    }
}

/// What a start gives: the running compositor, or why not.
type Started = Result<Box<dyn Compositor>, Failure>;

impl CompositorRunner for LiveRunner {
    /// A passthrough (ffmpeg), else a live compositor told its output and first scene.
    fn start(&self, spec: &TaskSpec, local: &[Option<LocalImage>], rec: Option<&Path>) -> Started {
        if passthrough_input(spec).is_some() {
            return self.ffmpeg.start(spec, local, rec);
        }
        let (output, record) = (scene::output(spec, rec, self.fps), rec);
        let start = json!({"cmd": "start", "output": output, "scene": scene::scene(spec, local)});
        let mut child = self.spawn(spec)?;
        let parts = child_parts(&mut child);
        let child = ChildCompositor::watch(parts, self.stop_grace, child, Protocol::Live);
        Ok(Box::new(LiveCompositor {
            child,
            record: record.map(Path::to_path_buf),
            fps: self.fps,
            output,
            pending: Some(start.to_string()),
        }))
    }
}

/// A running `mprtc-compositor`.
struct LiveCompositor {
    child: ChildCompositor,
    record: Option<PathBuf>,
    fps: u32,
    /// The output it was started with: a spec with another output needs a new process.
    output: serde_json::Value,
    /// The start line, written at the first event wait (writing needs the runtime).
    pending: Option<String>,
}

impl Compositor for LiveCompositor {
    fn next_event(&mut self) -> BoxFuture<'_, CompositorEvent> {
        Box::pin(async move {
            if let Some(line) = self.pending.take() {
                // A compositor that cannot read its start exits; its exit is the event.
                let _ = self.child.send_line(&line).await;
            }
            self.child.next_event().await
        })
    }

    fn kill(&mut self) -> BoxFuture<'_, ()> {
        self.child.kill()
    }

    fn pid(&self) -> Option<u32> {
        self.child.pid()
    }

    fn update<'a>(
        &'a mut self,
        spec: &'a TaskSpec,
        images: &'a [Option<LocalImage>],
    ) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            if passthrough_input(spec).is_some()
                || scene::output(spec, self.record.as_deref(), self.fps) != self.output
            {
                return false;
            }
            if let Some(line) = self.pending.take() {
                let _ = self.child.send_line(&line).await;
            }
            let line = json!({"cmd": "scene", "scene": scene::scene(spec, images)});
            self.child.send_line(&line.to_string()).await
        })
    }
}
