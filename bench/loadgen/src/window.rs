//! One step's measurement window of `mprtc-loadgen viewers`: the viewers' counters and the
//! processes' CPU read at both ends of it, and what the step's JSON says of them.

use std::time::Duration;

use serde_json::{json, Value};

use crate::meter::{Phase, Reading};
use crate::procfs::{cpu_pct, Proc, Sample};
use crate::pusher::Pusher;
use crate::stats::round;
use crate::viewers::{Args, Ramp, Viewer};

/// One step's window.
pub struct Window {
    secs: f64,
    sent_ms: f64,
    pub admitted: usize,
    pub held: usize,
    covered_pct: Vec<f64>,
    mbps: Vec<f64>,
    fps: Vec<f64>,
    pub server_pct: f64,
    server_cpu_secs: f64,
    server_rss: u64,
    /// Each `--server-pid`'s tree, in their order (% of a core).
    server_each_pct: Vec<f64>,
    pub loadgen_pct: f64,
    publisher_pct: f64,
}

pub async fn measure(
    a: &Args,
    viewers: &[Viewer],
    server: &Proc,
    each: &[Proc],
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
    let each0: Vec<Option<Sample>> = each.iter().map(|p| p.sample().ok()).collect();
    tokio::time::sleep(Duration::from_secs(a.window_secs)).await;
    let each1: Vec<Option<Sample>> = each.iter().map(|p| p.sample().ok()).collect();
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
        server_each_pct: (each0.iter().zip(&each1))
            .map(|(a, b)| round(pct_of(a.as_ref(), b.as_ref()), 1))
            .collect(),
        loadgen_pct: cpu_pct(&m0, &m1),
        publisher_pct: pct_of(p0.as_ref(), p1.as_ref()),
    };
    for (i, v) in viewers.iter().enumerate() {
        let r1 = v.meter.reading();
        let covered = 100.0 * (r1.covered_ms - r0[i].covered_ms) as f64 / sent_ms.max(1.0);
        let mbps = (r1.bytes - r0[i].bytes) as f64 * 8.0 / secs.max(0.001) / 1e6;
        let kept_up = covered >= a.hold_pct && covered <= 200.0 - a.hold_pct;
        if flowing0[i] && v.meter.phase() == Phase::Flowing && kept_up {
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
    pub fn json(&self, n: usize, ramp: &Ramp, held: bool, viewers: &[Viewer]) -> Value {
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
            "joinSecs": round(ramp.join_secs, 2),
            "startSecs": round(ramp.start_secs, 2),
            "windowSecs": round(self.secs, 2),
            "sentMediaMs": round(self.sent_ms, 0),
            "admitted": self.admitted,
            "held": self.held,
            "noPlayUrl": ramp.no_url,
            "ended": viewers.iter().filter(|v| v.meter.phase() == Phase::Ended).count(),
            "coveredPct": spread(&self.covered_pct),
            "mbitPerViewer": spread(&self.mbps),
            "videoFpsPerViewer": spread(&self.fps),
            "serverCpuPct": round(self.server_pct, 1),
            "serverCpuMsPerViewerSec": round(1000.0 * self.server_cpu_secs / (n as f64 * self.secs.max(0.001)), 3),
            "serverRssBytes": self.server_rss,
            "serverCpuPctEach": self.server_each_pct,
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
