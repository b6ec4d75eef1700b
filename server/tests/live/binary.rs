//! The `mprtc-server` binary as a process, always under a deadline: a server is started with
//! its listeners on loopback ports the system picks and read up to its ready line
//! ([`Running`]), a one-shot command (`token`, a refused config) is run to its exit
//! ([`output`]). Output lines arrive as events from reader threads, so a test waits for the
//! line or the exit it expects and a hang becomes a failure after [`BOUND`], never a stuck
//! test. A [`Running`] server is killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The server binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_mprtc-server");

/// Upper bound on any wait for the process: generous, so that a pass never depends on it.
pub const BOUND: Duration = Duration::from_secs(30);

/// The binary with its three listeners (signaling, RTMP, HTTP-FLV) on loopback ports the system
/// picks; the caller adds its own flags and environment.
pub fn on_loopback() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--rtmp-listen",
        "127.0.0.1:0",
        "--flv-listen",
        "127.0.0.1:0",
    ]);
    cmd
}

/// Which pipe a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipe {
    Stdout,
    Stderr,
}

/// Starts one thread per pipe that sends each line of it to the returned receiver, tagged
/// with its pipe; the receiver sees the end of both pipes as a closed channel.
fn read_lines(child: &mut Child) -> Receiver<(Pipe, String)> {
    let (tx, rx) = channel();
    let pipes: [(Pipe, Option<Box<dyn Read + Send>>); 2] = [
        (
            Pipe::Stdout,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            Pipe::Stderr,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ];
    for (which, pipe) in pipes {
        let Some(pipe) = pipe else { continue };
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send((which, line)).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// Spawns `cmd` with stdin closed and both output pipes read by [`read_lines`].
fn spawn_read(cmd: &mut Command) -> (Child, Receiver<(Pipe, String)>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let lines = read_lines(&mut child);
    (child, lines)
}

/// A server process started by [`Running::start`]; killed (SIGKILL) when dropped.
pub struct Running {
    child: Child,
    lines: Receiver<(Pipe, String)>,
    /// Every line read so far, in the order read.
    seen: Vec<(Pipe, String)>,
    /// The ready line, parsed.
    pub ready: Value,
}

impl Running {
    /// Spawns `cmd` with both pipes read and waits for the ready line; fails the test with what
    /// the process printed if it exits or stays silent instead.
    pub fn start(cmd: &mut Command) -> Self {
        let (child, lines) = spawn_read(cmd);
        let mut me = Self {
            child,
            lines,
            seen: Vec::new(),
            ready: Value::Null,
        };
        let line = me
            .wait_line(Pipe::Stdout, |l| l.contains("\"ready\""))
            .unwrap_or_else(|| panic!("no ready line; the server said:\n{}", me.text()));
        me.ready = serde_json::from_str(&line).expect("the ready line is JSON");
        me
    }

    /// The binary on loopback ports with `args` and `env` (and `MPRTC_LOG=warn` unless `env`
    /// sets it), started.
    pub fn with(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = on_loopback();
        cmd.env("MPRTC_LOG", "warn")
            .args(args)
            .envs(env.iter().copied());
        Self::start(&mut cmd)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// An endpoint URL of the ready line: `signal`, `rtmp` or `flv`.
    pub fn endpoint(&self, name: &str) -> String {
        self.ready["endpoints"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} endpoint in {}", self.ready))
            .to_owned()
    }

    /// The signaling WebSocket URL.
    pub fn signal(&self) -> String {
        self.endpoint("signal")
    }

    /// `host:port` of an endpoint (`signal` is the server API's too).
    pub fn addr(&self, name: &str) -> String {
        host_port(&self.endpoint(name))
    }

    /// Waits (blocking, up to [`BOUND`]) for a line of `pipe` that `matches`; `None` if the
    /// process closed its pipes or the bound passed first. Lines read on the way are kept.
    pub fn wait_line(&mut self, pipe: Pipe, matches: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((p, line)) => {
                    self.seen.push((p, line.clone()));
                    if p == pipe && matches(&line) {
                        return Some(line);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Everything the process printed so far (both pipes, in the order read), including what
    /// is waiting to be read now.
    pub fn text(&mut self) -> String {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        self.seen
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal_with(&self, signal: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) only reads its two integer arguments.
        let r = unsafe { libc::kill(pid, signal) };
        assert_eq!(r, 0, "kill({pid}, {signal})");
    }

    /// Waits (blocking, up to [`BOUND`]) for the process to exit, reading all it prints up to
    /// then; fails the test if it does not.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let status = wait_bounded(&mut self.child);
        // Reads to the end of both pipes, which close at exit (the server's children have
        // pipes of their own).
        self.wait_line(Pipe::Stdout, |_| false);
        status.unwrap_or_else(|| panic!("the server did not exit; it said:\n{}", self.text()))
    }

    /// Sends `signal` and waits for the exit: the status and everything printed.
    pub fn stop_with(mut self, signal: i32) -> (ExitStatus, String) {
        self.signal_with(signal);
        let status = self.wait_exit();
        (status, self.text())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit, up to [`BOUND`] (checking every 10 ms: the exit is the event,
/// the interval only how soon it is seen); `None` if it is still running then.
fn wait_bounded(child: &mut Child) -> Option<ExitStatus> {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(s) = child.try_wait().expect("the child can be waited for") {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How a one-shot run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Fails the test unless the run exited 2 with `error[code]` on stderr; the stderr.
    pub fn refused_with(&self, code: &str) -> &str {
        assert_eq!(self.code, Some(2), "expected error[{code}]: {self:?}");
        let want = format!("error[{code}]");
        assert!(self.stderr.contains(&want), "expected {want}: {self:?}");
        &self.stderr
    }
}

/// Runs `cmd` to its exit with stdin closed, up to [`BOUND`]; a process still running then
/// (a server that accepted what should have stopped it) is killed and fails the test.
pub fn output(cmd: &mut Command) -> Outcome {
    let (mut child, lines) = spawn_read(cmd);
    let status = wait_bounded(&mut child);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (mut stdout, mut stderr) = (String::new(), String::new());
    // Pipes close at exit; a grandchild holding them would keep this open, hence the bound.
    while let Ok((pipe, line)) = lines.recv_timeout(BOUND) {
        let into = if pipe == Pipe::Stdout {
            &mut stdout
        } else {
            &mut stderr
        };
        into.push_str(&line);
        into.push('\n');
    }
    let out = Outcome {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
    };
    assert!(status.is_some(), "still running after {BOUND:?}: {out:?}");
    out
}

/// [`output`] of the binary with `args` and `env` (nothing inherited from `MPRTC_*` matters:
/// the test environment sets none).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    output(Command::new(BIN).args(args).envs(env.iter().copied()))
}

/// [`output`] of the server on loopback ports (see [`on_loopback`]) with `args` and `env`: for
/// configurations it must refuse, so that one it accepts by mistake holds no default port while
/// it runs on to the bound and fails the test.
pub fn refusal(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    output(on_loopback().args(args).envs(env.iter().copied()))
}

/// `host:port` of a URL (`ws://h:p/ws` → `h:p`).
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |x| x.1);
    rest.split('/').next().unwrap_or(rest).to_owned()
}
