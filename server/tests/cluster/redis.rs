//! A real `redis-server` (Debian's) for one test: a loopback port, a temporary directory, no
//! persistence; stopped and its directory removed when dropped.
#![allow(dead_code)] // each suite uses its own part of it

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::live::probe::{scratch, Scratch};

/// Whether the tests may run: `redis-server` is on the `PATH`. Under `CI=true` its absence
/// fails the test (scripts/setup installs it) instead of skipping.
pub fn available() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "redis-server is missing: scripts/setup installs it"
        );
        eprintln!("skipped: redis-server is not installed (scripts/setup installs it)");
    }
    found
}

/// A Redis for the test tagged `tag`, or `None` (the test skips) where `redis-server` is not
/// installed and `CI` is not `true` (see [`available`]).
pub async fn for_test(tag: &str) -> Option<Redis> {
    if available() {
        Some(Redis::start(tag).await)
    } else {
        None
    }
}

/// A running `redis-server`.
pub struct Redis {
    child: Child,
    pub port: u16,
    _dir: Scratch,
}

impl Redis {
    /// Starts one on a free loopback port and waits until it answers.
    pub async fn start(tag: &str) -> Self {
        let port = crate::live::probe::picked_addr()
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .expect("a port");
        Self::start_on(tag, port).await
    }

    /// Starts one on `port` and waits until it answers.
    pub async fn start_on(tag: &str, port: u16) -> Self {
        let dir = scratch(&format!("redis-{tag}-{port}"));
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&*dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let r = Self {
            child,
            port,
            _dir: dir,
        };
        r.wait_answers().await;
        r
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A connection for the test's own reads and writes.
    pub async fn con(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("redis answers")
    }

    async fn wait_answers(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..600 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                let pong: Result<String, _> = redis::cmd("PING").query_async(&mut c).await;
                if pong.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {} did not answer in 30 s", self.port);
    }

    /// `GET key`.
    pub async fn get(&self, key: &str) -> Option<String> {
        let mut c = self.con().await;
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap()
    }

    /// `KEYS pattern`, sorted.
    pub async fn keys(&self, pattern: &str) -> Vec<String> {
        let mut c = self.con().await;
        let mut k: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut c)
            .await
            .unwrap();
        k.sort();
        k
    }

    /// `HGET key field`.
    pub async fn hget(&self, key: &str, field: &str) -> Option<String> {
        let mut c = self.con().await;
        redis::cmd("HGET")
            .arg(key)
            .arg(field)
            .query_async(&mut c)
            .await
            .unwrap()
    }

    /// Waits (60 s at most) until the state of app `sec`'s `room` holds member `uid` at
    /// `seq`: its owner wrote everything the member was sent.
    pub async fn until_written(&self, room: &str, uid: u64, seq: u64) {
        let key = format!("mprtc:state:sec:{room}");
        for _ in 0..600 {
            if let Some(rec) = self.hget(&key, &format!("m:{uid}")).await {
                let v: serde_json::Value = serde_json::from_str(&rec).unwrap();
                if v["seq"] == seq {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("member {uid}'s seq {seq} never written to Redis");
    }

    /// `SET key value PX ms`.
    pub async fn set_px(&self, key: &str, value: &str, ms: u64) {
        let mut c = self.con().await;
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(ms)
            .query_async(&mut c)
            .await
            .unwrap();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
