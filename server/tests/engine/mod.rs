//! What the external-engine suites share: the `mprtc-server` binary on a loopback port, a
//! member over the real signaling WebSocket, one-shot HTTP requests, free ports.
#![allow(dead_code)] // each suite uses its own part

pub mod ffmpeg;
pub mod nginx;
pub mod tls;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// The secret of app `sec`.
pub const APP_SECRET: &str = "engine-suite-app-secret-0123456789";
/// The media secret the server signs URLs with (the suites sign expired ones with it too).
pub const MEDIA_SECRET: &str = "engine-suite-media-secret-0123456789abcdef";
/// The hook secret in the engine's hook URLs.
pub const HOOK_SECRET: &str = "engineSuiteHookSecret0123456789abcdef";

/// Deadline for anything a test waits on (a process to start, an event, ffmpeg to finish).
pub const DEADLINE: Duration = Duration::from_secs(30);

/// `n` different ports on 127.0.0.1 nobody listens on now (the system picks them, all bound at
/// once so none is picked twice, then released for the caller's processes to bind).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A fresh private directory for one test.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("mprtc-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Removes a test's directory when dropped, unless the test failed (its logs are kept for
/// reading then).
pub struct Cleanup(pub std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("logs kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The running server binary; stopped (SIGTERM, then waited for) when dropped.
pub struct ServerProc {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    /// `127.0.0.1:port` of its signaling listener (WebSocket, server API, hooks).
    pub addr: String,
    /// The ready line's endpoints.
    pub endpoints: Value,
}

impl ServerProc {
    /// Starts `mprtc-server` with app `sec`, the suite's media secret and `args`; its log goes
    /// to `log`.
    pub fn start(args: &[String], log: &std::path::Path) -> Self {
        Self::start_on("127.0.0.1:0", args, log)
    }

    /// [`ServerProc::start`] listening on `listen` (a cluster node advertises its address).
    pub fn start_on(listen: &str, args: &[String], log: &std::path::Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mprtc-server"));
        cmd.args(["--listen", listen, "--app"])
            .arg(format!("sec:{APP_SECRET}"))
            .args(["--media-secret", MEDIA_SECRET])
            // Members here do not ping: the heartbeat must not end them mid-test.
            .args(["--ping-interval-ms", "60000", "--ping-timeout-ms", "120000"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap());
        let mut child = cmd.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("no ready line: {line:?}; log: {}", read(log)));
        let signal = ready["endpoints"]["signal"].as_str().unwrap();
        let addr = signal
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        Self {
            child,
            _stdout: stdout,
            addr,
            endpoints: ready["endpoints"].clone(),
        }
    }

    /// The server with media on an external `engine` (`nginx-rtmp` or `srs`) whose origin's
    /// RTMP base is `rtmp` and whose nodes' control bases are `control` (origin first), with
    /// the suite's hook secret and `more` flags.
    pub fn external(
        engine: &str,
        rtmp: &str,
        control: &[String],
        more: &[String],
        log: &std::path::Path,
    ) -> Self {
        Self::start(&Self::external_args(engine, rtmp, control, more), log)
    }

    /// The flags of [`ServerProc::external`].
    pub fn external_args(
        engine: &str,
        rtmp: &str,
        control: &[String],
        more: &[String],
    ) -> Vec<String> {
        let mut args: Vec<String> = ["--media", engine, "--media-rtmp-base", rtmp]
            .into_iter()
            .chain(["--media-hook-secret", HOOK_SECRET])
            .map(String::from)
            .collect();
        for c in control {
            args.extend(["--media-control".to_owned(), c.clone()]);
        }
        args.extend(more.iter().cloned());
        args
    }

    /// The hook base of engine node `node` (`.../hooks/{engine}/{secret}/{node}`).
    pub fn hooks(&self, engine: &str, node: usize) -> String {
        format!("http://{}/hooks/{engine}/{HOOK_SECRET}/{node}", self.addr)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// SIGTERM to `child`, then wait for it.
pub fn terminate(child: &mut Child) {
    // SAFETY: kill(2) on the pid of a child this process spawned and has not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
}

/// A file's text, or a note that it cannot be read (for failure messages).
pub fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| format!("<{}: {e}>", p.display()))
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket over any stream: plain TCP ([`Ws`]) or TLS through a proxy (tls_proxy.rs).
pub type Socket<S> = tokio_tungstenite::WebSocketStream<S>;

/// A member of app `sec`'s `room`, joined as `uid` with the default privileges.
pub async fn member(addr: &str, room: &str, uid: u64) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    join(&mut ws, room, uid).await;
    ws
}

/// Joins `ws` to app `sec`'s `room` as `uid` with the default privileges (request id 1).
pub async fn join<S: Io>(ws: &mut Socket<S>, room: &str, uid: u64) {
    let token = token(room, uid, mprtc_server::token::Privileges::default());
    let join = json!({"v":1,"id":1,"type":"join","body":{"appkey":"sec","room":room,"uid":uid,"token":token}});
    let r = request(ws, join).await;
    assert_eq!(r["ok"], true, "{r}");
}

/// What a WebSocket runs over.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin {}
impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Io for S {}

/// A join token of app `sec` for `uid` in `room` with privileges `p`, valid ten minutes.
pub fn token(room: &str, uid: u64, p: mprtc_server::token::Privileges) -> String {
    let now = now_s();
    mprtc_server::token::sign(
        APP_SECRET.as_bytes(),
        &mprtc_server::token::Claims {
            app: "sec".into(),
            room: room.into(),
            uid: uid.to_string(),
            iat: now,
            exp: now + 600,
            privileges: p,
        },
    )
}

/// Publishes video as member `ws` (request id 2) and returns the push URL it is handed.
pub async fn publish<S: Io>(ws: &mut Socket<S>) -> String {
    let r = request(
        ws,
        json!({"v":1,"id":2,"type":"publish","body":{"video":true}}),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    r["body"]["url"].as_str().unwrap().to_owned()
}

/// Sends request `frame` and returns its answer (events before it are skipped).
pub async fn request<S: Io>(ws: &mut Socket<S>, frame: Value) -> Value {
    let id = frame["id"].clone();
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
    loop {
        let v = next(ws).await;
        if v["re"] == id {
            return v;
        }
    }
}

/// The next frame, within [`DEADLINE`].
pub async fn next<S: Io>(ws: &mut Socket<S>) -> Value {
    loop {
        let m = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a frame within the deadline")
            .expect("socket open")
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Reads until an event of `kind` arrives.
pub async fn event<S: Io>(ws: &mut Socket<S>, kind: &str) -> Value {
    loop {
        let v = next(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

/// Reads until an event of `kind` about `uid` arrives.
pub async fn event_about<S: Io>(ws: &mut Socket<S>, kind: &str, uid: u64) -> Value {
    loop {
        let v = event(ws, kind).await;
        if v["body"]["uid"] == uid {
            return v;
        }
    }
}

/// Subscribes member `ws` to `uid` (request id `id`) and returns the RTMP play URL.
pub async fn subscribe(ws: &mut Ws, id: u32, uid: u64) -> String {
    let r = request(
        ws,
        json!({"v":1,"id":id,"type":"subscribe","body":{"uid":uid,"video":true}}),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    r["body"]["url"].as_str().unwrap().to_owned()
}

/// Unix seconds now (for tokens and URL expiry).
pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One HTTP/1.1 request on a fresh connection: (status, body). `auth` is Basic `key:secret`.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    http_from("127.0.0.1", addr, (method, path), auth, content_type, body).await
}

/// [`http`] from the loopback address `from` (any of 127.0.0.0/8).
pub async fn http_from(
    from: &str,
    addr: &str,
    (method, path): (&str, &str),
    auth: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    use base64::Engine as _;
    let auth = auth
        .map(|c| {
            let c = base64::engine::general_purpose::STANDARD.encode(c);
            format!("Authorization: Basic {c}\r\n")
        })
        .unwrap_or_default();
    let head = format!("{auth}Content-Type: {content_type}\r\n");
    http_raw(from, addr, (method, path), &head, body).await
}

/// [`http_from`] with the header lines `headers` (each ending in CRLF) as they are.
pub async fn http_raw(
    from: &str,
    addr: &str,
    (method, path): (&str, &str),
    headers: &str,
    body: &[u8],
) -> (u16, String) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut s = sock.connect(addr.parse().unwrap()).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // A refused body is not read: the server may close before it is all written.
    let _ = s.write_all(body).await;
    let mut resp = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut resp))
        .await
        .expect("an answer within the deadline")
        .unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Kicks member `uid` of app `sec`'s `room` through the server API.
pub async fn kick(addr: &str, room: &str, uid: u64) {
    let path = format!("/api/v1/rooms/{room}/members/{uid}/kick");
    let (status, body) = http(
        addr,
        "POST",
        &path,
        Some(&format!("sec:{APP_SECRET}")),
        "application/json",
        b"",
    )
    .await;
    assert_eq!(status, 200, "kick {uid}: {body}");
}
