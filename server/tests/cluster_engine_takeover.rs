//! An nginx-rtmp publisher outliving the room's owner: three `mprtc-server` binaries on a
//! real `redis-server`, the nginx-rtmp origin of `deploy/nginx-rtmp/origin.conf` as it is, a
//! real ffmpeg pushing into it. The owner is killed with SIGKILL while the pusher goes on
//! pushing into nginx: the stream still flows, so the node that takes the room over keeps it
//! announced; nginx's `publish_done`, when the pusher stops, reaches a node that does not own
//! the room and removes the stream exactly once, a second copy of it changing nothing.
//!
//! Skipped (with a printed reason) when nginx's RTMP module or redis-server is missing, unless
//! `CI=true`: there a missing one fails the suite. Everything waits on events.

use serde_json::Value;

mod engine;
mod live;

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

use engine::ffmpeg::Ffmpeg;
use engine::nginx::{self, Ports};
use engine::{http_raw, temp_dir, Cleanup, HOOK_SECRET};
use member::Member;
use procs::engine_nodes;
use resume::{
    in_snapshot, join_retrying, last_seq, play_url, plays, publish_video, three_members,
    until_written, ws,
};

/// The events of `m` of `kind` about member `uid`.
fn count(m: &Member, kind: &str, uid: u64) -> usize {
    let about = |e: &&Value| e["type"] == kind && e["body"]["uid"] == uid;
    m.events.iter().filter(about).count()
}

/// Three nodes (the origin's hooks at node b), the nginx-rtmp origin and members 1, 2, 3 of
/// room `room` on a, b and c; member 1 pushes a real ffmpeg into the origin; then node a, the
/// owner, is killed under the push. Member 2 resumes through b (which takes the room over) and
/// member 3 rejoins afresh through c.
struct Outlived {
    _redis: redis_server::Redis,
    _cleanup: Cleanup,
    _nodes: [procs::NodeProc; 2],
    /// Node c's address.
    c: String,
    origin: nginx::Node,
    pusher: Ffmpeg,
    /// Member 1's push URL.
    url: String,
    n2: Member,
    n3: Member,
}

async fn outlived(room: &str) -> Option<Outlived> {
    if !nginx::available("cluster_engine_takeover") {
        return None;
    }
    let redis = redis_server::for_test(&format!("engine-takeover-{room}")).await?;
    let dir = temp_dir(&format!("cluster-engine-takeover-{room}"));
    let cleanup = Cleanup(dir.clone());
    let po = Ports::pick(1).pop().unwrap();
    let ([mut a, b, c], _) = engine_nodes(&redis.url(), &dir, &po);
    let hooks = format!("http://{}/hooks/nginx-rtmp/{HOOK_SECRET}/0", b.addr);
    let origin = nginx::start("origin.conf", &dir.join("origin"), po, &[("HOOKS", hooks)]).await;
    // Ready once Redis and the engine's control interface answer them.
    for n in [&a, &b, &c] {
        nodes::until_ready(&n.addr, 200).await;
    }
    let [mut m1, mut m2, mut m3] = three_members(room, [&a.addr, &b.addr, &c.addr]).await;
    m2.until("member-joined", Some(3)).await;
    let url = publish_video(&mut m1).await;
    assert!(url.starts_with(&origin.rtmp_base()), "{url}");
    let pusher = Ffmpeg::push(&url);
    for m in [&mut m2, &mut m3] {
        m.until("stream-added", Some(1)).await;
    }
    for m in [&m1, &m2, &m3] {
        until_written(&redis, room, m).await;
    }
    a.kill9();
    for m in [&mut m1, &mut m2, &mut m3] {
        m.closed().await;
    }
    let n2 = join_retrying(&b.addr, room, 2, Some((&m2, last_seq(&m2)))).await;
    assert_eq!(n2.joined["body"]["resumed"], true, "{}", n2.joined);
    let n3 = join_retrying(&c.addr, room, 3, None).await;
    Some(Outlived {
        _redis: redis,
        _cleanup: cleanup,
        c: c.addr.clone(),
        _nodes: [b, c],
        origin,
        pusher,
        url,
        n2,
        n3,
    })
}

/// The owner killed under member 1's live push (see [`outlived`]): member 2, resumed, heard
/// no `stream-removed`; member 3's snapshot shows member 1 live; a play of the stream through
/// the origin is admitted by the new owner. The pusher stops: nginx's `publish_done` reaches
/// b, both hear `stream-removed` once; the same `publish_done` sent again to c (forwarded to
/// b) changes nothing (a later join is heard after it alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_pusher_outlives_its_owner() {
    let Some(w) = outlived("eo").await else {
        return;
    };
    let Outlived {
        c,
        origin,
        pusher,
        url,
        mut n2,
        mut n3,
        ..
    } = w;
    let one = in_snapshot(&n3, 1);
    assert_eq!(one["live"]["video"], true, "still live: {one}");
    plays(&play_url(&mut n2, 1).await, || origin.log()).await;

    drop(pusher);
    n2.until("stream-removed", Some(1)).await;
    n3.until("stream-removed", Some(1)).await;
    // The same publish_done again, at c this time: forwarded to b, it removes nothing more.
    let (name, query) = url.rsplit('/').next().unwrap().split_once('?').unwrap();
    let form = format!("app=live&addr=127.0.0.1&clientid=1&call=publish_done&name={name}&{query}");
    let path = format!("/hooks/nginx-rtmp/{HOOK_SECRET}/0/publish_done");
    let head = "Content-Type: application/x-www-form-urlencoded\r\n";
    let (status, body) = http_raw("127.0.0.1", &c, ("POST", &path), head, form.as_bytes()).await;
    assert!(status < 300, "{status} {body}");
    let _m4 = Member::join(&ws(&c), "eo", 4).await;
    n2.until("member-joined", Some(4)).await;
    n3.until("member-joined", Some(4)).await;
    for n in [&n2, &n3] {
        assert_eq!(count(n, "stream-removed", 1), 1, "{:?}", n.events);
        assert_eq!(count(n, "stream-added", 1), 0, "{:?}", n.events);
    }
}

/// A kick on the new owner drops a publisher the dead owner admitted: the new owner never
/// learnt nginx's client id for it, so it drops it at the origin by its stream name
/// (`media/external`'s `kick_publisher`). Member 1, kicked through c's API, leaves the room
/// for the others, and its ffmpeg pusher is cut by nginx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_on_the_new_owner_drops_an_engine_pusher_from_before() {
    let Some(w) = outlived("ek").await else {
        return;
    };
    let Outlived {
        c,
        pusher,
        mut n2,
        mut n3,
        ..
    } = w;
    let (status, body) = live::http::api(&c, "POST", "/api/v1/rooms/ek/members/1/kick", "").await;
    assert_eq!(status, 200, "kick: {body}");
    n2.until("member-left", Some(1)).await;
    n3.until("member-left", Some(1)).await;
    // nginx drops the push: ffmpeg ends (it would push until stopped otherwise).
    let (exit, _) = pusher.exit().await;
    assert!(!exit.success(), "the pusher was cut: {exit:?}");
}
