//! Media on nginx-rtmp in a cluster: three `mprtc-server` binaries over a real `redis-server`,
//! an nginx-rtmp origin and an edge started from `deploy/nginx-rtmp/` as they are, real
//! ffmpeg. The engine's hooks are pointed at nodes that do not own the room (the origin's at
//! one, the edge's at another): they are answered by the room's owner, through the forwarding
//! of `server/src/cluster/hooks.rs`.
//!
//! Skipped (with a printed reason) when nginx's RTMP module or redis-server is missing, unless
//! `CI=true`: there a missing one fails the suite. Everything waits on events (a frame, an
//! ffmpeg exit, an HTTP answer) with generous deadlines.

mod engine;
mod live;

#[path = "cluster/nodes.rs"]
mod nodes;
#[path = "cluster/redis.rs"]
mod redis_server;

use engine::ffmpeg::Ffmpeg;
use engine::nginx::{self, Node, Ports};
use engine::*;
use nodes::{until_ready, CLUSTER_SECRET, LEASE_MS};
use redis_server::Redis;

/// Three nodes, the engine whose hooks reach two of them, and Redis.
struct Cluster {
    // Dropped in this order: the engine first, then the nodes, then Redis.
    origin: Node,
    edge: Node,
    /// `a` (owns the rooms of the test: its members join there first), `b` (the origin's
    /// hooks go there), `c` (the edge's hooks go there).
    nodes: [ServerProc; 3],
    redis: Redis,
    _dir: Cleanup,
}

impl Cluster {
    async fn start(tag: &str) -> Option<Self> {
        if !nginx::available("cluster_engine") || !redis_server::available() {
            return None;
        }
        let redis = Redis::start(tag).await;
        let dir = temp_dir(tag);
        let [po, pe]: [Ports; 2] = Ports::pick(2).try_into().ok().unwrap();
        let addrs: [String; 3] = std::array::from_fn(|_| live::probe::picked_addr());
        let hooks = |addr: &str, node: usize| {
            format!("http://{addr}/hooks/nginx-rtmp/{HOOK_SECRET}/{node}")
        };
        let origin_addr = format!("127.0.0.1:{}", po.rtmp);
        let rtmp = |p: &Ports| format!("rtmp://127.0.0.1:{}/live", p.rtmp);
        let control = |p: &Ports| format!("http://127.0.0.1:{}/control", p.control);
        let (rtmp_o, rtmp_e) = (rtmp(&po), rtmp(&pe));
        let controls = [control(&po), control(&pe)];
        let origin = nginx::start(
            "origin.conf",
            &dir.join("origin"),
            po,
            &[("HOOKS", hooks(&addrs[1], 0))],
        )
        .await;
        let vars = [
            ("HOOKS", hooks(&addrs[2], 1)),
            ("ORIGIN", origin_addr),
            ("HOOK_SECRET", HOOK_SECRET.to_owned()),
        ];
        let edge = nginx::start("edge.conf", &dir.join("edge"), pe, &vars).await;
        let nodes = std::array::from_fn(|i| {
            let addr = &addrs[i];
            let more: Vec<String> = [
                "--media-hook-source",
                "127.0.0.1",
                "--media-play-base",
                &rtmp_e,
                "--redis-url",
                &redis.url(),
                "--cluster-advertise",
                &format!("http://{addr}"),
                "--cluster-secret",
                CLUSTER_SECRET,
                "--cluster-lease-ms",
                &LEASE_MS.to_string(),
            ]
            .map(String::from)
            .to_vec();
            let args = ServerProc::external_args("nginx-rtmp", &rtmp_o, &controls, &more);
            ServerProc::start_on(addr, &args, &dir.join(format!("node{i}.log")))
        });
        for n in &nodes {
            until_ready(&n.addr, 200).await;
        }
        Some(Self {
            origin,
            edge,
            nodes,
            redis,
            _dir: Cleanup(dir),
        })
    }

    /// The engine's and the nodes' logs, for failure messages.
    fn logs(&self) -> String {
        let mut s = format!("origin:\n{}\nedge:\n{}", self.origin.log(), self.edge.log());
        for (i, n) in ["a", "b", "c"].iter().enumerate() {
            let log = self._dir.0.join(format!("node{i}.log"));
            s += &format!("\nnode {n} ({}):\n{}", self.nodes[i].addr, read(&log));
        }
        s
    }
}

/// POSTs an nginx-rtmp hook form `body` to `addr` with hook secret `secret` and extra header
/// lines `extra`: (status, body).
async fn post_hook(addr: &str, secret: &str, call: &str, body: &str, extra: &str) -> (u16, String) {
    let path = format!("/hooks/nginx-rtmp/{secret}/0/{call}");
    let headers = format!("{extra}Content-Type: application/x-www-form-urlencoded\r\n");
    http_raw(
        "127.0.0.1",
        addr,
        ("POST", &path),
        &headers,
        body.as_bytes(),
    )
    .await
}

/// The form nginx-rtmp posts for a publish of stream `name` with query `query`.
fn publish_form(name: &str, query: &str) -> String {
    format!(
        "app=live&flashver=FMLE/3.0&swfurl=&tcurl=rtmp://127.0.0.1/live&pageurl=&addr=127.0.0.1\
         &clientid=77&call=publish&name={name}&type=live&{query}"
    )
}

/// Members of one room on three nodes; the origin's hooks reach node b and the edge's node c,
/// neither of which owns the room (a does). A publish is admitted through b, `stream-added`
/// reaches the members on every node, a play through the edge is admitted through c, and a
/// kick through the server API of c drops that player at the edge (the owner tells the edge's
/// control interface). The owner's record of the media room is in Redis, and only that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_reaching_any_node_are_answered_by_the_owner() {
    let Some(k) = Cluster::start("cluster-engine").await else {
        return;
    };
    let [a, b, c] = &k.nodes;
    let mut alice = member(&a.addr, "cr", 1).await;
    let owner = k.redis.get("mprtc:owner:sec:cr").await.expect("a owns cr");
    let mut bob = member(&b.addr, "cr", 2).await;
    let mut carol = member(&c.addr, "cr", 3).await;
    assert_eq!(k.redis.get("mprtc:owner:sec:cr").await, Some(owner));

    let push = publish(&mut alice).await;
    assert!(push.starts_with(&k.origin.rtmp_base()), "{push}");
    let pusher = Ffmpeg::push(&push);
    for ws in [&mut bob, &mut carol] {
        let added = event(ws, "stream-added").await;
        assert_eq!(added["body"]["uid"], 1, "{added}");
    }
    let media_room = push.rsplit('/').next().unwrap().split('.').next().unwrap();
    assert_eq!(
        k.redis.keys("mprtc:media:*").await,
        vec![format!("mprtc:media:{media_room}")]
    );
    assert_eq!(
        k.redis
            .get(&format!("mprtc:media:{media_room}"))
            .await
            .as_deref(),
        Some(r#"["sec","cr"]"#)
    );

    // Bob plays through the edge (its hooks reach c; its pull from the origin reaches b).
    let bob_url = subscribe(&mut bob, 3, 1).await;
    assert!(bob_url.starts_with(&k.edge.rtmp_base()), "{bob_url}");
    let mut bob_edge = Ffmpeg::play(&bob_url);
    assert!(
        bob_edge.until_frames(5).await,
        "bob plays at the edge: {}",
        k.logs()
    );
    // Carol's play URL, then the kick of bob through c's API: his player at the edge ends.
    let carol_url = subscribe(&mut carol, 3, 1).await;
    let (status, body) = http(
        &c.addr,
        "POST",
        "/api/v1/rooms/cr/members/2/kick",
        Some(&format!("sec:{APP_SECRET}")),
        "application/json",
        b"",
    )
    .await;
    assert_eq!(status, 200, "kick through c: {body}");
    bob_edge.exit().await;
    let left = event_about(&mut carol, "member-left", 2).await;
    assert_eq!(left["body"]["reason"], "kicked", "{left}");
    // Bob's URL is refused now (the owner's play gate, asked through c); carol's plays.
    let (status, frames) = Ffmpeg::play_frames(&bob_url, 5).exit().await;
    assert!(
        !status.success() && frames == 0,
        "a kicked viewer's URL plays"
    );
    let (status, frames) = Ffmpeg::play_frames(&carol_url, 5).exit().await;
    assert!(status.success() && frames >= 5, "carol plays: {}", k.logs());

    // The pusher goes: stream-removed, from the origin's publish_done through b.
    drop(pusher);
    let removed = event(&mut carol, "stream-removed").await;
    assert_eq!(removed["body"]["uid"], 1, "{removed}");
}

/// Refused at every node: a hook with a forged hook secret (403), a body over the cap (413,
/// not forwarded), a forwarded hook with a forged cluster secret (401); a hostile media room
/// name in a hook that reaches a non-owner is refused and never becomes a Redis key; an owner
/// that never answers a forwarded hook gets it refused (502 `cluster.relay_failed`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_hostile_hooks_are_refused_at_every_node() {
    let Some(k) = Cluster::start("cluster-engine-forged").await else {
        return;
    };
    let [a, b, _] = &k.nodes;
    let mut alice = member(&a.addr, "fr", 1).await;
    let push = publish(&mut alice).await;
    let (name, query) = push.rsplit('/').next().unwrap().split_once('?').unwrap();
    let good = publish_form(name, query);
    let forged = &HOOK_SECRET[1..];
    let big = format!("{good}&pad={}", "x".repeat(5000));
    let forged_node = format!(
        "x-mprtc-cluster-secret: {}x\r\nx-mprtc-cluster-node: 0\r\n",
        &CLUSTER_SECRET[1..]
    );
    for n in &k.nodes {
        assert_eq!(
            post_hook(&n.addr, forged, "publish", &good, "").await.0,
            403
        );
        assert_eq!(
            post_hook(&n.addr, HOOK_SECRET, "publish", &big, "").await.0,
            413
        );
        let (status, body) = post_hook(&n.addr, HOOK_SECRET, "publish", &good, &forged_node).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("cluster.unauthorized"), "{body}");
    }
    for hostile in [
        "m*",
        "m000000000000000000000000",
        "mprtc:owner:sec:fr",
        "m0123456789abcdef01234567x",
        "M0123456789ABCDEF01234567",
    ] {
        let form = publish_form(&format!("{hostile}.1"), query);
        let (status, _) = post_hook(&b.addr, HOOK_SECRET, "publish", &form, "").await;
        assert_eq!(status, 403, "{hostile}");
    }
    let media_room = name.split('.').next().unwrap();
    assert_eq!(
        k.redis.keys("mprtc:media:*").await,
        vec![format!("mprtc:media:{media_room}")],
        "only the owner's record: {}",
        k.logs()
    );

    // An owner that takes the hook and never answers: the engine is refused once the
    // forwarding's deadline has passed, not left waiting. (A registered node whose address
    // accepts connections and reads nothing; its room's record names a media room.)
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = stalled.local_addr().unwrap().to_string();
    let silent = "m0123456789abcdef01234567";
    k.redis.set_px("mprtc:node:57a11ed", &addr, 60_000).await;
    k.redis
        .set_px("mprtc:owner:sec:st", "57a11ed:1", 60_000)
        .await;
    let record = format!("mprtc:media:{silent}");
    k.redis.set_px(&record, r#"["sec","st"]"#, 60_000).await;
    let form = publish_form(&format!("{silent}.1"), query);
    let (status, body) = post_hook(&b.addr, HOOK_SECRET, "publish", &form, "").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("cluster.relay_failed"), "{body}");
    drop(stalled);
}
