//! One recording: the ffmpeg that reads a member's play URL and writes its segments, and the
//! task that reports each closed segment and the end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::{Member, RecordError, Recorder, Tracks};

/// How long a stopped ffmpeg may take to close its last segment before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Longest segment-list line read (a file name we chose); longer ones are skipped.
const MAX_LINE: usize = 1024;

/// How often the segment being written is measured against the app's byte quota. Closed
/// segments alone would let a long segment (up to `recording_segment_secs`, or without end
/// when the video has no key frame to cut at) write past the quota unseen.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// A running recording, as its [`Recorder`] holds it.
pub(super) struct Running {
    stop: CancellationToken,
    reason: Arc<Mutex<Option<&'static str>>>,
    /// The tracks it copies: a start asking for others replaces it.
    pub(super) tracks: Tracks,
    /// A start asked for while this one stops (its ffmpeg may take seconds to close its last
    /// segment): carried out when it has ended, so that a stop and a start in a row, or a
    /// change of tracks, is never lost to "already recording".
    pub(super) next: Option<(Tracks, String)>,
    /// Bytes of the segment being written, as last measured: counted in the app's quota.
    pub(super) open_bytes: u64,
}

impl Running {
    /// Asks ffmpeg to finish (it closes its last segment).
    pub(super) fn stop(&self) {
        self.stop.cancel();
    }

    /// Whether it was asked to finish.
    pub(super) fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Stops it for `reason` (a [`RecordError::code`]).
    pub(super) fn stop_for(&mut self, reason: &'static str) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        self.stop.cancel();
    }

    pub(super) fn reason(&self) -> Option<&'static str> {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// ffmpeg's arguments: read `url`, copy the asked tracks, cut fragmented MP4 segments named
/// `uid-{uid}-{start ms}-{n}.mp4` in `dir`, and list each closed one on stdout.
fn args(tracks: Tracks, url: &str, segment_secs: u32, dir: &Path, stem: &str) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-loglevel", "error"]
        .into_iter()
        .map(String::from)
        .collect();
    a.extend([
        "-rw_timeout".into(),
        "20000000".into(),
        "-i".into(),
        url.into(),
    ]);
    if tracks.video {
        a.extend(["-map".into(), "0:v:0?".into()]);
    }
    if tracks.audio {
        a.extend(["-map".into(), "0:a:0?".into()]);
    }
    let pattern = dir.join(format!("{stem}-%05d.mp4"));
    a.extend(
        [
            "-c",
            "copy",
            "-f",
            "segment",
            "-segment_time",
            &segment_secs.to_string(),
            "-segment_format",
            "mp4",
            "-segment_format_options",
            "movflags=+frag_keyframe+empty_moov+default_base_moof",
            "-reset_timestamps",
            "1",
            "-segment_list",
            "pipe:1",
            "-segment_list_type",
            "flat",
        ]
        .map(String::from),
    );
    a.push(pattern.to_string_lossy().into_owned());
    a
}

/// Starts the ffmpeg of one recording and the task that follows it.
pub(super) fn spawn(
    recorder: Recorder,
    member: Member,
    tracks: Tracks,
    url: &str,
    dir: &Path,
) -> Result<Running, RecordError> {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let stem = format!("uid-{}-{started}", member.uid);
    let segment_secs = recorder.inner.policy.segment_secs.max(1);
    let mut child = Command::new(&recorder.inner.ffmpeg)
        .args(args(tracks, url, segment_secs, dir, &stem))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| RecordError::Start(e.to_string()))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(RecordError::Start("ffmpeg pipes".into()));
    };
    let stop = CancellationToken::new();
    let running = Running {
        stop: stop.clone(),
        reason: Arc::default(),
        tracks,
        next: None,
        open_bytes: 0,
    };
    let dir: PathBuf = dir.to_owned();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut stopping = false;
        // Segments closed so far: the one being written is the next number.
        let mut closed_count = 0u32;
        let mut watch = tokio::time::interval(WATCH_EVERY);
        loop {
            tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(name)) => {
                        closed_count += 1;
                        closed(&recorder, &member, &dir, &name);
                    }
                    // ffmpeg exited (the stream ended, or it finished after a stop).
                    _ => break,
                },
                _ = watch.tick(), if !stopping => {
                    let open = dir.join(format!("{stem}-{closed_count:05}.mp4"));
                    let bytes = std::fs::metadata(&open).map_or(0, |m| m.len());
                    recorder.writing(&member, bytes);
                }
                _ = stop.cancelled(), if !stopping => {
                    stopping = true;
                    // `q` makes ffmpeg close its last segment and exit; a dead one is killed below.
                    let _ = stdin.write_all(b"q").await;
                    let _ = stdin.flush().await;
                }
            }
        }
        if tokio::time::timeout(STOP_GRACE, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
        recorder.ended(&member);
    });
    Ok(running)
}

/// ffmpeg listed segment `name` as closed: report it with its size.
fn closed(recorder: &Recorder, member: &Member, dir: &Path, name: &str) {
    let base = Path::new(name.trim()).file_name().map(PathBuf::from);
    let Some(base) = base.filter(|_| name.len() <= MAX_LINE) else {
        return;
    };
    let path = dir.join(base);
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    recorder.finished(member, path, bytes);
}
