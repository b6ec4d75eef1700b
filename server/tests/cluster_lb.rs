//! `deploy/nginx/cluster.conf` as it is (only its `@PLACEHOLDERS@` replaced), in Debian's nginx
//! with a test certificate, in front of three `mprtc-server` processes sharing a real
//! `redis-server`: members join one room over `wss://` through the one public address, the
//! server API answers over `https://`, and when the room's owner is killed with SIGKILL its
//! members reconnect through the same address and are in one room again, on a new owner.
//!
//! The room's state is in Redis (README "Several nodes (Redis)"), so the members resume on the
//! new owner: the same sessions, their seqs going on without a gap.
//!
//! `deploy/nginx/cluster-hooks.conf`, beside it, carries an nginx-rtmp origin's hooks (plain
//! HTTP, on a private listener) to whichever node, and through it to the room's owner, before
//! and after the owner is killed.

use std::path::Path;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

mod engine;
mod live;
use engine::ffmpeg::Ffmpeg;
use engine::nginx::{self, Nginx, Ports};
use engine::{free_ports, http_raw, temp_dir, tls, Cleanup, HOOK_SECRET};

#[path = "cluster/member.rs"]
mod member;
#[path = "cluster/nodes.rs"]
mod nodes;
#[path = "cluster/procs.rs"]
mod procs;
#[path = "cluster/redis.rs"]
mod redis_server;
#[path = "cluster/resume.rs"]
mod resume;

use member::Member;
use procs::{engine_nodes, NodeProc};
use redis_server::Redis;
use resume::{join_retrying, last_seq, play_url, plays, publish_video, ws};

/// The public name of the test certificate.
const NAME: &str = "cluster.test";

type Wss = tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>;
/// A member through the load balancer.
type Lbm = Member<TlsStream<TcpStream>>;

/// nginx with `deploy/nginx/cluster.conf` over `nodes` on free ports.
struct Lb {
    _nginx: Nginx,
    port: u16,
    /// The plain-HTTP listener of the media engine's hooks.
    hooks_port: u16,
    tls: tokio_rustls::TlsConnector,
}

impl Lb {
    async fn start(dir: &Path, nodes: &[&NodeProc]) -> Self {
        let (cert, key, der) = tls::certificate(dir, NAME);
        let [port, hooks_port] = free_ports(2)[..] else {
            panic!("two ports");
        };
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx");
        let mut vars = vec![
            ("LISTEN", format!("127.0.0.1:{port}")),
            ("HOOKS_LISTEN", format!("127.0.0.1:{hooks_port}")),
            ("SERVER_NAME", NAME.to_owned()),
            ("CERTIFICATE", cert.display().to_string()),
            ("CERTIFICATE_KEY", key.display().to_string()),
        ];
        for (name, n) in ["NODE_1", "NODE_2", "NODE_3"].into_iter().zip(nodes) {
            vars.push((name, n.addr.clone()));
        }
        // Both files in one http block, as an operator installs them side by side.
        let fill = |file: &str| {
            let text = std::fs::read_to_string(deploy.join(file)).unwrap();
            nginx::replace(file, text, &vars)
        };
        let site = fill("cluster.conf") + &fill("cluster-hooks.conf");
        let site_path = dir.join("cluster.conf");
        std::fs::write(&site_path, site).unwrap();
        let main = tls::http_main(&site_path);
        let nginx = nginx::spawn("cluster.conf", &main, dir, &[port, hooks_port]).await;
        Self {
            _nginx: nginx,
            port,
            hooks_port,
            tls: tls::connector(der),
        }
    }

    async fn tls(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from(NAME).unwrap();
        self.tls.connect(name, tcp).await.unwrap()
    }

    /// `wss://cluster.test/ws`, or the handshake's error.
    async fn wss(&self) -> Result<Wss, String> {
        let url = format!("wss://{NAME}/ws");
        let tls = self.tls().await;
        tokio_tungstenite::client_async(url, tls)
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| e.to_string())
    }

    /// Joins `room` as `uid` through the load balancer, trying again (a node may refuse
    /// while the room's dead owner still holds its lease) until it works or 90 s passed;
    /// asking to resume `old` if given.
    async fn join(&self, room: &str, uid: u64, old: Option<&Lbm>) -> Lbm {
        let mut last = serde_json::Value::Null;
        for _ in 0..450 {
            if let Ok(ws) = self.wss().await {
                match Member::rejoin_over(ws, room, uid, old).await {
                    Ok(m) => return m,
                    Err(why) => last = why,
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("member {uid} could not join {room} through the load balancer: {last}");
    }

    /// One HTTPS request with app `sec`'s credentials: (status, body).
    async fn api(&self, method: &str, path: &str) -> (u16, String) {
        use base64::Engine as _;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("sec:{}", live::SECRET));
        let mut s = self.tls().await;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {NAME}\r\nAuthorization: Basic {auth}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut resp = Vec::new();
        let _ = tokio::time::timeout(member::PATIENCE, s.read_to_end(&mut resp)).await;
        let resp = String::from_utf8_lossy(&resp).into_owned();
        let status = resp.split(' ').nth(1).and_then(|s| s.parse().ok());
        let body = resp.split_once("\r\n\r\n").map(|x| x.1.to_owned());
        (status.unwrap_or(0), body.unwrap_or_default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behind_the_tls_load_balancer_survive_a_kill() {
    if !redis_server::available()
        || !nginx::installed("cluster_lb", &[nginx::NGINX, "/usr/bin/openssl"])
    {
        return;
    }
    let dir = temp_dir("cluster-lb");
    let _cleanup = Cleanup(dir.clone());
    let redis = Redis::start("lb").await;
    let mut procs: Vec<NodeProc> = (1..=3)
        .map(|i| NodeProc::start(&redis.url(), &dir.join(format!("node{i}.log"))))
        .collect();
    for p in &procs {
        nodes::until_ready(&p.addr, 200).await;
    }
    let lb = Lb::start(&dir, &procs.iter().collect::<Vec<_>>()).await;

    let mut m1 = lb.join("lb", 1, None).await;
    let mut m2 = lb.join("lb", 2, None).await;
    m1.until("member-joined", Some(2)).await;
    let (status, body) = lb.api("GET", "/api/v1/rooms/lb/tasks").await;
    assert_eq!(
        status, 200,
        "the server API through the load balancer: {body}"
    );

    // Kill the room's owner once it wrote what both members were sent.
    for m in [&m1, &m2] {
        let seq = m.events.last().map_or(0, |e| e["seq"].as_u64().unwrap());
        redis.until_written("lb", m.uid, seq).await;
    }
    let owner = redis.get("mprtc:owner:sec:lb").await.expect("an owner");
    let node = owner.rsplit_once(':').unwrap().0;
    let addr = redis
        .get(&format!("mprtc:node:{node}"))
        .await
        .expect("registered");
    let victim = procs
        .iter_mut()
        .find(|p| p.addr == addr)
        .expect("one of ours");
    victim.kill9();
    m1.closed().await;
    m2.closed().await;

    // Both come back through the same address asking to resume, as the SDK does; the new
    // owner took the room over with its state, so both resume their sessions, and they are
    // one room again: an event after the takeover reaches member 1 with the next seq.
    let mut n1 = lb.join("lb", 1, Some(&m1)).await;
    let n2 = lb.join("lb", 2, Some(&m2)).await;
    for (old, new) in [(&m1, &n1), (&m2, &n2)] {
        let (a, b) = (&old.joined["body"], &new.joined["body"]);
        assert_eq!(a["session"], b["session"], "the same session: {b}");
        assert_eq!(b["resumed"], true, "a resume: {b}");
    }
    let m3 = lb.join("lb", 3, None).await;
    let seen = n1.until("member-joined", Some(3)).await;
    let last = m1.events.last().unwrap()["seq"].as_u64().unwrap();
    assert_eq!(seen["seq"], last + 1, "no gap, no repeat: {:?}", n1.events);
    let snapshot = &n2.joined["body"]["members"];
    assert!(
        snapshot.as_array().unwrap().iter().any(|m| m["uid"] == 1),
        "m2's snapshot has m1: {snapshot}"
    );
    let now = redis.get("mprtc:owner:sec:lb").await.expect("a new owner");
    assert_ne!(
        now.rsplit_once(':').unwrap().0,
        node,
        "{now} is not the dead node"
    );
    let epoch = |v: &str| v.rsplit_once(':').unwrap().1.parse::<u64>().unwrap();
    assert!(epoch(&now) > epoch(&owner), "{owner} then {now}");
    let (status, body) = lb.api("GET", "/api/v1/rooms/lb/tasks").await;
    assert_eq!(status, 200, "the server API after the kill: {body}");
    drop((m1, m2, n1, n2, m3));
}

/// An nginx-rtmp origin (`deploy/nginx-rtmp/origin.conf`) whose hooks go to the plain-HTTP
/// hooks listener of `deploy/nginx/cluster-hooks.conf`, in front of three nodes; node a owns the
/// room. A real ffmpeg push is admitted (`stream-added` reaches a member through the load
/// balancer and one on node c); a is killed under the push, the members resume on the node
/// that takes the room over, a play is admitted through the load balancer by the new owner,
/// and when the pusher stops its `publish_done` ends the stream. The hooks listener serves
/// nothing but hooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_hooks_through_the_load_balancer_reach_the_owner() {
    if !redis_server::available()
        || !nginx::available("cluster_lb")
        || !nginx::installed("cluster_lb", &[nginx::NGINX, "/usr/bin/openssl"])
    {
        return;
    }
    let dir = temp_dir("cluster-lb-hooks");
    let _cleanup = Cleanup(dir.clone());
    let redis = Redis::start("lb-hooks").await;
    let po = Ports::pick(1).pop().unwrap();
    let ([mut a, b, c], _) = engine_nodes(&redis.url(), &dir, &po);
    let lb = Lb::start(&dir, &[&a, &b, &c]).await;
    let hooks = format!(
        "http://127.0.0.1:{}/hooks/nginx-rtmp/{HOOK_SECRET}/0",
        lb.hooks_port
    );
    let origin = nginx::start("origin.conf", &dir.join("origin"), po, &[("HOOKS", hooks)]).await;
    for n in [&a, &b, &c] {
        nodes::until_ready(&n.addr, 200).await;
    }

    let mut m1 = Member::join(&ws(&a.addr), "lh", 1).await;
    let mut m2 = lb.join("lh", 2, None).await;
    let mut m3 = Member::join(&ws(&c.addr), "lh", 3).await;
    m1.until("member-joined", Some(3)).await;
    let url = publish_video(&mut m1).await;
    assert!(url.starts_with(&origin.rtmp_base()), "{url}");
    let pusher = Ffmpeg::push(&url);
    m2.until("stream-added", Some(1)).await;
    m3.until("stream-added", Some(1)).await;
    for (uid, seq) in [(1, last_seq(&m1)), (2, last_seq(&m2)), (3, last_seq(&m3))] {
        redis.until_written("lh", uid, seq).await;
    }

    a.kill9();
    m1.closed().await;
    m2.closed().await;
    m3.closed().await;
    let mut n2 = lb.join("lh", 2, Some(&m2)).await;
    assert_eq!(n2.joined["body"]["resumed"], true, "{}", n2.joined);
    let mut n3 = join_retrying(&c.addr, "lh", 3, Some((&m3, last_seq(&m3)))).await;
    assert_eq!(n3.joined["body"]["resumed"], true, "{}", n3.joined);
    plays(&play_url(&mut n3, 1).await, || origin.log()).await;
    drop(pusher);
    n2.until("stream-removed", Some(1)).await;
    n3.until("stream-removed", Some(1)).await;
    for n in [&n2.events, &n3.events] {
        let removed = n.iter().filter(|e| e["type"] == "stream-removed").count();
        assert_eq!(removed, 1, "the stream went once: {n:?}");
    }

    // The hooks listener carries hooks only: no members, no server API, no node calls.
    let hooks_addr = format!("127.0.0.1:{}", lb.hooks_port);
    for path in ["/ws", "/api/v1/rooms/lh/tasks", "/cluster/relay", "/readyz"] {
        let (status, _) = http_raw("127.0.0.1", &hooks_addr, ("GET", path), "", b"").await;
        assert_eq!(status, 404, "{path}");
    }
}
