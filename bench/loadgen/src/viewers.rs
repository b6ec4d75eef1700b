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
use crate::meter::{Meter, Phase};
use crate::procfs::Proc;
use crate::pusher::Pusher;
use crate::stats::round;
use crate::window::measure;

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
    /// A viewer holds if it covered at least this share (%) of the media time sent, and at
    /// most as much over 100 % (more is a viewer that was behind, catching up).
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
pub struct Viewer {
    _member: Member,
    pub meter: Arc<Meter>,
}

pub async fn run(a: Args) -> Result<Value, String> {
    let started = Instant::now();
    let server = Proc::trees(&a.target.server_pid);
    let each: Vec<Proc> = a
        .target
        .server_pid
        .iter()
        .map(|p| Proc::trees(&[*p]))
        .collect();
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
        let ramp = add_viewers(&a, &mut viewers, n, &obs).await;
        let until = Instant::now() + Duration::from_secs(a.admit_secs);
        while viewers.iter().any(|v| v.meter.phase() < Phase::Flowing) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Past the first keyframes' burst before measuring.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let m = measure(&a, &viewers, &server, &each, &me, &publisher, &pusher).await?;
        let held = ramp.no_url == 0 && m.held == n;
        eprintln!(
            "[loadgen] viewers: {n} ({}): {} admitted, {} held, server {:.1}% CPU, loadgen {:.1}%",
            if held { "holds" } else { "does not hold" },
            m.admitted,
            m.held,
            m.server_pct,
            m.loadgen_pct
        );
        steps.push(m.json(n, &ramp, held, &viewers));
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
            "every viewer admitted with video flowing, still connected at the end of a {} s window, and covering {}% to {}% of the media time the publisher sent in it (by video tag timestamps, a step over {} ms between two tags counted as {} ms: less is frames lost, more is a viewer that had fallen behind and was catching up)",
            a.window_secs, a.hold_pct, 200.0 - a.hold_pct, a.max_gap_ms, a.max_gap_ms
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

/// How a step's new viewers got in.
pub struct Ramp {
    /// Members that could not get a play URL (they count as viewers that failed).
    pub no_url: usize,
    /// Joining and subscribing them, until the room's events had drained.
    pub join_secs: f64,
    /// Starting their players, `--concurrency` at a time.
    pub start_secs: f64,
}

/// Adds viewers until there are `n`. First every new member joins and subscribes to the
/// publisher, and the room's join events (each join goes to every member) are let drain; only
/// then do the players start, `--concurrency` at a time, each batch admitted (or given up)
/// before the next: the media servers and the admission hooks are measured, not the
/// signaling's join burst.
async fn add_viewers(a: &Args, viewers: &mut Vec<Viewer>, n: usize, obs: &Arc<Announced>) -> Ramp {
    let t = Instant::now();
    let joined: Vec<(Member, Option<String>)> = stream::iter(viewers.len()..n)
        .map(|i| {
            let id = i + 2;
            let url = a.target.url[id % a.target.url.len()].clone();
            let member = Member::spawn(id, config(&url, id as u64 + 1), obs.clone());
            let (room, protocol) = (a.room.clone(), a.protocol);
            async move {
                let uid = id as u64 + 1;
                let play = match member.call(Api::Join { room, uid }).await {
                    Ok(_) => member.call(Api::Subscribe(PUBLISHER, BOTH)).await,
                    Err(e) => Err(e),
                };
                let url = match (play, protocol) {
                    (Ok(OpValue::Play { url, .. }), Protocol::Rtmp) => Some(url),
                    (Ok(OpValue::Play { flv_url, .. }), Protocol::Flv) => Some(flv_url),
                    _ => None,
                };
                (member, url)
            }
        })
        .buffer_unordered(a.concurrency.max(1))
        .collect()
        .await;
    drained(&obs.tally).await;
    let join_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let admit = Duration::from_secs(a.admit_secs);
    let mut no_url = 0;
    let mut batch: Vec<Viewer> = Vec::new();
    for (member, url) in joined {
        let meter = Arc::new(Meter::new(a.max_gap_ms));
        match url {
            Some(url) => {
                let m = Arc::clone(&meter);
                match a.protocol {
                    Protocol::Rtmp => tokio::spawn(crate::play_rtmp::play(url, m, admit)),
                    Protocol::Flv => tokio::spawn(crate::play_flv::play(url, m, admit)),
                };
            }
            None => {
                no_url += 1;
                meter.end("no play URL".to_owned());
            }
        }
        batch.push(Viewer {
            _member: member,
            meter,
        });
        if batch.len() == a.concurrency.max(1) {
            admitted(&batch, admit).await;
            viewers.append(&mut batch);
        }
    }
    admitted(&batch, admit).await;
    viewers.append(&mut batch);
    Ramp {
        no_url,
        join_secs,
        start_secs: t.elapsed().as_secs_f64(),
    }
}

/// Waits until the events reaching the members have stopped for half a second (at most 2 min).
async fn drained(tally: &Tally) {
    let until = Instant::now() + Duration::from_secs(120);
    let mut last = tally.total();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = tally.total();
        if now == last {
            return;
        }
        last = now;
    }
}

/// Waits until every one of `batch` is admitted or has ended (at most `limit`).
async fn admitted(batch: &[Viewer], limit: Duration) {
    let until = Instant::now() + limit;
    while batch.iter().any(|v| v.meter.phase() == Phase::Starting) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
