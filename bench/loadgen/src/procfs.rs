//! CPU time and resident memory of a process, from /proc (Linux only, like the benchmark).

use std::time::Instant;

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// utime + stime of all its threads, in seconds.
    pub cpu_secs: f64,
    /// Resident set, bytes.
    pub rss: u64,
}

/// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`; 100 on every Linux seen).
fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub struct Proc {
    pid: u32,
    tck: f64,
}

impl Proc {
    pub fn new(pid: u32) -> Self {
        Proc {
            pid,
            tck: clk_tck(),
        }
    }

    pub fn this() -> Self {
        Self::new(std::process::id())
    }

    pub fn sample(&self) -> std::io::Result<Sample> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after "(comm) ": state is field 3, so field n is f[n - 3]; utime 14, stime 15.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        let f: Vec<&str> = after.split(' ').collect();
        let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        let cpu_secs = (ticks(11) + ticks(12)) / self.tck;
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024;
        Ok(Sample {
            at: Instant::now(),
            cpu_secs,
            rss,
        })
    }
}

/// CPU used between two samples, in % of one core.
pub fn cpu_pct(a: &Sample, b: &Sample) -> f64 {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    100.0 * (b.cpu_secs - a.cpu_secs) / wall
}
