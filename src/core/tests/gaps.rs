//! A missing event is noticed, never assumed away: the server numbers a session's events
//! without holes, so an event whose `seq` skips one means another was lost (dropped on a
//! resume, or a server bug). Applied anyway, it would build a room the server does not have
//! and the app would never know. These pin what the core does instead, frame by frame.

use super::*;
use crate::protocol::frame::{encode_event, encode_ok};
use crate::protocol::*;

/// A member joining: an event that changes the room, so applying it shows.
fn arrives(uid: u64) -> Event {
    Event::MemberJoined {
        uid,
        role: Role::Broadcaster,
        user: None,
    }
}

/// Joined as uid 1 (session "s"), with event 1 (uid 2 joined) applied.
fn at_seq_one() -> Client {
    let mut c = joined(vec![]);
    c.handle_socket_message(7, &encode_event(1, &arrives(2)));
    assert_eq!(
        events(&drain(&mut c)),
        vec![AppEvent::ClientJoin { uid: 2 }]
    );
    assert_eq!(c.last_seq(), 1);
    c
}

/// Event `seq` (uid `seq + 1` joining) skips a number: it is not applied, the core closes the
/// socket so the server keeps the session (4000) and says why it reconnects.
fn hole(c: &mut Client, now: u64, seq: u64) {
    c.handle_socket_message(now, &encode_event(seq, &arrives(seq + 1)));
    let outs = drain(c);
    assert_eq!(
        outs,
        vec![
            Output::Close {
                code: RECONNECT_CLOSE_CODE,
                reason: "event gap".into()
            },
            Output::Event(AppEvent::WillReconnect {
                count: 1,
                gap: true
            }),
        ],
        "the event past the hole is not applied"
    );
    assert_eq!(c.last_seq(), 1, "the last contiguous event stays the mark");
    assert!(c.is_reconnecting());
}

/// The old socket reports its close, the retry opens a new one: the rejoin request it sends,
/// as (request id, body).
fn rejoin(c: &mut Client, now: u64) -> (u32, serde_json::Value) {
    c.handle_socket_close(now, RECONNECT_CLOSE_CODE, "event gap");
    drain(c);
    let at = c.poll_timeout().expect("a retry is scheduled");
    c.handle_timeout(at);
    assert!(matches!(drain(c)[..], [Output::Connect { .. }]));
    c.handle_socket_open(at + 1);
    let (id, kind, body) = sent(&drain(c)).remove(0);
    assert_eq!(kind, RequestKind::Join);
    (id, body)
}

/// A hole makes the core resume from its last contiguous event; the server's replay fills it
/// and both events apply, in order.
#[test]
fn a_hole_resumes_from_the_last_contiguous_event_and_the_replay_fills_it() {
    let mut c = at_seq_one();
    hole(&mut c, 8, 3);
    let (id, body) = rejoin(&mut c, 9);
    assert_eq!(
        body["resume"],
        serde_json::json!({"session": "s", "last_seq": 1})
    );
    c.handle_socket_message(200, &encode_ok(id, &join_ok("s", 1, vec![], true)));
    c.handle_socket_message(201, &encode_event(2, &arrives(3)));
    c.handle_socket_message(202, &encode_event(3, &arrives(4)));
    assert_eq!(
        events(&drain(&mut c)),
        vec![
            AppEvent::Reconnected { resumed: true },
            AppEvent::ClientJoin { uid: 3 },
            AppEvent::ClientJoin { uid: 4 },
        ]
    );
    assert_eq!(c.last_seq(), 3);
    assert!(!c.is_reconnecting());
}

/// The resume's replay skips the same event again: the server cannot fill the hole, so the
/// next rejoin asks for a fresh session, and the snapshot brings the room as it is.
#[test]
fn the_same_hole_again_makes_the_next_rejoin_a_fresh_join() {
    let mut c = at_seq_one();
    hole(&mut c, 8, 3);
    let (id, _) = rejoin(&mut c, 9);
    c.handle_socket_message(200, &encode_ok(id, &join_ok("s", 1, vec![], true)));
    drain(&mut c);
    hole(&mut c, 201, 3);
    let (id, body) = rejoin(&mut c, 202);
    assert!(
        body.get("resume").is_none_or(serde_json::Value::is_null),
        "no resume asked: {body}"
    );
    let room = vec![member(2, Media::NONE), member(3, Media::NONE)];
    c.handle_socket_message(400, &encode_ok(id, &join_ok("s2", 0, room, false)));
    assert_eq!(
        events(&drain(&mut c)),
        vec![
            AppEvent::Reconnected { resumed: false },
            AppEvent::ClientJoin { uid: 3 },
        ],
        "the snapshot's difference arrives as ordinary events"
    );
    assert_eq!(c.session(), Some("s2"));
    // The new session's events start over, and a later hole resumes again (the memory of
    // the old session's hole is gone).
    c.handle_socket_message(401, &encode_event(1, &arrives(5)));
    assert_eq!(
        events(&drain(&mut c)),
        vec![AppEvent::ClientJoin { uid: 5 }]
    );
    c.handle_socket_message(402, &encode_event(3, &arrives(6)));
    drain(&mut c);
    let (_, body) = rejoin(&mut c, 403);
    assert_eq!(
        body["resume"],
        serde_json::json!({"session": "s2", "last_seq": 1})
    );
}

/// A repeat (a replay that overlaps what was applied) is not news and not a hole.
#[test]
fn a_repeated_or_older_event_is_ignored() {
    let mut c = at_seq_one();
    c.handle_socket_message(8, &encode_event(2, &arrives(3)));
    drain(&mut c);
    for seq in [0, 1, 2] {
        c.handle_socket_message(9, &encode_event(seq, &arrives(9)));
    }
    assert_eq!(drain(&mut c), vec![], "nothing applied, nothing dropped");
    assert_eq!(c.last_seq(), 2);
    assert!(!c.is_reconnecting());
}

/// The session's final event ends it whatever came before: a resume could not fill the
/// hole anyway (the server keeps only that frame for an ended session).
#[test]
fn a_kick_or_a_room_close_past_a_hole_is_still_applied() {
    let mut c = at_seq_one();
    c.handle_socket_message(
        8,
        &encode_event(
            5,
            &Event::Kicked {
                reason: KickReason::Kicked,
            },
        ),
    );
    let outs = drain(&mut c);
    assert!(
        events(&outs).contains(&AppEvent::Kicked {
            reason: KickReason::Kicked
        }),
        "{outs:?}"
    );
    assert!(!c.is_joined() && !c.is_reconnecting());

    let mut c = at_seq_one();
    c.handle_socket_message(8, &encode_event(4, &Event::RoomClosed {}));
    let outs = drain(&mut c);
    assert!(events(&outs).contains(&AppEvent::LiveRoomClose), "{outs:?}");
    assert!(!c.is_joined() && !c.is_reconnecting());
}
