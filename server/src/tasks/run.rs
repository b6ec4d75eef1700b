//! One task's life: prepare its inputs (images, the recording), run its compositor, watch its
//! progress, and on failure wait out the back-off and run it again — until it is told to stop.
//! The [`Supervisor`](super::Supervisor) spawns [`run_task`] once per task.

use super::*;

/// Reports a task's states, each change once: the same state twice in a row is said once
/// (a retry failing for the same reason stays silent).
struct Reporter {
    key: TaskKey,
    tx: UnboundedSender<(TaskKey, TaskState)>,
    last: Option<TaskState>,
}

impl Reporter {
    /// Report `s` (and log it) unless it is the state last reported.
    fn report(&mut self, s: TaskState) {
        if self.last.as_ref().is_some_and(|l| l.same_as(&s)) {
            return;
        }
        match &s {
            TaskState::Failed(f) => {
                tracing::warn!(task = ?self.key, code = f.code.as_str(), detail = %f.detail, "push task failed")
            }
            _ => tracing::info!(task = ?self.key, state = ?s, "push task state"),
        }
        self.last = Some(s.clone());
        let _ = self.tx.send((self.key.clone(), s));
    }
}

/// What ended one compositor run.
enum RunEnd {
    Failed(Failure),
    /// The wanted spec changed (not yet read: [`settle`] takes the latest).
    Restart,
    /// The recording reached a limit: restart at once without it.
    RecordOver,
    Stop,
}

/// What one task keeps across its compositor runs.
#[derive(Default)]
struct RunMemory {
    /// Images fetched for this task, by URL: kept across restarts, dropped when unused.
    held: HashMap<String, ImageFile>,
    /// When the last compositor started (restarts keep a minimum distance).
    last_start: Option<Instant>,
    /// The task run's one recording, once a compositor recorded.
    recording: Option<Recording>,
    /// Whether a compositor of this task started before (the next start is a restart).
    started: bool,
}

/// Waits for the wanted state to change to something other than `current`: `Restart`, or
/// `Stop` (also when the supervisor is gone).
async fn changed(cmds: &mut watch::Receiver<Desired>, current: &TaskSpec) -> RunEnd {
    loop {
        if cmds.changed().await.is_err() {
            return RunEnd::Stop;
        }
        match &*cmds.borrow() {
            Desired::Stop => return RunEnd::Stop,
            Desired::Run(s) if **s == *current => continue,
            Desired::Run(_) => return RunEnd::Restart,
        }
    }
}

/// Debounces a restart: waits until `restart_debounce` from now and `min_restart_interval`
/// after the last start, then returns the latest wanted spec. `None` if a stop came (it
/// pre-empts at once).
async fn settle(
    cfg: &SupervisorConfig,
    cmds: &mut watch::Receiver<Desired>,
    last_start: Option<Instant>,
) -> Option<TaskSpec> {
    let mut at = Instant::now() + cfg.restart_debounce;
    if let Some(t) = last_start {
        at = at.max(t + cfg.min_restart_interval);
    }
    loop {
        if let Desired::Stop = &*cmds.borrow_and_update() {
            return None;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(at) => break,
            r = cmds.changed() => if r.is_err() { return None },
        }
    }
    match &*cmds.borrow_and_update() {
        Desired::Run(s) => Some((**s).clone()),
        Desired::Stop => None,
    }
}

/// One task until it is stopped: run its compositor, report its state, retry after
/// failures with back-off, restart it when its spec changes; report `Ended` once at the end.
pub(super) async fn run_task(
    shared: Arc<Shared>,
    key: TaskKey,
    mut cmds: watch::Receiver<Desired>,
    after: Option<CancellationToken>,
    done: CancellationToken,
    pid: Arc<Mutex<Option<u32>>>,
) {
    let _done = done.drop_guard();
    if let Some(prev) = after {
        prev.cancelled().await;
    }
    let cfg = &shared.config;
    let mut mem = RunMemory::default();
    let mut spec: TaskSpec;
    let mut rep = Reporter {
        key: key.clone(),
        tx: shared.status.clone(),
        last: None,
    };
    let mut backoff = cfg.backoff_initial;
    loop {
        // Whatever is wanted now (a stop may have come while the previous one ended).
        match &*cmds.borrow_and_update() {
            Desired::Stop => break,
            Desired::Run(s) => spec = (**s).clone(),
        }
        let (end, healthy) =
            run_once(&shared, &mut spec, &mut mem, &mut cmds, &mut rep, &pid).await;
        *super::lock(&pid) = None;
        if healthy {
            backoff = cfg.backoff_initial;
        }
        match end {
            RunEnd::Stop => break,
            RunEnd::RecordOver => continue,
            RunEnd::Restart => {
                if settle(cfg, &mut cmds, mem.last_start).await.is_none() {
                    break;
                }
                backoff = cfg.backoff_initial;
                continue;
            }
            RunEnd::Failed(reason) => {
                shared.counters.failures.fetch_add(1, Relaxed);
                // A refusal stands until the task changes: wait for a command only.
                let retry = if reason.code.is_refusal() {
                    Duration::MAX
                } else {
                    backoff
                };
                rep.report(TaskState::Failed(reason));
                // Wait before retrying; commands still apply.
                let next = tokio::select! {
                    _ = sleep_at_most(retry) => None,
                    end = changed(&mut cmds, &spec) => Some(end),
                };
                match next {
                    None => backoff = (backoff * 2).min(cfg.backoff_max),
                    Some(RunEnd::Restart) => {
                        if settle(cfg, &mut cmds, mem.last_start).await.is_none() {
                            break;
                        }
                        backoff = cfg.backoff_initial;
                    }
                    Some(_) => break,
                }
            }
        }
    }
    if mem.recording.is_some() {
        shared.counters.recordings.fetch_add(1, Relaxed);
        // The file's path stays on the server (it names the operator's disk); the backend
        // learns which task's run is complete.
        shared.webhooks.emit(crate::webhooks::HookEvent {
            app: key.app.clone(),
            room: key.room.clone(),
            kind: "recording.finished",
            data: serde_json::json!({ "task_id": key.task_id }),
        });
    }
    rep.report(TaskState::Ended);
}

/// Sleeps for `d`, or forever for `Duration::MAX`.
async fn sleep_at_most(d: Duration) {
    match Instant::now().checked_add(d) {
        Some(t) if d != Duration::MAX => tokio::time::sleep_until(t).await,
        _ => std::future::pending().await,
    }
}

/// What a compositor needs before it starts: the output destination checked after name
/// resolution, and every drawn layout image fetched (under the server's policy) to a local
/// file. `held` keeps the images of earlier runs of this task; unused ones are dropped.
async fn prepare(
    shared: &Shared,
    spec: &TaskSpec,
    held: &mut HashMap<String, ImageFile>,
) -> Result<Vec<Option<LocalImage>>, Failure> {
    if let Some(out) = &shared.outputs {
        out.check_resolved(&spec.task.stream_url)
            .await
            .map_err(|e| Failure::new(FailCode::OutputRefused, e.to_string()))?;
    }
    let images = &spec.task.layout.images;
    held.retain(|url, _| images.iter().any(|i| &i.url == url));
    let mut local = Vec::with_capacity(images.len());
    for img in images {
        if img.width == 0 || img.height == 0 {
            local.push(None);
            continue;
        }
        if !held.contains_key(&img.url) {
            let Some(f) = &shared.images else {
                return Err(Failure::new(
                    FailCode::ImageRefused,
                    "no image fetcher: layout images are off",
                ));
            };
            match f.fetch(&img.url).await {
                Ok(file) => {
                    held.insert(img.url.clone(), file);
                }
                Err(e) => {
                    let code = if e.is_refusal() {
                        FailCode::ImageRefused
                    } else {
                        FailCode::ImageFetchFailed
                    };
                    return Err(Failure::new(code, format!("{}: {e}", e.code())));
                }
            }
        }
        let file = &held[&img.url];
        local.push(Some(LocalImage {
            path: file.path.clone(),
            format: file.format,
        }));
    }
    Ok(local)
}

/// Hands the latest wanted spec to the running compositor (its images fetched first).
/// `Err`: the compositor must restart (it cannot change live, an image failed, it did not
/// take the scene within the stall timeout, or a stop came); the run loop then reads the
/// command itself. The timeout matters: a compositor that stopped reading its stdin would
/// otherwise block this write, and with it the run loop, its stall detection and any stop.
async fn update_live(
    shared: &Shared,
    comp: &mut Box<dyn Compositor>,
    cmds: &mut watch::Receiver<Desired>,
    held: &mut HashMap<String, ImageFile>,
) -> Result<TaskSpec, RunEnd> {
    let next = match &*cmds.borrow() {
        Desired::Run(s) => (**s).clone(),
        Desired::Stop => return Err(RunEnd::Stop),
    };
    let images = prepare(shared, &next, held)
        .await
        .map_err(|_| RunEnd::Restart)?;
    let taken = tokio::time::timeout(shared.config.stall_timeout, comp.update(&next, &images));
    if taken.await.unwrap_or(false) {
        Ok(next)
    } else {
        Err(RunEnd::Restart)
    }
}

/// Starts one compositor and watches it until it fails or a command ends it; a new spec the
/// compositor can show live is applied in place (`spec` becomes it). Returns how it ended
/// and whether it pushed for at least `healthy_reset`.
async fn run_once(
    shared: &Shared,
    spec: &mut TaskSpec,
    mem: &mut RunMemory,
    cmds: &mut watch::Receiver<Desired>,
    rep: &mut Reporter,
    pid: &Mutex<Option<u32>>,
) -> (RunEnd, bool) {
    let cfg = &shared.config;
    // A command that arrives while images are fetched wins over the fetch.
    let prepared = tokio::select! {
        p = prepare(shared, spec, &mut mem.held) => p,
        end = changed(cmds, spec) => return (end, false),
    };
    let images = match prepared {
        Ok(i) => i,
        Err(f) => return (RunEnd::Failed(f), false),
    };
    // One recording per task run; each compositor start writes its next segment.
    let record = if spec.task.record {
        let rec = mem.recording.get_or_insert_with(Recording::new);
        match rec.next_segment(&shared.recordings_dir, &rep.key, &shared.records) {
            Ok(p) => p,
            Err(e) => {
                return (
                    RunEnd::Failed(Failure::new(
                        FailCode::RecordFailed,
                        format!("cannot create the recordings directory: {e}"),
                    )),
                    false,
                )
            }
        }
    } else {
        None
    };
    mem.last_start = Some(Instant::now());
    let mut comp = match shared.runner.start(spec, &images, record.as_deref()) {
        Ok(c) => c,
        Err(reason) => return (RunEnd::Failed(reason), false),
    };
    let counters = &shared.counters;
    counters.starts.fetch_add(1, Relaxed);
    if std::mem::replace(&mut mem.started, true) {
        counters.restarts.fetch_add(1, Relaxed);
    }
    *super::lock(pid) = comp.pid();
    let started = Instant::now();
    let mut pushing_since: Option<Instant> = None;
    let mut last_advance = started;
    let mut best = (0u64, 0u64);

    /// What woke the run loop: a command, a compositor event, the progress deadline, or the
    /// time to measure the recording.
    enum Step {
        Cmd(RunEnd),
        Ev(CompositorEvent),
        Stuck,
        RecordCheck,
    }
    let mut record_check = Instant::now() + RECORD_CHECK;
    let end = loop {
        let deadline = match pushing_since {
            Some(_) => last_advance + cfg.stall_timeout,
            None => started + cfg.start_timeout,
        };
        let step = tokio::select! {
            end = changed(cmds, spec) => Step::Cmd(end),
            ev = comp.next_event() => Step::Ev(ev),
            _ = tokio::time::sleep_until(deadline) => Step::Stuck,
            _ = tokio::time::sleep_until(record_check), if record.is_some() => Step::RecordCheck,
        };
        match step {
            Step::Cmd(RunEnd::Restart) => {
                match update_live(shared, &mut comp, cmds, &mut mem.held).await {
                    Ok(next) => {
                        tracing::info!(task = ?rep.key, "push task layout changed live");
                        *spec = next;
                    }
                    Err(end) => break end,
                }
            }
            Step::Cmd(end) => break end,
            Step::RecordCheck => {
                // (Only armed while recording: `record` is set from `mem.recording`.)
                let over = mem.recording.as_mut().is_some_and(|rec| {
                    rec.check_running(&shared.recordings_dir, &rep.key, &shared.records)
                });
                if over {
                    break RunEnd::RecordOver;
                }
                record_check += RECORD_CHECK;
            }
            Step::Ev(CompositorEvent::Progress {
                frames,
                out_time_us,
            }) => {
                if frames > best.0 || out_time_us > best.1 {
                    best = (best.0.max(frames), best.1.max(out_time_us));
                    last_advance = Instant::now();
                    if pushing_since.is_none() && best.0 > 0 && best.1 > 0 {
                        pushing_since = Some(last_advance);
                        rep.report(TaskState::Pushing);
                    }
                }
            }
            Step::Ev(CompositorEvent::Exited(detail)) => {
                break RunEnd::Failed(Failure::from_engine(detail))
            }
            Step::Stuck => {
                let reason = match pushing_since {
                    Some(_) => Failure::new(
                        FailCode::Stalled,
                        format!(
                            "compositor stuck: no output progress for {} s",
                            cfg.stall_timeout.as_secs_f32()
                        ),
                    ),
                    None => Failure::new(
                        FailCode::NoOutput,
                        format!(
                            "compositor produced no output within {} s of starting",
                            cfg.start_timeout.as_secs_f32()
                        ),
                    ),
                };
                break RunEnd::Failed(reason);
            }
        }
    };
    comp.kill().await;
    let healthy = pushing_since.is_some_and(|t| t.elapsed() >= cfg.healthy_reset);
    (end, healthy)
}
