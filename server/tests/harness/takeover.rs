//! A room read back by another hub, as a cluster node that takes a room over does
//! (`persist.rs` in the hub): the real SDK cores reconnect by themselves and resume there when
//! they heard nothing the dead hub had not written, with no event twice or missing; a core that
//! heard an unwritten event is refused the resume and rejoins from the new hub's snapshot.
//! Room messages go on numbering after the last written id, and a later joiner hears the room's
//! and the members' extra info; a record whose extra info is beyond its limits is refused with
//! a typed error and the room starts empty. A request sent again after the takeover is
//! answered as the dead hub answered it, not run twice; a session the dead hub ended is shown
//! its final frame by the new one; a hub at its room limit refuses to take a room over.

use mprtc::core::AppEvent;
use mprtc::protocol::frame::{decode_server, encode_request};
use mprtc::protocol::{
    ErrorCode, MessageKind, PublishReq, RequestKind, Resume, SendMessageReq, ServerFrame,
};
use mprtc_server::signaling::hub::{Limits, Written, TAKEOVER_MESSAGE_ID_GAP};
use mprtc_server::signaling::{Hub, HubOut, SessionId};

use crate::common::{self, VIDEO};
use crate::messages::{infos, messages, send, set_info};
use crate::support::*;

/// What hub A wrote of room `r` of app `dbg`: its record and its members'.
fn written(net: &Net) -> (String, Vec<String>) {
    written_by(&net.hub)
}

/// What `hub` writes of room `r` of app `dbg` in full: its record and its members'.
fn written_by(hub: &Hub) -> (String, Vec<String>) {
    let key = ("dbg".to_owned(), "r".to_owned());
    let d = hub.room_delta(&key, &hub.kicks_by_room(), &mut Written::default());
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

const NOW: u64 = 1_700_000_000_000;

/// The text frames `out` holds for connection `sid`.
fn sent_to(out: &[HubOut], sid: SessionId) -> Vec<String> {
    let mine = out.iter().filter_map(|o| match o {
        HubOut::Send(s, t) if *s == sid => Some(t.clone()),
        _ => None,
    });
    mine.collect()
}

/// `frame` from `sid` into `hub`: everything the hub asked for.
fn ask(hub: &mut Hub, sid: SessionId, frame: &str) -> Vec<HubOut> {
    let mut out = Vec::new();
    hub.handle_frame(sid, frame, NOW, &mut out);
    out
}

/// Joins `uid` to room `r` of app `dbg` on a new connection of `hub`, resuming `resume` if
/// given: the connection and the frames sent to it (the answer first).
fn join_raw(hub: &mut Hub, uid: u64, resume: Option<Resume>) -> (SessionId, Vec<ServerFrame>) {
    let sid = hub.connect();
    let out = ask(hub, sid, &join_frame(1, "dbg", "r", uid, None, resume));
    let frames = sent_to(&out, sid);
    (
        sid,
        frames.iter().map(|t| decode_server(t).unwrap()).collect(),
    )
}

/// The session id of a join's answer.
fn session_of(answer: &ServerFrame) -> String {
    match answer {
        ServerFrame::Ok { body, .. } => body.get("session").unwrap().as_str().unwrap().into(),
        f => panic!("not a join answer: {f:?}"),
    }
}

/// Hub B, reading back what `a` wrote of room `r` of app `dbg`.
fn restored(a: &Hub) -> Hub {
    let (mut b, _) = common::hub();
    let state = written_by(a);
    let key = ("dbg".to_owned(), "r".to_owned());
    let n = b.restore_room(&key, &state.0, &state.1, NOW, &mut Vec::new());
    assert_eq!(n.expect("read back"), state.1.len());
    b
}

/// A request the client sends again after a takeover (its answer was lost with the
/// connection) is answered from the reply cache written with the member, not run twice: a
/// message sent again reaches nobody a second time and keeps its id, a publish sent again
/// gets the same URL. A new request runs.
#[test]
fn a_request_sent_again_after_a_takeover_is_answered_not_run_twice() {
    let (mut a, _) = common::hub();
    let (s1, j1) = join_raw(&mut a, 1, None);
    let (s2, j2) = join_raw(&mut a, 2, None);
    let hi = SendMessageReq {
        kind: MessageKind::Broadcast,
        text: "hi".into(),
        to: vec![],
    };
    let message = encode_request(5, RequestKind::SendMessage, &hi);
    let publish = PublishReq {
        media: VIDEO,
        stream: None,
    };
    let publish = encode_request(6, RequestKind::Publish, &publish);
    let first = ask(&mut a, s1, &message);
    assert_eq!(sent_to(&first, s2).len(), 1, "member 2 hears the message");
    let answers = [sent_to(&first, s1), sent_to(&ask(&mut a, s1, &publish), s1)];
    let seq = |hub: &Hub, uid| hub.member_seq("dbg", "r", uid).unwrap();
    let (seq1, seq2) = (seq(&a, 1), seq(&a, 2));
    let mut b = restored(&a);
    let resume = |j: &[ServerFrame], last_seq| Resume {
        session: session_of(&j[0]),
        last_seq,
    };
    let (n1, r1) = join_raw(&mut b, 1, Some(resume(&j1, seq1)));
    let (n2, r2) = join_raw(&mut b, 2, Some(resume(&j2, seq2)));
    for r in [&r1, &r2] {
        let resumed =
            matches!(&r[0], ServerFrame::Ok { body, .. } if body.get("resumed").is_some());
        assert!(resumed, "resumed: {r:?}");
    }
    for (frame, answer) in [&message, &publish].into_iter().zip(&answers) {
        let again = ask(&mut b, n1, frame);
        assert_eq!(&sent_to(&again, n1), answer, "the same answer: {frame}");
        assert!(sent_to(&again, n2).is_empty(), "nothing new for member 2");
    }
    // A new request (id 7) runs: member 2 hears it.
    let next = encode_request(7, RequestKind::SendMessage, &hi);
    assert_eq!(sent_to(&ask(&mut b, n1, &next), n2).len(), 1);
}

/// Sessions the dead hub ended are shown their final frame by the hub that read the room
/// back, exactly as the dead hub would have shown it: member 2, kicked while connected, and
/// member 3, kicked while its connection was down (it never got the frame), each rejoin
/// asking to resume and get the `kicked` event, then the refusal `session ended` (4409's
/// answer).
#[test]
fn a_session_ended_before_a_takeover_gets_its_final_frame_after_it() {
    let (mut a, _) = common::hub();
    let joined: Vec<(SessionId, Vec<ServerFrame>)> =
        (1..=3).map(|uid| join_raw(&mut a, uid, None)).collect();
    a.disconnect(joined[2].0, NOW, &mut Vec::new());
    let seqs: Vec<u64> = (2..=3)
        .map(|u| a.member_seq("dbg", "r", u).unwrap())
        .collect();
    for uid in [2, 3] {
        a.api_kick("dbg", "r", uid, NOW, &mut Vec::new()).unwrap();
    }
    let rejoin = |hub: &mut Hub, uid: u64| {
        let i = uid as usize - 1;
        let resume = Resume {
            session: session_of(&joined[i].1[0]),
            last_seq: seqs[i - 1],
        };
        join_raw(hub, uid, Some(resume)).1
    };
    // What one node answers (asking changes nothing there)...
    let one_node: Vec<Vec<ServerFrame>> = [2, 3].map(|u| rejoin(&mut a, u)).into();
    let mut b = restored(&a);
    for (uid, want) in [2u64, 3].into_iter().zip(&one_node) {
        assert!(
            matches!(&want[0], ServerFrame::Event { .. }),
            "the kicked frame first: {want:?}"
        );
        assert_eq!(refusal(&want[1]).1, ErrorCode::SessionEnded, "{want:?}");
        // ...the hub that took the room over answers too.
        assert_eq!(&rejoin(&mut b, uid), want, "member {uid}");
    }
}

/// A hub at its room limit refuses to take a room over, typed, keeping nothing of it; a
/// member's join there then gets the refusal any full node gives (4029), so that the load
/// balancer's next node takes the room over.
#[test]
fn a_hub_at_its_room_limit_refuses_to_take_a_room_over() {
    let (mut a, _) = common::hub();
    let (_, j1) = join_raw(&mut a, 1, None);
    let seq1 = a.member_seq("dbg", "r", 1).unwrap();
    let state = written_by(&a);
    let limits = Limits {
        max_rooms: 1,
        ..Limits::default()
    };
    let (b, _) = common::hub();
    let mut b = b.with_limits(limits);
    let other = b.connect();
    ask(&mut b, other, &join_frame(1, "dbg", "other", 9, None, None));
    let key = ("dbg".to_owned(), "r".to_owned());
    let e = b.restore_room(&key, &state.0, &state.1, NOW, &mut Vec::new());
    assert_eq!(e.expect_err("refused").code(), "cluster.room_limit");
    assert!(b.snapshot("dbg", "r").is_empty(), "nothing taken over");
    let resume = Resume {
        session: session_of(&j1[0]),
        last_seq: seq1,
    };
    let (_, resumed) = join_raw(&mut b, 1, Some(resume));
    let (_, fresh) = join_raw(&mut b, 5, None);
    assert_eq!(refusal(&resumed[0]).1, ErrorCode::LimitExceeded);
    assert_eq!(resumed, fresh, "the answer any full node gives");
    // A hub with room for it takes it over, and the member resumes there.
    let mut c = restored(&a);
    let (_, r) = join_raw(
        &mut c,
        1,
        Some(Resume {
            session: session_of(&j1[0]),
            last_seq: seq1,
        }),
    );
    assert!(matches!(&r[0], ServerFrame::Ok { .. }), "resumed: {r:?}");
}
