//! A 1,000-member room where one member publishes: how long until every other member has
//! `stream-added` (and, on unpublish, `stream-removed`).
//!
//! `stream-added` goes out when the member's RTMP push reaches the media server, so the
//! publisher really pushes (an audio-only ffmpeg, cheap on CPU). The first publish is timed
//! from the `publish()` call, ffmpeg start-up included. The repeated trials that follow time
//! the signaling alone: with the push running, `publish('video')` adds a kind, and the server
//! sends `stream-added` for it to everyone on the spot; `unpublish('video')` takes it away.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mprtc::core::{AppEvent, MediaKind, OpValue};
use serde_json::{json, Value};

use crate::crowd::{join_all, ms, Tally, Target};
use crate::member::{Api, Observer, AUDIO, VIDEO};
use crate::procfs::{cpu_pct, Proc};
use crate::stats::{round, summary};

/// The command's arguments (`mprtc-loadgen fanout --help`).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value_t = 1_000)]
    pub members: usize,
    #[arg(long, default_value_t = 10)]
    pub trials: usize,
    #[arg(long, default_value = "ffmpeg")]
    pub ffmpeg: String,
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
}

/// One delivery: which member, when its frame was read, when the core emitted the event.
struct Seen {
    read: Instant,
    emitted: Instant,
}

#[derive(Default)]
struct Tap {
    tally: Tally,
    on: AtomicBool,
    /// What to record: (event name, media kind).
    want: Mutex<Option<(&'static str, MediaKind)>>,
    seen: Mutex<Vec<Seen>>,
    count: AtomicUsize,
}

impl Observer for Tap {
    fn event(&self, _member: usize, ev: &AppEvent, read_at: Instant) {
        self.tally.add(ev);
        if !self.on.load(Ordering::Relaxed) {
            return;
        }
        let (name, media) = match ev {
            AppEvent::StreamAdded { media, .. } => ("stream-added", *media),
            AppEvent::StreamRemoved { media, .. } => ("stream-removed", *media),
            _ => return,
        };
        if *self.want.lock().unwrap() != Some((name, media)) {
            return;
        }
        let s = Seen {
            read: read_at,
            emitted: Instant::now(),
        };
        self.seen.lock().unwrap().push(s);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

impl Tap {
    fn arm(&self, name: &'static str, media: MediaKind) {
        self.seen.lock().unwrap().clear();
        self.count.store(0, Ordering::Relaxed);
        *self.want.lock().unwrap() = Some((name, media));
        self.on.store(true, Ordering::Relaxed);
    }

    /// Waits for `n` deliveries; returns them, relative to `t0`, as (read ms, emitted ms).
    async fn wait(
        &self,
        n: usize,
        t0: Instant,
        limit: Duration,
    ) -> Result<(Vec<f64>, Vec<f64>), String> {
        let until = Instant::now() + limit;
        while self.count.load(Ordering::Relaxed) < n {
            if Instant::now() > until {
                return Err(format!(
                    "only {} of {n} members got the event within {} s",
                    self.count.load(Ordering::Relaxed),
                    limit.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.on.store(false, Ordering::Relaxed);
        let seen = self.seen.lock().unwrap();
        let rel = |i: Instant| i.saturating_duration_since(t0).as_secs_f64() * 1000.0;
        Ok((
            seen.iter().map(|s| rel(s.read)).collect(),
            seen.iter().map(|s| rel(s.emitted)).collect(),
        ))
    }
}

/// Kills the pusher however the run ends.
struct Pusher(Child);
impl Drop for Pusher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn push_audio(ffmpeg: &str, url: &str) -> Result<Pusher, String> {
    Command::new(ffmpeg)
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("sine=frequency=440:sample_rate=44100")
        .args(["-c:a", "aac", "-b:a", "32k", "-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Pusher)
        .map_err(|e| format!("cannot start {ffmpeg}: {e}"))
}

fn max(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(0.0, f64::max)
}

pub async fn run(a: Args) -> Result<Value, String> {
    let server = Proc::all(&a.target.server_pid);
    let tap = Arc::new(Tap::default());
    let others = a.members - 1;
    let who: Vec<(String, u64)> = (0..a.members)
        .map(|i| ("fanout".to_owned(), i as u64 + 1))
        .collect();
    eprintln!(
        "[loadgen] fanout: joining {} members into one room",
        a.members
    );
    let t = Instant::now();
    let (members, joins) = join_all(&a.target.url, &who, 0, a.concurrency, tap.clone()).await?;
    let ramp_ms = ms(t);
    // Let the join burst (n²/2 clientJoin events) drain before timing anything.
    let mut last = tap.tally.total();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let n = tap.tally.total();
        if n == last {
            break;
        }
        last = n;
    }
    let publisher = &members[0];
    let err = |e: mprtc::core::Error| e.to_string();

    // 1. publish() -> RTMP push starts -> every member has stream-added (audio).
    tap.arm("stream-added", MediaKind::Audio);
    let t0 = Instant::now();
    let url = match publisher.call(Api::Publish(AUDIO)).await.map_err(err)? {
        OpValue::PushUrl(u) => u,
        v => return Err(format!("publish resolved with {v:?}")),
    };
    let _pusher = push_audio(&a.ffmpeg, &url)?;
    let (first_read, first_emitted) = tap.wait(others, t0, Duration::from_secs(20)).await?;
    eprintln!(
        "[loadgen] fanout: publish -> last stream-added (push start included) {:.1} ms",
        max(&first_emitted)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 2. Signaling only: add / remove a kind while the push runs.
    let s0 = server.sample().map_err(|e| e.to_string())?;
    let mut added = (Vec::new(), Vec::new(), Vec::new());
    let mut removed = (Vec::new(), Vec::new(), Vec::new());
    let mut replies = Vec::new();
    for trial in 0..a.trials {
        for (api, name, acc) in [
            (Api::Publish(VIDEO), "stream-added", &mut added),
            (Api::Unpublish(VIDEO), "stream-removed", &mut removed),
        ] {
            tap.arm(name, MediaKind::Video);
            let t0 = Instant::now();
            publisher.call(api).await.map_err(err)?;
            replies.push(ms(t0));
            let (read, emitted) = tap.wait(others, t0, Duration::from_secs(20)).await?;
            acc.2.push(max(&emitted));
            acc.0.extend(read);
            acc.1.extend(emitted);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "[loadgen] fanout: trial {}: last stream-added {:.1} ms, last stream-removed {:.1} ms",
            trial + 1,
            added.2.last().unwrap(),
            removed.2.last().unwrap()
        );
    }
    let s1 = server.sample().map_err(|e| e.to_string())?;
    let out = json!({
        "members": a.members,
        "trials": a.trials,
        "joinRampSecs": round(ramp_ms / 1000.0, 2),
        "joinMs": summary(&joins),
        "serverRssBytes": s1.rss,
        "publishWithPush": {
            "note": "publish() call -> every other member has stream-added(audio); includes ffmpeg start and the RTMP handshake",
            "deliveredMs": summary(&first_emitted),
            "readMs": summary(&first_read),
            "lastMs": round(max(&first_emitted), 2),
        },
        "streamAdded": {
            "note": "publish('video') call while pushing -> stream-added(video) at each other member, over all trials",
            "deliveredMs": summary(&added.1),
            "readMs": summary(&added.0),
            "lastPerTrialMs": summary(&added.2),
        },
        "streamRemoved": {
            "deliveredMs": summary(&removed.1),
            "readMs": summary(&removed.0),
            "lastPerTrialMs": summary(&removed.2),
        },
        "publisherReplyMs": summary(&replies),
        "serverCpuPctDuringTrials": round(cpu_pct(&s0, &s1), 1),
        "events": tap.tally.json(),
        "connectionTrouble": tap.tally.trouble(),
    });
    drop(members);
    Ok(out)
}
