//! 10,000 members across 1,000 rooms, joined and then left idle with heartbeats running:
//! the server's memory per member and its CPU at idle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::crowd::{join_all, ms, Tally, Target};
use crate::procfs::{cpu_pct, Proc};
use crate::stats::{round, summary};

/// The command's arguments (`mprtc-loadgen idle --help`).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value_t = 10_000)]
    pub members: usize,
    #[arg(long, default_value_t = 1_000)]
    pub rooms: usize,
    #[arg(long, default_value_t = 30)]
    pub hold_secs: u64,
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
}

pub async fn run(a: Args) -> Result<Value, String> {
    let server = Proc::all(&a.target.server_pid);
    let me = Proc::this();
    let sample = |p: &Proc| p.sample().map_err(|e| format!("/proc: {e}"));
    let s0 = sample(&server)?;
    let l0 = sample(&me)?;
    // Rooms fill side by side (member i goes to room i % rooms), as real traffic would.
    let who: Vec<(String, u64)> = (0..a.members)
        .map(|i| (format!("idle-{}", i % a.rooms), (i / a.rooms) as u64 + 1))
        .collect();
    let tally = Arc::new(Tally::default());
    eprintln!(
        "[loadgen] idle: joining {} members in {} rooms ({} joins in flight)",
        a.members, a.rooms, a.concurrency
    );
    let t = Instant::now();
    let (members, joins) = join_all(&a.target.url, &who, 0, a.concurrency, tally.clone()).await?;
    let ramp_ms = ms(t);
    let s1 = sample(&server)?;
    eprintln!(
        "[loadgen] idle: all joined in {:.1} s; holding {} s",
        ramp_ms / 1000.0,
        a.hold_secs
    );
    // Let the join burst's queues drain before the idle window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s2 = sample(&server)?;
    let l2 = sample(&me)?;
    let before = tally.total();
    tokio::time::sleep(Duration::from_secs(a.hold_secs)).await;
    let s3 = sample(&server)?;
    let l3 = sample(&me)?;
    let during_hold = tally.total() - before;
    let per_member = (s3.rss.saturating_sub(s0.rss)) as f64 / a.members as f64;
    let out = json!({
        "members": a.members,
        "rooms": a.rooms,
        "holdSecs": a.hold_secs,
        "join": {
            "rampSecs": round(ramp_ms / 1000.0, 2),
            "joinsPerSec": round(a.members as f64 / (ramp_ms / 1000.0), 0),
            "joinMs": summary(&joins),
            "serverCpuPctDuringRamp": round(cpu_pct(&s0, &s1), 1),
        },
        "server": {
            "rssBeforeBytes": s0.rss,
            "rssJoinedBytes": s1.rss,
            "rssAfterHoldBytes": s3.rss,
            "bytesPerMember": round(per_member, 0),
            "idleCpuPct": round(cpu_pct(&s2, &s3), 2),
        },
        "loadgen": {
            "rssBytes": l3.rss,
            "idleCpuPct": round(cpu_pct(&l2, &l3), 2),
            "cpuSecsTotal": round(l3.cpu_secs - l0.cpu_secs, 2),
        },
        "events": tally.json(),
        "eventsDuringHold": during_hold,
        "connectionTrouble": tally.trouble(),
    });
    drop(members);
    Ok(out)
}
