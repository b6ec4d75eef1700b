//! What the attacks share: a loopback server with its own recordings directory, tokens with
//! chosen privileges, a signaling client that keeps events while it waits, task bodies, an
//! internal HTTP service to aim at, and the checks on what members are told.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use mprtc_server::config::FileConfig;
use mprtc_server::token;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::live::{self, Live, Ws, SECRET};

/// A loopback server (the shared one of [`live`]) with its own recordings directory.
pub struct Srv {
    pub live: Live,
    pub rtmp: String,
    /// This server's own recordings directory.
    pub rec: std::path::PathBuf,
}

impl Srv {
    /// A loopback server with apps `sec` (tokens) and `dbg` (no tokens), configured by the
    /// TOML text `file` (e.g. a `[tasks]` table).
    pub async fn start(file: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let rec = std::env::temp_dir().join(format!("mprtc-attack-rec-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&rec);
        let file: FileConfig = toml::from_str(file).expect("test config parses");
        let live = live::start_with_file(file, |o| o.recordings_dir = Some(rec.clone())).await;
        Self {
            rtmp: live.endpoints.rtmp.clone(),
            live,
            rec,
        }
    }

    pub async fn close(self) {
        self.live.stop_within(Duration::from_secs(20)).await;
        let _ = std::fs::remove_dir_all(&self.rec);
    }

    /// Names of the recording files, sorted.
    pub fn recordings(&self) -> Vec<String> {
        fn walk(d: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), out);
                } else {
                    out.push(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        let mut v = Vec::new();
        walk(&self.rec, &mut v);
        v.sort();
        v
    }
}

/// A token of app `sec` with the privileges as JSON (absent ones take their defaults).
pub fn tok(room: &str, uid: u64, privileges: Value) -> String {
    let now = live::now_s();
    let claims: token::Claims = serde_json::from_value(json!({
        "app": "sec", "room": room, "uid": uid.to_string(), "iat": now, "exp": now + 600,
        "privileges": privileges,
    }))
    .unwrap();
    token::sign(SECRET.as_bytes(), &claims)
}

/// A signaling client that keeps events that arrive while it waits for an answer.
pub struct Client {
    pub ws: Ws,
    pub events: VecDeque<Value>,
    pub next: u32,
}

impl Client {
    pub async fn join(
        srv: &Srv,
        app: &str,
        room: &str,
        uid: u64,
        token: Option<String>,
        role: &str,
    ) -> Self {
        let ws = live::connect(&srv.live.url).await;
        let mut c = Self {
            ws,
            events: VecDeque::new(),
            next: 1,
        };
        let r = c
            .ask(
                "join",
                json!({"appkey": app, "room": room, "uid": uid, "token": token, "role": role}),
            )
            .await;
        assert_eq!(r["ok"], true, "join: {r}");
        c
    }

    /// [`Client::join`] of app `sec` with a token for `room` and `uid` with `privileges` (as
    /// JSON, see [`tok`]).
    pub async fn sec(srv: &Srv, room: &str, uid: u64, privileges: Value, role: &str) -> Self {
        Self::join(
            srv,
            "sec",
            room,
            uid,
            Some(tok(room, uid, privileges)),
            role,
        )
        .await
    }

    /// The next text frame, within 60 s.
    pub async fn recv(&mut self) -> Value {
        live::recv_within(&mut self.ws, Duration::from_secs(60)).await
    }

    pub async fn ask(&mut self, kind: &str, body: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let frame = json!({"v": 1, "id": id, "type": kind, "body": body});
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
        loop {
            let v = self.recv().await;
            if v["re"] == id {
                return v;
            }
            if v.get("seq").is_some() {
                self.events.push_back(v);
            }
        }
    }

    /// Adds the task `t`, which must be accepted (what it does next comes as statuses).
    pub async fn add_task(&mut self, t: Value) {
        let r = self.ask("add-tasks", tasks(t)).await;
        assert_eq!(r["ok"], true, "{r}");
    }

    /// The next `task-status` of `task` with `code` (earlier events are passed over).
    pub async fn status(&mut self, task: &str, code: u64) -> Value {
        let hit = |v: &Value| {
            v["type"] == "task-status" && v["body"]["task_id"] == task && v["body"]["code"] == code
        };
        while let Some(v) = self.events.pop_front() {
            if hit(&v) {
                return v["body"].clone();
            }
        }
        loop {
            let v = self.recv().await;
            if hit(&v) {
                return v["body"].clone();
            }
        }
    }
}

pub fn task(id: &str, stream_url: &str, users: &[u64], images: &[String]) -> Value {
    let users: Vec<Value> = users
        .iter()
        .map(|u| json!({"uid": u, "x": 0, "y": 0, "width": 32, "height": 32}))
        .collect();
    let images: Vec<Value> = images
        .iter()
        .map(|u| json!({"url": u, "x": 0, "y": 0, "width": 32, "height": 32}))
        .collect();
    json!({"taskId": id, "streamUrl": stream_url,
           "layout": {"canvas": {"width": 64, "height": 64, "color": 0}, "users": users, "images": images}})
}

pub fn tasks(t: Value) -> Value {
    json!({ "rtmpTasks": [t] })
}

/// A loopback HTTP service standing in for an internal one (cloud metadata, an admin API).
/// It records every request line it gets.
pub struct Internal {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<Vec<String>>>,
}

impl Internal {
    pub async fn start() -> Self {
        let png = png().await;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let (h, png) = (h.clone(), png.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let line = head.lines().next().unwrap_or("").to_owned();
                    h.lock().unwrap().push(line.clone());
                    let path = line.split(' ').nth(1).unwrap_or("");
                    let resp: Vec<u8> = match path {
                        "/creds?.ans" => {
                            let body = r#"{"AccessKeyId": "ASIAEXAMPLEKEY123", "SecretAccessKey": "INTERNAL-SECRET"}"#;
                            format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
                        }
                        "/redir" => format!("HTTP/1.1 302 Found\r\nLocation: http://{addr}/creds?.ans\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes(),
                        "/logo.png" => {
                            let mut r = format!("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", png.len()).into_bytes();
                            r.extend_from_slice(&png);
                            r
                        }
                        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                    };
                    let _ = s.write_all(&resp).await;
                });
            }
        });
        Self { addr, hits }
    }

    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

/// A small yellow PNG, made by ffmpeg.
pub async fn png() -> Vec<u8> {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "color=c=0xFFFF00:s=32x32",
            "-frames:v",
            "1",
        ])
        .args(["-f", "image2pipe", "-c:v", "png", "-"])
        .output()
        .await
        .expect("ffmpeg runs");
    assert!(out.stdout.starts_with(b"\x89PNG"));
    out.stdout
}

/// A task status saying a layout image was refused, for `why`.
#[track_caller]
pub fn assert_image_refused(status: &Value, why: &str) {
    let msg = status["msg"].as_str().unwrap();
    assert!(msg.starts_with("image_refused"), "{why}: {status}");
}

/// What a member may be told as a failure: a typed reason, never the engine's text.
pub fn assert_sanitized(msg: &str) {
    let code = msg.split(':').next().unwrap_or("");
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "a typed reason first: {msg:?}"
    );
    for leak in [
        "rtmp://",
        "tcp",
        "127.0.0.1",
        "Connection",
        "[",
        "handshake response",
        "status 1",
    ] {
        assert!(!msg.contains(leak), "{leak:?} leaked in {msg:?}");
    }
}

/// Pids of running processes whose command line contains `marker`.
pub fn compositors(marker: &str) -> HashSet<u32> {
    let mut found = HashSet::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd);
            let is_ffmpeg = cmd.starts_with("ffmpeg") || cmd.contains("/ffmpeg");
            if is_ffmpeg && cmd.contains(marker) {
                found.insert(pid);
            }
        }
    }
    found
}
