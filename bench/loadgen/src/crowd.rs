//! Many members at once: joining them with bounded concurrency, and counting their events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use mprtc::core::AppEvent;

use crate::member::{config, Api, Member, Observer};

/// The server under load, as every load command names it.
#[derive(clap::Args)]
pub struct Target {
    /// The server's signaling WebSocket URL; several, comma-separated (the nodes of a
    /// cluster), spread the members: member i goes to URL i mod n.
    #[arg(long, value_delimiter = ',', required = true)]
    pub url: Vec<String>,
    /// The server's process id, for its CPU and memory from /proc; several, comma-separated,
    /// are summed (the nodes of a cluster on this machine).
    #[arg(long, value_delimiter = ',', required = true)]
    pub server_pid: Vec<u32>,
}

/// Every app event name the core can emit, so that counting needs no lock.
const NAMES: &[&str] = &[
    "open",
    "disconnect",
    "clientJoin",
    "clientLeave",
    "stream-added",
    "stream-removed",
    "role-Changed",
    "rtmp-tasks-status",
    "syncDone",
    "kicked",
    "liveRoomClose",
    "tokenWillExpire",
    "willreconnect",
    "reconnected",
    "reconnectFailed",
    "sendCommandOverTime",
    "mute-audio",
    "unmute-audio",
    "mute-video",
    "unmute-video",
    "pusher-state",
    "player-state",
    "quality",
    "identity",
];

/// Counts of app events by name, over all members.
pub struct Tally {
    counts: Vec<AtomicU64>,
    other: AtomicU64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            counts: NAMES.iter().map(|_| AtomicU64::new(0)).collect(),
            other: AtomicU64::new(0),
        }
    }
}

impl Tally {
    pub fn add(&self, ev: &AppEvent) {
        let n = ev.name();
        match NAMES.iter().position(|x| *x == n) {
            Some(i) => self.counts[i].fetch_add(1, Ordering::Relaxed),
            None => self.other.fetch_add(1, Ordering::Relaxed),
        };
    }

    pub fn get(&self, name: &str) -> u64 {
        NAMES
            .iter()
            .position(|x| *x == name)
            .map_or(0, |i| self.counts[i].load(Ordering::Relaxed))
    }

    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.other.load(Ordering::Relaxed)
    }

    /// Non-zero counts as a JSON object.
    pub fn json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (i, n) in NAMES.iter().enumerate() {
            let v = self.counts[i].load(Ordering::Relaxed);
            if v > 0 {
                m.insert((*n).to_owned(), v.into());
            }
        }
        m.into()
    }

    /// Connection trouble seen by any member (each should stay 0 in a healthy run).
    pub fn trouble(&self) -> u64 {
        [
            "disconnect",
            "willreconnect",
            "sendCommandOverTime",
            "kicked",
        ]
        .iter()
        .map(|n| self.get(n))
        .sum()
    }
}

impl Observer for Tally {
    fn event(&self, _member: usize, ev: &AppEvent, _read_at: Instant) {
        self.add(ev);
    }
}

/// Members `first_id..` for `who` (room, uid), joined with at most `concurrency` joins in
/// flight. Returns the members (in `who` order) and each join's time in ms.
pub async fn join_all(
    url: &[String],
    who: &[(String, u64)],
    first_id: usize,
    concurrency: usize,
    obs: Arc<dyn Observer>,
) -> Result<(Vec<Member>, Vec<f64>), String> {
    let members: Vec<Member> = who
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let id = first_id + i;
            let url = &url[id % url.len().max(1)];
            Member::spawn(id, config(url, id as u64 + 1), Arc::clone(&obs))
        })
        .collect();
    let results: Vec<(usize, Result<f64, String>)> = stream::iter(who.iter().cloned().enumerate())
        .map(|(i, (room, uid))| {
            let m = &members[i];
            async move {
                let t = Instant::now();
                let r = m.call(Api::Join { room, uid }).await;
                (i, r.map(|_| ms(t)).map_err(|e| e.to_string()))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut times = vec![0.0; who.len()];
    let mut failed = 0;
    let mut first_err = None;
    for (i, r) in results {
        match r {
            Ok(t) => times[i] = t,
            Err(e) => {
                failed += 1;
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(format!(
            "{failed} of {} joins failed; first: {e}",
            who.len()
        ));
    }
    Ok((members, times))
}

/// Milliseconds since `t`.
pub fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
