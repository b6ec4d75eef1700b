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

/// One process, or several read as one (the nodes of a cluster: CPU and memory summed).
pub struct Proc {
    pids: Vec<u32>,
    tck: f64,
    /// Whether each pid stands for its whole process tree (nginx: a master and its workers).
    trees: bool,
}

impl Proc {
    pub fn all(pids: &[u32]) -> Self {
        Proc {
            pids: pids.to_vec(),
            tck: clk_tck(),
            trees: false,
        }
    }

    /// Like [`Proc::all`], each pid with every process below it, found anew at each sample
    /// (so a worker that nginx restarts is still counted; one that has exited is not, and its
    /// CPU reaches its parent's counters only when the parent reaps it).
    pub fn trees(pids: &[u32]) -> Self {
        Proc {
            trees: true,
            ..Self::all(pids)
        }
    }

    pub fn this() -> Self {
        Self::all(&[std::process::id()])
    }

    /// The processes' CPU time and resident memory, summed.
    pub fn sample(&self) -> std::io::Result<Sample> {
        let mut sum = Sample {
            at: Instant::now(),
            cpu_secs: 0.0,
            rss: 0,
        };
        for &pid in &self.pids {
            let s = self.sample_one(pid)?;
            sum.cpu_secs += s.cpu_secs;
            sum.rss += s.rss;
        }
        if self.trees {
            for pid in descendants(&self.pids) {
                // A process may end between the listing and the reading: it is not counted.
                if let Ok(s) = self.sample_one(pid) {
                    sum.cpu_secs += s.cpu_secs;
                    sum.rss += s.rss;
                }
            }
        }
        sum.at = Instant::now();
        Ok(sum)
    }

    fn sample_one(&self, pid: u32) -> std::io::Result<Sample> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // Fields after "(comm) ": state is field 3, so field n is f[n - 3]; utime 14, stime 15.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        let f: Vec<&str> = after.split(' ').collect();
        let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        let cpu_secs = (ticks(11) + ticks(12)) / self.tck;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
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

/// Every process below `roots` (children, their children, ...), roots excluded.
fn descendants(roots: &[u32]) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some(ppid) = parent(pid) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found: Vec<u32> = Vec::new();
    let mut frontier: Vec<u32> = roots.to_vec();
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parent_of {
            if ppid == p && !roots.contains(&pid) && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// The parent pid of `pid` (field 4 of /proc/<pid>/stat), if it is still there.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(1)?.parse().ok()
}

/// CPU used between two samples, in % of one core.
pub fn cpu_pct(a: &Sample, b: &Sample) -> f64 {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    100.0 * (b.cpu_secs - a.cpu_secs) / wall
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_counts_the_children_of_its_root() {
        // A child that waits on its stdin until this test ends it.
        let mut child = std::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let me = std::process::id();
        let below = descendants(&[me]);
        let _ = child.kill();
        let _ = child.wait();
        assert!(below.contains(&child.id()), "{below:?}");
        assert!(!below.contains(&me));
    }
}
