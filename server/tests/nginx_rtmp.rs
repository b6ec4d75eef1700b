//! Media on a real nginx-rtmp deployment: the `mprtc-server` binary with `media =
//! "nginx-rtmp"`, an origin and two edges started from `deploy/nginx-rtmp/` as they are, real
//! ffmpeg pushing and playing, members over the real signaling WebSocket.
//!
//! Skipped (with a printed reason) when nginx's RTMP module is not installed, unless
//! `CI=true`: there a missing module fails the suite.

mod engine;

use engine::ffmpeg::Ffmpeg;
use engine::nginx::{self, Node, Ports};
use engine::*;
use futures_util::SinkExt;
use mprtc_server::media::MediaSigner;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// The server and its engine: an origin and two edges.
struct Deployment {
    // Dropped in this order: the engine first, then the server.
    origin: Node,
    edges: Vec<Node>,
    server: ServerProc,
    _dir: Cleanup,
}

impl Deployment {
    /// Everything the suite needs in one place, or `None` (printed) when nginx-rtmp is missing.
    async fn start(tag: &str) -> Option<Self> {
        Self::start_with(tag, "").await
    }

    /// [`Deployment::start`] with the server's config file holding `toml`.
    async fn start_with(tag: &str, toml: &str) -> Option<Self> {
        if !nginx::available("nginx_rtmp") {
            return None;
        }
        let dir = temp_dir(tag);
        let config = dir.join("server.toml");
        std::fs::write(&config, toml).unwrap();
        let ports: [Ports; 3] = Ports::pick(3).try_into().ok().unwrap();
        let rtmp = |p: &Ports| format!("rtmp://127.0.0.1:{}/live", p.rtmp);
        let control = |p: &Ports| format!("http://127.0.0.1:{}/control", p.control);
        // nginx calls the hooks from loopback; nothing else may.
        let mut more: Vec<String> = ["--media-hook-source", "127.0.0.1", "--config"]
            .map(String::from)
            .to_vec();
        more.push(config.display().to_string());
        for p in &ports[1..] {
            more.extend(["--media-play-base".into(), rtmp(p)]);
        }
        let controls: Vec<String> = ports.iter().map(control).collect();
        let log = dir.join("server.log");
        let server = ServerProc::external("nginx-rtmp", &rtmp(&ports[0]), &controls, &more, &log);
        let origin_addr = format!("127.0.0.1:{}", ports[0].rtmp);
        let [po, p1, p2] = ports;
        let origin = nginx::start(
            "origin.conf",
            &dir.join("origin"),
            po,
            &[("HOOKS", server.hooks("nginx-rtmp", 0))],
        )
        .await;
        let mut edges = Vec::new();
        for (i, p) in [(1, p1), (2, p2)] {
            let vars = [
                ("HOOKS", server.hooks("nginx-rtmp", i)),
                ("ORIGIN", origin_addr.clone()),
                ("HOOK_SECRET", HOOK_SECRET.to_owned()),
            ];
            edges.push(nginx::start("edge.conf", &dir.join(format!("edge{i}")), p, &vars).await);
        }
        Some(Self {
            origin,
            edges,
            server,
            _dir: Cleanup(dir),
        })
    }

    /// `url` with its base moved to `node` (the signature covers the stream, not the host).
    fn at(&self, url: &str, node: &Node) -> String {
        let rest = url.split_once("/live/").expect("a /live/ URL").1;
        format!("{}/{rest}", node.rtmp_base())
    }

    /// The engine's logs, for failure messages.
    fn logs(&self) -> String {
        let mut s = format!("origin:\n{}", self.origin.log());
        for (i, e) in self.edges.iter().enumerate() {
            s += &format!("\nedge{}:\n{}", i + 1, e.log());
        }
        s
    }
}

/// `url` with one character of its signature changed.
fn forged(url: &str) -> String {
    let i = url.find("&s=").expect("a signed URL") + 3;
    let c = if &url[i..=i] == "A" { "B" } else { "A" };
    format!("{}{c}{}", &url[..i], &url[i + 1..])
}

/// The media room and uid of a URL's stream name.
fn stream_of(url: &str) -> (String, u64) {
    let name = url
        .split_once("/live/")
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap();
    let (room, uid) = name.rsplit_once('.').unwrap();
    (room.to_owned(), uid.parse().unwrap())
}

/// A signer with the server's media secret, for URLs the server would never hand out.
fn signer() -> MediaSigner {
    MediaSigner::new(
        MEDIA_SECRET.as_bytes(),
        "rtmp://x/live",
        "http://x/live",
        60,
    )
}

/// Alice (uid 1), bob (2) and carol (3) in `room`, alice pushing with real ffmpeg through the
/// URL she is handed, announced to bob and carol (`stream-added` for uid 1): the members, the
/// push URL and the pusher.
async fn live_room(d: &Deployment, room: &str) -> ([Ws; 3], String, Ffmpeg) {
    let addr = &d.server.addr;
    let mut alice = member(addr, room, 1).await;
    let mut bob = member(addr, room, 2).await;
    let mut carol = member(addr, room, 3).await;
    let push = publish(&mut alice).await;
    let pusher = Ffmpeg::push(&push);
    // Announced once nginx admitted the publisher through the hook.
    for ws in [&mut bob, &mut carol] {
        let added = event(ws, "stream-added").await;
        assert_eq!(added["body"]["uid"], 1, "{added}");
    }
    ([alice, bob, carol], push, pusher)
}

/// Plays five frames of `url`: whether ffmpeg read them and exited cleanly.
async fn plays(url: &str) -> bool {
    let (status, frames) = Ffmpeg::play_frames(url, 5).exit().await;
    status.success() && frames >= 5
}

/// Tries to play `url`: true if refused (no frame read, ffmpeg failed).
async fn play_refused(url: &str) -> bool {
    let (status, frames) = Ffmpeg::play_frames(url, 5).exit().await;
    !status.success() && frames == 0
}

/// Tries to push three seconds to `url`: true if refused.
async fn push_refused(url: &str) -> bool {
    !Ffmpeg::push_for(url, 3).exit().await.0.success()
}

/// A member publishes with real ffmpeg through the push URL it is handed (at the origin),
/// the others hear `stream-added`, and they play through the edges their URLs name and at
/// the origin; forged, expired and wrong-kind URLs are refused at the origin and the edges,
/// and nobody publishes at an edge; when the pusher goes, the room hears `stream-removed`.
#[tokio::test]
async fn publish_and_play_through_origin_and_edges_with_signed_urls_only() {
    let Some(d) = Deployment::start("nginx-play").await else {
        return;
    };
    let ([_alice, mut bob, mut carol], push, pusher) = live_room(&d, "r").await;
    assert!(push.starts_with(&d.origin.rtmp_base()), "{push}");

    // Viewers are spread over the edges by uid; each plays there and at the origin.
    let bob_url = subscribe(&mut bob, 3, 1).await;
    let carol_url = subscribe(&mut carol, 3, 1).await;
    assert!(bob_url.starts_with(&d.edges[0].rtmp_base()), "{bob_url}");
    assert!(
        carol_url.starts_with(&d.edges[1].rtmp_base()),
        "{carol_url}"
    );
    assert!(plays(&bob_url).await, "bob at edge 1: {}", d.logs());
    assert!(plays(&carol_url).await, "carol at edge 2: {}", d.logs());
    assert!(plays(&d.at(&bob_url, &d.origin)).await, "bob at the origin");

    // Refused at the origin and at each edge: forged, expired, a push URL to play.
    let (room, uid) = stream_of(&bob_url);
    let expired = signer().play_urls(&room, uid, 2, now_s() - 120).rtmp;
    for node in [&d.origin, &d.edges[0], &d.edges[1]] {
        let base = node.rtmp_base();
        assert!(
            play_refused(&d.at(&forged(&bob_url), node)).await,
            "forged at {base}"
        );
        assert!(
            play_refused(&d.at(&expired, node)).await,
            "expired at {base}"
        );
        assert!(
            play_refused(&d.at(&push, node)).await,
            "push URL played at {base}"
        );
    }
    // A play URL to publish, an expired push URL, and any publish at an edge.
    assert!(
        push_refused(&d.at(&bob_url, &d.origin)).await,
        "play URL pushed"
    );
    let expired_push = signer().push_url(&room, 3, now_s() - 120);
    assert!(
        push_refused(&d.at(&expired_push, &d.origin)).await,
        "expired push"
    );
    let carol_push = publish(&mut carol).await;
    assert!(
        push_refused(&d.at(&carol_push, &d.edges[0])).await,
        "publish at an edge"
    );
    // The refusals did not disturb the stream.
    assert!(plays(&bob_url).await, "bob still plays");

    // The pusher goes away: nginx reports it and the room hears `stream-removed`.
    drop(pusher);
    let removed = event(&mut bob, "stream-removed").await;
    assert_eq!(removed["body"]["uid"], 1, "{removed}");
    assert_eq!(event(&mut carol, "stream-removed").await["body"]["uid"], 1);
}

/// Kicks go through the engine's control interface: a kicked viewer's players end at the
/// edge (and the origin) while others keep playing, and a kicked publisher's ffmpeg is
/// dropped, and dropped again if it pushes with its still-valid URL.
#[tokio::test]
async fn kicks_drop_players_at_edges_and_the_publisher_at_the_origin() {
    let Some(d) = Deployment::start("nginx-kick").await else {
        return;
    };
    let addr = d.server.addr.clone();
    let ([_alice, mut bob, mut carol], push, pusher) = live_room(&d, "k").await;

    let bob_url = subscribe(&mut bob, 3, 1).await;
    let carol_url = subscribe(&mut carol, 3, 1).await;
    let mut bob_edge = Ffmpeg::play(&bob_url);
    let mut bob_origin = Ffmpeg::play(&d.at(&bob_url, &d.origin));
    let mut carol_edge = Ffmpeg::play(&carol_url);
    for (who, p) in [
        ("bob", &mut bob_edge),
        ("bob", &mut bob_origin),
        ("carol", &mut carol_edge),
    ] {
        assert!(p.until_frames(5).await, "{who} plays: {}", d.logs());
    }

    kick(&addr, "k", 2).await;
    bob_edge.exit().await;
    bob_origin.exit().await;
    // Carol, at the other edge, plays on.
    let seen = carol_edge.frames;
    assert!(carol_edge.until_frames(seen + 15).await, "carol plays on");
    // Bob's URL is dead now: he is no member.
    assert!(play_refused(&bob_url).await, "a kicked viewer's URL");

    kick(&addr, "k", 1).await;
    let (status, _) = pusher.exit().await;
    assert!(!status.success(), "the publisher was dropped");
    let left = event_about(&mut carol, "member-left", 1).await;
    assert_eq!(left["body"]["reason"], "kicked", "{left}");
    // Her push URL has not expired, but she is no member: the server drops it again.
    assert!(push_refused(&push).await, "a kicked member's push URL");
}

/// Lost privileges and role changes end media through the engine too: a viewer whose renewed
/// token no longer grants subscribing is dropped at its edge, and a broadcaster who becomes
/// audience has its pusher dropped at the origin while the room hears `stream-removed`.
#[tokio::test]
async fn lost_privileges_and_role_changes_drop_through_the_engine() {
    let Some(d) = Deployment::start("nginx-roles").await else {
        return;
    };
    let ([mut alice, mut bob, _carol], _, pusher) = live_room(&d, "p").await;
    let bob_url = subscribe(&mut bob, 3, 1).await;
    let mut player = Ffmpeg::play(&bob_url);
    assert!(player.until_frames(5).await, "bob plays: {}", d.logs());

    let watch_only = mprtc_server::token::Privileges {
        subscribe: false,
        ..Default::default()
    };
    let renew =
        json!({"v":1,"id":4,"type":"renew-token","body":{"token":token("p", 2, watch_only)}});
    assert_eq!(request(&mut bob, renew).await["ok"], true);
    player.exit().await;

    let demote = json!({"v":1,"id":3,"type":"set-role","body":{"role":"audience"}});
    assert_eq!(request(&mut alice, demote).await["ok"], true);
    let (status, _) = pusher.exit().await;
    assert!(!status.success(), "the pusher was dropped");
    assert_eq!(event(&mut bob, "stream-removed").await["body"]["uid"], 1);
}

/// A push task pulls its members' streams from the engine (the compositor's play URL names an
/// edge, which admits it through the same hook) and pushes the composite out.
#[tokio::test]
async fn a_push_task_pulls_from_the_engine() {
    // The task pushes to a loopback stand-in of a CDN ingest: private addresses allowed.
    let toml = "[tasks]\noutput_allow_private = true\n";
    let Some(d) = Deployment::start_with("nginx-task", toml).await else {
        return;
    };
    let addr = d.server.addr.clone();
    let cdn_dir = d.origin.dir.parent().unwrap().join("cdn");
    let cdn_ports = Ports::pick(1).pop().unwrap();
    let cdn = nginx::start_plain(&cdn_dir, cdn_ports).await;
    let mut alice = member(&addr, "t", 1).await;
    let push = publish(&mut alice).await;
    let _pusher = Ffmpeg::push(&push);
    let out = format!("{}/mix", cdn.rtmp_base());
    let task = json!({"taskId": "t1", "streamUrl": out, "layout": {
        "canvas": {"width": 160, "height": 90, "color": 0},
        "users": [{"uid": 1, "x": 0, "y": 0, "width": 160, "height": 90}]}});
    let r = request(
        &mut alice,
        json!({"v":1,"id":3,"type":"add-tasks","body":{"rtmpTasks":[task]}}),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    // The composite arrives at the CDN: the compositor got alice's stream from an edge.
    assert!(plays(&out).await, "the composite plays: {}", d.logs());
    let status = event(&mut alice, "task-status").await;
    assert_eq!(status["body"]["code"], 505, "pushing: {status}");
    // The compositor's play (viewer u64::MAX, the compositor's) is in the edge's own log: the
    // edge its URL names admitted it and served it.
    let viewer = format!("v={}&", u64::MAX);
    let edge = &d.edges[(u64::MAX % 2) as usize];
    assert!(
        edge.log().contains(&viewer),
        "compositor at its edge: {}",
        d.logs()
    );
    drop(cdn);
}

/// The nginx-rtmp hook endpoint over real HTTP, as anyone who reaches the port may call it
/// (no nginx needed): a wrong secret, an unknown node or call, a body with a smuggled second
/// `name=` and a body over the cap are refused and admit nothing; the body nginx sends admits.
#[tokio::test]
async fn nginx_hook_endpoint_refuses_strangers_and_smuggled_fields() {
    let dir = temp_dir("nginx-hooks");
    let control = ["http://127.0.0.1:9/control".to_owned()];
    let base = "rtmp://127.0.0.1:1935/live";
    let server = ServerProc::external("nginx-rtmp", base, &control, &[], &dir.join("server.log"));
    let _dir = Cleanup(dir);
    let addr = server.addr.clone();
    let mut alice = member(&addr, "n", 1).await;
    let mut bob = member(&addr, "n", 2).await;
    let push = publish(&mut alice).await;
    let (name, query) = push.rsplit('/').next().unwrap().split_once('?').unwrap();
    let form = |extra: &str| {
        format!("app=live&flashver=FMLE/3.0&swfurl=&tcurl=rtmp://127.0.0.1:1935/live&pageurl=&addr=127.0.0.1&clientid=7&call=publish&name={name}&type=live&{query}{extra}")
    };
    let post = |secret: &str, node: &str, call: &str, body: String| {
        let path = format!("/hooks/nginx-rtmp/{secret}/{node}/{call}");
        let addr = addr.clone();
        async move {
            let form = "application/x-www-form-urlencoded";
            http(&addr, "POST", &path, None, form, body.as_bytes()).await
        }
    };
    let good = form("");
    assert_eq!(
        post(&HOOK_SECRET[1..], "0", "publish", good.clone())
            .await
            .0,
        403
    );
    assert_eq!(post(HOOK_SECRET, "1", "publish", good.clone()).await.0, 404);
    assert_eq!(post(HOOK_SECRET, "0", "connect", good.clone()).await.0, 404);
    let smuggled = post(HOOK_SECRET, "0", "publish", form("&name=n.2")).await;
    assert_eq!(smuggled, (403, "media.hook_malformed".to_owned()));
    let big = form(&format!("&pad={}", "x".repeat(5000)));
    assert_eq!(post(HOOK_SECRET, "0", "publish", big).await.0, 413);
    // Nothing above was admitted: bob's answer to a ping comes with no `stream-added` before it.
    let ping = json!({"v":1,"id":9,"type":"ping","body":{"ts":9}});
    bob.send(Message::Text(ping.to_string().into()))
        .await
        .unwrap();
    loop {
        let v = next(&mut bob).await;
        assert_ne!(v["type"], "stream-added", "a refused hook admitted: {v}");
        if v["re"] == 9 {
            break;
        }
    }
    assert_eq!(post(HOOK_SECRET, "0", "publish", good).await.0, 204);
    assert_eq!(event(&mut bob, "stream-added").await["body"]["uid"], 1);
}

/// A push task can push into the engine: its output URL is a member's own push URL at the
/// origin (the server's media base, allowed without opening private outputs), admitted by the
/// same hook as any pusher, so the room hears `stream-added` and plays the composite through
/// an edge.
#[tokio::test]
async fn a_push_task_pushes_into_the_engine() {
    let Some(d) = Deployment::start("nginx-task-in").await else {
        return;
    };
    let ([_alice, mut bob, mut carol], _, _pusher) = live_room(&d, "ti").await;
    // Bob publishes the composite of alice as his stream.
    let out = publish(&mut bob).await;
    let task = json!({"taskId": "t1", "streamUrl": out, "layout": {
        "canvas": {"width": 160, "height": 90, "color": 0},
        "users": [{"uid": 1, "x": 0, "y": 0, "width": 160, "height": 90}]}});
    let add = json!({"v":1,"id":3,"type":"add-tasks","body":{"rtmpTasks":[task]}});
    let r = request(&mut bob, add).await;
    assert_eq!(r["ok"], true, "{r}");
    let added = event_about(&mut carol, "stream-added", 2).await;
    assert_eq!(added["body"]["uid"], 2, "{added}");
    let url = subscribe(&mut carol, 4, 2).await;
    assert!(
        plays(&url).await,
        "the composite plays at an edge: {}",
        d.logs()
    );
}
