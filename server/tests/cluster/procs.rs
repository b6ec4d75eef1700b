//! Cluster nodes as processes: the `mprtc-server` binary on a picked loopback port, in the
//! cluster of one Redis, so that a test can kill one with SIGKILL.
#![allow(dead_code)] // each suite uses its own part of it

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::live::probe::picked_addr;
use crate::live::SECRET;
use crate::nodes::{CLUSTER_SECRET, LEASE_MS};

/// A node process; stopped (SIGTERM, then waited for) when dropped.
pub struct NodeProc {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    /// `127.0.0.1:port` of its signaling listener, which it advertises to the other nodes.
    pub addr: String,
    /// The ready line's endpoints (`signal`, `rtmp`, `flv`): its push URLs start with `rtmp`.
    pub endpoints: serde_json::Value,
}

impl NodeProc {
    /// Starts a node of the cluster of `redis_url`, its log in `log`; returns at its ready line.
    pub fn start(redis_url: &str, log: &std::path::Path) -> Self {
        Self::start_with(redis_url, log, &[])
    }

    /// [`NodeProc::start`] with `extra` arguments.
    pub fn start_with(redis_url: &str, log: &std::path::Path, extra: &[&str]) -> Self {
        let addr = picked_addr();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mprtc-server"))
            .args(["--listen", &addr])
            .args([
                "--rtmp-listen",
                "127.0.0.1:0",
                "--flv-listen",
                "127.0.0.1:0",
            ])
            .args(["--app", &format!("sec:{SECRET}")])
            .args(["--redis-url", redis_url])
            .args(["--cluster-advertise", &format!("http://{addr}")])
            .args(["--cluster-secret", CLUSTER_SECRET])
            .args(["--cluster-lease-ms", &LEASE_MS.to_string()])
            .args(extra)
            .env("MPRTC_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        stdout.read_line(&mut ready).unwrap();
        let line: serde_json::Value =
            serde_json::from_str(&ready).unwrap_or_else(|_| panic!("no ready line: {ready:?}"));
        Self {
            child,
            _stdout: stdout,
            addr,
            endpoints: line["endpoints"].clone(),
        }
    }

    /// SIGKILL: the node vanishes without a word to anyone, Redis included.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The flags of a node whose media is the nginx-rtmp origin at `rtmp`, controlled at
/// `control`, sharing the suite's media and hook secrets with the other nodes.
fn engine_flags(rtmp: &str, control: &str) -> Vec<String> {
    let flags = [
        "--media",
        "nginx-rtmp",
        "--media-rtmp-base",
        rtmp,
        "--media-control",
        control,
        "--media-hook-secret",
        crate::engine::HOOK_SECRET,
        "--media-hook-source",
        "127.0.0.1",
        "--media-secret",
        crate::engine::MEDIA_SECRET,
        "--ping-interval-ms",
        "60000",
        "--ping-timeout-ms",
        "120000",
    ];
    flags.map(String::from).to_vec()
}

/// Three nodes of the cluster of `redis_url` whose media is the nginx-rtmp origin that will
/// listen on `ports` (its RTMP base is returned too), their logs in `dir`.
pub fn engine_nodes(
    redis_url: &str,
    dir: &std::path::Path,
    ports: &crate::engine::nginx::Ports,
) -> ([NodeProc; 3], String) {
    let rtmp = format!("rtmp://127.0.0.1:{}/live", ports.rtmp);
    let control = format!("http://127.0.0.1:{}/control", ports.control);
    let flags = engine_flags(&rtmp, &control);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let nodes = std::array::from_fn(|i| {
        NodeProc::start_with(redis_url, &dir.join(format!("node{i}.log")), &flags)
    });
    (nodes, rtmp)
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        crate::engine::terminate(&mut self.child);
    }
}
