//! Recordings of push tasks, bounded: one recording per task run, limits on its length and
//! size, a quota per app and a free-disk floor.
//!
//! A recording is `<dir>/<app>/<room>/<task>-<unix>.flv`, named when the task's first
//! compositor starts. A compositor restart (a layout change, a publisher coming or going, a
//! retry) cannot append to an FLV file, so it continues the *same* recording in the next
//! segment, `<task>-<unix>.<n>.flv`; the limits count all segments together. Once a limit is
//! reached the recording ends for the rest of the run and the push goes on without it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::policy::TaskPolicy;
use super::TaskKey;

/// How often a running recording is measured against its limits.
pub const RECORD_CHECK: Duration = Duration::from_secs(2);

/// The operator's bounds on recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLimits {
    /// Longest recording of one task run (`record_max_secs`).
    pub max_duration: Duration,
    /// Largest recording of one task run (`record_max_bytes`).
    pub max_bytes: u64,
    /// Bytes of recordings one app may keep on disk (`record_app_quota_bytes`).
    pub app_quota_bytes: u64,
    /// Free disk space a recording leaves at least (`record_min_free_bytes`).
    pub min_free_bytes: u64,
}

impl RecordLimits {
    /// The limits the `[tasks]` table sets.
    pub fn from_policy(p: &TaskPolicy) -> Self {
        Self {
            max_duration: Duration::from_secs(p.record_max_secs),
            max_bytes: p.record_max_bytes,
            app_quota_bytes: p.record_app_quota_bytes,
            min_free_bytes: p.record_min_free_bytes,
        }
    }
}

impl Default for RecordLimits {
    fn default() -> Self {
        Self::from_policy(&TaskPolicy::default())
    }
}

/// Why a recording ended (or did not start) while its task goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordStop {
    #[error("the recording reached its maximum duration")]
    Duration,
    #[error("the recording reached its maximum size")]
    Size,
    #[error("the app's recordings quota is used up")]
    Quota,
    #[error("the recordings disk is nearly full")]
    Disk,
}

/// The recording of one task run.
#[derive(Debug)]
pub struct Recording {
    unix: u64,
    next_segment: u32,
    started: Instant,
    /// Bytes of the segments already closed.
    closed_bytes: u64,
    /// The segment being written.
    current: Option<PathBuf>,
    /// Set once a limit ended the recording: no more segments this run.
    pub stopped: Option<RecordStop>,
}

impl Recording {
    /// A run that has recorded nothing yet.
    pub fn new() -> Self {
        Self {
            unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            next_segment: 0,
            started: Instant::now(),
            closed_bytes: 0,
            current: None,
            stopped: None,
        }
    }

    /// The file for the next compositor start, after checking every limit (also the app's
    /// quota and the free disk, which only matter when a segment starts). `Ok(None)` once the
    /// recording has ended; `Err` if the directory cannot be made.
    pub fn next_segment(
        &mut self,
        dir: &Path,
        key: &TaskKey,
        limits: &RecordLimits,
    ) -> std::io::Result<Option<PathBuf>> {
        if let Some(prev) = self.current.take() {
            self.closed_bytes += file_size(&prev);
        }
        if self.stopped.is_some() {
            return Ok(None);
        }
        let path = record_path(dir, key, self.unix, self.next_segment);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let app_dir = dir.join(path_component(&key.app));
        let stop = self.over(limits, 0).or_else(|| {
            if tree_size(&app_dir, 3) >= limits.app_quota_bytes {
                Some(RecordStop::Quota)
            } else if free_bytes(dir).is_some_and(|f| f < limits.min_free_bytes) {
                Some(RecordStop::Disk)
            } else {
                None
            }
        });
        if let Some(s) = stop {
            tracing::warn!(task = ?key, reason = %s, "recording ended; the push goes on");
            self.stopped = Some(s);
            return Ok(None);
        }
        self.next_segment += 1;
        self.current = Some(path.clone());
        Ok(Some(path))
    }

    /// Whether the running segment took the recording past a limit (checked every
    /// [`RECORD_CHECK`] while it runs). Marks the recording ended if so.
    pub fn check_running(&mut self, dir: &Path, key: &TaskKey, limits: &RecordLimits) -> bool {
        let current = self.current.as_deref().map_or(0, file_size);
        let stop = self.over(limits, current).or_else(|| {
            free_bytes(dir)
                .is_some_and(|f| f < limits.min_free_bytes)
                .then_some(RecordStop::Disk)
        });
        if let Some(s) = stop {
            tracing::warn!(task = ?key, reason = %s, "recording ended; the push goes on");
            self.stopped = Some(s);
            return true;
        }
        false
    }

    fn over(&self, limits: &RecordLimits, current: u64) -> Option<RecordStop> {
        if self.started.elapsed() >= limits.max_duration {
            Some(RecordStop::Duration)
        } else if self.closed_bytes + current >= limits.max_bytes {
            Some(RecordStop::Size)
        } else {
            None
        }
    }
}

impl Default for Recording {
    fn default() -> Self {
        Self::new()
    }
}

/// Segment `n` of the recording that started at `unix`: `<task>-<unix>.flv` for the first,
/// `<task>-<unix>.<n>.flv` after.
pub fn record_path(dir: &Path, key: &TaskKey, unix: u64, n: u32) -> PathBuf {
    let task = path_component(&key.task_id);
    let name = match n {
        0 => format!("{task}-{unix}.flv"),
        n => format!("{task}-{unix}.{n}.flv"),
    };
    dir.join(path_component(&key.app))
        .join(path_component(&key.room))
        .join(name)
}

/// Keeps `[A-Za-z0-9._-]`, replaces the rest with `_`; never `.`/`..`/empty.
fn path_component(s: &str) -> String {
    let c: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if c.is_empty() || c.chars().all(|c| c == '.') {
        "_".repeat(c.len().max(1))
    } else {
        c
    }
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// Bytes of the files under `dir`, `depth` levels down at most (links not followed).
fn tree_size(dir: &Path, depth: u32) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for e in rd.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_file() {
            total += e.metadata().map_or(0, |m| m.len());
        } else if t.is_dir() && depth > 0 {
            total += tree_size(&e.path(), depth - 1);
        }
    }
    total
}

/// Bytes free for unprivileged use on the file system holding `dir` (also the member
/// recorder's disk floor, `crate::recording`).
#[cfg(unix)]
pub(crate) fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes the struct it is given; all-zero bytes are a valid value
    // of this plain C struct, and `c` is a NUL-terminated path that outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    (r == 0).then(|| (st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(not(unix))]
pub(crate) fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TaskKey {
        TaskKey {
            app: "app".into(),
            room: "room".into(),
            task_id: "t".into(),
        }
    }

    /// Opens `r`'s next segment, which must be allowed, and writes `bytes` into it.
    fn write_segment(
        r: &mut Recording,
        dir: &Path,
        limits: &RecordLimits,
        bytes: usize,
    ) -> PathBuf {
        let p = r.next_segment(dir, &key(), limits).unwrap().unwrap();
        std::fs::write(&p, vec![0u8; bytes]).unwrap();
        p
    }

    /// The default limits without the free-disk floor, which a busy test machine could hit.
    fn no_floor() -> RecordLimits {
        RecordLimits {
            min_free_bytes: 0,
            ..RecordLimits::default()
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mprtc-rec-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[tokio::test]
    async fn restarts_continue_one_recording_and_its_size_limit_counts_all_segments() {
        let dir = tmp("segments");
        let limits = RecordLimits {
            max_bytes: 1000,
            ..no_floor()
        };
        let mut r = Recording::new();
        let first = write_segment(&mut r, &dir, &limits, 600);
        assert!(!r.check_running(&dir, &key(), &limits));
        let second = write_segment(&mut r, &dir, &limits, 500);
        let stem = first.file_stem().unwrap().to_str().unwrap().to_owned();
        assert_eq!(
            second.file_name().unwrap().to_str().unwrap(),
            format!("{stem}.1.flv"),
            "the same recording, next segment"
        );
        assert!(r.check_running(&dir, &key(), &limits), "600 + 500 > 1000");
        assert_eq!(r.stopped, Some(RecordStop::Size));
        assert_eq!(r.next_segment(&dir, &key(), &limits).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_app_quota_and_the_disk_floor_stop_new_recordings() {
        let dir = tmp("quota");
        let quota = RecordLimits {
            app_quota_bytes: 100,
            ..no_floor()
        };
        // Another task of the app already wrote past the quota.
        write_segment(&mut Recording::new(), &dir, &quota, 200);
        let mut other = Recording::new();
        let k2 = TaskKey {
            task_id: "t2".into(),
            ..key()
        };
        assert_eq!(other.next_segment(&dir, &k2, &quota).unwrap(), None);
        assert_eq!(other.stopped, Some(RecordStop::Quota));
        let floor = RecordLimits {
            min_free_bytes: u64::MAX,
            ..RecordLimits::default()
        };
        let mut third = Recording::new();
        assert_eq!(third.next_segment(&dir, &k2, &floor).unwrap(), None);
        assert_eq!(third.stopped, Some(RecordStop::Disk));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_zero_duration_limit_records_nothing() {
        let dir = tmp("duration");
        let limits = RecordLimits {
            max_duration: Duration::ZERO,
            ..RecordLimits::default()
        };
        let mut r = Recording::new();
        assert_eq!(r.next_segment(&dir, &key(), &limits).unwrap(), None);
        assert_eq!(r.stopped, Some(RecordStop::Duration));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn record_paths_are_sanitised() {
        let k = TaskKey {
            app: "../etc".into(),
            room: "r 1".into(),
            task_id: "..".into(),
        };
        assert_eq!(
            record_path(Path::new("/rec"), &k, 42, 0),
            PathBuf::from("/rec/.._etc/r_1/__-42.flv")
        );
        assert_eq!(
            record_path(Path::new("/rec"), &k, 42, 3),
            PathBuf::from("/rec/.._etc/r_1/__-42.3.flv")
        );
    }
}
