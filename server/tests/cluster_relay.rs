//! The relay under load, over real nodes and a real `redis-server`: a burst of requests sent
//! through a relaying node without waiting for answers comes back (answers and the events
//! it causes, at members on every node) complete, once and in order, non-ASCII text byte for
//! byte; a client that stops reading behind a relay is cut by its node's bound while the
//! room goes on.
//!
//! Both exercise the writers' bursts (several queued frames fed and flushed as one write) on
//! every hop: the relay's writes to the owner, the owner's to the relay, the relay's to its
//! clients. Everything waits on events (a frame, a close) with generous deadlines.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

mod live;
use live::unread::{connect_unread, flood_mutes, read_to_end, TOGGLES};
use live::{answer, ask_ok, join, join_sec, recv, token_for};

#[path = "cluster/member.rs"]
mod member;
#[path = "cluster/nodes.rs"]
mod nodes;
#[path = "cluster/redis.rs"]
mod redis_server;

use member::{Member, PATIENCE};
use nodes::node_with;

/// Requests in the burst: many times a writer's burst bound, so that bursts follow bursts.
const BURST: u32 = 600;
/// Every this many requests of the burst, a room message instead of a mute.
const MESSAGE_EVERY: u32 = 75;

/// The burst's requests: a room message of ~950 bytes of non-ASCII text every
/// [`MESSAGE_EVERY`] (under the member's message budget), else a mute that toggles the audio (each one a change, so
/// each one an event).
fn burst() -> Vec<Value> {
    let mut mutes = 0;
    (0..BURST)
        .map(|i| {
            let id = 100 + i;
            if i % MESSAGE_EVERY == MESSAGE_EVERY - 1 {
                // Near the 1 KiB bound: the frame is larger than a socket's read buffer.
                let text = format!("第{i}条 ✓ ünïcödé {}", "界".repeat(300));
                json!({"v":1,"id":id,"type":"send-message","body":{"kind":"broadcast","text":text}})
            } else {
                mutes += 1;
                json!({"v":1,"id":id,"type":"mute","body":{"audio":true,"muted":mutes % 2 == 1}})
            }
        })
        .collect()
}

/// What another member must hear of request `f`: the event's type and what it carries.
fn heard(f: &Value) -> (String, Value) {
    if f["type"] == "send-message" {
        ("message".into(), f["body"]["text"].clone())
    } else {
        ("mute-changed".into(), f["body"]["muted"].clone())
    }
}

/// Reads `m`'s events until it heard what the burst causes, `want` (in any order: a wrong
/// one fails the comparison after, a missing one the wait); what it heard of the burst, in
/// the order heard, its seqs checked to run without a gap.
async fn burst_heard(m: &mut Member, want: &[(String, Value)]) -> Vec<(String, Value)> {
    for (kind, _) in want {
        let about = (kind == "mute-changed").then_some(2);
        m.until(kind, about).await;
    }
    m.seqs_in_order();
    let of_burst = |e: &&Value| {
        (e["type"] == "mute-changed" && e["body"]["uid"] == 2)
            || (e["type"] == "message" && e["body"]["from"] == 2)
    };
    m.events
        .iter()
        .filter(of_burst)
        .map(|e| {
            let what = if e["type"] == "message" {
                e["body"]["text"].clone()
            } else {
                e["body"]["muted"].clone()
            };
            (e["type"].as_str().unwrap_or_default().to_owned(), what)
        })
        .collect()
}

/// A member relayed through node b sends [`BURST`] requests back to back; its answers come
/// back in order, each once, and members on the owner and on a third node hear every event
/// of it, in the order sent, with seqs without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_through_relays_keeps_its_order() {
    let Some(redis) = redis_server::for_test("burst").await else {
        return;
    };
    let fast = |o: &mut mprtc_server::config::Overrides| {
        o.max_requests_per_sec = Some(1_000_000);
    };
    let a = node_with(&redis.url(), fast).await;
    let b = node_with(&redis.url(), fast).await;
    let c = node_with(&redis.url(), fast).await;
    let mut m1 = Member::join(&a.url, "burst", 1).await;
    let mut m2 = join_sec(&b.url, "burst", 2).await;
    let mut m3 = Member::join(&c.url, "burst", 3).await;
    m1.until("member-joined", Some(3)).await;

    let frames = burst();
    for f in &frames {
        m2.feed(Message::Text(f.to_string().into())).await.unwrap();
    }
    m2.flush().await.unwrap();
    let mut answers = Vec::new();
    while answers.len() < BURST as usize {
        let v = tokio::time::timeout(PATIENCE, m2.next())
            .await
            .expect("the burst's answers keep coming")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = v {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v.get("re").is_some() {
                assert_eq!(v["ok"], true, "{v}");
                answers.push(v["re"].as_u64().unwrap());
            }
        }
    }
    let sent: Vec<u64> = (0..BURST).map(|i| u64::from(100 + i)).collect();
    assert_eq!(answers, sent, "answers in the order asked, each once");

    let want: Vec<_> = frames.iter().map(heard).collect();
    assert_eq!(burst_heard(&mut m1, &want).await, want, "m1 on the owner");
    assert_eq!(burst_heard(&mut m3, &want).await, want, "m3 through c");
    drop((m1, m2, m3));
    for n in [a, b, c] {
        n.stop().await;
    }
}

/// A member behind a relay that stops reading is cut by the relaying node once that node
/// holds `max_queued_bytes` for it (4429, or the socket just ends), as on one node; the
/// member that caused the traffic, on the owner, is served throughout, and the relaying
/// node goes on relaying others into the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_behind_a_relay_that_does_not_read_is_cut() {
    let Some(redis) = redis_server::for_test("unread").await else {
        return;
    };
    let a = node_with(&redis.url(), |o| o.max_requests_per_sec = Some(1_000_000)).await;
    let b = node_with(&redis.url(), |o| o.max_queued_bytes = Some(64 * 1024)).await;
    let mut busy = join_sec(&a.url, "unread", 1).await;
    let owner = redis.get("mprtc:owner:sec:unread").await;
    assert!(owner.is_some(), "node a owns the room");
    // The victim's receive buffer is small and it never reads: events pile up at node b.
    let mut victim = connect_unread(&b.url).await;
    let t = token_for("unread", "2", Default::default());
    ask_ok(&mut victim, join(1, "sec", "unread", 2, Some(&t))).await;
    assert_eq!(
        redis.get("mprtc:owner:sec:unread").await,
        owner,
        "the victim was relayed to a, not given the room"
    );
    loop {
        let v = recv(&mut busy).await;
        if v["type"] == "member-joined" && v["body"]["uid"] == 2 {
            break;
        }
    }

    // The busy member reads every answer (in batches), so only the victim falls behind.
    flood_mutes(&mut busy).await;
    // Now the victim reads: what the kernel buffered, then the end of its connection.
    let (events, end) = read_to_end(&mut victim, PATIENCE).await;
    assert!(
        events < u64::from(TOGGLES),
        "cut before the end: {events} events of {TOGGLES}"
    );
    assert!(matches!(end, None | Some(4429)), "{end:?}");

    // Node b still relays: a newcomer through it joins the room the busy member is in.
    let mut late = Member::join(&b.url, "unread", 3).await;
    let r = answer(
        &mut busy,
        json!({"v":1,"id":5,"type":"mute","body":{"video":true,"muted":true}}),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    late.until("mute-changed", Some(1)).await;
    drop((busy, victim, late));
    a.stop().await;
    b.stop().await;
}
