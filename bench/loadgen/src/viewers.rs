//! `mprtc-loadgen viewers`: many concurrent viewers of one stream, stepped up until the
//! servers no longer hold them, with the CPU each viewer costs the server-side processes.
//!
//! One member publishes a looped clip (see [`crate::pusher`]); every viewer is a member of the
//! room (the real core over its own WebSocket) that subscribes and plays the signed play URL
//! it is handed, so whatever admits a player (the embedded server's check, or nginx-rtmp's
//! `on_play` hook to mprtc-server) is part of what is measured. Viewers are added step by step
//! and stay; after each step, once every viewer has media (or has failed), one window of
//! `--window-secs` is measured:
//!
//! - **holds**: every viewer of the step was admitted, has media, is still connected at the
//!   end of the window, and covered at least `--hold-pct` % of the media time the publisher
//!   sent during the window (see [`crate::meter`] for "covered": skipped frames count short).
//! - **CPU per viewer**: the server-side processes' CPU time over the window (each
//!   `--server-pid` with its whole process tree), per viewer per second of the window.
//!
//! The load generator's own CPU is reported beside it: it shares the machine's cores.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use mprtc::core::{AppEvent, MediaKind, OpValue};
use serde_json::{json, Value};

use crate::crowd::{join_all, Tally, Target};
use crate::member::{config, Api, Member, Observer, BOTH};
use crate::meter::{Meter, Phase, Reading};
use crate::procfs::{cpu_pct, Proc, Sample};
use crate::pusher::Pusher;
use crate::stats::round;

/// Which play URL the viewers use.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// The RTMP play URL (`url`), read by an RTMP client session.
    Rtmp,
    /// The HTTP-FLV play URL (`flvUrl`), read by an HTTP GET.
    Flv,
}

/// The command's arguments (`mprtc-loadgen viewers --help`).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, value_enum)]
    pub protocol: Protocol,
    /// Numbers of viewers to step through; stepping stops at the first that does not hold.
    #[arg(long, value_delimiter = ',', default_value = "50,100,200,400,800,1600")]
    pub steps: Vec<usize>,
    /// Length of each step's measurement window.
    #[arg(long, default_value_t = 10)]
    pub window_secs: u64,
    /// A viewer holds if it covered at least this share (%) of the media time sent.
    #[arg(long, default_value_t = 95.0)]
    pub hold_pct: f64,
    /// Longest step between two video tags counted in full (ms; 2.5 frames at 25 fps).
    #[arg(long, default_value_t = 100)]
    pub max_gap_ms: u32,
    /// A viewer not admitted with media within this is counted as failed (s).
    #[arg(long, default_value_t = 30)]
    pub admit_secs: u64,
    /// No step starts after this many seconds (the run stays within a few minutes).
    #[arg(long, default_value_t = 240)]
    pub max_secs: u64,
    /// The clip the publisher loops (FLV: H.264 + AAC).
    #[arg(long)]
    pub clip: String,
    #[arg(long, default_value = "ffmpeg")]
    pub ffmpeg: String,
    /// Viewers starting at once (join, subscribe, connect).
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    #[arg(long, default_value = "viewers")]
    pub room: String,
}

/// The publisher's uid; viewers are 3, 4, ... (2 is the member that waits for the stream).
const PUBLISHER: u64 = 1;

/// Counts events and notices when the publisher's video is announced.
#[derive(Default)]
struct Announced {
    tally: Tally,
    video: AtomicBool,
}

impl Observer for Announced {
    fn event(&self, _member: usize, ev: &AppEvent, _read_at: Instant) {
        self.tally.add(ev);
        if let AppEvent::StreamAdded {
            uid: PUBLISHER,
            media: MediaKind::Video,
        } = ev
        {
            self.video.store(true, Ordering::Relaxed);
        }
    }
}

/// A viewer: its member (kept joined while it plays) and what it received.
struct Viewer {
    _member: Member,
    meter: Arc<Meter>,
}

pub async fn run(a: Args) -> Result<Value, String> {
    let started = Instant::now();
    let server = Proc::trees(&a.target.server_pid);
    let me = Proc::this();
    let obs = Arc::new(Announced::default());
    let who = [(a.room.clone(), PUBLISHER), (a.room.clone(), PUBLISHER + 1)];
    let (members, _) = join_all(&a.target.url, &who, 0, 2, obs.clone()).await?;
    let push = match members[0].call(Api::Publish(BOTH)).await {
        Ok(OpValue::PushUrl(u)) => u,
        other => return Err(format!("publish resolved with {other:?}")),
    };
    let mut pusher = Pusher::start(&a.ffmpeg, &a.clip, &push)?;
    let publisher = Proc::all(&[pusher.pid()]);
    let until = Instant::now() + Duration::from_secs(30);
    while !obs.video.load(Ordering::Relaxed) {
        if Instant::now() > until || !pusher.running() {
            return Err("the publisher's video was not announced within 30 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("[loadgen] viewers: stream live, pushing {push}");
    let mut viewers: Vec<Viewer> = Vec::new();
    let mut steps = Vec::new();
    let mut largest = 0;
    let mut stopped = "every step held";
    for &n in &a.steps {
        if started.elapsed() > Duration::from_secs(a.max_secs) {
            stopped = "time cap reached";
            break;
        }
        let t = Instant::now();
        let signaling_failed = add_viewers(&a, &mut viewers, n, &obs).await;
        let ramp = t.elapsed().as_secs_f64();
        let until = Instant::now() + Duration::from_secs(a.admit_secs);
        while viewers.iter().any(|v| v.meter.phase() < Phase::Flowing) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Past the first keyframes' burst before measuring.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let m = measure(&a, &viewers, &server, &me, &publisher, &pusher).await?;
        let held = signaling_failed == 0 && m.held == n;
        eprintln!(
            "[loadgen] viewers: {n} ({}): {} admitted, {} held, server {:.1}% CPU, loadgen {:.1}%",
            if held { "holds" } else { "does not hold" },
            m.admitted,
            m.held,
            m.server_pct,
            m.loadgen_pct
        );
        steps.push(m.json(n, ramp, signaling_failed, held, &viewers));
        if !pusher.running() {
            return Err("the publisher's ffmpeg ended".to_owned());
        }
        if !held {
            stopped = "a step did not hold";
            break;
        }
        largest = n;
    }
    drop(pusher);
    let out = Ok(json!({
        "protocol": match a.protocol { Protocol::Rtmp => "rtmp", Protocol::Flv => "flv" },
        "holds": format!(
            "every viewer admitted with media, still connected at the end of a {} s window, and covering >= {}% of the media time the publisher sent in it (video tag timestamps, steps over {} ms counted as {} ms)",
            a.window_secs, a.hold_pct, a.max_gap_ms, a.max_gap_ms
        ),
        "largestHeld": largest,
        "stopped": stopped,
        "steps": steps,
        "events": obs.tally.json(),
        "connectionTrouble": obs.tally.trouble(),
        "runSecs": round(started.elapsed().as_secs_f64(), 1),
    }));
    // The publisher and the member that waited for the stream stay joined until here.
    drop(members);
    out
}

/// Adds viewers until there are `n`: each joins, subscribes to the publisher and starts
/// playing. Returns how many could not get a play URL (they count as viewers that failed).
async fn add_viewers(a: &Args, viewers: &mut Vec<Viewer>, n: usize, obs: &Arc<Announced>) -> usize {
    let first = viewers.len();
    let admit = Duration::from_secs(a.admit_secs);
    let made: Vec<Viewer> = stream::iter(first..n)
        .map(|i| {
            let id = i + 2;
            let url = a.target.url[id % a.target.url.len()].clone();
            let member = Member::spawn(id, config(&url, id as u64 + 1), obs.clone());
            let (room, protocol, gap) = (a.room.clone(), a.protocol, a.max_gap_ms);
            async move {
                let meter = Arc::new(Meter::new(gap));
                let uid = id as u64 + 1;
                let play = match member.call(Api::Join { room, uid }).await {
                    Ok(_) => member.call(Api::Subscribe(PUBLISHER, BOTH)).await,
                    Err(e) => Err(e),
                };
                match play {
                    Ok(OpValue::Play { url, flv_url }) => {
                        let m = Arc::clone(&meter);
                        match protocol {
                            Protocol::Rtmp => tokio::spawn(crate::play_rtmp::play(url, m, admit)),
                            Protocol::Flv => tokio::spawn(crate::play_flv::play(flv_url, m, admit)),
                        };
                    }
                    other => meter.end(format!("no play URL: {other:?}")),
                }
                Viewer {
                    _member: member,
                    meter,
                }
            }
        })
        .buffer_unordered(a.concurrency.max(1))
        .collect()
        .await;
    let failed = made
        .iter()
        .filter(|v| v.meter.why().is_some_and(|w| w.starts_with("no play URL")))
        .count();
    viewers.extend(made);
    failed
}

/// One step's window.
struct Window {
    secs: f64,
    sent_ms: f64,
    admitted: usize,
    held: usize,
    covered_pct: Vec<f64>,
    mbps: Vec<f64>,
    fps: Vec<f64>,
    server_pct: f64,
    server_cpu_secs: f64,
    server_rss: u64,
    loadgen_pct: f64,
    publisher_pct: f64,
}

async fn measure(
    a: &Args,
    viewers: &[Viewer],
    server: &Proc,
    me: &Proc,
    publisher: &Proc,
    pusher: &Pusher,
) -> Result<Window, String> {
    let e = |e: std::io::Error| format!("/proc: {e}");
    let r0: Vec<Reading> = viewers.iter().map(|v| v.meter.reading()).collect();
    let flowing0: Vec<bool> = viewers
        .iter()
        .map(|v| v.meter.phase() == Phase::Flowing)
        .collect();
    let (s0, m0, p0, sent0) = (
        server.sample().map_err(e)?,
        me.sample().map_err(e)?,
        publisher.sample().ok(),
        pusher.sent_ms(),
    );
    tokio::time::sleep(Duration::from_secs(a.window_secs)).await;
    let (s1, m1, p1, sent1) = (
        server.sample().map_err(e)?,
        me.sample().map_err(e)?,
        publisher.sample().ok(),
        pusher.sent_ms(),
    );
    let secs = s1.at.duration_since(s0.at).as_secs_f64();
    let sent_ms = sent1 - sent0;
    let mut w = Window {
        secs,
        sent_ms,
        admitted: flowing0.iter().filter(|f| **f).count(),
        held: 0,
        covered_pct: Vec::new(),
        mbps: Vec::new(),
        fps: Vec::new(),
        server_pct: cpu_pct(&s0, &s1),
        server_cpu_secs: s1.cpu_secs - s0.cpu_secs,
        server_rss: s1.rss,
        loadgen_pct: cpu_pct(&m0, &m1),
        publisher_pct: pct_of(p0.as_ref(), p1.as_ref()),
    };
    for (i, v) in viewers.iter().enumerate() {
        let r1 = v.meter.reading();
        let covered = 100.0 * (r1.covered_ms - r0[i].covered_ms) as f64 / sent_ms.max(1.0);
        let mbps = (r1.bytes - r0[i].bytes) as f64 * 8.0 / secs.max(0.001) / 1e6;
        if flowing0[i] && v.meter.phase() == Phase::Flowing && covered >= a.hold_pct {
            w.held += 1;
        }
        w.covered_pct.push(covered);
        w.mbps.push(mbps);
        w.fps
            .push((r1.video_tags - r0[i].video_tags) as f64 / secs.max(0.001));
    }
    Ok(w)
}

fn pct_of(a: Option<&Sample>, b: Option<&Sample>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) => cpu_pct(a, b),
        _ => 0.0,
    }
}

impl Window {
    fn json(
        &self,
        n: usize,
        ramp_secs: f64,
        signaling_failed: usize,
        held: bool,
        viewers: &[Viewer],
    ) -> Value {
        let mut reasons: Vec<String> = Vec::new();
        for v in viewers {
            if let Some(w) = v.meter.why() {
                if reasons.len() < 3 && !reasons.contains(&w) {
                    reasons.push(w);
                }
            }
        }
        json!({
            "viewers": n,
            "holds": held,
            "rampSecs": round(ramp_secs, 2),
            "windowSecs": round(self.secs, 2),
            "sentMediaMs": round(self.sent_ms, 0),
            "admitted": self.admitted,
            "held": self.held,
            "noPlayUrl": signaling_failed,
            "ended": viewers.iter().filter(|v| v.meter.phase() == Phase::Ended).count(),
            "coveredPct": spread(&self.covered_pct),
            "mbitPerViewer": spread(&self.mbps),
            "videoFpsPerViewer": spread(&self.fps),
            "serverCpuPct": round(self.server_pct, 1),
            "serverCpuMsPerViewerSec": round(1000.0 * self.server_cpu_secs / (n as f64 * self.secs.max(0.001)), 3),
            "serverRssBytes": self.server_rss,
            "loadgenCpuPct": round(self.loadgen_pct, 1),
            "publisherCpuPct": round(self.publisher_pct, 1),
            "endReasons": reasons,
        })
    }
}

/// `{min, p1, p50, max}` of `xs`, to 0.01.
fn spread(xs: &[f64]) -> Value {
    let mut s: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return json!({ "n": 0 });
    }
    let at = |q: f64| round(crate::stats::pct(&s, q), 2);
    json!({ "n": s.len(), "min": round(s[0], 2), "p1": at(1.0), "p50": at(50.0), "max": round(s[s.len() - 1], 2) })
}
