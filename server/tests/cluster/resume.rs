//! Helpers of the takeover suites: members that come back through another node after their
//! owner died, and the checks of what they were told.
#![allow(dead_code)] // each suite uses its own part of it

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::live;
use crate::member::Member;
use crate::redis_server::Redis;

/// `ws://addr/ws`.
pub fn ws(addr: &str) -> String {
    format!("ws://{addr}/ws")
}

/// Waits until the state written for member `m` has the seq it last saw.
pub async fn until_written(redis: &Redis, room: &str, m: &Member) {
    let seq = m.events.last().map_or(0, |e| e["seq"].as_u64().unwrap());
    redis.until_written(room, m.uid, seq).await;
}

/// Joins `room` as `uid` through `addr`, asking to resume as `old` if given with `last_seq`
/// (what it says it saw), retrying while the room's dead owner still holds its lease.
pub async fn join_retrying(
    addr: &str,
    room: &str,
    uid: u64,
    old: Option<(&Member, u64)>,
) -> Member {
    let mut last = Value::Null;
    for _ in 0..450 {
        let claim = old.map(|(m, seq)| (m.joined["body"]["session"].clone(), seq));
        match Member::rejoin_claiming(live::connect(&ws(addr)).await, room, uid, claim).await {
            Ok(mut m) => {
                if let Some((old, _)) = old {
                    m.follow(old);
                }
                return m;
            }
            Err(why) => last = why,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("member {uid} could not join {room} through {addr}: {last}");
}

/// The uids in a member's join snapshot.
pub fn snapshot(m: &Member) -> BTreeSet<u64> {
    let snap = m.joined["body"]["members"].as_array().unwrap();
    snap.iter().map(|x| x["uid"].as_u64().unwrap()).collect()
}

/// Member `uid` as `m`'s join snapshot shows it.
pub fn in_snapshot(m: &Member, uid: u64) -> Value {
    let snap = m.joined["body"]["members"].as_array().unwrap();
    let found = snap.iter().find(|x| x["uid"] == uid);
    found
        .cloned()
        .unwrap_or_else(|| panic!("{uid} not in {}", m.joined))
}

/// Fails unless the events of `before` and then of `after` (the same session, resumed) have
/// the seqs 1, 2, 3... without a gap or a repeat.
pub fn once_in_order(before: &Member, after: &Member) {
    let all = before.events.iter().chain(&after.events);
    let seqs: Vec<u64> = all.map(|e| e["seq"].as_u64().unwrap()).collect();
    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, want, "every event once, in order");
}

/// Joins `room` as `uid` through `addr` with `token`, asking to resume `claim` if given,
/// retrying while the connection is closed instead of answered (the room's dead owner still
/// holds its lease): the member (the event frames sent before the answer in its `events`)
/// and the answer, success or refusal.
pub async fn answer_retrying(
    addr: &str,
    room: &str,
    uid: u64,
    token: &str,
    claim: Option<(Value, u64)>,
) -> (Member, Value) {
    for _ in 0..450 {
        let ws = live::connect(&ws(addr)).await;
        if let Ok(got) = Member::join_with(ws, room, uid, token, claim.clone()).await {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("member {uid}'s join of {room} through {addr} was never answered");
}

/// The seq of the last event `m` was sent (0: none).
pub fn last_seq<S>(m: &Member<S>) -> u64 {
    m.events.last().map_or(0, |e| e["seq"].as_u64().unwrap())
}

/// Publishes video as `m`: the push URL it is handed.
pub async fn publish_video<S: AsyncRead + AsyncWrite + Unpin>(m: &mut Member<S>) -> String {
    let publish = json!({"v": 1, "id": 0, "type": "publish", "body": {"video": true}});
    let r = m.ask_ok(publish).await;
    r["body"]["url"].as_str().unwrap().to_owned()
}

/// Subscribes `m` to member `uid`'s video: the play URL it is handed.
pub async fn play_url<S: AsyncRead + AsyncWrite + Unpin>(m: &mut Member<S>, uid: u64) -> String {
    let subscribe =
        json!({"v": 1, "id": 0, "type": "subscribe", "body": {"uid": uid, "video": true}});
    let r = m.ask_ok(subscribe).await;
    r["body"]["url"].as_str().unwrap().to_owned()
}

/// Fails unless a real ffmpeg plays 5 frames of `url` (`log`: the engine's, for the message).
pub async fn plays(url: &str, log: impl FnOnce() -> String) {
    let (status, frames) = crate::engine::ffmpeg::Ffmpeg::play_frames(url, 5)
        .exit()
        .await;
    assert!(status.success() && frames >= 5, "it plays: {}", log());
}

/// Members 1, 2 and 3 of `room`, joined in that order through the nodes at `via`.
pub async fn three_members(room: &str, via: [&str; 3]) -> [Member; 3] {
    let m1 = Member::join(&ws(via[0]), room, 1).await;
    let m2 = Member::join(&ws(via[1]), room, 2).await;
    let m3 = Member::join(&ws(via[2]), room, 3).await;
    [m1, m2, m3]
}
