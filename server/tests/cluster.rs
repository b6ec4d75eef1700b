//! Several nodes over a real `redis-server`: members of one room connected to different nodes
//! are members of one room (the same events in the same order, each member's seqs without a
//! gap), the server API works on any node, `/readyz` tells when Redis is gone, and node-to-node
//! calls without the cluster secret, or for another node, are refused.
//!
//! Everything waits on events (a frame, a close, an HTTP answer) with generous deadlines.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

mod live;
use live::http::api;
use live::probe;

#[path = "cluster/member.rs"]
mod member;
#[path = "cluster/nodes.rs"]
mod nodes;
#[path = "cluster/redis.rs"]
mod redis_server;

use member::Member;
use nodes::{node, until_ready};
use redis_server::Redis;

/// Close code of a session the server ended (kicked, room closed).
const SESSION_ENDED: u16 = 4409;

/// Three nodes, one room, a member on each: joins, a real ffmpeg push announced to all,
/// mute, role change, a kick through the server API of a third node and the room closed
/// through another. Members on different nodes hear the same events about each other in
/// the same order, and the closes the owner sends reach them through the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_room_over_three_nodes() {
    let Some(redis) = redis_server::for_test("room").await else {
        return;
    };
    let (a, b, c) = (
        node(&redis.url()).await,
        node(&redis.url()).await,
        node(&redis.url()).await,
    );
    let mut m1 = Member::join(&a.url, "r1", 1).await;
    let owner = redis
        .get("mprtc:owner:sec:r1")
        .await
        .expect("node a owns r1");
    let mut m2 = Member::join(&b.url, "r1", 2).await;
    let mut m3 = Member::join(&c.url, "r1", 3).await;
    assert_eq!(
        redis.get("mprtc:owner:sec:r1").await.as_deref(),
        Some(owner.as_str()),
        "the joins through b and c were relayed to the owner, not claimed again"
    );
    m1.until("member-joined", Some(3)).await;
    m2.until("member-joined", Some(3)).await;

    // m2 publishes through its relay; the URL is the owner's; real media makes it live.
    let publish = json!({"v":1,"type":"publish","body":{"audio":true,"video":true}});
    let r = m2.ask_ok(publish).await;
    let url = r["body"]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&a.endpoints.rtmp), "{url} is node a's");
    let mut ffmpeg = probe::pusher(&url);
    m1.until("stream-added", Some(2)).await;
    m3.until("stream-added", Some(2)).await;
    m2.ask_ok(json!({"v":1,"type":"mute","body":{"audio":true,"muted":true}}))
        .await;
    m1.until("mute-changed", Some(2)).await;
    m3.until("mute-changed", Some(2)).await;
    m2.ask_ok(json!({"v":1,"type":"set-role","body":{"role":"audience"}}))
        .await;
    m1.until("role-changed", Some(2)).await;
    m3.until("role-changed", Some(2)).await;
    let _ = ffmpeg.kill().await;

    // The server API on node c (not the owner) kicks m3; on node b it closes the room.
    let (status, body) = api(&c.addr(), "POST", "/api/v1/rooms/r1/members/3/kick", "").await;
    assert_eq!(status, 200, "kick through node c: {body}");
    assert_eq!(
        m3.closed().await,
        Some(SESSION_ENDED),
        "the kick's close reaches m3 on c"
    );
    m1.until("member-left", Some(3)).await;
    m2.until("member-left", Some(3)).await;
    let (status, body) = api(&b.addr(), "DELETE", "/api/v1/rooms/r1", "").await;
    assert_eq!(status, 200, "close through node b: {body}");
    assert_eq!(m1.closed().await, Some(SESSION_ENDED));
    assert_eq!(m2.closed().await, Some(SESSION_ENDED), "through b's relay");

    for m in [&m1, &m2, &m3] {
        m.seqs_in_order();
    }
    assert_eq!(
        m1.about(3),
        m2.about(3),
        "what m1 (on a) and m2 (on b) heard of m3"
    );
    let of_m2 = |m: &Member| {
        let mut e = m.about(2);
        // m3 joined after m2: it heard of m2's join in its snapshot, not as an event.
        e.retain(|e| e["type"] != "room-closed" && e["type"] != "member-joined");
        e
    };
    assert_eq!(
        of_m2(&m1),
        of_m2(&m3),
        "what m1 (on a) and m3 (on c) heard of m2"
    );
    let kinds: Vec<_> = of_m2(&m3).iter().map(|e| e["type"].clone()).collect();
    assert_eq!(
        kinds,
        [
            "stream-added",
            "mute-changed",
            "stream-removed",
            "role-changed"
        ],
        "{:?}",
        m3.events
    );
    for n in [a, b, c] {
        n.stop().await;
    }
}

/// `/readyz` of a node says `redis` while its Redis does not answer, and turns ready once it
/// does; a single node (no `redis_url`) never asks for Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_redis() {
    if !redis_server::available() {
        return;
    }
    let port: u16 = probe::picked_addr()
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    let addr = probe::picked_addr();
    let n = live::start_with(|o| {
        o.listen = Some(addr.parse().unwrap());
        o.redis_url = Some(url.clone().into());
        o.cluster_advertise = Some(format!("http://{addr}"));
        o.cluster_secret = Some(nodes::CLUSTER_SECRET.into());
        o.cluster_lease_ms = Some(nodes::LEASE_MS);
    })
    .await;
    let body = until_ready(&n.addr(), 503).await;
    assert!(body.contains("\"redis\""), "{body}");
    let _redis = Redis::start_on("ready", port).await;
    until_ready(&n.addr(), 200).await;
    n.stop().await;
}

/// Node-to-node calls: `/cluster/relay` and a forwarded API call without the secret or with
/// a forged one are refused (401 `cluster.unauthorized`), one for another node id too (421
/// `cluster.wrong_node`); a join whose room names an owner with no registry entry is closed
/// with `cluster.owner_gone` and no connection is made; a join naming an unknown app or a
/// hostile room name never reaches Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_calls_need_the_secret_and_the_node() {
    let Some(redis) = redis_server::for_test("abuse").await else {
        return;
    };
    let a = node(&redis.url()).await;
    let relay = |secret: Option<&str>, node: &str| {
        let auth = secret
            .map(|s| format!("x-mprtc-cluster-secret: {s}\r\n"))
            .unwrap_or_default();
        format!(
            "GET /cluster/relay HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             {auth}x-mprtc-cluster-node: {node}\r\n\r\n"
        )
    };
    let send = |req: String| {
        let addr = a.addr();
        async move {
            let s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            live::http::exchange_raw(s, &req).await
        }
    };
    let secret = nodes::CLUSTER_SECRET;
    for (req, status, code) in [
        (relay(None, "x"), 401, "cluster.unauthorized"),
        (
            relay(Some("forged-forged-forged-forged-forged-forged"), "x"),
            401,
            "cluster.unauthorized",
        ),
        (
            relay(Some(secret), "0123456789abcdef"),
            421,
            "cluster.wrong_node",
        ),
    ] {
        let (s, head, body) = send(req.clone()).await;
        assert_eq!(s, status, "{req}\n{head}\n{body}");
        assert!(body.contains(code), "{body}");
    }
    // A forwarded API call with a forged secret.
    let forged =
        "DELETE /api/v1/rooms/r1 HTTP/1.1\r\nHost: x\r\nx-mprtc-cluster-secret: forged\r\n\
         x-mprtc-cluster-node: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_owned();
    let (s, _, body) = send(forged).await;
    assert_eq!(s, 401, "{body}");
    assert!(body.contains("cluster.unauthorized"), "{body}");

    // An owner key naming a node nobody registered: the join is closed, not relayed.
    redis
        .set_px("mprtc:owner:sec:ghost", "feedfacefeedface:1", 60_000)
        .await;
    let mut ws = live::connect(&a.url).await;
    let t = live::token_for("ghost", "5", Default::default());
    let frame = live::join(1, "sec", "ghost", 5, Some(&t)).to_string();
    ws.send(Message::Text(frame.into())).await.unwrap();
    assert_eq!(live::closed_with(&mut ws).await, Some(4503));

    // Unknown apps and bad room names are the hub's to refuse; Redis never hears of them.
    let mut ws = live::connect(&a.url).await;
    let r = live::answer(&mut ws, live::join(1, "nope", "r2", 5, None)).await;
    assert_eq!(r["ok"], false, "{r}");
    let r = live::answer(&mut ws, live::join(2, "sec", "../evil host", 5, None)).await;
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(
        redis.keys("mprtc:owner:*").await,
        ["mprtc:owner:sec:ghost"],
        "only the planted key"
    );
    a.stop().await;
}

/// The cluster settings refused at start, each with its code, secrets not echoed.
#[test]
fn cluster_settings_are_checked() {
    let redis = ["--redis-url", "redis://127.0.0.1:9"];
    let advertise = ["--cluster-advertise", "http://127.0.0.1:9"];
    let secret = ["--cluster-secret", nodes::CLUSTER_SECRET];
    let with =
        |extra: [&'static str; 2]| [&redis[..], &advertise[..], &secret[..], &extra[..]].concat();
    let short = "short-cluster-secret-0123456789"; // 31 bytes
    let out = live::binary::refusal(
        &[&redis[..], &advertise[..], &["--cluster-secret", short][..]].concat(),
        &[],
    );
    let err = out.refused_with("config.bad_cluster_secret");
    assert!(!err.contains(short), "the secret is not echoed: {err}");
    let out = live::binary::refusal(&[&redis[..], &secret[..]].concat(), &[]);
    out.refused_with("config.cluster_setting_missing");
    for bad in ["127.0.0.1:9", "http://127.0.0.1:9/path", "https://h:9"] {
        let args = [&redis[..], &secret[..], &["--cluster-advertise", bad][..]].concat();
        live::binary::refusal(&args, &[]).refused_with("config.bad_cluster_advertise");
    }
    for lease in ["999", "60001"] {
        let args = with(["--cluster-lease-ms", lease]);
        live::binary::refusal(&args, &[]).refused_with("config.bad_cluster_lease");
    }
    let pass = "hunter2-redis-password";
    let url = format!("http://user:{pass}@h:9");
    let args = [
        &["--redis-url", url.as_str()][..],
        &advertise[..],
        &secret[..],
    ]
    .concat();
    let err = live::binary::refusal(&args, &[])
        .refused_with("config.bad_redis_url")
        .to_owned();
    assert!(!err.contains(pass), "the URL is not echoed: {err}");
}

/// Fencing: when the owner key of a room no longer holds the owner's `{node}:{epoch}` (another
/// node took it over), the owner drops the room at its next renewal and closes its members
/// with 4503, saying nothing else to them; and when Redis stops answering, the owner drops its
/// rooms once two thirds of the lease have passed without a confirmation, before any other
/// node could claim them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_lost_its_lease_falls_silent() {
    let Some(redis) = redis_server::for_test("fence").await else {
        return;
    };
    let a = node(&redis.url()).await;
    let mut m1 = Member::join(&a.url, "fenced", 1).await;
    let mut m2 = Member::join(&a.url, "fenced", 2).await;
    m1.until("member-joined", Some(2)).await;
    let heard = m1.events.len();
    redis
        .set_px("mprtc:owner:sec:fenced", "feedfacefeedface:99", 60_000)
        .await;
    assert_eq!(m1.closed().await, Some(4503));
    assert_eq!(m2.closed().await, Some(4503));
    assert_eq!(
        m1.events.len(),
        heard,
        "nothing after the lease was lost: {:?}",
        m1.events
    );
    assert_eq!(
        redis.get("mprtc:owner:sec:fenced").await.as_deref(),
        Some("feedfacefeedface:99"),
        "the dropped owner did not touch the new owner's key"
    );

    let mut m3 = Member::join(&a.url, "alone", 3).await;
    drop(redis);
    assert_eq!(
        m3.closed().await,
        Some(4503),
        "Redis gone: the room is dropped"
    );
    a.stop().await;
}

/// A WebSocket to `url` from the loopback address `from` (any of 127.0.0.0/8).
async fn connect_from(
    url: &str,
    from: &str,
) -> Result<live::Ws, tokio_tungstenite::tungstenite::Error> {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let addr = live::binary::host_port(url);
    let tcp = sock.connect(addr.parse().unwrap()).await.unwrap();
    let plain = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
    tokio_tungstenite::client_async(url, plain)
        .await
        .map(|(ws, _)| ws)
}

/// Each member a node relays is one connection from that node to the owner: the owner's
/// per-address cap does not count the cluster's own nodes, or a busy node could relay no more
/// than the cap's worth of members. A client's address is still held to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_are_not_held_to_the_per_address_cap() {
    let Some(redis) = redis_server::for_test("peers").await else {
        return;
    };
    let a = nodes::node_with(&redis.url(), |o| o.max_connections_per_ip = Some(2)).await;
    let b = node(&redis.url()).await;
    let mut direct = Vec::new();
    for uid in 1..=2 {
        let ws = connect_from(&a.url, "127.0.0.2").await.unwrap();
        direct.push(Member::join_over(ws, "peers", uid).await.unwrap());
    }
    let third = match connect_from(&a.url, "127.0.0.2").await {
        Err(_) => None,
        Ok(ws) => Some(Member::join_over(ws, "peers", 3).await.err()),
    };
    assert!(
        third.is_none_or(|refused| refused.is_some()),
        "a client's third connection is over the cap of 2"
    );
    let mut relayed = Vec::new();
    for uid in 10..15 {
        let ws = connect_from(&b.url, "127.0.0.3").await.unwrap();
        let m = Member::join_over(ws, "peers", uid).await;
        relayed.push(m.unwrap_or_else(|e| panic!("relayed member {uid}: {e}")));
    }
    direct[0].until("member-joined", Some(14)).await;
    drop(relayed);
    drop(direct);
    a.stop().await;
    b.stop().await;
}

/// A node that stops tells the members it relays, as it tells its own (1001, "server shutting
/// down"), so that their clients reconnect at once and resume at the owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relaying_node_that_stops_says_so() {
    let Some(redis) = redis_server::for_test("stop").await else {
        return;
    };
    let a = node(&redis.url()).await;
    let b = node(&redis.url()).await;
    let mut m1 = Member::join(&a.url, "stop", 1).await;
    let mut m2 = Member::join(&b.url, "stop", 2).await;
    m1.until("member-joined", Some(2)).await;
    b.cancel();
    assert_eq!(m2.closed().await, Some(1001));
    drop(m1);
    a.stop().await;
}
