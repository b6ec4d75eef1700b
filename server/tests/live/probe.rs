//! Small probes of a running server from the outside: a loopback port to give it, whether a
//! listener answers a connection at all, a push-task object, a scratch directory.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound on a read from the server; a pass never depends on it.
const BOUND: Duration = Duration::from_secs(15);

/// A loopback address with a port the system just handed out and nobody holds now: for the
/// settings whose value is an address (a test that passes `:0` could not tell which source won).
pub fn picked_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let a = l.local_addr().expect("bound");
    format!("{a}")
}

/// A fresh directory for one test, named by `tag` and this process; removed with what it holds
/// when the test lets go of it, so runs leave nothing behind in the temporary directory.
pub fn scratch(tag: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("mprtc-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a scratch directory");
    Scratch(d)
}

/// A directory [`scratch`] made: a path while it lives, removed when dropped.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Scratch {
    /// The path, no longer removed on drop: for a directory a server started here goes on
    /// using after the function that made it returns.
    pub fn keep(self) -> PathBuf {
        let me = std::mem::ManuallyDrop::new(self);
        me.0.clone()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `dir/name`, a shell script that runs `prelude` and then hands over to the real ffmpeg
/// with its arguments, for the server's `ffmpeg` setting: the path.
pub fn ffmpeg_script(dir: &std::path::Path, name: &str, prelude: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!("#!/bin/sh\n{prelude}\nexec ffmpeg \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

/// Bytes the server sends on `s` before it closes it (or [`BOUND`] passes): 0 means it closed
/// the connection without answering. Reads until the first bytes arrive.
pub async fn answered(s: &mut TcpStream) -> usize {
    let mut buf = [0u8; 4096];
    match tokio::time::timeout(BOUND, s.read(&mut buf)).await {
        Ok(Ok(n)) => n,
        Ok(Err(_)) => 0,
        Err(_) => panic!("the server neither answered nor closed within {BOUND:?}"),
    }
}

/// With a cap of one connection on the listener at `addr`: a first connection is opened and
/// left silent, a second sends `request`, then the first does. `(first answered, second
/// answered)`: a listener accepts in order, so a cap of one serves the first and closes the
/// second unread, while an uncapped listener answers both.
pub async fn two_connections(addr: &str, request: &[u8]) -> (bool, bool) {
    let mut first = TcpStream::connect(addr).await.expect("connect");
    let mut second = TcpStream::connect(addr).await.expect("connect");
    // The server may already have closed it: a failed write is an unanswered connection.
    let second_ok = second.write_all(request).await.is_ok() && answered(&mut second).await > 0;
    first.write_all(request).await.expect("the first is held");
    let first_ok = answered(&mut first).await > 0;
    (first_ok, second_ok)
}

/// An HTTP/1.1 `GET path` that closes the connection after the answer.
pub fn http_get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").into_bytes()
}

/// The first bytes of an RTMP handshake (C0 and C1), which a server answers with S0 S1 S2.
pub fn rtmp_c0c1() -> Vec<u8> {
    let mut c = vec![0u8; 1 + 1536];
    c[0] = 3;
    c
}

/// A push task `id` showing `uid` on a small canvas, pushed to `output`, recorded if `record`.
pub fn task(id: &str, output: &str, uid: u64, record: bool) -> Value {
    json!({"taskId": id, "streamUrl": output, "record": record,
           "layout": {"canvas": {"width": 320, "height": 180, "color": 0},
                      "users": [{"uid": uid, "x": 0, "y": 0, "width": 320, "height": 180}]}})
}

/// An `add-tasks` request frame with id `id` for `tasks`.
pub fn add_tasks(id: u32, tasks: Vec<Value>) -> Value {
    json!({"v":1,"id":id,"type":"add-tasks","body":{"rtmpTasks": tasks}})
}

/// A real RTMP publisher: ffmpeg sending a small test picture and a tone in real time to
/// `url`, as x264 and AAC in FLV (ultrafast, a key frame a second, so it is live at once).
pub fn pusher(url: &str) -> tokio::process::Child {
    pusher_with(url, &[])
}

/// [`pusher`] with `extra` output options (e.g. `-metadata title=...`, which reaches players
/// in its `onMetaData`).
pub fn pusher_with(url: &str, extra: &[&str]) -> tokio::process::Child {
    let input = "-re -f lavfi -i testsrc2=size=160x120:rate=10 -f lavfi -i sine=frequency=220";
    let output = "-c:v libx264 -preset ultrafast -tune zerolatency -g 10 -c:a aac";
    tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(input.split(' '))
        .args(output.split(' '))
        .args(extra)
        .args(["-f", "flv", url])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg runs")
}

/// Opens an HTTP-FLV play URL and reads the first bytes of the answer (within `bound`): the
/// socket, still open, and the status.
pub async fn flv_open(url: &str, bound: Duration) -> (TcpStream, u16) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).await.unwrap();
    let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(bound, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (s, status)
}
