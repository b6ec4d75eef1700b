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

/// Members on three nodes, the origin's hooks at node b; node a owns the room and is killed
/// under member 1's live push. Member 2 resumes on b (which takes the room over) and hears no
/// `stream-removed`; member 3 rejoins afresh through c and its snapshot shows member 1 live; a
/// play of the stream through the origin is admitted by the new owner. The pusher stops:
/// nginx's `publish_done` reaches b, both hear `stream-removed` once; the same `publish_done`
/// sent again to c (forwarded to b) changes nothing (a later join is heard after it alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_pusher_outlives_its_owner() {
    if !nginx::available("cluster_engine_takeover") {
        return;
    }
    let Some(redis) = redis_server::for_test("engine-takeover").await else {
        return;
    };
    let dir = temp_dir("cluster-engine-takeover");
    let _cleanup = Cleanup(dir.clone());
    let po = Ports::pick(1).pop().unwrap();
    let ([mut a, b, c], _) = engine_nodes(&redis.url(), &dir, &po);
    let hooks = format!("http://{}/hooks/nginx-rtmp/{HOOK_SECRET}/0", b.addr);
    let origin = nginx::start("origin.conf", &dir.join("origin"), po, &[("HOOKS", hooks)]).await;
    // Ready once Redis and the engine's control interface answer them.
    for n in [&a, &b, &c] {
        nodes::until_ready(&n.addr, 200).await;
    }

    let [mut m1, mut m2, mut m3] = three_members("eo", [&a.addr, &b.addr, &c.addr]).await;
    m2.until("member-joined", Some(3)).await;
    let url = publish_video(&mut m1).await;
    assert!(url.starts_with(&origin.rtmp_base()), "{url}");
    let pusher = Ffmpeg::push(&url);
    for m in [&mut m2, &mut m3] {
        m.until("stream-added", Some(1)).await;
    }
    for m in [&m1, &m2, &m3] {
        until_written(&redis, "eo", m).await;
    }

    a.kill9();
    for m in [&mut m1, &mut m2, &mut m3] {
        m.closed().await;
    }
    let mut n2 = join_retrying(&b.addr, "eo", 2, Some((&m2, last_seq(&m2)))).await;
    assert_eq!(n2.joined["body"]["resumed"], true, "{}", n2.joined);
    let mut n3 = join_retrying(&c.addr, "eo", 3, None).await;
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
    let (status, body) =
        http_raw("127.0.0.1", &c.addr, ("POST", &path), head, form.as_bytes()).await;
    assert!(status < 300, "{status} {body}");
    let _m4 = Member::join(&ws(&c.addr), "eo", 4).await;
    n2.until("member-joined", Some(4)).await;
    n3.until("member-joined", Some(4)).await;
    for n in [&n2, &n3] {
        assert_eq!(count(n, "stream-removed", 1), 1, "{:?}", n.events);
        assert_eq!(count(n, "stream-added", 1), 0, "{:?}", n.events);
    }
}
