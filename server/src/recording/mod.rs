//! Member recording: a member's stream, as the media server serves it, written to files in
//! the operator's `recordings_dir` (NetEase's `recordAudio` / `recordVideo` on the operator's own
//! server instead of the vendor's cloud).
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`Recorder`] (start, stop, list), [`RecordingPolicy`], [`RecordError`], [`RecordingEvent`] |
//! | `process.rs` | one recording: the ffmpeg that reads the play URL and writes the segments |
//! | `index.rs` | the recordings already on disk at start (they count towards the quotas) |
//!
//! # What is written
//!
//! Each recording is one ffmpeg reading the member's play URL and copying (never re-encoding)
//! the asked tracks into fragmented MP4 segments of [`RecordingPolicy::segment_secs`] each:
//! `{dir}/{app}/{room}/uid-{uid}-{start ms}-{n}.mp4` (beside the room's push-task recordings). MP4 plays everywhere; fragmented, a segment
//! cut short (the server killed) still plays up to its last fragment. A segment is *finished*
//! when ffmpeg closes it: then it is listed ([`Recorder::list`]) and a
//! [`RecordingEvent::SegmentFinished`] is sent (for webhooks).
//!
//! # Quotas
//!
//! Recordings cost the operator's disk, and a member of an app asks for them; so each app has a
//! quota of finished files and bytes ([`RecordingPolicy`]). Starting a recording of an app at or
//! over its quota is refused ([`RecordError::Quota`], code `recording.quota`); a recording that
//! passes it is stopped ([`RecordingEvent::Stopped`] with that code). Recordings at once are
//! capped per app and in total, since each is a process.
//!
//! Names become paths: the app, room and uid are checked (URL-safe names only) before anything
//! touches the file system, and the play URL goes to ffmpeg as one argument after `-i`.

mod index;
mod process;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::Sender;

use self::process::Running;

/// What recordings may cost, per app, and how they are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingPolicy {
    /// Length of a segment (s): a finished file appears at most this long after its media.
    pub segment_secs: u32,
    /// Finished files an app may have.
    pub max_files: usize,
    /// Bytes of finished files an app may have.
    pub max_bytes: u64,
    /// Recordings running at once per app: each is an ffmpeg process, so one busy app must
    /// not take them all.
    pub max_running_per_app: usize,
    /// Recordings running at once in all.
    pub max_running: usize,
    /// Free disk space recordings leave at least (`[tasks] record_min_free_bytes`, shared with
    /// push-task recordings): the quotas are per app, and many apps could still fill the disk
    /// that the server, its logs and everything else on the machine need.
    pub min_free_bytes: u64,
}

impl Default for RecordingPolicy {
    fn default() -> Self {
        Self {
            segment_secs: 60,
            max_files: 10_000,
            max_bytes: 10 * 1024 * 1024 * 1024,
            max_running_per_app: 64,
            max_running: 256,
            min_free_bytes: 1 << 30,
        }
    }
}

/// Why a recording was refused or stopped; [`RecordError::code`] is stable.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// A name that could not be a path component (checked before anything is created).
    #[error("app, room or uid is not a name a recording can be filed under")]
    BadName,
    #[error("nothing to record: neither audio nor video asked for")]
    Nothing,
    #[error("the app's recording quota ({0}) is used up")]
    Quota(&'static str),
    #[error("too many recordings running")]
    Busy,
    #[error("this member is already being recorded")]
    Already,
    #[error("recording could not start: {0}")]
    Start(String),
    /// The disk holding `recordings_dir` is down to its floor.
    #[error("the disk is down to the recordings' free-space floor")]
    DiskFull,
}

impl RecordError {
    /// The stable code of this refusal (logs, webhooks, API answers).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadName => "recording.bad_name",
            Self::Nothing => "recording.nothing",
            Self::Quota(_) => "recording.quota",
            Self::Busy => "recording.busy",
            Self::Already => "recording.already",
            Self::Start(_) => "recording.start_failed",
            Self::DiskFull => "recording.disk_full",
        }
    }
}

/// Which tracks of the member to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracks {
    /// The member's audio (NetEase `recordAudio`).
    pub audio: bool,
    /// The member's video (NetEase `recordVideo`).
    pub video: bool,
}

/// One member's recording, as the [`Recorder`] knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// The app key: the quota is the app's.
    pub app: String,
    /// The room name as the app knows it (not the media room id), so that file paths and
    /// webhooks speak the app's names.
    pub room: String,
    /// The member's uid.
    pub uid: u64,
}

/// A finished segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedFile {
    /// Whose recording it is.
    pub member: Member,
    /// Its path under the recordings directory.
    pub path: PathBuf,
    /// Its size when closed; what the app's byte quota counts.
    pub bytes: u64,
}

/// Carries out the hub's [`HubOut::RecordMember`] / [`HubOut::RecordStop`] (others are not
/// this module's). A refused start (quota, too many at once) is logged with its code: the
/// member goes on publishing.
///
/// [`HubOut::RecordMember`]: crate::signaling::HubOut::RecordMember
/// [`HubOut::RecordStop`]: crate::signaling::HubOut::RecordStop
pub fn carry(recorder: Option<&Recorder>, out: crate::signaling::HubOut) {
    use crate::signaling::HubOut;
    let Some(recorder) = recorder else {
        return;
    };
    match out {
        HubOut::RecordMember {
            app,
            room,
            uid,
            tracks,
            url,
        } => {
            let member = Member { app, room, uid };
            let tracks = Tracks {
                audio: tracks.audio,
                video: tracks.video,
            };
            match recorder.start(member.clone(), tracks, &url) {
                Ok(()) | Err(RecordError::Already) => {}
                Err(e) => tracing::warn!(
                    app = member.app,
                    room = member.room,
                    uid = member.uid,
                    code = e.code(),
                    "member recording refused: {e}"
                ),
            }
        }
        HubOut::RecordStop { app, room, uid } => recorder.stop(&Member { app, room, uid }),
        _ => {}
    }
}

/// The webhook of a recording event: `recording.finished` (`uid`, `file` relative to the
/// recordings directory, `bytes`) for each closed segment, `recording.stopped` (`uid`,
/// `reason`: a code or null) at the end.
pub fn hook_of(ev: RecordingEvent, dir: &std::path::Path) -> crate::webhooks::HookEvent {
    let (member, kind, data) = match ev {
        RecordingEvent::SegmentFinished(f) => {
            let file = f
                .path
                .strip_prefix(dir)
                .unwrap_or(&f.path)
                .to_string_lossy()
                .into_owned();
            let data = serde_json::json!({"uid": f.member.uid, "file": file, "bytes": f.bytes});
            (f.member, "recording.finished", data)
        }
        RecordingEvent::Stopped { member, reason } => {
            let data = serde_json::json!({"uid": member.uid, "reason": reason});
            (member, "recording.stopped", data)
        }
    };
    crate::webhooks::HookEvent {
        app: member.app,
        room: member.room,
        kind,
        data,
    }
}

/// What recordings report, for webhooks and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingEvent {
    SegmentFinished(FinishedFile),
    /// A recording ended: its member stopped publishing, it was stopped, or `reason` (an
    /// [`RecordError::code`]) stopped it.
    Stopped {
        member: Member,
        reason: Option<&'static str>,
    },
}

/// Starts, stops and lists member recordings (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    ffmpeg: PathBuf,
    policy: RecordingPolicy,
    events: Sender<RecordingEvent>,
    state: Mutex<State>,
    /// The free bytes of the disk holding a directory: statvfs, or a test's own figure (a
    /// full disk cannot be made safely on a shared machine).
    free: FreeBytes,
}

/// See [`Inner::free`].
type FreeBytes = Arc<dyn Fn(&std::path::Path) -> Option<u64> + Send + Sync>;

/// What the recorder knows, under one lock: quota checks and the list must agree.
#[derive(Default)]
struct State {
    running: HashMap<Member, Running>,
    /// Finished files per app.
    finished: HashMap<String, Vec<FinishedFile>>,
}

impl State {
    /// The app's finished files, and their bytes with those of the segments being written.
    fn usage(&self, app: &str) -> (usize, u64) {
        let files = self.finished.get(app).map_or(&[][..], Vec::as_slice);
        let open: u64 = self
            .running
            .iter()
            .filter(|(m, _)| m.app == app)
            .map(|(_, r)| r.open_bytes)
            .sum();
        let done: u64 = files.iter().map(|f| f.bytes).sum();
        (files.len(), done.saturating_add(open))
    }
}

impl Recorder {
    /// A recorder writing under `dir` with the ffmpeg at `ffmpeg`; what happens goes to `events`
    /// (bounded: when its reader falls that far behind, events are dropped, never the media).
    /// The member recordings already in `dir` are listed and counted (see `index.rs`).
    pub fn new(
        dir: PathBuf,
        ffmpeg: PathBuf,
        policy: RecordingPolicy,
        events: Sender<RecordingEvent>,
    ) -> Self {
        // What earlier runs recorded still uses the apps' quotas.
        let finished = index::scan(&dir);
        Self {
            inner: Arc::new(Inner {
                dir,
                ffmpeg,
                policy,
                events,
                state: Mutex::new(State {
                    running: HashMap::new(),
                    finished,
                }),
                free: Arc::new(crate::tasks::record::free_bytes),
            }),
        }
    }

    /// This recorder with `free` telling the free bytes of a directory's disk (tests).
    #[cfg(test)]
    pub(crate) fn with_free_bytes(mut self, free: FreeBytes) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.free = free;
        }
        self
    }

    /// Whether the disk holding the recordings is down to its floor (unknown: not).
    fn disk_full(&self) -> bool {
        (self.inner.free)(&self.inner.dir).is_some_and(|f| f < self.inner.policy.min_free_bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts recording `tracks` of `member`, reading its stream at `play_url` (a play URL of
    /// the media server, signed for the recorder).
    pub fn start(&self, member: Member, tracks: Tracks, play_url: &str) -> Result<(), RecordError> {
        let names_ok = mprtc::protocol::names::is_url_safe(&member.app, 64)
            && mprtc::protocol::names::check_room(&member.room).is_ok()
            && member.room != "."
            && member.room != "..";
        if !names_ok {
            return Err(RecordError::BadName);
        }
        if !tracks.audio && !tracks.video {
            return Err(RecordError::Nothing);
        }
        let p = self.inner.policy;
        let mut state = self.lock();
        let (files, bytes) = state.usage(&member.app);
        if files >= p.max_files {
            return Err(RecordError::Quota("files"));
        }
        if bytes >= p.max_bytes {
            return Err(RecordError::Quota("bytes"));
        }
        if self.disk_full() {
            return Err(RecordError::DiskFull);
        }
        if let Some(r) = state.running.get_mut(&member) {
            // The same recording goes on; another (a stop came first, or other tracks) starts
            // when this one has closed its last segment (see `ended`).
            if r.tracks == tracks && !r.stopping() {
                return Err(RecordError::Already);
            }
            r.next = Some((tracks, play_url.to_owned()));
            r.stop();
            return Ok(());
        }
        let of_app = state.running.keys().filter(|m| m.app == member.app).count();
        if state.running.len() >= p.max_running || of_app >= p.max_running_per_app {
            return Err(RecordError::Busy);
        }
        let dir = self.inner.dir.join(&member.app).join(&member.room);
        std::fs::create_dir_all(&dir).map_err(|e| RecordError::Start(e.to_string()))?;
        let running = process::spawn(self.clone(), member.clone(), tracks, play_url, &dir)?;
        tracing::info!(
            app = member.app,
            room = member.room,
            uid = member.uid,
            "member recording started"
        );
        state.running.insert(member, running);
        Ok(())
    }

    /// Stops the recording of `member`, if any: ffmpeg closes its last segment, which is then
    /// listed like the others. A start waiting for it to end is dropped: the stop came later.
    pub fn stop(&self, member: &Member) {
        if let Some(r) = self.lock().running.get_mut(member) {
            r.next = None;
            r.stop();
        }
    }

    /// The directory recordings go under.
    pub fn dir(&self) -> &std::path::Path {
        &self.inner.dir
    }

    /// Whether `member` is being recorded.
    pub fn is_recording(&self, member: &Member) -> bool {
        self.lock().running.contains_key(member)
    }

    /// The finished files of `app`, oldest first.
    pub fn list(&self, app: &str) -> Vec<FinishedFile> {
        self.lock().finished.get(app).cloned().unwrap_or_default()
    }

    /// A segment of `member` was closed: listed, counted, reported; the recording is stopped
    /// if that passed the app's quota.
    fn finished(&self, member: &Member, path: PathBuf, bytes: u64) {
        let file = FinishedFile {
            member: member.clone(),
            path,
            bytes,
        };
        let over = {
            let mut state = self.lock();
            let files = state.finished.entry(member.app.clone()).or_default();
            files.push(file.clone());
            // Counted as finished now; the next segment starts empty.
            if let Some(r) = state.running.get_mut(member) {
                r.open_bytes = 0;
            }
            let (n, b) = state.usage(&member.app);
            let p = self.inner.policy;
            let over = n >= p.max_files || b >= p.max_bytes;
            if over {
                if let Some(r) = state.running.get_mut(member) {
                    r.stop_for("recording.quota");
                }
            }
            over
        };
        if over {
            tracing::warn!(
                app = member.app,
                "recording quota reached; recording stopped"
            );
        }
        self.report(RecordingEvent::SegmentFinished(file));
    }

    /// The segment `member` is writing has `bytes` now: if that takes the app past its byte
    /// quota, or the disk is down to its floor, the recording is stopped as if a segment had
    /// closed over it.
    fn writing(&self, member: &Member, bytes: u64) {
        let disk_full = self.disk_full();
        let mut state = self.lock();
        let Some(r) = state.running.get_mut(member) else {
            return;
        };
        r.open_bytes = bytes;
        let (_, used) = state.usage(&member.app);
        let code = if used >= self.inner.policy.max_bytes {
            RecordError::Quota("bytes").code()
        } else if disk_full {
            RecordError::DiskFull.code()
        } else {
            return;
        };
        if let Some(r) = state.running.get_mut(member) {
            r.stop_for(code);
        }
        drop(state);
        tracing::warn!(
            app = member.app,
            code,
            "recording quota or disk floor reached while writing; recording stopped"
        );
    }

    /// The recording of `member` ended (its ffmpeg exited); a start asked for meanwhile
    /// begins now, under the quotas as any start.
    fn ended(&self, member: &Member) {
        let (reason, next) = match self.lock().running.remove(member) {
            Some(r) => (r.reason(), r.next),
            None => (None, None),
        };
        tracing::info!(
            app = member.app,
            room = member.room,
            uid = member.uid,
            reason,
            "member recording ended"
        );
        self.report(RecordingEvent::Stopped {
            member: member.clone(),
            reason,
        });
        if let Some((tracks, url)) = next {
            if let Err(e) = self.start(member.clone(), tracks, &url) {
                tracing::warn!(
                    app = member.app,
                    room = member.room,
                    uid = member.uid,
                    code = e.code(),
                    "member recording refused: {e}"
                );
            }
        }
    }

    fn report(&self, ev: RecordingEvent) {
        if self.inner.events.try_send(ev).is_err() {
            tracing::warn!("recording event dropped: its reader is behind or gone");
        }
    }
}
