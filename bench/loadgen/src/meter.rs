//! What one viewer of the edge benchmark received, kept in atomics that its task writes and
//! the measurement reads at the two ends of a window.
//!
//! "Media time covered" is the sum of the steps between consecutive video tags' timestamps,
//! each counted up to `max_gap_ms`: a viewer that receives every frame covers exactly the
//! media time the publisher sent, while one the server (or its own slowness) made skip frames
//! has longer steps, counted short, so it covers less. A timestamp that goes back counts nothing.
//! Timestamps alone (the last one seen) would not show skipped frames: nginx-rtmp, for one,
//! drops frames for a slow viewer and goes on with later timestamps.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Where a viewer is, in the order it goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Connecting, or asked to play and not answered yet.
    Starting = 0,
    /// Play accepted, no media yet.
    Admitted = 1,
    /// Video arriving (audio and metadata alone do not count: nginx-rtmp, which has no GOP
    /// cache, sends a new viewer audio at once and video from the next keyframe on).
    Flowing = 2,
    /// Its connection ended (refused, closed by the server, or failed).
    Ended = 3,
}

/// Marks "no video tag seen yet" in `last_video`.
const NONE: u64 = u64::MAX;

/// One viewer's counters.
pub struct Meter {
    phase: AtomicU8,
    max_gap_ms: u64,
    last_video: AtomicU64,
    covered_ms: AtomicU64,
    video_tags: AtomicU64,
    bytes: AtomicU64,
    /// Why it ended, when it did (the first reason only).
    why: Mutex<Option<String>>,
}

impl Meter {
    pub fn new(max_gap_ms: u32) -> Self {
        Meter {
            phase: AtomicU8::new(Phase::Starting as u8),
            max_gap_ms: u64::from(max_gap_ms),
            last_video: AtomicU64::new(NONE),
            covered_ms: AtomicU64::new(0),
            video_tags: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            why: Mutex::new(None),
        }
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Starting,
            1 => Phase::Admitted,
            2 => Phase::Flowing,
            _ => Phase::Ended,
        }
    }

    /// The server accepted the play request.
    pub fn admitted(&self) {
        let _ = self.phase.compare_exchange(
            Phase::Starting as u8,
            Phase::Admitted as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// A video tag of the stream with timestamp `ts` (ms) and `len` payload bytes.
    pub fn video(&self, ts: u32, len: usize) {
        let ts = u64::from(ts);
        let last = self.last_video.swap(ts, Ordering::Relaxed);
        if last != NONE && ts > last {
            let step = (ts - last).min(self.max_gap_ms);
            self.covered_ms.fetch_add(step, Ordering::Relaxed);
        }
        self.video_tags.fetch_add(1, Ordering::Relaxed);
        self.media(len);
        if self.phase() != Phase::Ended {
            self.phase.store(Phase::Flowing as u8, Ordering::Relaxed);
        }
    }

    /// Any other media bytes (audio, metadata).
    pub fn media(&self, len: usize) {
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// The viewer's connection ended because of `why`.
    pub fn end(&self, why: String) {
        self.phase.store(Phase::Ended as u8, Ordering::Relaxed);
        let mut w = self.why.lock().unwrap_or_else(|e| e.into_inner());
        w.get_or_insert(why);
    }

    pub fn why(&self) -> Option<String> {
        self.why.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// (media ms covered, video tags, bytes) so far.
    pub fn reading(&self) -> Reading {
        Reading {
            covered_ms: self.covered_ms.load(Ordering::Relaxed),
            video_tags: self.video_tags.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

/// Runs a viewer's connection `conn` to its end and records in `meter` why it ended; gives it
/// up if it is still starting (not admitted) after `admit_within`.
pub async fn follow(
    meter: &Meter,
    admit_within: Duration,
    conn: impl Future<Output = Result<(), String>>,
) {
    let not_admitted = async {
        tokio::time::sleep(admit_within).await;
        if meter.phase() != Phase::Starting {
            std::future::pending::<()>().await;
        }
    };
    let why = tokio::select! {
        r = conn => match r {
            Ok(()) => "closed by the server".to_owned(),
            Err(e) => e,
        },
        _ = not_admitted => "not admitted in time".to_owned(),
    };
    meter.end(why);
}

/// A viewer's counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    pub covered_ms: u64,
    pub video_tags: u64,
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_covers_the_time_between_the_first_and_the_last() {
        let m = Meter::new(100);
        for i in 0..26 {
            m.video(1000 + i * 40, 10);
        }
        assert_eq!(m.reading().covered_ms, 1000);
        assert_eq!(m.phase(), Phase::Flowing);
    }

    #[test]
    fn skipped_frames_count_short() {
        let m = Meter::new(100);
        // Frames at 0, 40, then nothing until 2040 (a GOP dropped), then 2080.
        for ts in [0, 40, 2040, 2080] {
            m.video(ts, 10);
        }
        assert_eq!(m.reading().covered_ms, 40 + 100 + 40);
    }

    #[test]
    fn a_timestamp_going_back_counts_nothing() {
        let m = Meter::new(100);
        for ts in [500, 540, 0, 40] {
            m.video(ts, 1);
        }
        assert_eq!(m.reading().covered_ms, 80);
    }

    #[test]
    fn an_ended_viewer_stays_ended_and_keeps_its_first_reason() {
        let m = Meter::new(100);
        m.admitted();
        assert_eq!(m.phase(), Phase::Admitted);
        m.media(5);
        assert_eq!(
            m.phase(),
            Phase::Admitted,
            "audio alone is not video flowing"
        );
        m.end("refused".into());
        m.end("closed".into());
        m.video(0, 5);
        assert_eq!(m.phase(), Phase::Ended);
        assert_eq!(m.why().as_deref(), Some("refused"));
    }
}
