//! The v1 compositor: one `ffmpeg` process per task.
//!
//! Command shape (see [`build_args`]):
//!
//! ```text
//! ffmpeg -hide_banner -nostats -loglevel error -progress pipe:1 -stats_period 0.5
//!   -protocol_whitelist rtmp,rtmps,tcp,tls -f flv -rw_timeout 3000000 -analyzeduration 1000000
//!     -thread_queue_size 512 -i <signed play url of the server's own media>  (per live user drawn or heard)
//!   -protocol_whitelist file -f image2 -pattern_type none -c:v png|mjpeg -i <local file>
//!                                              (one per drawn layout image, fetched by the server)
//!   -re -f lavfi -i color=c=0xRRGGBB:s=WxH:r=15                           (canvas, real-time paced)
//!   -re -f lavfi -i anullsrc=r=<rate>:cl=<mono|stereo>                    (silence, real-time paced)
//!   -filter_complex <graph> -map [vout] -map [aout]
//!   -c:v libx264 -preset veryfast -tune zerolatency -profile:v main -pix_fmt yuv420p
//!     -g 30 -keyint_min 30 -sc_threshold 0 -b:v <k> -maxrate <k> -bufsize <2k>
//!   -c:a aac -b:a <bitRate>k -ar <rate> -ac <channels>
//!   -f flv <streamUrl>
//!   | (record) -flags:v +global_header -flags:a +global_header
//!     -f tee "[f=flv:onfail=abort]<streamUrl>|[f=flv:onfail=ignore]<file.flv>"
//! ```
//!
//! The graph: the canvas, then each drawn user in `zOrder` order (ties: layout order)
//! scaled into its rectangle (fit: `force_original_aspect_ratio=decrease`, centred in
//! the rectangle, canvas visible around it; fill: `increase` + `crop`) and overlaid
//! with `eof_action=pass` (a user whose input ends or stalls past `-rw_timeout`
//! disappears instead of freezing the output), then the images on top of all users in
//! layout order. Audio: `anullsrc` first, then every heard user, `amix` with
//! `duration=first` (the output never ends), resampled to the task's rate/channels.
//!
//! No URL a member or app gave is ever an ffmpeg *input*: user inputs are the server's own
//! signed play URLs, demuxed as FLV over RTMP only; layout images were fetched by the server
//! ([`super::image`]) and are opened as local files with a forced demuxer and decoder, so no
//! content can select another demuxer (ffmpeg's `tty` demuxer would render text as video).
//!
//! Limits: 15 fps output; HE-AAC (`codecProfile` 1) is encoded as AAC-LC, because
//! the native ffmpeg AAC encoder (Debian has no libfdk_aac) writes an HE-AAC header
//! it cannot actually encode (players then fail to decode); a user whose stream lacks
//! the audio (video) track while `pushAudio` (`pushVideo`) is set makes ffmpeg fail
//! ("matches no streams"); a user who leaves is dropped from the picture but cannot
//! come back without a restart (the hub re-applies the task when publishers change).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod args;

pub use args::build_args;
#[cfg(test)]
use args::{tee_escape, video_kbps};

use super::{
    BoxFuture, Compositor, CompositorEvent, CompositorRunner, FailCode, Failure, LocalImage,
    TaskSpec,
};

/// Output frame rate of v1 compositions.
pub const FPS: u32 = 15;
/// Keyframe interval: 2 s.
const GOP: u32 = FPS * 2;
/// stderr lines kept for failure reasons.
const STDERR_LINES: usize = 12;
/// Longest failure reason.
const REASON_MAX: usize = 600;

/// Starts `ffmpeg` compositors.
#[derive(Debug, Clone)]
pub struct FfmpegRunner {
    /// The ffmpeg binary (default `ffmpeg`, found through `PATH`).
    pub ffmpeg: PathBuf,
    /// x264 preset (default `veryfast`).
    pub preset: String,
    /// A stalled input becomes end-of-file after this (`-rw_timeout`, default 3 s).
    pub input_timeout: Duration,
    /// How long ffmpeg probes each user's stream before composing (`-analyzeduration`,
    /// default 1 s; ffmpeg's 5 s default delays `Pushing` by seconds).
    pub input_analyze: Duration,
    /// How long `kill` waits for ffmpeg to quit after `q` (it closes the FLV files
    /// cleanly) before SIGKILL. Default 3 s.
    pub stop_grace: Duration,
    /// When set (default: `/usr/bin/setpriv` if it exists), ffmpeg is started through
    /// `setpriv --pdeathsig KILL`, so it dies even if the server is SIGKILLed.
    pub pdeathsig_wrapper: Option<PathBuf>,
}

impl Default for FfmpegRunner {
    fn default() -> Self {
        Self::new("ffmpeg")
    }
}

impl FfmpegRunner {
    /// A runner of the ffmpeg binary at `ffmpeg` (a name on the `PATH`, or a path).
    pub fn new(ffmpeg: impl Into<PathBuf>) -> Self {
        let setpriv = Path::new("/usr/bin/setpriv");
        Self {
            ffmpeg: ffmpeg.into(),
            preset: "veryfast".to_owned(),
            input_timeout: Duration::from_secs(3),
            input_analyze: Duration::from_secs(1),
            stop_grace: Duration::from_secs(3),
            pdeathsig_wrapper: setpriv.exists().then(|| setpriv.to_path_buf()),
        }
    }
}

/// Replaces the query of every URL in `line` (signed play URLs) with `?…`.
fn redact(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(p) = rest.find("://") {
        // Copy through the scheme separator, then the URL up to its query.
        let (head, tail) = rest.split_at(p + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        let mut url = &tail[..end];
        // `url: message` — the colon belongs to the message.
        let mut end = end;
        if let Some(u) = url.strip_suffix(':') {
            url = u;
            end -= 1;
        }
        match url.find('?') {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?…");
            }
            None => out.push_str(url),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `[tcp @ 0x55d0c0a8] msg` → `[tcp] msg`: addresses differ on every run and would
/// make identical failures look different.
fn strip_addresses(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(p) = rest.find(" @ 0x") {
        out.push_str(&rest[..p]);
        let tail = &rest[p + 5..];
        let hex = tail
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(tail.len());
        rest = &tail[hex..];
    }
    out.push_str(rest);
    out
}

impl CompositorRunner for FfmpegRunner {
    fn start(
        &self,
        spec: &TaskSpec,
        images: &[Option<LocalImage>],
        record: Option<&Path>,
    ) -> Result<Box<dyn Compositor>, Failure> {
        let args = build_args(spec, images, record, self)
            .map_err(|e| Failure::new(FailCode::StartFailed, e))?;
        let mut cmd = match &self.pdeathsig_wrapper {
            Some(w) => {
                let mut c = Command::new(w);
                c.arg("--pdeathsig").arg("KILL").arg("--").arg(&self.ffmpeg);
                c
            }
            None => Command::new(&self.ffmpeg),
        };
        cmd.args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: a terminal's Ctrl-C reaches the server, which then
            // stops the compositors itself.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            Failure::new(
                FailCode::StartFailed,
                format!("cannot start ffmpeg ({}): {e}", self.ffmpeg.display()),
            )
        })?;
        tracing::debug!(pid = ?child.id(), task = %spec.task.task_id, "compositor started");
        let parts = child_parts(&mut child);
        Ok(Box::new(FfmpegCompositor::watch(
            parts,
            self.stop_grace,
            child,
        )))
    }
}

/// The pipes taken from a spawned ffmpeg, each read or written by its own task.
struct Parts {
    stdin: Option<ChildStdin>,
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
}

/// Takes the pipes out of `child`, leaving it to be waited for.
fn child_parts(child: &mut Child) -> Parts {
    Parts {
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
    }
}

/// A running ffmpeg and the tasks reading its pipes.
struct FfmpegCompositor {
    pid: Arc<Mutex<Option<u32>>>,
    events: UnboundedReceiver<CompositorEvent>,
    stop: Option<oneshot::Sender<()>>,
    waiter: Option<JoinHandle<()>>,
    exited: Option<String>,
}

impl FfmpegCompositor {
    /// Starts reading the progress and stderr pipes of `child` and waiting for it; `grace` is
    /// how long a stopped ffmpeg gets to quit after `q` before it is killed.
    fn watch(parts: Parts, grace: Duration, child: Child) -> Self {
        let pid = Arc::new(Mutex::new(child.id()));
        let (tx, events) = unbounded_channel();
        let (stop, stop_rx) = oneshot::channel();
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let out_reader = parts
            .stdout
            .map(|o| tokio::spawn(read_progress(o, tx.clone())));
        let err_reader = parts
            .stderr
            .map(|e| tokio::spawn(read_stderr(e, stderr_tail.clone())));
        let waiter = tokio::spawn(wait_child(
            child,
            parts.stdin,
            stop_rx,
            grace,
            out_reader,
            err_reader,
            stderr_tail,
            tx,
            pid.clone(),
        ));
        Self {
            pid,
            events,
            stop: Some(stop),
            waiter: Some(waiter),
            exited: None,
        }
    }
}

impl Compositor for FfmpegCompositor {
    fn next_event(&mut self) -> BoxFuture<'_, CompositorEvent> {
        Box::pin(async move {
            if let Some(r) = &self.exited {
                return CompositorEvent::Exited(r.clone());
            }
            let ev = self
                .events
                .recv()
                .await
                .unwrap_or_else(|| CompositorEvent::Exited("compositor vanished".to_owned()));
            if let CompositorEvent::Exited(r) = &ev {
                self.exited = Some(r.clone());
            }
            ev
        })
    }

    fn kill(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(s) = self.stop.take() {
                let _ = s.send(());
            }
            if let Some(w) = self.waiter.take() {
                let _ = w.await;
            }
        })
    }

    fn pid(&self) -> Option<u32> {
        *self.pid.lock().unwrap()
    }
}

/// Parses `-progress` blocks (`key=value` lines ending with `progress=...`).
async fn read_progress(out: tokio::process::ChildStdout, tx: UnboundedSender<CompositorEvent>) {
    let mut lines = BufReader::new(out).lines();
    let (mut frames, mut out_time) = (0u64, 0u64);
    while let Ok(Some(line)) = lines.next_line().await {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k.trim() {
            "frame" => frames = v.trim().parse().unwrap_or(frames),
            // N/A before the first packet; can be negative briefly.
            "out_time_us" => {
                out_time = v
                    .trim()
                    .parse::<i64>()
                    .map_or(out_time, |t| t.max(0) as u64)
            }
            "progress" => {
                let _ = tx.send(CompositorEvent::Progress {
                    frames,
                    out_time_us: out_time,
                });
            }
            _ => {}
        }
    }
}

/// Keeps the last [`STDERR_LINES`] lines of ffmpeg's stderr, addresses and URL queries
/// removed, for the failure detail; each line is also logged at debug level.
async fn read_stderr(err: tokio::process::ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(err).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = redact(&strip_addresses(line.trim()));
        if line.is_empty() {
            continue;
        }
        tracing::debug!(target: "mprtc_server::tasks::ffmpeg", "{line}");
        let mut t = tail.lock().unwrap();
        if t.len() == STDERR_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }
}

#[allow(clippy::too_many_arguments)]
async fn wait_child(
    mut child: Child,
    mut stdin: Option<ChildStdin>,
    stop: oneshot::Receiver<()>,
    grace: Duration,
    out_reader: Option<JoinHandle<()>>,
    err_reader: Option<JoinHandle<()>>,
    tail: Arc<Mutex<VecDeque<String>>>,
    tx: UnboundedSender<CompositorEvent>,
    pid: Arc<Mutex<Option<u32>>>,
) {
    let status = tokio::select! {
        st = child.wait() => Some(st),
        // Stop requested, or the compositor handle was dropped.
        _ = stop => None,
    };
    let status = match status {
        Some(st) => st,
        None => {
            // Ask politely (`q` closes the outputs cleanly), then force.
            if let Some(mut s) = stdin.take() {
                let _ = s.write_all(b"q\n").await;
                let _ = s.flush().await;
            }
            match tokio::time::timeout(grace, child.wait()).await {
                Ok(st) => st,
                Err(_) => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            }
        }
    };
    *pid.lock().unwrap() = None;
    drop(stdin);
    // Let the readers drain what the process wrote before it died.
    for r in [out_reader, err_reader].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(1), r).await;
    }
    let detail: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
    let how = match status {
        Ok(st) if st.success() => "compositor ended unexpectedly".to_owned(),
        Ok(st) => match st.code() {
            Some(c) => format!("compositor exited with status {c}"),
            None => format!("compositor crashed ({st})"),
        },
        Err(e) => format!("compositor wait failed: {e}"),
    };
    let mut reason = if detail.is_empty() {
        how
    } else {
        format!("{how}: {}", detail.join("; "))
    };
    if reason.len() > REASON_MAX {
        let mut cut = REASON_MAX;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        reason.push('…');
    }
    let _ = tx.send(CompositorEvent::Exited(reason));
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn redact_strips_queries() {
        assert_eq!(
            redact("rtmp://h:1/live/r.5?k=play&s=abc: Input/output error"),
            "rtmp://h:1/live/r.5?…: Input/output error"
        );
        assert_eq!(
            redact("open 'http://a/b?x=1' and tcp://c:2 ok"),
            "open 'http://a/b?…' and tcp://c:2 ok"
        );
        assert_eq!(redact("no urls"), "no urls");
    }

    #[test]
    fn addresses_stripped() {
        assert_eq!(
            strip_addresses("[tcp @ 0x5607b5f77d80] Connection failed"),
            "[tcp] Connection failed"
        );
        assert_eq!(strip_addresses("plain"), "plain");
    }

    #[test]
    fn tee_escapes_specials() {
        assert_eq!(tee_escape("rtmp://a/b?x=1|[y]"), "rtmp://a/b?x=1\\|\\[y\\]");
    }

    #[test]
    fn bitrate_bounds() {
        assert_eq!(video_kbps(1280, 720), 1382);
        assert_eq!(video_kbps(16, 16), 300);
        assert_eq!(video_kbps(1920, 1920), 5529);
    }
}
