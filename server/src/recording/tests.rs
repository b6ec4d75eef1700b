//! Member recordings with the real embedded media server, ffmpeg publishers and ffmpeg
//! decoding what was written: the member's colour and tone come back from the files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::mpsc::{channel, Receiver};

use super::*;
use crate::media::tests::{now, output_within, start_media, Server, FFMPEG};

const SECRET: &[u8] = b"recording-tests-secret";

/// A fresh directory for one test's recordings, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("mprtc-rec-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn recorder(dir: &Path, policy: RecordingPolicy) -> (Recorder, Receiver<RecordingEvent>) {
    let (tx, rx) = channel(64);
    (Recorder::new(dir.into(), FFMPEG.into(), policy, tx), rx)
}

async fn next(rx: &mut Receiver<RecordingEvent>, what: &str) -> RecordingEvent {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} in time"))
        .expect("recorder alive")
}

fn member(room: &str, uid: u64) -> Member {
    Member {
        app: "rec".into(),
        room: room.into(),
        uid,
    }
}

const BOTH: Tracks = Tracks {
    audio: true,
    video: true,
};

/// One test's world: a media server where member `uid` of `room` publishes `video` with a
/// tone, and a recorder under `policy` writing to a scratch directory, with the member's play
/// URL to record from.
struct Studio {
    _scratch: Scratch,
    srv: Server,
    pusher: Child,
    rec: Recorder,
    events: Receiver<RecordingEvent>,
    who: Member,
    url: String,
}

async fn studio(
    name: &str,
    (room, uid): (&str, u64),
    video: &str,
    policy: RecordingPolicy,
) -> Studio {
    let scratch = Scratch::new(name);
    let mut srv = start_media(SECRET, 600).await;
    let pusher = srv
        .publish_live((room, uid), video, "sine=frequency=500", &[])
        .await;
    let (rec, events) = recorder(&scratch.0, policy);
    let url = srv.urls.play_urls(room, uid, 900, now()).flv;
    Studio {
        _scratch: scratch,
        srv,
        pusher,
        rec,
        events,
        who: member(room, uid),
        url,
    }
}

impl Studio {
    async fn end(mut self) {
        self.pusher.kill().await.unwrap();
        self.srv.stop().await;
    }
}

/// Records the studio's member until the quota stops it (the reason must be the quota's);
/// then what the next start is refused with.
async fn stopped_by_the_quota(s: &mut Studio) -> RecordError {
    s.rec
        .start(s.who.clone(), BOTH, &s.url)
        .expect("under the quota");
    let reason = loop {
        if let RecordingEvent::Stopped { reason, .. } = next(&mut s.events, "the stop").await {
            break reason;
        }
    };
    assert_eq!(reason, Some("recording.quota"));
    s.rec.start(s.who.clone(), BOTH, &s.url).unwrap_err()
}

/// The mean RGB of the first picture of `file`, decoded to 8x8.
async fn colour_of(file: &Path) -> [u32; 3] {
    let mut cmd = Command::new(FFMPEG);
    cmd.args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-vf", "scale=8:8", "-pix_fmt", "rgb24"])
        .args(["-f", "rawvideo", "-"]);
    let px = output_within(&mut cmd, 20).await.expect("decode a picture");
    assert_eq!(px.len(), 8 * 8 * 3, "one 8x8 picture");
    let mut sum = [0u32; 3];
    for p in px.chunks_exact(3) {
        for (s, &c) in sum.iter_mut().zip(p) {
            *s += u32::from(c);
        }
    }
    sum.map(|s| s / 64)
}

/// The audio of `file` as 16 kHz mono: (its frequency from zero crossings in Hz, RMS in 0..1).
async fn tone_of(file: &Path) -> (f64, f64) {
    let mut cmd = Command::new(FFMPEG);
    cmd.args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"]);
    let raw = output_within(&mut cmd, 20).await.expect("decode the audio");
    let s: Vec<f64> = raw
        .chunks_exact(2)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect();
    assert!(
        s.len() > 8000,
        "at least half a second of audio: {}",
        s.len()
    );
    let crossings = s
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    let secs = s.len() as f64 / 16000.0;
    let rms = (s.iter().map(|x| x * x).sum::<f64>() / s.len() as f64).sqrt();
    (crossings as f64 / 2.0 / secs, rms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_recording_plays_back_with_its_colour_and_tone() {
    let scratch = Scratch::new("play");
    let mut srv = start_media(SECRET, 600).await;
    let video = "color=c=red:size=320x240:rate=15";
    let mut pusher = srv
        .publish_live(("studio", 21), video, "sine=frequency=1000", &[])
        .await;
    let policy = RecordingPolicy {
        segment_secs: 1,
        ..RecordingPolicy::default()
    };
    let (rec, mut events) = recorder(&scratch.0, policy);
    let who = member("studio", 21);
    let url = srv.urls.play_urls("studio", 21, 900, now()).flv;
    rec.start(who.clone(), BOTH, &url)
        .expect("recording starts");
    assert_eq!(
        rec.start(who.clone(), BOTH, &url).map_err(|e| e.code()),
        Err("recording.already")
    );
    // Two closed segments, then a stop that closes the last one.
    let mut files = Vec::new();
    while files.len() < 2 {
        if let RecordingEvent::SegmentFinished(f) = next(&mut events, "a segment").await {
            assert_eq!(f.member, who);
            assert!(f.bytes > 0 && f.path.starts_with(scratch.0.join("rec/studio")));
            files.push(f);
        }
    }
    rec.stop(&who);
    loop {
        match next(&mut events, "the stop").await {
            RecordingEvent::Stopped { member, reason } => {
                assert_eq!((member, reason), (who.clone(), None));
                break;
            }
            RecordingEvent::SegmentFinished(f) => files.push(f),
        }
    }
    assert!(!rec.is_recording(&who));
    assert_eq!(rec.list("rec"), files, "the list holds every finished file");
    // A whole segment (not the first, which may start before the first key frame's media).
    let file = &files[1].path;
    let [r, g, b] = colour_of(file).await;
    assert!(r > 160 && g < 80 && b < 80, "red: {:?}", [r, g, b]);
    let (hz, rms) = tone_of(file).await;
    assert!((950.0..1050.0).contains(&hz), "a 1 kHz tone: {hz} Hz");
    assert!(rms > 0.05, "with sound: RMS {rms}");
    pusher.kill().await.unwrap();
    srv.stop().await;
}

/// A start that comes while the last recording of the member still closes (a stop and a
/// start in a row from the server API, or other tracks asked for) is carried out once that one
/// has ended, never dropped as "already recording".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_while_the_last_recording_closes_begins_after_it() {
    let policy = RecordingPolicy {
        segment_secs: 1,
        ..RecordingPolicy::default()
    };
    let video = "color=c=green:size=320x240:rate=15";
    let mut s = studio("restart", ("again", 23), video, policy).await;
    let (who, url) = (s.who.clone(), s.url.clone());
    s.rec.start(who.clone(), BOTH, &url).expect("first start");
    s.rec.stop(&who);
    let audio = Tracks {
        audio: true,
        video: false,
    };
    assert_eq!(
        s.rec.start(who.clone(), audio, &url),
        Ok(()),
        "queued, not refused"
    );
    // The first one ends; the second then writes segments of its own (another start time).
    let first_stem = match next(&mut s.events, "the first stop").await {
        RecordingEvent::Stopped { member, reason } => {
            assert_eq!((member, reason), (who.clone(), None));
            None
        }
        RecordingEvent::SegmentFinished(f) => Some(f.path),
    };
    let stem = |p: &Path| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.rsplit_once('-').unwrap().0.to_owned()
    };
    let mut stopped = first_stem.is_none();
    loop {
        match next(&mut s.events, "a segment of the second recording").await {
            RecordingEvent::Stopped { .. } if !stopped => stopped = true,
            RecordingEvent::SegmentFinished(f) if stopped => {
                if let Some(first) = &first_stem {
                    assert_ne!(stem(&f.path), stem(first), "a new recording");
                }
                break;
            }
            RecordingEvent::SegmentFinished(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(s.rec.is_recording(&who));
    // Asking again for what runs is still "already".
    assert_eq!(
        s.rec.start(who.clone(), audio, &url),
        Err(RecordError::Already)
    );
    s.rec.stop(&who);
    s.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_quota_stops_a_recording_and_refuses_the_next() {
    let policy = RecordingPolicy {
        segment_secs: 1,
        max_files: 1,
        ..RecordingPolicy::default()
    };
    let video = "color=c=blue:size=320x240:rate=15";
    let mut s = studio("quota", ("q", 22), video, policy).await;
    let refused = stopped_by_the_quota(&mut s).await;
    assert_eq!(
        (refused.code(), refused),
        ("recording.quota", RecordError::Quota("files"))
    );
    s.end().await;
}

/// The byte quota counts the segment being written, not only closed ones: a segment that
/// would stay open for an hour (or forever, with no key frame to cut at) is stopped once it
/// takes the app past the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_segment_being_written_counts_towards_the_byte_quota() {
    let policy = RecordingPolicy {
        segment_secs: 3600,
        max_bytes: 32 * 1024,
        ..RecordingPolicy::default()
    };
    // A busy picture: enough bytes a second that the quota is reached within seconds.
    let video = "testsrc2=size=320x240:rate=15";
    let mut s = studio("open-quota", ("long", 24), video, policy).await;
    let refused = stopped_by_the_quota(&mut s).await;
    assert_eq!(refused, RecordError::Quota("bytes"));
    s.end().await;
}

/// The disk floor (`[tasks] record_min_free_bytes`, shared with push-task recordings): a
/// recording running when the disk's free bytes fall under it is stopped with
/// `recording.disk_full`, and a new one is refused with it. The disk's figure is the test's own
/// (a full disk cannot be made safely on a shared machine); the media and ffmpeg are real.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_floor_stops_a_recording_and_refuses_the_next() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let policy = RecordingPolicy {
        min_free_bytes: 1 << 30,
        ..RecordingPolicy::default()
    };
    let mut s = studio(
        "disk-floor",
        ("disk", 25),
        "color=c=red:s=160x120:r=15",
        policy,
    )
    .await;
    let free = Arc::new(AtomicU64::new(1 << 40));
    let seen = free.clone();
    let (rec, events) = recorder(&s._scratch.0, policy);
    s.rec = rec.with_free_bytes(Arc::new(move |_: &Path| Some(seen.load(Ordering::SeqCst))));
    s.events = events;
    s.rec
        .start(s.who.clone(), BOTH, &s.url)
        .expect("above the floor");
    assert!(s.rec.is_recording(&s.who));
    free.store((1 << 30) - 1, Ordering::SeqCst);
    let reason = loop {
        if let RecordingEvent::Stopped { reason, .. } = next(&mut s.events, "the stop").await {
            break reason;
        }
    };
    assert_eq!(reason, Some("recording.disk_full"));
    let refused = s.rec.start(s.who.clone(), BOTH, &s.url).unwrap_err();
    assert_eq!(refused, RecordError::DiskFull);
    assert_eq!(refused.code(), "recording.disk_full");
    s.end().await;
}

#[test]
fn names_that_are_not_paths_and_empty_recordings_are_refused() {
    let scratch = Scratch::new("names");
    let (rec, _events) = recorder(&scratch.0, RecordingPolicy::default());
    for (app, room) in [("rec", ".."), ("rec", "a/b"), ("../etc", "r"), ("rec", "")] {
        let m = Member {
            app: app.into(),
            room: room.into(),
            uid: 1,
        };
        let e = rec.start(m, BOTH, "rtmp://x/y").unwrap_err();
        assert_eq!(e.code(), "recording.bad_name", "{app}/{room}");
    }
    let none = Tracks {
        audio: false,
        video: false,
    };
    let e = rec.start(member("r", 1), none, "rtmp://x/y").unwrap_err();
    assert_eq!(e.code(), "recording.nothing");
    assert_eq!(
        std::fs::read_dir(&scratch.0).unwrap().count(),
        0,
        "nothing made"
    );
}

/// What the app's backend hears: each closed file by its name under the recordings directory
/// (never the operator's absolute path), and the end with its reason.
#[test]
fn recording_events_become_webhooks_with_relative_file_names() {
    let dir = Path::new("/srv/rec");
    let file = FinishedFile {
        member: member("r1", 9),
        path: dir.join("rec/r1/uid-9-1-00000.mp4"),
        bytes: 1234,
    };
    let h = hook_of(RecordingEvent::SegmentFinished(file), dir);
    assert_eq!(
        (h.app.as_str(), h.room.as_str(), h.kind),
        ("rec", "r1", "recording.finished")
    );
    assert_eq!(
        h.data,
        serde_json::json!({"uid": 9, "file": "rec/r1/uid-9-1-00000.mp4", "bytes": 1234})
    );
    let stopped = RecordingEvent::Stopped {
        member: member("r1", 9),
        reason: Some("recording.quota"),
    };
    let h = hook_of(stopped, dir);
    assert_eq!(h.kind, "recording.stopped");
    assert_eq!(
        h.data,
        serde_json::json!({"uid": 9, "reason": "recording.quota"})
    );
}

/// A restarted server still counts what it recorded before: listed, and within the quota.
#[test]
fn recordings_on_disk_at_start_are_listed_and_count_towards_the_quota() {
    let scratch = Scratch::new("index");
    let room = scratch.0.join("rec/r1");
    std::fs::create_dir_all(&room).unwrap();
    std::fs::write(room.join("uid-3-1764750000000-00000.mp4"), [0u8; 100]).unwrap();
    std::fs::write(room.join("live_1-1764750000.flv"), [0u8; 100]).unwrap();
    let policy = RecordingPolicy {
        max_files: 1,
        ..RecordingPolicy::default()
    };
    let (rec, _events) = recorder(&scratch.0, policy);
    let listed = rec.list("rec");
    assert_eq!(listed.len(), 1, "only the member recording: {listed:?}");
    assert_eq!((listed[0].member.uid, listed[0].bytes), (3, 100));
    let e = rec.start(member("r1", 4), BOTH, "rtmp://x/y").unwrap_err();
    assert_eq!(e, RecordError::Quota("files"));
}
