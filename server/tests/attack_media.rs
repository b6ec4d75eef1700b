//! Attacks on the listeners, against the real `mprtc-server` binary over real sockets
//! (security review findings 2 and 9): RTMP chunk headers declaring huge messages,
//! too many chunk streams, connections that never publish or play, more connections
//! from one address than its cap, and slow or silent HTTP clients.
//!
//! Limits are set through the environment (`MPRTC_*`) so each test also runs, and
//! fails, against a server that does not know them. Tests wait for events (a socket
//! closed by the server, a reply); the generous [`BOUND`] only turns a hang into a
//! failure.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

mod live;
use live::binary::{self, Running};
use live::Ws;

/// Upper bound on any wait; a pass never depends on it.
const BOUND: Duration = Duration::from_secs(10);

/// A running server process (killed when dropped) and its addresses.
struct Srv {
    process: Running,
    signal: String,
    signal_addr: SocketAddr,
    rtmp: SocketAddr,
    flv: SocketAddr,
}

impl Srv {
    fn start(env: &[(&str, &str)]) -> Self {
        let mut env = env.to_vec();
        env.push(("MPRTC_LOG", "error"));
        let process = Running::with(&["--insecure-app", "demo"], &env);
        let addr = |name: &str| -> SocketAddr { process.addr(name).parse().unwrap() };
        Self {
            signal: process.signal(),
            signal_addr: addr("signal"),
            rtmp: addr("rtmp"),
            flv: addr("flv"),
            process,
        }
    }

    /// Resident memory in KiB, `None` once the process is gone.
    fn rss_kib(&mut self) -> Option<u64> {
        if self.process.exited() {
            return None;
        }
        let pid = self.process.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Joins room `r` of the insecure app on a fresh WebSocket: `ok` of the reply.
    async fn join_ok(&self, uid: u64) -> bool {
        let ws = tokio::time::timeout(BOUND, tokio_tungstenite::connect_async(&self.signal)).await;
        let Ok(Ok((mut ws, _))) = ws else {
            return false;
        };
        join_on(&mut ws, uid).await
    }
}

async fn join_on(ws: &mut Ws, uid: u64) -> bool {
    let f = json!({"v":1,"id":1,"type":"join","body":{"appkey":"demo","room":"r","uid":uid}});
    if ws.send(Message::Text(f.to_string().into())).await.is_err() {
        return false;
    }
    reply(ws).await["ok"] == true
}

/// The next text frame as JSON (Null on failure or after [`BOUND`]).
async fn reply(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(BOUND, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                return serde_json::from_str(&t).unwrap_or(Value::Null)
            }
            Ok(Some(Ok(_))) => continue,
            _ => return Value::Null,
        }
    }
}

/// Whether the server closes `s` (EOF or reset) within [`BOUND`]; what it sends
/// before is read and dropped.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(BOUND, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Whether the server closes the read half `rd` (EOF or reset) within [`BOUND`] while `trickle`
/// keeps writing to the other half; what it sends before is read and dropped.
async fn closed_while(
    rd: &mut (impl tokio::io::AsyncRead + Unpin),
    trickle: impl std::future::Future<Output = ()>,
) -> bool {
    let closed = async {
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(BOUND, async {
        tokio::select! {
            () = closed => {}
            () = trickle => {}
        }
    })
    .await
    .is_ok()
}

/// Connects and does the client side of the simple RTMP handshake.
async fn rtmp_handshake(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut c0c1 = vec![0u8; 1 + 1536];
    c0c1[0] = 3;
    for (i, b) in c0c1[9..].iter_mut().enumerate() {
        *b = i as u8;
    }
    s.write_all(&c0c1).await.unwrap();
    let mut s0s1s2 = vec![0u8; 1 + 2 * 1536];
    tokio::time::timeout(BOUND, s.read_exact(&mut s0s1s2))
        .await
        .expect("handshake answered")
        .unwrap();
    // C2 echoes S1.
    s.write_all(&s0s1s2[1..1 + 1536]).await.unwrap();
    s
}

/// One chunk with a full (fmt 0) header on chunk stream `csid`, declaring a message of
/// `len` bytes of type `kind`, and the first `payload.len()` bytes of it.
fn chunk(csid: u32, len: u32, kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match csid {
        2..=63 => out.push(csid as u8),
        64..=319 => out.extend([0, (csid - 64) as u8]),
        _ => out.extend([1, ((csid - 64) & 0xFF) as u8, ((csid - 64) >> 8) as u8]),
    }
    out.extend([0, 0, 0]);
    out.extend(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.extend(1u32.to_le_bytes());
    out.extend(payload);
    out
}

/// An Acknowledgement message (4 bytes, which the server reads and ignores).
fn ack(csid: u32) -> Vec<u8> {
    chunk(csid, 4, 3, &[0, 0, 0, 1])
}

/// Finding 2: each chunk header declares a 16 MB message, on 65 000 chunk streams, over
/// two connections (the review's crash, ~18 MB sent). The server closes both, stays up
/// with its memory about where it was, and a member still joins.
#[tokio::test]
async fn huge_message_headers_are_refused_and_the_server_stays_up() {
    let mut srv = Srv::start(&[("MPRTC_RTMP_ADMISSION_TIMEOUT_MS", "60000")]);
    assert!(srv.join_ok(1).await);
    let before = srv.rss_kib().expect("server running");
    let flood: Vec<u8> = (64..64 + 65_000)
        .flat_map(|csid| chunk(csid, 0xFF_FFFF, 9, &[0x17; 128]))
        .collect();
    for _ in 0..2 {
        let mut s = rtmp_handshake(srv.rtmp).await;
        // The server may close (reset) while this is being written.
        let _ = tokio::time::timeout(BOUND, s.write_all(&flood)).await;
        assert!(
            closed_by_server(&mut s).await,
            "connection closed by the server"
        );
    }
    let after = srv.rss_kib().expect("server still running");
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert!(srv.join_ok(2).await, "signaling still answers");
}

/// Finding 2: a connection using more chunk streams than the cap (32) is closed.
#[tokio::test]
async fn too_many_chunk_streams_are_refused() {
    let srv = Srv::start(&[("MPRTC_RTMP_ADMISSION_TIMEOUT_MS", "60000")]);
    let mut s = rtmp_handshake(srv.rtmp).await;
    let acks: Vec<u8> = (3..3 + 40).flat_map(ack).collect();
    let _ = s.write_all(&acks).await;
    assert!(closed_by_server(&mut s).await);
}

/// Finding 9: a handshaken connection that keeps sending harmless messages but never
/// publishes or plays is closed at its admission deadline.
#[tokio::test]
async fn connections_that_never_publish_or_play_are_closed() {
    let srv = Srv::start(&[("MPRTC_RTMP_ADMISSION_TIMEOUT_MS", "300")]);
    let mut s = rtmp_handshake(srv.rtmp).await;
    let (mut rd, mut wr) = s.split();
    let trickle = async {
        // Keeps the connection busy: any byte reset the library's idle timer.
        loop {
            if wr.write_all(&ack(3)).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        std::future::pending::<()>().await
    };
    assert!(
        closed_while(&mut rd, trickle).await,
        "closed at the admission deadline"
    );
}

/// Finding 9: with a per-IP cap of 2, the third connection from one address to each
/// listener is closed at once while the other two (one of them an honest client) keep
/// working, and a place freed is taken again.
#[tokio::test]
async fn per_ip_caps_refuse_the_connection_over_the_cap() {
    let srv = Srv::start(&[
        ("MPRTC_MAX_CONNECTIONS_PER_IP", "2"),
        ("MPRTC_RTMP_MAX_CONNECTIONS_PER_IP", "2"),
        ("MPRTC_FLV_MAX_CONNECTIONS_PER_IP", "2"),
        ("MPRTC_HTTP_HEADER_TIMEOUT_MS", "60000"),
        ("MPRTC_RTMP_ADMISSION_TIMEOUT_MS", "60000"),
    ]);

    // Signaling: an honest member and an idle socket hold the two places.
    let (mut ws, _) = tokio_tungstenite::connect_async(&srv.signal).await.unwrap();
    assert!(join_on(&mut ws, 1).await);
    let idle = TcpStream::connect(srv.signal_addr).await.unwrap();
    let mut third = TcpStream::connect(srv.signal_addr).await.unwrap();
    assert!(
        closed_by_server(&mut third).await,
        "signaling: over the cap"
    );
    let ping = json!({"v":1,"id":2,"type":"ping","body":{}});
    ws.send(Message::Text(ping.to_string().into()))
        .await
        .unwrap();
    assert!(
        !reply(&mut ws).await.is_null(),
        "the honest member is still served"
    );
    drop(idle);
    let rejoined = tokio::time::timeout(BOUND, async {
        // Until the server has seen the idle socket close.
        while !srv.join_ok(2).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(rejoined.is_ok(), "signaling: a freed place is taken again");

    // RTMP: two handshaken connections; the third is closed before its handshake.
    let a = rtmp_handshake(srv.rtmp).await;
    let _b = rtmp_handshake(srv.rtmp).await;
    let mut third = TcpStream::connect(srv.rtmp).await.unwrap();
    let _ = third.write_all(&[3; 1537]).await;
    assert!(closed_by_server(&mut third).await, "RTMP: over the cap");
    drop(a);
    // The freed place: wait until the server has seen the close, then handshake.
    let c = tokio::time::timeout(BOUND, async {
        loop {
            let mut s = TcpStream::connect(srv.rtmp).await.unwrap();
            let mut c0c1 = vec![0u8; 1537];
            c0c1[0] = 3;
            let _ = s.write_all(&c0c1).await;
            let mut s0 = [0u8; 1];
            if s.read_exact(&mut s0).await.is_ok() {
                return s0[0];
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(c.ok(), Some(3), "RTMP: a freed place is taken again");

    // HTTP-FLV: two silent connections; the third is closed; a request on a held one
    // is answered.
    let mut held = TcpStream::connect(srv.flv).await.unwrap();
    let _other = TcpStream::connect(srv.flv).await.unwrap();
    let mut third = TcpStream::connect(srv.flv).await.unwrap();
    assert!(closed_by_server(&mut third).await, "HTTP-FLV: over the cap");
    held.write_all(b"GET /live/x.flv HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(BOUND, held.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}

/// Finding 9: on both HTTP listeners, a silent connection, one that never finishes its
/// headers and an idle keep-alive after a response are all closed by the server.
#[tokio::test]
async fn slow_and_silent_http_clients_are_closed() {
    let srv = Srv::start(&[("MPRTC_HTTP_HEADER_TIMEOUT_MS", "300")]);
    for (addr, path) in [(srv.signal_addr, "/healthz"), (srv.flv, "/live/x.flv")] {
        let mut silent = TcpStream::connect(addr).await.unwrap();

        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n").as_bytes())
            .await
            .unwrap();
        let (mut rd, mut wr) = slow.split();
        let trickle = async {
            let mut i = 0u64;
            while wr
                .write_all(format!("X-{i}: y\r\n").as_bytes())
                .await
                .is_ok()
            {
                i += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            std::future::pending::<()>().await
        };
        assert!(
            closed_while(&mut rd, trickle).await,
            "{addr}: unfinished headers closed"
        );

        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .await
            .unwrap();
        assert!(
            closed_by_server(&mut idle).await,
            "{addr}: idle keep-alive closed"
        );
        assert!(
            closed_by_server(&mut silent).await,
            "{addr}: silent connection closed"
        );
    }
    assert!(srv.join_ok(1).await, "signaling still answers");
}

/// The limits come from flags and `MPRTC_*` variables; bad values stop the server at
/// start with a typed error.
#[test]
fn bad_limits_are_refused_at_start() {
    for (env, args, code) in [
        (
            Some(("MPRTC_RTMP_MAX_CONNECTIONS_PER_IP", "0")),
            vec![],
            "config.bad_connection_limit",
        ),
        (
            None,
            vec!["--max-connections", "10", "--max-connections-per-ip", "11"],
            "config.bad_connection_limit",
        ),
        (
            None,
            vec!["--http-header-timeout-ms", "5"],
            "config.bad_listen_timeout",
        ),
        (
            Some(("MPRTC_RTMP_ADMISSION_TIMEOUT_MS", "0")),
            vec![],
            "config.bad_listen_timeout",
        ),
    ] {
        let env: Vec<(&str, &str)> = env.into_iter().collect();
        binary::refusal(&args, &env).refused_with(code);
    }
}
