//! Real ffmpeg as a pusher and as a player, reporting progress on stdout (`-progress pipe:1`)
//! so a test can wait for frames instead of for time.

use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use super::DEADLINE;

/// ffmpeg with `args` (words separated by spaces), quiet, killed when dropped; progress on
/// stdout if `progress`.
fn ffmpeg(args: &str, progress: bool) -> Command {
    let mut c = Command::new("ffmpeg");
    c.args("-hide_banner -loglevel error -nostats".split(' '));
    let out = if progress {
        c.args(["-progress", "pipe:1"]);
        Stdio::piped()
    } else {
        Stdio::null()
    };
    c.args(args.split(' ').filter(|a| !a.is_empty()));
    c.stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .kill_on_drop(true);
    c
}

/// A test pattern and a tone, H.264 with a keyframe every second (nginx-rtmp keeps no GOP: a
/// player starts at the next keyframe) and AAC, for `seconds` or until stopped. With both
/// streams present a reader stops probing as soon as it has seen both.
fn pusher(url: &str, seconds: Option<u32>) -> Command {
    let t = seconds.map_or(String::new(), |s| format!("-t {s}"));
    let mut c = ffmpeg(
        &format!("-re -f lavfi -i testsrc2=size=160x90:rate=15 -re -f lavfi -i sine=sample_rate=44100 {t} -c:v libx264 -preset ultrafast -g 15 -c:a aac -b:a 32k -f flv"),
        false,
    );
    c.arg(url);
    c
}

/// A reader of `url`; `frames` limits how many frames it reads. It probes up to 3 s: a stream
/// that starts late (a composite's video after its audio) is still found.
fn reader(url: &str, frames: Option<u32>) -> Command {
    let mut c = ffmpeg("-analyzeduration 3000000 -i", true);
    c.arg(url);
    if let Some(n) = frames {
        c.args(["-frames:v", &n.to_string()]);
    }
    c.args(["-f", "null", "-"]);
    c
}

/// A running ffmpeg (killed when dropped).
pub struct Ffmpeg {
    child: Child,
    progress: Option<Lines<BufReader<ChildStdout>>>,
    /// The most frames it reported.
    pub frames: u64,
}

impl Ffmpeg {
    /// Pushes a test pattern to `url` until stopped.
    pub fn push(url: &str) -> Self {
        Self::spawn(pusher(url, None))
    }

    /// Pushes `seconds` of test pattern to `url`.
    pub fn push_for(url: &str, seconds: u32) -> Self {
        Self::spawn(pusher(url, Some(seconds)))
    }

    /// Plays `url` until the stream or the connection ends.
    pub fn play(url: &str) -> Self {
        Self::spawn(reader(url, None))
    }

    /// Plays `frames` frames of `url`.
    pub fn play_frames(url: &str, frames: u32) -> Self {
        Self::spawn(reader(url, Some(frames)))
    }

    fn spawn(mut c: Command) -> Self {
        let mut child = c.spawn().expect("ffmpeg runs");
        let progress = child.stdout.take().map(|o| BufReader::new(o).lines());
        Self {
            child,
            progress,
            frames: 0,
        }
    }

    /// Reads progress until at least `n` frames were read; false if the player ended first.
    pub async fn until_frames(&mut self, n: u64) -> bool {
        let Some(lines) = self.progress.as_mut() else {
            return false;
        };
        let frames = &mut self.frames;
        tokio::time::timeout(DEADLINE, async {
            while *frames < n {
                match lines.next_line().await {
                    Ok(Some(l)) => {
                        if let Some(v) = l.strip_prefix("frame=") {
                            *frames = v.trim().parse().unwrap_or(*frames).max(*frames);
                        }
                    }
                    _ => return false,
                }
            }
            true
        })
        .await
        .expect("ffmpeg reports within the deadline")
    }

    /// Waits (within [`super::DEADLINE`]) for ffmpeg to exit, reading its progress to the end.
    pub async fn exit(mut self) -> (ExitStatus, u64) {
        self.until_frames(u64::MAX).await;
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("ffmpeg exits within the deadline")
            .unwrap();
        (status, self.frames)
    }
}
