//! Push tasks as an attacker uses them, against the real server over real sockets: layout
//! images aimed at an internal HTTP service (a loopback stand-in), a token that may not
//! subscribe showing others, push secrets and engine errors sent to the audience, compositor
//! caps, an update flood, and recording without the privilege.
//!
//! Configurations are written as TOML text and tokens as JSON claims, so that this file
//! builds against older servers too (each test was run against the code before the fix).
//! Tests wait on events and processes with generous failure timeouts; no clock decides a pass.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use mprtc_server::app::Server;
use mprtc_server::config::{Config, FileConfig, Overrides};
use mprtc_server::token;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "topsecret";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Srv {
    ws: String,
    rtmp: String,
    /// This server's own recordings directory.
    rec: std::path::PathBuf,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Srv {
    /// A loopback server with apps `sec` (tokens) and `dbg` (no tokens), configured by the
    /// TOML text `file` (e.g. a `[tasks]` table).
    async fn start(file: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let rec = std::env::temp_dir().join(format!("mprtc-attack-rec-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&rec);
        let any = "127.0.0.1:0".parse().unwrap();
        let o = Overrides {
            listen: Some(any),
            rtmp_listen: Some(any),
            flv_listen: Some(any),
            apps: vec![format!("sec:{SECRET}").into()],
            insecure_apps: vec!["dbg".into()],
            recordings_dir: Some(rec.clone()),
            ..Default::default()
        };
        let file: FileConfig = toml::from_str(file).expect("test config parses");
        let server = Server::bind(Config::resolve(file, o).unwrap())
            .await
            .unwrap();
        let ws = server.endpoints.signal.clone();
        let rtmp = server.endpoints.rtmp.clone();
        let stop = CancellationToken::new();
        let s = stop.clone();
        let task = tokio::spawn(async move { server.run(s).await.unwrap() });
        Self {
            ws,
            rtmp,
            rec,
            stop,
            task,
        }
    }

    async fn close(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("server stops")
            .unwrap();
        let _ = std::fs::remove_dir_all(&self.rec);
    }

    /// Names of the recording files, sorted.
    fn recordings(&self) -> Vec<String> {
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
fn tok(room: &str, uid: u64, privileges: Value) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims: token::Claims = serde_json::from_value(json!({
        "app": "sec", "room": room, "uid": uid.to_string(), "iat": now, "exp": now + 600,
        "privileges": privileges,
    }))
    .unwrap();
    token::sign(SECRET.as_bytes(), &claims)
}

/// A signaling client that keeps events that arrive while it waits for an answer.
struct Client {
    ws: Ws,
    events: VecDeque<Value>,
    next: u32,
}

impl Client {
    async fn join(
        srv: &Srv,
        app: &str,
        room: &str,
        uid: u64,
        token: Option<String>,
        role: &str,
    ) -> Self {
        let ws = tokio_tungstenite::connect_async(&srv.ws).await.unwrap().0;
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

    async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(60), self.ws.next())
                .await
                .expect("a frame within 60 s")
                .expect("socket open")
                .unwrap();
            if let Message::Text(t) = m {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    async fn ask(&mut self, kind: &str, body: Value) -> Value {
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

    /// The next `task-status` of `task` with `code` (earlier events are passed over).
    async fn status(&mut self, task: &str, code: u64) -> Value {
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

fn err_code(v: &Value) -> u64 {
    assert_eq!(v["ok"], false, "expected a refusal: {v}");
    v["err"]["code"].as_u64().unwrap()
}

fn task(id: &str, stream_url: &str, users: &[u64], images: &[String]) -> Value {
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

fn tasks(t: Value) -> Value {
    json!({ "rtmpTasks": [t] })
}

/// A loopback HTTP service standing in for an internal one (cloud metadata, an admin API).
/// It records every request line it gets.
struct Internal {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Internal {
    async fn start() -> Self {
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

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

/// A small yellow PNG, made by ffmpeg.
async fn png() -> Vec<u8> {
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

/// What a member may be told as a failure: a typed reason, never the engine's text.
fn assert_sanitized(msg: &str) {
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

// ---------------------------------------------------------------------------
// Finding 1: layout images

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_images_are_never_fetched_from_internal_addresses() {
    let internal = Internal::start().await;
    let srv = Srv::start("").await;
    let mut a = Client::join(
        &srv,
        "sec",
        "ssrf",
        1,
        Some(tok("ssrf", 1, json!({}))),
        "broadcaster",
    )
    .await;
    // The output is the server's own RTMP listener (always allowed); the images are not.
    let out = format!("{}/probe", srv.rtmp);
    for (id, url) in [
        ("by_ip", format!("http://{}/creds?.ans", internal.addr)),
        (
            "by_name",
            format!("http://localhost:{}/creds?.ans", internal.addr.port()),
        ),
    ] {
        let r = a.ask("add-tasks", tasks(task(id, &out, &[], &[url]))).await;
        assert_eq!(r["ok"], true, "{r}");
        let st = a.status(id, 506).await;
        assert_eq!(
            internal.hits(),
            Vec::<String>::new(),
            "{id}: the internal service was reached"
        );
        let msg = st["msg"].as_str().unwrap();
        assert!(msg.starts_with("image_refused"), "{id}: {st}");
        assert_sanitized(msg);
    }
    srv.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_image_hosts_still_refuse_redirects_and_non_images_and_composite_pngs() {
    let internal = Internal::start().await;
    // Tests only have loopback: the operator allows private image hosts here.
    let srv = Srv::start("[tasks]\nimage_allow_private = true\n").await;
    let mut a = Client::join(
        &srv,
        "sec",
        "img",
        1,
        Some(tok("img", 1, json!({}))),
        "broadcaster",
    )
    .await;
    let push = a
        .ask("publish", json!({"audio": true, "video": true}))
        .await;
    let out = push["body"]["url"].as_str().expect("a push URL").to_owned();
    let base = format!("http://{}", internal.addr);

    let r = a
        .ask(
            "add-tasks",
            tasks(task("redir", &out, &[], &[format!("{base}/redir")])),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let st = a.status("redir", 506).await;
    assert!(
        st["msg"].as_str().unwrap().starts_with("image_refused"),
        "{st}"
    );
    assert_eq!(
        internal.hits(),
        vec!["GET /redir HTTP/1.1".to_owned()],
        "the redirect was not followed"
    );

    let r = a
        .ask(
            "add-tasks",
            tasks(task("text", &out, &[], &[format!("{base}/creds?.ans")])),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let st = a.status("text", 506).await;
    assert!(
        st["msg"].as_str().unwrap().starts_with("image_refused"),
        "a text body is no image: {st}"
    );

    // A real PNG from an allowed host is composited: ffmpeg runs and pushes.
    let r = a
        .ask(
            "add-tasks",
            tasks(task("png", &out, &[], &[format!("{base}/logo.png")])),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    a.status("png", 505).await;
    srv.close().await;
}

// ---------------------------------------------------------------------------
// Finding 3: the subscribe privilege covers tasks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_may_not_subscribe_cannot_show_others_in_a_task() {
    let srv = Srv::start("").await;
    let _victim = Client::join(
        &srv,
        "sec",
        "sub",
        2,
        Some(tok("sub", 2, json!({}))),
        "broadcaster",
    )
    .await;
    let mut a = Client::join(
        &srv,
        "sec",
        "sub",
        1,
        Some(tok("sub", 1, json!({"subscribe": false}))),
        "broadcaster",
    )
    .await;
    let out = format!("{}/nosub", srv.rtmp);
    let r = a
        .ask("add-tasks", tasks(task("steal", &out, &[2], &[])))
        .await;
    assert_eq!(err_code(&r), 4014, "{r}");
    // Itself it may show.
    let r = a
        .ask("add-tasks", tasks(task("self", &out, &[1], &[])))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    // Nor may an update sneak the other member in.
    let r = a
        .ask("update-tasks", tasks(task("self", &out, &[1, 2], &[])))
        .await;
    assert_eq!(err_code(&r), 4014, "{r}");
    srv.close().await;
}

// ---------------------------------------------------------------------------
// Finding 7: push URLs and engine errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audience_hears_task_status_without_push_secrets_or_engine_text() {
    let srv = Srv::start("").await;
    let mut manager = Client::join(
        &srv,
        "sec",
        "leak",
        1,
        Some(tok("leak", 1, json!({}))),
        "broadcaster",
    )
    .await;
    let mut viewer = Client::join(
        &srv,
        "sec",
        "leak",
        2,
        Some(tok("leak", 2, json!({}))),
        "audience",
    )
    .await;
    // The own RTMP listener refuses this unsigned push: the task fails with a reason.
    let secret_url = format!(
        "{}/room?txSecret=TOPSECRET-PUSH-KEY&txTime=6a000000",
        srv.rtmp
    );
    let r = manager
        .ask("add-tasks", tasks(task("cdn", &secret_url, &[], &[])))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let seen = viewer.status("cdn", 506).await;
    let shown = seen["stream_url"].as_str().unwrap();
    assert!(
        !shown.contains("TOPSECRET") && !shown.contains("/room"),
        "{seen}"
    );
    assert!(shown.starts_with("rtmp://"), "scheme and host stay: {seen}");
    assert_sanitized(seen["msg"].as_str().unwrap());
    // The one who manages tasks gets the URL it gave, and the same typed reason.
    let own = manager.status("cdn", 506).await;
    assert_eq!(own["stream_url"], secret_url.as_str());
    assert_sanitized(own["msg"].as_str().unwrap());
    srv.close().await;
}

// ---------------------------------------------------------------------------
// Finding 6: compositor caps and the restart queue

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_start_more_compositors_than_its_cap_and_insecure_apps_none() {
    let srv = Srv::start("").await;
    let mut a = Client::join(
        &srv,
        "sec",
        "cap",
        1,
        Some(tok("cap", 1, json!({}))),
        "broadcaster",
    )
    .await;
    let out = format!("{}/cap", srv.rtmp);
    for i in 0..4 {
        let r = a
            .ask("add-tasks", tasks(task(&format!("t{i}"), &out, &[], &[])))
            .await;
        assert_eq!(r["ok"], true, "task {i}: {r}");
    }
    let r = a.ask("add-tasks", tasks(task("t4", &out, &[], &[]))).await;
    assert_eq!(err_code(&r), 4029, "the fifth of one member: {r}");
    // Anonymous members of a token-less app run none unless the operator allows it.
    let mut anon = Client::join(&srv, "dbg", "cap", 9, None, "broadcaster").await;
    let r = anon
        .ask("add-tasks", tasks(task("anon", &out, &[], &[])))
        .await;
    assert_eq!(err_code(&r), 4014, "{r}");
    srv.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_app_compositor_caps_hold_across_rooms() {
    let srv = Srv::start(
        "[tasks]\nmax_compositors = 3\nmax_compositors_per_app = 2\ninsecure_apps = true\n",
    )
    .await;
    let mut a = Client::join(
        &srv,
        "sec",
        "ra",
        1,
        Some(tok("ra", 1, json!({}))),
        "broadcaster",
    )
    .await;
    let mut b = Client::join(
        &srv,
        "sec",
        "rb",
        1,
        Some(tok("rb", 1, json!({}))),
        "broadcaster",
    )
    .await;
    let mut d = Client::join(&srv, "dbg", "rd", 1, None, "broadcaster").await;
    let out = format!("{}/caps", srv.rtmp);
    for id in ["a1", "a2"] {
        let r = a.ask("add-tasks", tasks(task(id, &out, &[], &[]))).await;
        assert_eq!(r["ok"], true, "{r}");
    }
    let r = b.ask("add-tasks", tasks(task("b1", &out, &[], &[]))).await;
    assert_eq!(err_code(&r), 4029, "app cap: {r}");
    let r = d.ask("add-tasks", tasks(task("d1", &out, &[], &[]))).await;
    assert_eq!(r["ok"], true, "{r}");
    let r = d.ask("add-tasks", tasks(task("d2", &out, &[], &[]))).await;
    assert_eq!(err_code(&r), 4029, "server cap: {r}");
    // Deleting one frees its place.
    let r = a.ask("delete-tasks", json!({"taskIds": ["a1"]})).await;
    assert_eq!(r["ok"], true, "{r}");
    let r = b.ask("add-tasks", tasks(task("b1", &out, &[], &[]))).await;
    assert_eq!(r["ok"], true, "{r}");
    srv.close().await;
}

/// Pids of running processes whose command line contains `marker`.
fn compositors(marker: &str) -> HashSet<u32> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_flood_is_coalesced_and_nothing_restarts_once_the_room_is_gone() {
    let srv = Srv::start("").await;
    let mut a = Client::join(
        &srv,
        "sec",
        "flood",
        1,
        Some(tok("flood", 1, json!({}))),
        "broadcaster",
    )
    .await;
    let marker = format!("flood-{}-marker", std::process::id());
    let out = format!("{}/{marker}", srv.rtmp);
    let r = a.ask("add-tasks", tasks(task("f", &out, &[], &[]))).await;
    assert_eq!(r["ok"], true, "{r}");
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let watching = CancellationToken::new();
    let watcher = {
        let (seen, stop, marker) = (seen.clone(), watching.clone(), marker.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                seen.lock().unwrap().extend(compositors(&marker));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // 40 different layouts in a burst (under the request rate limit), then the room ends.
    for i in 0..40u32 {
        let mut t = task("f", &out, &[], &[]);
        t["layout"]["canvas"]["color"] = json!(i);
        let r = a.ask("update-tasks", tasks(t)).await;
        assert_eq!(r["ok"], true, "update {i}: {r}");
    }
    let r = a.ask("leave", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    // Wait until no compositor of the task has been seen for a while (failure: 90 s).
    let mut quiet = 0;
    for _ in 0..900 {
        if compositors(&marker).is_empty() {
            quiet += 1;
            if quiet == 30 {
                break;
            }
        } else {
            quiet = 0;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        quiet, 30,
        "compositors still restarting after the room ended"
    );
    watching.cancel();
    watcher.await.unwrap();
    let starts = seen.lock().unwrap().len();
    assert!(
        starts <= 5,
        "{starts} compositors for one task and 40 updates"
    );
    srv.close().await;
}

// ---------------------------------------------------------------------------
// Finding 11: recording

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_needs_the_record_privilege() {
    let srv = Srv::start("").await;
    let mut a = Client::join(
        &srv,
        "sec",
        "rec",
        1,
        Some(tok("rec", 1, json!({}))),
        "broadcaster",
    )
    .await;
    let out = format!("{}/rec", srv.rtmp);
    let mut t = task("r", &out, &[], &[]);
    t["record"] = json!(true);
    let r = a.ask("add-tasks", tasks(t.clone())).await;
    assert_eq!(err_code(&r), 4014, "{r}");
    let mut b = Client::join(
        &srv,
        "sec",
        "rec",
        2,
        Some(tok("rec", 2, json!({"record": true}))),
        "broadcaster",
    )
    .await;
    let r = b.ask("add-tasks", tasks(t)).await;
    assert_eq!(r["ok"], true, "granted: {r}");
    srv.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_continues_the_same_recording() {
    let srv = Srv::start("").await;
    let mut a = Client::join(
        &srv,
        "sec",
        "seg",
        1,
        Some(tok("seg", 1, json!({"record": true}))),
        "broadcaster",
    )
    .await;
    let push = a
        .ask("publish", json!({"audio": true, "video": true}))
        .await;
    let out = push["body"]["url"].as_str().expect("a push URL").to_owned();
    let mut t = task("r", &out, &[], &[]);
    t["record"] = json!(true);
    let r = a.ask("add-tasks", tasks(t.clone())).await;
    assert_eq!(r["ok"], true, "{r}");
    a.status("r", 505).await;
    // A layout change restarts the compositor: its output goes on in the same recording.
    t["layout"]["canvas"]["color"] = json!(0xFF0000);
    let r = a.ask("update-tasks", tasks(t)).await;
    assert_eq!(r["ok"], true, "{r}");
    let mut files = Vec::new();
    for _ in 0..600 {
        files = srv.recordings();
        if files.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        files.len() >= 2,
        "a second segment after the restart: {files:?}"
    );
    let r = a.ask("delete-tasks", json!({"taskIds": ["r"]})).await;
    assert_eq!(r["ok"], true, "{r}");
    a.status("r", 511).await;
    let files = srv.recordings();
    let first = files
        .iter()
        .find(|f| f.matches('.').count() == 1)
        .unwrap_or_else(|| panic!("a first segment: {files:?}"));
    let stem = first.trim_end_matches(".flv").to_owned();
    assert!(stem.starts_with("r-"), "{files:?}");
    let mut want: Vec<String> = (1..files.len())
        .map(|n| format!("{stem}.{n}.flv"))
        .collect();
    want.push(first.clone());
    want.sort();
    assert_eq!(files, want, "one recording in segments");
    srv.close().await;
}
