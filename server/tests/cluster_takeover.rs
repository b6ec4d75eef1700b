//! What a takeover must not undo, against real processes: three `mprtc-server` binaries on a
//! real `redis-server`, the room's owner killed with SIGKILL.
//!
//! - A pusher on the owner's embedded media server dies with it: the members who come back
//!   are told the stream is gone (or never shown it), and when the publisher pushes to the
//!   new owner everyone hears `stream-added` once.
//! - A kick on the owner still bites on the new owner: the kicked sessions get their final
//!   frame, as on one node, and the tokens issued before the kick stay refused.
//! - A kick outlives its room: the room's last member, kicked, cannot come back with its old
//!   token through another node that opens the room afresh.
//! - A node at its room limit does not take a room over: the member gets the answer any full
//!   node gives (4029) and resumes on a node with room, the state kept for it.
//!
//! Everything waits on events (a frame, a close, a key written) with generous deadlines.

use serde_json::Value;

mod engine;
mod live;
use engine::{temp_dir, Cleanup};

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

use live::token_for;
use member::Member;
use procs::NodeProc;
use redis_server::Redis;
use resume::{
    answer_retrying, in_snapshot, join_retrying, last_seq, once_in_order, publish_video,
    three_members, until_written, ws,
};

/// Members here do not ping: the heartbeat must not end them mid-test.
const QUIET: [&str; 4] = ["--ping-interval-ms", "60000", "--ping-timeout-ms", "120000"];

/// A fresh Redis and three node processes in its cluster, ready, the `i`th with `extra[i]`
/// flags too, their logs in a directory removed with the [`Cleanup`]; `None` where there is
/// no `redis-server` (and not under CI, where that fails).
async fn three_nodes(tag: &str, extra: [&[&str]; 3]) -> Option<(Redis, Cleanup, [NodeProc; 3])> {
    let redis = redis_server::for_test(tag).await?;
    let dir = temp_dir(&format!("cluster-{tag}"));
    let nodes = std::array::from_fn(|i| {
        let args: Vec<&str> = QUIET.iter().chain(extra[i]).copied().collect();
        NodeProc::start_with(&redis.url(), &dir.join(format!("{i}.log")), &args)
    });
    for p in &nodes {
        nodes::until_ready(&p.addr, 200).await;
    }
    Some((redis, Cleanup(dir), nodes))
}

/// The events of `m` of `kind` about member `uid`.
fn count(m: &Member, kind: &str, uid: u64) -> usize {
    let about = |e: &&Value| e["type"] == kind && e["body"]["uid"] == uid;
    m.events.iter().filter(about).count()
}

/// The owner (node a) dies under a live pusher of its embedded media server. Member 2
/// resumes on node b, which takes the room over, and hears the stream removed; member 3
/// rejoins afresh through c and its snapshot shows member 1 not live; member 1 resumes through
/// c, publishes again and is handed node b's URL; its real ffmpeg push there is announced to
/// members 2 and 3 once (a fourth member's join, heard after it, shows nothing more came).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pusher_that_died_with_its_owner_is_announced_again_once() {
    let none: &[&str] = &[];
    let Some((redis, _cleanup, [mut a, b, c])) = three_nodes("pusher", [none; 3]).await else {
        return;
    };
    let [mut m1, mut m2, mut m3] = three_members("pu", [&a.addr, &b.addr, &c.addr]).await;
    m2.until("member-joined", Some(3)).await;
    let url = publish_video(&mut m1).await;
    let rtmp = |n: &NodeProc| n.endpoints["rtmp"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&rtmp(&a)), "{url} is the owner's");
    let mut pusher = live::probe::pusher(&url);
    m2.until("stream-added", Some(1)).await;
    m3.until("stream-added", Some(1)).await;
    // One reading of the hub is written at a time: with m2's and m3's seqs, m1 pushing.
    for m in [&m1, &m2, &m3] {
        until_written(&redis, "pu", m).await;
    }

    a.kill9();
    let _ = pusher.kill().await;
    for m in [&mut m1, &mut m2, &mut m3] {
        m.closed().await;
    }
    let mut n2 = join_retrying(&b.addr, "pu", 2, Some((&m2, last_seq(&m2)))).await;
    assert_eq!(n2.joined["body"]["resumed"], true, "{}", n2.joined);
    n2.until("stream-removed", Some(1)).await;
    let mut n3 = join_retrying(&c.addr, "pu", 3, None).await;
    let one = in_snapshot(&n3, 1);
    assert_ne!(one["live"]["video"], true, "not live: {one}");
    let mut n1 = join_retrying(&c.addr, "pu", 1, Some((&m1, last_seq(&m1)))).await;
    assert_eq!(n1.joined["body"]["resumed"], true, "{}", n1.joined);

    let again = publish_video(&mut n1).await;
    assert!(again.starts_with(&rtmp(&b)), "{again} is the new owner's");
    let mut pusher = live::probe::pusher(&again);
    n2.until("stream-added", Some(1)).await;
    n3.until("stream-added", Some(1)).await;
    let _m4 = Member::join(&ws(&b.addr), "pu", 4).await;
    n2.until("member-joined", Some(4)).await;
    n3.until("member-joined", Some(4)).await;
    for (kind, n) in [("stream-removed", 1), ("stream-added", 1)] {
        assert_eq!(count(&n2, kind, 1), n, "member 2, {kind}: {:?}", n2.events);
    }
    assert_eq!(count(&n3, "stream-added", 1), 1, "{:?}", n3.events);
    assert_eq!(count(&n3, "stream-removed", 1), 0, "{:?}", n3.events);
    once_in_order(&m2, &n2);
    let _ = pusher.kill().await;
    drop(c);
}

/// Kicks on the owner (node a) through the server API of the other nodes: member 2 while
/// connected (relayed through b), member 3 after its connection dropped; a is killed the
/// moment the second kick is answered (an answered kick is written), and node b takes the
/// room over. Member 2 asking to resume gets the `kicked` frame (the very one it got, if it
/// got it), then `session ended` (4030); member 3 gets the `kicked` frame it never got, then
/// 4030: what one node answers. The kicks still bar the tokens issued before them (4012), and
/// a token issued after admits the member afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_survives_the_owner() {
    let none: &[&str] = &[];
    let Some((redis, _cleanup, [mut a, b, c])) = three_nodes("kick", [none; 3]).await else {
        return;
    };
    let [mut m1, mut m2, m3] = three_members("kk", [&a.addr, &b.addr, &a.addr]).await;
    let old = |uid: u64| token_for("kk", &uid.to_string(), Default::default());
    let before = [old(2), old(3)];
    m1.until("member-joined", Some(3)).await;
    m2.until("member-joined", Some(3)).await;
    until_written(&redis, "kk", &m2).await;
    let (session3, last3) = (m3.joined["body"]["session"].clone(), last_seq(&m3));
    drop(m3);
    for (uid, via) in [(2, &c), (3, &b)] {
        let path = format!("/api/v1/rooms/kk/members/{uid}/kick");
        let (status, body) = live::http::api(&via.addr, "POST", &path, "").await;
        assert_eq!(status, 200, "kick {uid}: {body}");
    }
    a.kill9();
    m1.closed().await;
    m2.closed().await;
    let n1 = join_retrying(&b.addr, "kk", 1, Some((&m1, last_seq(&m1)))).await;
    assert_eq!(n1.joined["body"]["resumed"], true, "{}", n1.joined);
    let fresh = |uid: u64| token_for("kk", &uid.to_string(), Default::default());
    // Member 2 asks to resume from before the kicked frame (it lost it with its connection).
    let kicked = m2.events.iter().find(|e| e["type"] == "kicked").cloned();
    let from = kicked
        .as_ref()
        .map_or(last_seq(&m2), |k| k["seq"].as_u64().unwrap() - 1);
    let claim2 = (m2.joined["body"]["session"].clone(), from);
    let (got, answer) = answer_retrying(&c.addr, "kk", 2, &fresh(2), Some(claim2)).await;
    assert_eq!(answer["err"]["code"], 4030, "{answer}");
    let [frame] = &got.events[..] else {
        panic!("one final frame: {:?}", got.events);
    };
    if let Some(k) = kicked {
        assert_eq!(frame, &k, "the same final frame");
    }
    let (got, answer) = answer_retrying(&b.addr, "kk", 3, &fresh(3), Some((session3, last3))).await;
    assert_eq!(answer["err"]["code"], 4030, "{answer}");
    let [frame3] = &got.events[..] else {
        panic!("one final frame: {:?}", got.events);
    };
    for f in [frame, frame3] {
        assert_eq!(f["type"], "kicked", "{f}");
        assert_eq!(f["body"]["reason"], "kicked", "{f}");
    }
    // (After member 2's leave, which it missed too.)
    assert_eq!(frame3["seq"], last3 + 2, "{frame3}");
    // The kicks bar the tokens issued before them, on the new owner too.
    for (uid, token) in [2, 3].into_iter().zip(&before) {
        let (_, answer) = answer_retrying(&c.addr, "kk", uid, token, None).await;
        assert_eq!(answer["err"]["code"], 4012, "member {uid}: {answer}");
    }
    // The lease made seconds pass since the kick: a token issued now admits member 2.
    let (_, answer) = answer_retrying(&c.addr, "kk", 2, &fresh(2), None).await;
    assert_eq!(answer["ok"], true, "{answer}");
}

/// A kick outlives its room: member 1, alone in its room on node a, is kicked through node
/// b's API, so the room ends and a gives its ownership up (the room's state goes with it).
/// Coming back through node c, which opens the room afresh, with the token it held before the
/// kick, member 1 is still refused (4012): the kick memory is kept in Redis apart from the
/// room's state (`server/src/cluster/kicks.rs`), for a day, as on one node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_outlives_its_room() {
    let none: &[&str] = &[];
    let Some((redis, _cleanup, [a, b, c])) = three_nodes("gone", [none; 3]).await else {
        return;
    };
    let before = token_for("gk", "1", Default::default());
    let mut m1 = Member::join(&ws(&a.addr), "gk", 1).await;
    let (status, body) =
        live::http::api(&b.addr, "POST", "/api/v1/rooms/gk/members/1/kick", "").await;
    assert_eq!(status, 200, "kick: {body}");
    m1.closed().await;
    // The room ended and its owner gave it up.
    for _ in 0..300 {
        if redis.get("mprtc:owner:sec:gk").await.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        redis.get("mprtc:owner:sec:gk").await,
        None,
        "the room was given up"
    );
    assert!(
        redis.keys("mprtc:state:sec:gk").await.is_empty(),
        "its state went with it"
    );
    let (_, answer) = answer_retrying(&c.addr, "gk", 1, &before, None).await;
    assert_eq!(answer["err"]["code"], 4012, "{answer}");
    drop(a);
}

/// Node b runs at its room limit (one room, held): when the owner (a) of another room dies,
/// b claims nothing, and member 1 coming back through b gets the answer b gives any join
/// that would open a room (4029), so that it goes on to another node; the room's state stays
/// in Redis, and member 1 resumes through c, which takes the room over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_node_leaves_a_takeover_to_another() {
    let none: &[&str] = &[];
    let full: &[&str] = &["--max-rooms", "1"];
    let Some((redis, _cleanup, [mut a, b, c])) = three_nodes("full", [none, full, none]).await
    else {
        return;
    };
    let _busy = Member::join(&ws(&b.addr), "busy", 9).await;
    let m1 = Member::join(&ws(&a.addr), "fl", 1).await;
    until_written(&redis, "fl", &m1).await;
    a.kill9();
    let token = token_for("fl", "1", Default::default());
    let claim = (m1.joined["body"]["session"].clone(), last_seq(&m1));
    let (_, through_b) = answer_retrying(&b.addr, "fl", 1, &token, Some(claim.clone())).await;
    assert_eq!(through_b["err"]["code"], 4029, "{through_b}");
    let other = token_for("new", "1", Default::default());
    let (_, any_room) = answer_retrying(&b.addr, "new", 1, &other, None).await;
    assert_eq!(
        through_b["err"], any_room["err"],
        "the answer any full node gives"
    );
    assert_eq!(
        redis.get("mprtc:owner:sec:fl").await,
        None,
        "b claimed nothing"
    );
    let state = redis.hget("mprtc:state:sec:fl", "m:1").await;
    assert!(state.is_some(), "the state is kept");
    let n1 = join_retrying(&c.addr, "fl", 1, Some((&m1, claim.1))).await;
    assert_eq!(n1.joined["body"]["resumed"], true, "{}", n1.joined);
    assert_eq!(n1.joined["body"]["session"], claim.0);
}

/// A room closed through the server API (of node c; a owns it) stays closed when a is
/// killed the moment the close is answered: member 1, coming back through b, which claims the
/// room, is not resumed into it but joins a new, empty one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_room_stays_closed_after_the_owner() {
    let none: &[&str] = &[];
    let Some((redis, _cleanup, [mut a, b, c])) = three_nodes("close", [none; 3]).await else {
        return;
    };
    let [mut m1, _m2, _m3] = three_members("cl", [&a.addr, &b.addr, &a.addr]).await;
    // The room is in Redis, members and all.
    m1.until("member-joined", Some(3)).await;
    until_written(&redis, "cl", &m1).await;
    let (status, body) = live::http::api(&c.addr, "DELETE", "/api/v1/rooms/cl", "").await;
    assert_eq!(status, 200, "close: {body}");
    a.kill9();
    m1.closed().await;
    let n1 = join_retrying(&b.addr, "cl", 1, Some((&m1, last_seq(&m1)))).await;
    assert_ne!(n1.joined["body"]["resumed"], true, "{}", n1.joined);
    assert_eq!(
        n1.joined["body"]["members"],
        serde_json::json!([]),
        "a new room"
    );
}
