//! Push tasks: run one compositor per task, watch it, restart it.
//!
//! The hub decides *what* should run (a validated [`RtmpTask`] plus the play URLs of
//! the layout users who are live now, a [`TaskSpec`]); this module makes it run and
//! says how it goes. [`Supervisor`] owns one tokio task per [`TaskKey`], which starts
//! a compositor through a [`CompositorRunner`] ([`FfmpegRunner`] in production),
//! watches its progress and reports [`TaskState`]s on an unbounded channel:
//!
//! * `Pushing` once output really flows (the compositor reports frames written and
//!   an advancing output clock; for ffmpeg that is after the RTMP output connected);
//! * `Failed(reason)` when the compositor cannot start, exits, or makes no progress
//!   for [`SupervisorConfig::stall_timeout`] (then it is killed). The supervisor
//!   retries with exponential backoff (1 s, 2 s, 4 s ... capped at 30 s), reset after
//!   the compositor was healthy for [`SupervisorConfig::healthy_reset`];
//! * `Ended` exactly once, after [`Supervisor::stop`] (or [`Supervisor::shutdown`],
//!   or dropping the supervisor) killed and reaped the compositor.
//!
//! The same state is never reported twice in a row (a retry that fails for the same
//! reason stays silent; a new reason is a new state). [`Supervisor::apply`] on a
//! running task restarts its compositor with the new spec without reporting `Ended`.
//!
//! Commands are coalesced: each task has one latest-value slot (a `watch` channel), not
//! a queue. An `apply` with the spec already wanted does nothing; a burst of changes
//! costs one restart with the last of them ([`SupervisorConfig::restart_debounce`], and
//! starts at least [`SupervisorConfig::min_restart_interval`] apart); `stop` overwrites
//! whatever was pending, so nothing restarts after it (a room that ended stays ended).

mod ffmpeg;
pub mod image;
mod live;
pub mod policy;
mod process;
pub mod reason;
pub mod record;
mod run;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mprtc::protocol::tasks::RtmpTask;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use ffmpeg::{build_args, passthrough_input, FfmpegRunner};
pub use image::{ImageFetcher, ImageFile, ImageFormat};
pub use live::{default_compositor, he_aac_available, LiveRunner};
pub use policy::{OutputPolicy, TaskPolicy};
pub use reason::{FailCode, Failure};
pub use record::{record_path, RecordLimits};
use record::{Recording, RECORD_CHECK};
use run::run_task;

/// Identifies a task: the app, the room and the app's `taskId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    /// The app key.
    pub app: String,
    /// The room name.
    pub room: String,
    /// The app's `taskId`.
    pub task_id: String,
}

/// A layout user who is live now.
///
/// `Debug` prints the URL without its signed query.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskInput {
    /// The live member's uid.
    pub uid: u64,
    /// RTMP play URL (already signed). Never logged or reported with its query.
    pub url: String,
}

impl std::fmt::Debug for TaskInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match self.url.split_once('?') {
            Some((base, _)) => format!("{base}?<redacted>"),
            None => self.url.clone(),
        };
        f.debug_struct("TaskInput")
            .field("uid", &self.uid)
            .field("url", &url)
            .finish()
    }
}

/// What to run for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// Already validated by the caller.
    pub task: RtmpTask,
    /// Live layout users; users not listed here are not drawn (the canvas shows).
    pub inputs: Vec<TaskInput>,
}

/// What the supervisor reports for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    Pushing,
    Failed(Failure),
    Ended,
}

impl TaskState {
    /// Whether members would hear the same thing for both (failures differing only in
    /// their logged detail are the same state).
    fn same_as(&self, o: &TaskState) -> bool {
        match (self, o) {
            (Self::Failed(a), Self::Failed(b)) => a.code == b.code,
            _ => self == o,
        }
    }
}

/// A layout image the server fetched, as the compositor opens it: a local file of a known
/// format. Never a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalImage {
    /// The fetched file.
    pub path: PathBuf,
    /// Its format, sniffed from its bytes: it picks the forced decoder.
    pub format: ImageFormat,
}

/// Something a running compositor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompositorEvent {
    /// A progress report: video frames written so far and the output clock.
    Progress { frames: u64, out_time_us: u64 },
    /// The compositor is gone (exited, crashed, or failed to start), with the engine's
    /// own account (no signed URLs in it). Logged; members get [`Failure::public_msg`].
    Exited(String),
}

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One running compositor process (or pipeline).
pub trait Compositor: Send {
    /// The next event. After `Exited`, keeps returning `Exited`.
    fn next_event(&mut self) -> BoxFuture<'_, CompositorEvent>;
    /// Stops the compositor (gracefully if it can, then by force) and waits until it
    /// is really gone (reaped). Idempotent.
    fn kill(&mut self) -> BoxFuture<'_, ()>;
    /// OS process id, if there is one and it is still running.
    fn pid(&self) -> Option<u32>;
    /// Makes the running compositor show `spec` (its images fetched to `images`) without a
    /// restart. `false`: it cannot (another output, or an engine without live changes);
    /// the supervisor then restarts it.
    fn update<'a>(
        &'a mut self,
        _spec: &'a TaskSpec,
        _images: &'a [Option<LocalImage>],
    ) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
}

/// Starts compositors: [`LiveRunner`] in production (live layout changes), [`FfmpegRunner`]
/// (a new process per layout; also the passthrough of `singleVideoNoTrans`).
pub trait CompositorRunner: Send + Sync {
    /// Starts a compositor for `spec`; with `record`, also writes the composed stream
    /// to that FLV file (its directory exists). `images` holds, for each of the layout's
    /// images, the local file fetched for it (`None` for images that are not drawn).
    fn start(
        &self,
        spec: &TaskSpec,
        images: &[Option<LocalImage>],
        record: Option<&Path>,
    ) -> Result<Box<dyn Compositor>, Failure>;
}

/// Timings of the supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// A fresh compositor must show output within this (input probing + connect).
    pub start_timeout: Duration,
    /// A pushing compositor whose output does not advance for this long is killed.
    pub stall_timeout: Duration,
    /// First retry delay; doubled after each failure.
    pub backoff_initial: Duration,
    /// Cap of the retry delay.
    pub backoff_max: Duration,
    /// A compositor that pushed at least this long resets the backoff.
    pub healthy_reset: Duration,
    /// A changed spec waits this long for more changes before the compositor restarts.
    pub restart_debounce: Duration,
    /// Compositor starts of one task are at least this far apart.
    pub min_restart_interval: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            start_timeout: Duration::from_secs(20),
            stall_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            healthy_reset: Duration::from_secs(30),
            restart_debounce: Duration::from_millis(500),
            min_restart_interval: Duration::from_secs(1),
        }
    }
}

/// What a task should be doing: the latest word wins.
#[derive(Debug, Clone)]
enum Desired {
    Run(Arc<TaskSpec>),
    Stop,
}

/// A running task: its command slot, and how to learn it ended, wait for it and find its
/// compositor's process.
struct Entry {
    /// The latest word for the task (run this spec, or stop).
    cmds: watch::Sender<Desired>,
    /// Cancelled once the task reported `Ended`.
    done: CancellationToken,
    join: JoinHandle<()>,
    /// The compositor's process id while one runs ([`Supervisor::compositor_pid`]).
    pid: Arc<Mutex<Option<u32>>>,
}

/// A task told to stop that has not finished yet: a task started again under the same key
/// waits for its `Ended` before reporting anything.
struct Stopping {
    key: TaskKey,
    done: CancellationToken,
    join: JoinHandle<()>,
}

/// What every task's run loop shares: how to start compositors, fetch images, check outputs
/// and recordings, and where to report.
struct Shared {
    runner: Arc<dyn CompositorRunner>,
    /// Fetches layout images; `None`: tasks with images fail with `image_refused`.
    images: Option<Arc<ImageFetcher>>,
    /// Where outputs may go; `None`: anywhere (tests of the supervisor alone).
    outputs: Option<OutputPolicy>,
    /// Bounds on recordings.
    records: RecordLimits,
    /// Where recordings go (`<app>/<room>/<task_id>-<unix time>...`).
    recordings_dir: PathBuf,
    /// Where task states are reported (the signaling shell hands them to the hub).
    status: UnboundedSender<(TaskKey, TaskState)>,
    /// Timings: back-off, timeouts, debounce.
    config: SupervisorConfig,
    /// Starts, restarts, failures and recordings so far, for `/metrics`.
    counters: TaskCounters,
    /// Where `recording.finished` goes (the app's webhooks; none by default).
    webhooks: crate::webhooks::Webhooks,
}

/// What the supervisor counts for `/metrics`: totals since it started, each only growing.
#[derive(Debug, Default)]
struct TaskCounters {
    /// Compositors started, first runs and restarts alike.
    starts: AtomicU64,
    /// Compositors started again for a task that had one before (a new layout, a retry
    /// after a failure, the next recording segment).
    restarts: AtomicU64,
    /// Failures reported (a compositor that could not start, exited or stalled, a refused
    /// output or image): each one, also when members hear no new state for it.
    failures: AtomicU64,
    /// Task runs that recorded, counted when the run ended and its recording was closed.
    recordings: AtomicU64,
}

/// What `/metrics` shows of push tasks, now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskSample {
    /// Tasks running or about to.
    pub tasks: usize,
    /// Compositor processes alive now.
    pub compositors: usize,
    /// See the fields of the supervisor's counters: totals since the start.
    pub starts: u64,
    pub restarts: u64,
    pub failures: u64,
    pub recordings: u64,
}

/// The tasks, under the supervisor's lock.
struct Tables {
    /// Tasks running or about to, by key.
    running: HashMap<TaskKey, Entry>,
    /// Tasks told to stop, until they finish.
    stopping: Vec<Stopping>,
    /// Set by `shutdown`: later `apply`s are ignored.
    closed: bool,
}

/// Runs and watches one compositor per task. See the module docs.
pub struct Supervisor {
    shared: Arc<Shared>,
    tables: Mutex<Tables>,
    rt: Option<tokio::runtime::Handle>,
}

impl Supervisor {
    /// `recordings_dir` receives one recording per task run for tasks with `record: true`
    /// (see [`record`]: `<app>/<room>/<task_id>-<unix time>[.<segment>].flv`). Call inside a tokio runtime (or call `apply` from one).
    pub fn new(
        runner: Arc<dyn CompositorRunner>,
        recordings_dir: PathBuf,
        status: UnboundedSender<(TaskKey, TaskState)>,
    ) -> Self {
        Self::with_config(runner, recordings_dir, status, SupervisorConfig::default())
    }

    /// [`Supervisor::new`] with its timings (back-off, stall and start timeouts, debounce).
    pub fn with_config(
        runner: Arc<dyn CompositorRunner>,
        recordings_dir: PathBuf,
        status: UnboundedSender<(TaskKey, TaskState)>,
        config: SupervisorConfig,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                runner,
                images: None,
                outputs: None,
                records: RecordLimits::default(),
                recordings_dir,
                status,
                config,
                counters: TaskCounters::default(),
                webhooks: crate::webhooks::Webhooks::default(),
            }),
            tables: Mutex::new(Tables {
                running: HashMap::new(),
                stopping: Vec::new(),
                closed: false,
            }),
            rt: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// Layout images are fetched by `images`, and outputs checked against `outputs` after
    /// name resolution. Call before the first [`Supervisor::apply`].
    pub fn with_policy(mut self, images: Option<Arc<ImageFetcher>>, outputs: OutputPolicy) -> Self {
        let shared = Arc::get_mut(&mut self.shared).expect("no task started yet");
        shared.images = images;
        shared.outputs = Some(outputs);
        self
    }

    /// Bounds recordings (default: [`RecordLimits::default`]). Call before the first
    /// [`Supervisor::apply`].
    pub fn with_record_limits(mut self, limits: RecordLimits) -> Self {
        let shared = Arc::get_mut(&mut self.shared).expect("no task started yet");
        shared.records = limits;
        self
    }

    /// Tells the apps' webhooks when a recording finished. Call before the first
    /// [`Supervisor::apply`].
    pub fn with_webhooks(mut self, webhooks: crate::webhooks::Webhooks) -> Self {
        let shared = Arc::get_mut(&mut self.shared).expect("no task started yet");
        shared.webhooks = webhooks;
        self
    }

    /// Starts the task, or restarts its compositor with `spec` (no `Ended` between).
    /// Returns at once. Ignored after [`Supervisor::shutdown`].
    pub fn apply(&self, key: TaskKey, spec: TaskSpec) {
        let mut t = lock(&self.tables);
        if t.closed {
            tracing::warn!(task = ?key, "push task applied after shutdown; ignored");
            return;
        }
        t.stopping.retain(|s| !s.join.is_finished());
        if let Some(e) = t.running.get(&key) {
            if !e.cmds.is_closed() {
                // Replace what was pending; the same spec again is nothing to do.
                e.cmds.send_if_modified(|d| match d {
                    Desired::Run(cur) if **cur == spec => false,
                    _ => {
                        *d = Desired::Run(Arc::new(spec.clone()));
                        true
                    }
                });
                return;
            }
        }
        // A task stopped just before must have reported `Ended` before this one
        // reports anything.
        let after = t
            .stopping
            .iter()
            .rev()
            .find(|s| s.key == key)
            .map(|s| s.done.clone());
        let (cmds, rx) = watch::channel(Desired::Run(Arc::new(spec)));
        let done = CancellationToken::new();
        let pid = Arc::new(Mutex::new(None));
        let fut = run_task(
            self.shared.clone(),
            key.clone(),
            rx,
            after,
            done.clone(),
            pid.clone(),
        );
        let join = match &self.rt {
            Some(rt) => rt.spawn(fut),
            None => tokio::spawn(fut),
        };
        if let Some(old) = t.running.insert(
            key.clone(),
            Entry {
                cmds,
                done,
                join,
                pid,
            },
        ) {
            // Only reachable if the old task died (panicked); keep its handle to reap.
            t.stopping.push(Stopping {
                key,
                done: old.done,
                join: old.join,
            });
        }
    }

    /// Kills the task's compositor, then reports `Ended` once. A no-op for unknown keys.
    pub fn stop(&self, key: &TaskKey) {
        let mut t = lock(&self.tables);
        t.stopping.retain(|s| !s.join.is_finished());
        if let Some(e) = t.running.remove(key) {
            e.cmds.send_replace(Desired::Stop);
            t.stopping.push(Stopping {
                key: key.clone(),
                done: e.done,
                join: e.join,
            });
        }
    }

    /// Keys of the tasks that are running (not stopped).
    pub fn keys(&self) -> Vec<TaskKey> {
        let t = lock(&self.tables);
        let mut v: Vec<_> = t.running.keys().cloned().collect();
        v.sort();
        v
    }

    /// Tasks, compositors alive and the totals, for `/metrics`.
    pub fn sample(&self) -> TaskSample {
        let (tasks, compositors) = {
            let t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
            let alive = t
                .running
                .values()
                .filter(|e| e.pid.lock().is_ok_and(|p| p.is_some()))
                .count();
            (t.running.len(), alive)
        };
        let c = &self.shared.counters;
        TaskSample {
            tasks,
            compositors,
            starts: c.starts.load(Relaxed),
            restarts: c.restarts.load(Relaxed),
            failures: c.failures.load(Relaxed),
            recordings: c.recordings.load(Relaxed),
        }
    }

    /// Process id of the task's current compositor, if one is running.
    pub fn compositor_pid(&self, key: &TaskKey) -> Option<u32> {
        let t = lock(&self.tables);
        t.running.get(key).and_then(|e| *lock(&e.pid))
    }

    /// Stops every task (each reports `Ended`), kills and reaps every compositor and
    /// waits for all of it. Later `apply` calls are ignored.
    pub async fn shutdown(&self) {
        let joins: Vec<JoinHandle<()>> = {
            let mut t = lock(&self.tables);
            t.closed = true;
            let mut joins = Vec::new();
            for (_, e) in t.running.drain() {
                e.cmds.send_replace(Desired::Stop);
                joins.push(e.join);
            }
            joins.extend(t.stopping.drain(..).map(|s| s.join));
            joins
        };
        for j in joins {
            let _ = j.await;
        }
    }
}

/// Locks `m`, also when a holder panicked: what these locks guard (tables of running tasks,
/// a pid, a stderr tail) stays usable, and the server must not panic on a poisoned lock.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod debug_redaction {
    #[test]
    fn task_input_debug_hides_the_signature() {
        let i = super::TaskInput {
            uid: 7,
            url: "rtmp://h:1/live/r.7?k=play&v=0&e=9&s=SIGNATURE".into(),
        };
        let shown = format!("{i:?}");
        assert!(
            !shown.contains("SIGNATURE") && !shown.contains("s="),
            "{shown}"
        );
        assert!(shown.contains("rtmp://h:1/live/r.7?<redacted>"), "{shown}");
    }
}
