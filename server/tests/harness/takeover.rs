//! A room read back by another hub, as a cluster node that takes a room over does
//! (`persist.rs` in the hub): the real SDK cores reconnect by themselves and resume there when
//! they heard nothing the dead hub had not written, with no event twice or missing; a core that
//! heard an unwritten event is refused the resume and rejoins from the new hub's snapshot.
//! Room messages go on numbering after the last written id, and a later joiner hears the room's
//! and the members' extra info; a record whose extra info is beyond its limits is refused with
//! a typed error and the room starts empty.

use mprtc::core::AppEvent;
use mprtc::protocol::MessageKind;
use mprtc_server::signaling::hub::{Kicks, Written, TAKEOVER_MESSAGE_ID_GAP};

use crate::common;
use crate::messages::{infos, messages, send, set_info};
use crate::support::*;

/// What hub A wrote of room `r` of app `dbg`: its record and its members'.
fn written(net: &Net) -> (String, Vec<String>) {
    let key = ("dbg".to_owned(), "r".to_owned());
    let d = net
        .hub
        .room_delta(&key, &Kicks::new(), &mut Written::default());
    let d = d.expect("the room is held");
    let members = d.members.into_iter().map(|(_, r)| r).collect();
    (d.room.expect("a first write has the room"), members)
}

/// Hub A dies; hub B reads back `state`; every connection drops and the cores come back.
fn take_over(net: &mut Net, state: &(String, Vec<String>)) -> Vec<Vec<AppEvent>> {
    let (mut b, _) = common::hub();
    let key = ("dbg".to_owned(), "r".to_owned());
    let mut out = Vec::new();
    let n = b.restore_room(&key, &state.0, &state.1, net.now, &mut out);
    assert_eq!(n.expect("read back"), state.1.len());
    net.hub = b;
    for i in 0..net.peers.len() {
        net.cut(i);
    }
    for _ in 0..10 {
        net.advance(1_000);
    }
    (0..net.peers.len()).map(|i| net.events(i)).collect()
}

#[test]
fn cores_resume_on_the_hub_that_read_the_room_back() {
    let mut net = Net::new(2);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    let e0 = net.events(0);
    assert!(e0.contains(&AppEvent::ClientJoin { uid: 2 }), "{e0:?}");
    net.events(1);
    let state = written(&net);
    let after = take_over(&mut net, &state);
    for (i, ev) in after.iter().enumerate() {
        let resumed = ev
            .iter()
            .filter(|e| **e == AppEvent::Reconnected { resumed: true });
        assert_eq!(resumed.count(), 1, "peer {i}: {ev:?}");
        let fresh = ev.contains(&AppEvent::Reconnected { resumed: false });
        assert!(!fresh, "peer {i}: {ev:?}");
    }
    // One room again: member 2 leaves, member 1 hears it once.
    net.run(1, |c, now| c.leave(now)).unwrap();
    let left = net.events(0);
    let leaves = left
        .iter()
        .filter(|e| matches!(e, AppEvent::ClientLeave { uid: 2, .. }));
    assert_eq!(leaves.count(), 1, "{left:?}");
}

#[test]
fn a_core_that_heard_an_unwritten_event_rejoins_from_a_snapshot() {
    let mut net = Net::new(3);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    let state = written(&net);
    // Member 3 joins after the write: 1 and 2 hear it; hub B will never know.
    net.join(2, "r", 3).unwrap();
    net.events(0);
    let after = take_over(&mut net, &state);
    for (i, ev) in after.iter().enumerate().take(2) {
        assert!(
            ev.contains(&AppEvent::Reconnected { resumed: false }),
            "peer {i} heard member 3: {ev:?}"
        );
        let resumed = ev.contains(&AppEvent::Reconnected { resumed: true });
        assert!(!resumed, "peer {i}: {ev:?}");
    }
    // Hub B's room, as every core now has it, is what hub B holds.
    let uids: Vec<u64> = net.hub.snapshot("dbg", "r").iter().map(|m| m.uid).collect();
    assert_eq!(uids, vec![1, 2, 3], "all came back, 3 afresh");
}

#[test]
fn message_ids_and_extra_info_go_on_after_a_takeover() {
    let mut net = Net::new(2);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    set_info(&mut net, 0, Some("topic"), "rust");
    set_info(&mut net, 1, None, "cam: front");
    for text in ["one", "two"] {
        send(&mut net, 0, MessageKind::Broadcast, text, vec![]);
    }
    net.events(0);
    let heard: Vec<u64> = messages(net.events(1)).iter().map(|m| m.0).collect();
    assert_eq!(heard, [1, 2]);
    let state = written(&net);
    let after = take_over(&mut net, &state);
    for (i, ev) in after.iter().enumerate() {
        let resumed = ev.contains(&AppEvent::Reconnected { resumed: true });
        assert!(resumed, "peer {i}: {ev:?}");
    }
    // The next message follows the last written id past the takeover's gap (an id the dead
    // owner gave unwritten is never reused); the resumed member hears it alone.
    send(&mut net, 0, MessageKind::Barrage, "three", vec![]);
    let heard = messages(net.events(1));
    let next = 2 + TAKEOVER_MESSAGE_ID_GAP;
    assert_eq!(
        heard,
        vec![(next + 1, MessageKind::Barrage, 1, "three".into())]
    );
    // A member who joins hub B hears the room's and member 2's extra info.
    net.peers.push(Peer::new());
    net.join(2, "r", 3).unwrap();
    let mut got = infos(net.events(2));
    got.sort();
    let want = vec![
        (1, Some("topic".into()), "rust".into()),
        (2, None, "cam: front".into()),
    ];
    assert_eq!(got, want);
}

#[test]
fn extra_info_beyond_its_limits_is_refused_and_the_room_starts_empty() {
    let mut net = Net::new(1);
    net.join(0, "r", 1).unwrap();
    set_info(&mut net, 0, Some("topic"), "rust");
    let (room, members) = written(&net);
    let with_info = |info: serde_json::Value| {
        let mut v: serde_json::Value = serde_json::from_str(&room).unwrap();
        assert_eq!(v["info"][0][2], "rust", "{room}");
        v["info"] = info;
        v.to_string()
    };
    // Eleven keys where a room holds ten; then a value of 1,025 bytes.
    let eleven = (0..11).map(|k| serde_json::json!([format!("k{k}"), 1, "v", 0]));
    let eleven = with_info(eleven.collect());
    let long = with_info(serde_json::json!([["topic", 1, "x".repeat(1025), 0]]));
    for bad in [eleven, long] {
        let (mut b, _) = common::hub();
        let key = ("dbg".to_owned(), "r".to_owned());
        let e = b.restore_room(&key, &bad, &members, net.now, &mut Vec::new());
        let e = e.expect_err("refused");
        assert_eq!(e.code(), "cluster.state_info_too_large");
        assert!(b.snapshot("dbg", "r").is_empty(), "the room starts empty");
    }
}
