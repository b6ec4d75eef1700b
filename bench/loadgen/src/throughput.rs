//! Sustained event delivery: in each of many rooms one member mutes and unmutes its audio in a
//! loop, and the next change goes out only once every other member of the room has seen the
//! last one (so server queues never build up and every counted event was delivered). The
//! server's CPU over the window turns the delivered rate into events per server core-second.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mprtc::core::AppEvent;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::crowd::{join_all, ms, Tally, Target};
use crate::member::{Api, Member, Observer, AUDIO};
use crate::procfs::{cpu_pct, Proc};
use crate::stats::{round, summary};

/// The command's arguments (`mprtc-loadgen events --help`).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value_t = 50)]
    pub rooms: usize,
    #[arg(long, default_value_t = 100)]
    pub per_room: usize,
    #[arg(long, default_value_t = 3)]
    pub warmup_secs: u64,
    #[arg(long, default_value_t = 15)]
    pub secs: u64,
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
}

#[derive(Default)]
struct RoomCount {
    got: AtomicU64,
    want: AtomicU64,
    done: Notify,
}

struct Counter {
    tally: Tally,
    per_room: usize,
    rooms: Vec<RoomCount>,
}

impl Observer for Counter {
    fn event(&self, member: usize, ev: &AppEvent, _read_at: Instant) {
        self.tally.add(ev);
        if let AppEvent::MuteChanged { .. } = ev {
            let r = &self.rooms[member / self.per_room];
            let got = r.got.fetch_add(1, Ordering::AcqRel) + 1;
            if got == r.want.load(Ordering::Acquire) {
                r.done.notify_one();
            }
        }
    }
}

/// One room's loop: change, wait until all others saw it, again. Records each round's time.
async fn drive(
    m: &Member,
    room: &RoomCount,
    others: u64,
    stop: &AtomicBool,
    rounds: &Mutex<Vec<f64>>,
    timing: &AtomicBool,
) -> Result<u64, String> {
    let mut expected = 0;
    let mut muted = false;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        expected += others;
        room.want.store(expected, Ordering::Release);
        let t = Instant::now();
        let api = if muted {
            Api::Unmute(AUDIO)
        } else {
            Api::Mute(AUDIO)
        };
        muted = !muted;
        m.call(api).await.map_err(|e| e.to_string())?;
        while room.got.load(Ordering::Acquire) < expected {
            let wait = room.done.notified();
            if room.got.load(Ordering::Acquire) >= expected {
                break;
            }
            if tokio::time::timeout(Duration::from_secs(10), wait)
                .await
                .is_err()
            {
                return Err(format!(
                    "a room got {} of {expected} mute events within 10 s",
                    room.got.load(Ordering::Acquire)
                ));
            }
        }
        if timing.load(Ordering::Relaxed) {
            rounds.lock().unwrap().push(ms(t));
        }
        n += 1;
    }
    Ok(n)
}

pub async fn run(a: Args) -> Result<Value, String> {
    let server = Proc::all(&a.target.server_pid);
    let me = Proc::this();
    let counter = Arc::new(Counter {
        tally: Tally::default(),
        per_room: a.per_room,
        rooms: (0..a.rooms).map(|_| RoomCount::default()).collect(),
    });
    let who: Vec<(String, u64)> = (0..a.rooms * a.per_room)
        .map(|i| {
            (
                format!("events-{}", i / a.per_room),
                (i % a.per_room) as u64 + 1,
            )
        })
        .collect();
    eprintln!(
        "[loadgen] events: joining {} rooms x {} members",
        a.rooms, a.per_room
    );
    let (members, _) = join_all(&a.target.url, &who, 0, a.concurrency, counter.clone()).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let timing = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(Mutex::new(Vec::new()));
    let members = Arc::new(members);
    let mut tasks = Vec::new();
    for r in 0..a.rooms {
        let (members, counter, stop, rounds, timing) = (
            members.clone(),
            counter.clone(),
            stop.clone(),
            rounds.clone(),
            timing.clone(),
        );
        let others = (a.per_room - 1) as u64;
        tasks.push(tokio::spawn(async move {
            let m = &members[r * counter.per_room];
            drive(m, &counter.rooms[r], others, &stop, &rounds, &timing).await
        }));
    }
    let mutes = |c: &Counter| c.tally.get("mute-audio") + c.tally.get("unmute-audio");
    eprintln!(
        "[loadgen] events: warm-up {} s, then measuring {} s",
        a.warmup_secs, a.secs
    );
    tokio::time::sleep(Duration::from_secs(a.warmup_secs)).await;
    let (s0, l0, e0) = (server.sample(), me.sample(), mutes(&counter));
    timing.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(a.secs)).await;
    let (s1, l1, e1) = (server.sample(), me.sample(), mutes(&counter));
    timing.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let mut requests = 0;
    for t in tasks {
        requests += t.await.map_err(|e| e.to_string())??;
    }
    let (s0, s1) = (
        s0.map_err(|e| e.to_string())?,
        s1.map_err(|e| e.to_string())?,
    );
    let (l0, l1) = (
        l0.map_err(|e| e.to_string())?,
        l1.map_err(|e| e.to_string())?,
    );
    let wall = s1.at.duration_since(s0.at).as_secs_f64();
    let events = (e1 - e0) as f64;
    let server_cpu = s1.cpu_secs - s0.cpu_secs;
    let rounds = rounds.lock().unwrap().clone();
    Ok(json!({
        "rooms": a.rooms,
        "membersPerRoom": a.per_room,
        "windowSecs": round(wall, 2),
        "eventsDelivered": events,
        "eventsPerSec": round(events / wall, 0),
        "serverCpuPct": round(cpu_pct(&s0, &s1), 1),
        "eventsPerServerCoreSec": round(events / server_cpu.max(1e-9), 0),
        "loadgenCpuPct": round(cpu_pct(&l0, &l1), 1),
        "requestsTotal": requests,
        "roundMs": summary(&rounds),
        "serverRssBytes": s1.rss,
        "connectionTrouble": counter.tally.trouble(),
    }))
}
