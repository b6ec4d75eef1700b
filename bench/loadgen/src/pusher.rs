//! The publisher of the edge benchmark: ffmpeg sending a pre-encoded clip in a loop at its own
//! pace (`-re -stream_loop -1 -c copy`), so that the stream is a real H.264 + AAC stream at a
//! real bit rate while the publisher costs almost no CPU on the two cores the servers are
//! measured on. ffmpeg reports how much media time it has sent (`-progress`, every 100 ms):
//! the reference the viewers' received media time is held to.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A running publisher; killed when dropped.
pub struct Pusher {
    child: Child,
    sent_us: Arc<AtomicU64>,
}

impl Pusher {
    /// Starts `ffmpeg` pushing `clip` (FLV, H.264 + AAC) to `url` in a loop.
    pub fn start(ffmpeg: &str, clip: &str, url: &str) -> Result<Pusher, String> {
        let mut child = Command::new(ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-nostats"])
            .args(["-progress", "pipe:1", "-stats_period", "0.1"])
            .args(["-re", "-stream_loop", "-1", "-i", clip])
            .args(["-c", "copy", "-f", "flv", url])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {ffmpeg}: {e}"))?;
        let sent_us = Arc::new(AtomicU64::new(0));
        let out = child.stdout.take().ok_or("ffmpeg without stdout")?;
        let sent = Arc::clone(&sent_us);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(v) = line.strip_prefix("out_time_us=") {
                    if let Ok(us) = v.trim().parse::<u64>() {
                        sent.store(us, Ordering::Relaxed);
                    }
                }
            }
        });
        Ok(Pusher { child, sent_us })
    }

    /// Media time sent so far, in ms (as of ffmpeg's last report, at most 100 ms old).
    pub fn sent_ms(&self) -> f64 {
        self.sent_us.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether ffmpeg is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
