//! A compositor as a child process: its pipes read by their own tasks, its stderr tail kept
//! for the failure reason (URL queries redacted), stopped politely then by force, reaped.
//! Both engines use it: ffmpeg (`-progress` key=value blocks on stdout, `q` on stdin to stop)
//! and `mprtc-compositor` (JSON event lines on stdout, JSON commands on stdin).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc::{channel, Receiver, Sender};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{BoxFuture, Compositor, CompositorEvent};

/// stderr lines kept for failure reasons.
const STDERR_LINES: usize = 12;
/// Longest failure reason.
const REASON_MAX: usize = 600;
/// Events queued for the supervisor at most. Progress comes a few times a second and the
/// supervisor reads it as it comes; while it is busy elsewhere, progress beyond this is
/// dropped (the next one says the same, newer), never queued without bound.
const EVENTS_QUEUED: usize = 64;

/// Replaces the query of every URL in `line` (signed play URLs) with `?…`.
pub(super) fn redact(line: &str) -> String {
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

/// The pipes taken from a spawned compositor, each read or written by its own task.
pub(super) struct Parts {
    stdin: Option<ChildStdin>,
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
}

/// Takes the pipes out of `child`, leaving it to be waited for.
pub(super) fn child_parts(child: &mut Child) -> Parts {
    Parts {
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
    }
}

/// How a compositor process talks: what its stdout carries and how it is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// ffmpeg: `-progress` blocks on stdout; `q` on stdin.
    Ffmpeg,
    /// `mprtc-compositor`: JSON event lines on stdout; `{"cmd":"stop"}` on stdin.
    Live,
}

/// The child's stdin, shared by the handle (commands) and the waiter (the stop line).
type SharedStdin = Arc<tokio::sync::Mutex<Option<ChildStdin>>>;

/// A running compositor process and the tasks reading its pipes.
pub(super) struct ChildCompositor {
    stdin: SharedStdin,
    pid: Arc<Mutex<Option<u32>>>,
    events: Receiver<CompositorEvent>,
    stop: Option<oneshot::Sender<()>>,
    waiter: Option<JoinHandle<()>>,
    exited: Option<String>,
    /// Why the process ended, set before its last event is sent: read when the queue is closed
    /// without that event (it was full), so that the reason is never lost.
    exit_reason: Arc<Mutex<Option<String>>>,
}

impl ChildCompositor {
    /// Starts reading the progress and stderr pipes of `child` and waiting for it; `grace` is
    /// how long a stopped compositor gets to quit after its stop line before it is killed.
    pub(super) fn watch(parts: Parts, grace: Duration, child: Child, proto: Protocol) -> Self {
        let pid = Arc::new(Mutex::new(child.id()));
        let (tx, events) = channel(EVENTS_QUEUED);
        let (stop, stop_rx) = oneshot::channel();
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let exit_reason = Arc::new(Mutex::new(None));
        let out_reader = parts.stdout.map(|o| match proto {
            Protocol::Ffmpeg => tokio::spawn(read_progress(o, tx.clone())),
            Protocol::Live => tokio::spawn(read_events(o, tx.clone())),
        });
        let stdin: SharedStdin = Arc::new(tokio::sync::Mutex::new(parts.stdin));
        let err_reader = parts
            .stderr
            .map(|e| tokio::spawn(read_stderr(e, stderr_tail.clone())));
        let waiter = tokio::spawn(wait_child(
            child,
            (stdin.clone(), proto),
            stop_rx,
            grace,
            out_reader,
            err_reader,
            stderr_tail,
            (tx, exit_reason.clone()),
            pid.clone(),
        ));
        Self {
            stdin,
            pid,
            events,
            stop: Some(stop),
            waiter: Some(waiter),
            exited: None,
            exit_reason,
        }
    }
}

impl ChildCompositor {
    /// Writes one line to the compositor's stdin; false if it is gone.
    pub(super) async fn send_line(&self, line: &str) -> bool {
        let mut g = self.stdin.lock().await;
        let Some(s) = g.as_mut() else {
            return false;
        };
        s.write_all(line.as_bytes()).await.is_ok()
            && s.write_all(b"\n").await.is_ok()
            && s.flush().await.is_ok()
    }
}

impl Compositor for ChildCompositor {
    fn next_event(&mut self) -> BoxFuture<'_, CompositorEvent> {
        Box::pin(async move {
            if let Some(r) = &self.exited {
                return CompositorEvent::Exited(r.clone());
            }
            let ev = self.events.recv().await.unwrap_or_else(|| {
                let why = super::lock(&self.exit_reason).take();
                CompositorEvent::Exited(why.unwrap_or_else(|| "compositor vanished".into()))
            });
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
        *super::lock(&self.pid)
    }
}

/// Longest line kept from a child's stdout or stderr; the rest of a longer one is read as the
/// lines that follow.
const LINE_MAX: u64 = 4096;

/// The next line `r` gives, at most [`LINE_MAX`] bytes, invalid UTF-8 replaced; `None` at the
/// end. Unlike `lines()`, a child's endless line is never held whole, and a byte that is not
/// UTF-8 (a name from the media, say) does not end the reading, which would leave the child
/// blocked on a full pipe. (Not cancel-safe: for readers that only read, never in a `select!`.)
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    match r.take(LINE_MAX).read_until(b'\n', &mut buf).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(
            String::from_utf8_lossy(&buf)
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        ),
    }
}

/// Parses `-progress` blocks (`key=value` lines ending with `progress=...`).
async fn read_progress(out: tokio::process::ChildStdout, tx: Sender<CompositorEvent>) {
    let mut lines = BufReader::new(out);
    let (mut frames, mut out_time) = (0u64, 0u64);
    while let Some(line) = next_line(&mut lines).await {
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
                let _ = tx.try_send(CompositorEvent::Progress {
                    frames,
                    out_time_us: out_time,
                });
            }
            _ => {}
        }
    }
}

/// Longest event line read from `mprtc-compositor` (its lines are a few dozen bytes).
const EVENT_LINE_MAX: u64 = 4096;

/// Reads `mprtc-compositor`'s JSON event lines: progress is passed on, the rest logged (an
/// error line is also on its stderr, which makes the failure reason).
async fn read_events(out: tokio::process::ChildStdout, tx: Sender<CompositorEvent>) {
    use tokio::io::AsyncReadExt;
    let mut r = BufReader::new(out);
    loop {
        let mut buf = Vec::new();
        match (&mut r)
            .take(EVENT_LINE_MAX)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf) else {
            tracing::warn!("compositor wrote a line that is not an event; ignored");
            continue;
        };
        if v["event"] == "progress" {
            let _ = tx.try_send(CompositorEvent::Progress {
                frames: v["frames"].as_u64().unwrap_or(0),
                out_time_us: v["out_time_us"].as_u64().unwrap_or(0),
            });
        } else {
            tracing::debug!(target: "mprtc_server::tasks::compositor", "{v}");
        }
    }
}

/// Keeps the last [`STDERR_LINES`] lines of ffmpeg's stderr, addresses and URL queries
/// removed, for the failure detail; each line is also logged at debug level.
async fn read_stderr(err: tokio::process::ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(err);
    while let Some(line) = next_line(&mut lines).await {
        let line = redact(&strip_addresses(line.trim()));
        if line.is_empty() {
            continue;
        }
        tracing::debug!(target: "mprtc_server::tasks::compositor", "{line}");
        let mut t = super::lock(&tail);
        if t.len() == STDERR_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }
}

#[allow(clippy::too_many_arguments)]
async fn wait_child(
    mut child: Child,
    (stdin, proto): (SharedStdin, Protocol),
    stop: oneshot::Receiver<()>,
    grace: Duration,
    out_reader: Option<JoinHandle<()>>,
    err_reader: Option<JoinHandle<()>>,
    tail: Arc<Mutex<VecDeque<String>>>,
    (tx, exit_reason): (Sender<CompositorEvent>, Arc<Mutex<Option<String>>>),
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
            // Ask politely (the outputs are closed cleanly), then force.
            let bye: &[u8] = match proto {
                Protocol::Ffmpeg => b"q\n",
                Protocol::Live => b"{\"cmd\":\"stop\"}\n",
            };
            if let Some(mut s) = stdin.lock().await.take() {
                let _ = s.write_all(bye).await;
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
    *super::lock(&pid) = None;
    drop(stdin.lock().await.take());
    // Let the readers drain what the process wrote before it died.
    for r in [out_reader, err_reader].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(1), r).await;
    }
    let detail: Vec<String> = super::lock(&tail).iter().cloned().collect();
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
    // Never waits for room (the supervisor may be in `kill`, awaiting this task): a full queue
    // gets the reason through `exit_reason` once it is drained and closed.
    *super::lock(&exit_reason) = Some(reason.clone());
    let _ = tx.try_send(CompositorEvent::Exited(reason));
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

    /// A byte that is not UTF-8 does not end the reading of a child's stderr (the child would
    /// then block on a full pipe), and a line longer than the cap is never held whole.
    #[tokio::test]
    async fn stderr_is_read_past_bad_bytes_and_in_bounded_lines() {
        let long = "x".repeat(3 * LINE_MAX as usize);
        let script =
            format!("printf 'bad \\377 byte\\n' >&2; echo {long} >&2; echo last words >&2");
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", &script])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sh");
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        read_stderr(child.stderr.take().expect("piped"), tail.clone()).await;
        child.wait().await.expect("sh ends");
        let lines: Vec<String> = super::super::lock(&tail).iter().cloned().collect();
        assert_eq!(lines.first().map(String::as_str), Some("bad \u{fffd} byte"));
        assert_eq!(lines.last().map(String::as_str), Some("last words"));
        assert!(
            lines.iter().all(|l| l.len() <= LINE_MAX as usize),
            "{lines:?}"
        );
    }

    #[test]
    fn addresses_stripped() {
        assert_eq!(
            strip_addresses("[tcp @ 0x5607b5f77d80] Connection failed"),
            "[tcp] Connection failed"
        );
        assert_eq!(strip_addresses("plain"), "plain");
    }
}
