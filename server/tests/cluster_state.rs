//! A room's state in Redis: after its owner is killed with SIGKILL, a node that takes the
//! room over reads the state back and the members resume there, every event they missed
//! sent once and in order; a member that claims to have seen more than was written is
//! refused the resume and rejoins from a snapshot, and every member's model of the room then
//! matches what the new owner says. State that is corrupt, oversized or of the wrong type
//! is refused and the room starts empty.
//!
//! Real `mprtc-server` processes and a real `redis-server`; everything waits on events (a
//! frame, a close, a key written) with generous deadlines.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

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

use member::Member;
use procs::NodeProc;
use redis_server::Redis;
use resume::{join_retrying, once_in_order, snapshot, until_written, ws};

/// A fresh Redis and two node processes in its cluster, ready, run with the TOML `config`
/// if given, their logs in a directory removed with the [`Cleanup`]; `None` where there is no
/// `redis-server` (and not under CI, where that fails).
async fn two_nodes(
    tag: &str,
    config: Option<&str>,
) -> Option<(Redis, Cleanup, NodeProc, NodeProc)> {
    let redis = redis_server::for_test(tag).await?;
    let dir = temp_dir(&format!("cluster-{tag}"));
    let cfg = dir.join("node.toml");
    let mut args = Vec::new();
    if let Some(c) = config {
        std::fs::write(&cfg, c).unwrap();
        args = vec!["--config", cfg.to_str().unwrap()];
    }
    let a = NodeProc::start_with(&redis.url(), &dir.join("a.log"), &args);
    let b = NodeProc::start_with(&redis.url(), &dir.join("b.log"), &args);
    for p in [&a, &b] {
        nodes::until_ready(&p.addr, 200).await;
    }
    Some((redis, Cleanup(dir), a, b))
}

/// A member's model of the room: its join snapshot, then each member-joined and member-left
/// it heard since, in order. An event about someone already (or no longer) there is a fault.
fn model(m: &Member) -> BTreeSet<u64> {
    heard(snapshot(m), &m.events)
}

/// `room` after `events`.
fn heard(mut room: BTreeSet<u64>, events: &[Value]) -> BTreeSet<u64> {
    for e in events {
        let uid = e["body"]["uid"].as_u64();
        match (e["type"].as_str(), uid) {
            (Some("member-joined"), Some(u)) => assert!(room.insert(u), "{u} joined twice: {e}"),
            (Some("member-left"), Some(u)) => assert!(room.remove(&u), "{u} left twice: {e}"),
            _ => {}
        }
    }
    room
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_resume_on_the_new_owner_after_kill_9() {
    let Some((redis, _cleanup, mut a, b)) = two_nodes("state", None).await else {
        return;
    };
    // A owns the room; member 2 is relayed to it through B.
    let mut m1 = Member::join(&ws(&a.addr), "st", 1).await;
    let owner = redis.get("mprtc:owner:sec:st").await.expect("an owner");
    let mut m2 = Member::join(&ws(&b.addr), "st", 2).await;
    let mut m3 = Member::join(&ws(&a.addr), "st", 3).await;
    m1.until("member-joined", Some(3)).await;
    m2.until("member-joined", Some(3)).await;
    m3.ask_ok(json!({"v": 1, "id": 0, "type": "leave", "body": {}}))
        .await;
    m1.until("member-left", Some(3)).await;
    m2.until("member-left", Some(3)).await;
    until_written(&redis, "st", &m1).await;
    until_written(&redis, "st", &m2).await;

    a.kill9();
    m1.closed().await;
    m2.closed().await;
    // Member 4 joins on B once A's lease ran out: B takes the room over with its state, and
    // members 1 and 2, detached there, are sent member 4's arrival when they come back.
    let mut m4 = join_retrying(&b.addr, "st", 4, None).await;
    let now = redis.get("mprtc:owner:sec:st").await.expect("a new owner");
    let epoch = |v: &str| v.rsplit_once(':').unwrap().1.parse::<u64>().unwrap();
    assert!(epoch(&now) > epoch(&owner), "{owner} then {now}");
    let snap = snapshot(&m4);
    assert_eq!(
        snap,
        BTreeSet::from([1, 2]),
        "the new owner knows members 1 and 2"
    );

    // Member 1 resumes: the same session, and exactly the event it missed, in seq order.
    let last1 = m1.events.last().unwrap()["seq"].as_u64().unwrap();
    let mut n1 = join_retrying(&b.addr, "st", 1, Some((&m1, last1))).await;
    let body = &n1.joined["body"];
    assert_eq!(body["resumed"], true, "a resume: {body}");
    assert_eq!(body["session"], m1.joined["body"]["session"]);
    n1.until("member-joined", Some(4)).await;
    once_in_order(&m1, &n1);
    let joined4 = n1
        .events
        .iter()
        .filter(|e| e["type"] == "member-joined")
        .count();
    assert_eq!(joined4, 1, "{:?}", n1.events);

    // Member 2 says it saw one event more than was written (the dead owner sent it before
    // writing it): the resume is refused, and it rejoins from the new owner's snapshot.
    let last2 = m2.events.last().unwrap()["seq"].as_u64().unwrap();
    let n2 = join_retrying(&b.addr, "st", 2, Some((&m2, last2 + 1))).await;
    let body = &n2.joined["body"];
    assert_ne!(body["resumed"], true, "not a resume: {body}");
    assert_ne!(
        body["session"], m2.joined["body"]["session"],
        "a new session"
    );
    assert_eq!(snapshot(&n2), BTreeSet::from([1, 4]));

    // Both sides agree: what members 1 and 4 make of the room is what the owner holds.
    m4.until("member-joined", Some(2)).await;
    n1.until("member-joined", Some(2)).await;
    // (A member's model holds the others.)
    assert_eq!(model(&m4), BTreeSet::from([1, 2]));
    assert_eq!(heard(model(&m1), &n1.events), BTreeSet::from([2, 4]));
    drop((m4, n2, b));
}

/// A push task on the owner restarts on the node that takes the room over: its member hears
/// it pushing (505) from the old owner, then, resumed on the new one, again, its seqs going on
/// without a gap. The output is a member's push URL on a separate single server, which
/// outlives the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_task_restarts_on_the_new_owner() {
    let outputs = "[tasks]\noutput_allow_private = true\n";
    let Some((redis, _cleanup, mut a, b)) = two_nodes("task", Some(outputs)).await else {
        return;
    };
    let sink = live::start_with(|_| {}).await;
    let mut out = Member::join(&format!("ws://{}/ws", sink.addr()), "out", 9).await;
    let publish = json!({"v": 1, "id": 0, "type": "publish", "body": {"video": true}});
    let url = out.ask_ok(publish).await["body"]["url"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut m1 = Member::join(&ws(&a.addr), "tk", 1).await;
    m1.ask_ok(live::probe::add_tasks(
        0,
        vec![live::probe::task("t1", &url, 1, false)],
    ))
    .await;
    until_pushing(&mut m1).await;
    until_written(&redis, "tk", &m1).await;

    a.kill9();
    m1.closed().await;
    let last = m1.events.last().unwrap()["seq"].as_u64().unwrap();
    let mut n1 = join_retrying(&b.addr, "tk", 1, Some((&m1, last))).await;
    assert_eq!(n1.joined["body"]["resumed"], true, "{}", n1.joined);
    let again = until_pushing(&mut n1).await;
    assert_eq!(again["body"]["task_id"], "t1");
    once_in_order(&m1, &n1);
    drop((b, sink));
}

/// Reads until a `task-status` event saying pushing (505).
async fn until_pushing(m: &mut Member) -> Value {
    loop {
        let v = m.until("task-status", None).await;
        if v["body"]["code"] == 505 {
            return v;
        }
    }
}

/// A room name, the fields planted as its state, and whether a plain string is planted instead.
type Planted<'a> = (&'a str, Vec<(&'a str, String)>, bool);

/// Writes `fields` as the state of room `room`, in a hash, or as a plain string if `string`.
async fn plant(redis: &Redis, room: &str, fields: &[(&str, String)], string: bool) {
    let key = format!("mprtc:state:sec:{room}");
    let mut c = redis.con().await;
    let cmd = if string {
        redis::cmd("SET").arg(&key).arg("garbage").clone()
    } else {
        let mut cmd = redis::cmd("HSET").arg(&key).clone();
        for (f, v) in fields {
            cmd.arg(*f).arg(v);
        }
        cmd
    };
    let _: () = cmd.query_async(&mut c).await.unwrap();
}

/// Abuse: a room whose state in Redis is corrupt, oversized or not a hash starts empty on
/// the node that claims it (the join succeeds, with an empty snapshot, the node still
/// serves), and the state is then the node's own record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_state_is_refused_and_the_room_starts_empty() {
    let Some(redis) = redis_server::for_test("badstate").await else {
        return;
    };
    let node = nodes::node(&redis.url()).await;
    let url = format!("ws://{}/ws", node.addr());
    let member = |uid: u64| {
        json!({ "uid": uid, "session": "0123456789abcdef0123456789abcdef", "seq": 2,
                "ring": [[1, "{\"type\":\"x\"}"], [3, "{}"]], "broadcaster": true,
                "privileges": {"publish": true, "subscribe": true},
                "declared": [false, false], "muted": [false, false], "user": null,
                "stream": null, "pushing": false, "joined_ms": 0,
                "token_exp": u64::MAX, "warned": false })
        .to_string()
    };
    let room = json!({ "media_id": "m00", "tasks": [], "kicks": [] }).to_string();
    let cases: Vec<Planted> = vec![
        (
            "notjson",
            vec![("room", "{not json".into()), ("m:7", member(7))],
            false,
        ),
        (
            "gap",
            vec![("room", room.clone()), ("m:7", member(7))],
            false,
        ),
        (
            "huge",
            vec![("room", "x".repeat(300 * 1024)), ("m:7", member(7))],
            false,
        ),
        (
            "odd",
            vec![("room", room.clone()), ("x", "{}".into())],
            false,
        ),
        ("string", vec![], true),
    ];
    for (name, fields, string) in cases {
        plant(&redis, name, &fields, string).await;
        let mut m = Member::join(&url, name, 1).await;
        let body = &m.joined["body"];
        assert_eq!(
            body["members"],
            json!([]),
            "{name}: the room starts empty: {body}"
        );
        // The node's own record replaces what was refused.
        let key = format!("mprtc:state:sec:{name}");
        let mut ours = None;
        for _ in 0..600 {
            ours = redis.hget(&key, "room").await;
            if ours
                .as_deref()
                .is_some_and(|r| r.contains("media_id") && r != room)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ours = ours.unwrap_or_default();
        assert!(ours.starts_with("{\"media_id\":\"m"), "{name}: {ours}");
        assert_eq!(
            redis.hget(&key, "m:7").await,
            None,
            "{name}: nothing refused is kept"
        );
        m.ask_ok(json!({"v": 1, "id": 0, "type": "ping", "body": {"ts": 1}}))
            .await;
    }
}
