//! Joining, events in order, deadlines, errors, leaving and heartbeats.

use super::*;
use crate::protocol::frame::{encode_err, encode_event, encode_ok};
use crate::protocol::*;

/// Members already in the room appear to the app as later arrivals do: `clientJoin`, then
/// their streams, so an app has one code path for both.
#[test]
fn join_reports_existing_members_and_their_streams() {
    let mut c = client();
    c.join(0, "r", 1, Some("tok".into())).unwrap();
    drain(&mut c);
    c.handle_socket_open(1);
    let outs = drain(&mut c);
    let (id, _, body) = sent(&outs).remove(0);
    assert_eq!(body["token"], "tok");
    assert_eq!(body["uid"], 1);
    let ok = join_ok(
        "s",
        4,
        vec![MemberInfo {
            uid: 2,
            role: Role::Broadcaster,
            live: Media {
                audio: false,
                video: true,
            },
            ..Default::default()
        }],
        false,
    );
    c.handle_socket_message(2, &encode_ok(id, &ok));
    let evs = events(&drain(&mut c));
    assert_eq!(
        evs,
        vec![
            AppEvent::ClientJoin { uid: 2 },
            AppEvent::StreamAdded {
                uid: 2,
                media: MediaKind::Video
            }
        ]
    );
    assert_eq!(c.last_seq(), 4);
}

/// After a resume the server may send again what this client already applied: `seq` makes
/// applying an event idempotent, and an old one changes nothing.
#[test]
fn events_apply_in_seq_order_once() {
    let mut c = joined(vec![]);
    let ev = |seq, e: Event| encode_event(seq, &e);
    c.handle_socket_message(
        1,
        &ev(
            1,
            Event::MemberJoined {
                uid: 9,
                role: Role::Broadcaster,
                user: None,
            },
        ),
    );
    c.handle_socket_message(
        1,
        &ev(
            1,
            Event::MemberJoined {
                uid: 9,
                role: Role::Broadcaster,
                user: None,
            },
        ),
    ); // duplicate
    c.handle_socket_message(
        1,
        &ev(
            2,
            Event::StreamAdded {
                uid: 9,
                media: Media::BOTH,
                stream: None,
            },
        ),
    );
    c.handle_socket_message(
        1,
        &ev(
            3,
            Event::MemberLeft {
                uid: 9,
                reason: LeaveReason::Left,
            },
        ),
    );
    let evs = events(&drain(&mut c));
    assert_eq!(
        evs,
        vec![
            AppEvent::ClientJoin { uid: 9 },
            AppEvent::StreamAdded {
                uid: 9,
                media: MediaKind::Audio
            },
            AppEvent::StreamAdded {
                uid: 9,
                media: MediaKind::Video
            },
            AppEvent::StreamRemoved {
                uid: 9,
                media: MediaKind::Audio
            },
            AppEvent::StreamRemoved {
                uid: 9,
                media: MediaKind::Video
            },
            AppEvent::ClientLeave {
                uid: 9,
                reason: LeaveReason::Left
            },
        ]
    );
    assert_eq!(c.members().count(), 0);
}

/// Every request has its own deadline, from when it was made; the app hears
/// `sendCommandOverTime` and the call rejects with 1004.
#[test]
fn requests_time_out_at_their_deadline() {
    let mut c = joined(vec![]);
    let op = c.publish(100, Media::BOTH).unwrap();
    drain(&mut c);
    assert_eq!(c.poll_timeout(), Some(10_100));
    c.handle_timeout(10_099);
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(10_100);
    match &drain(&mut c)[..] {
        [Output::Event(AppEvent::SendCommandOverTime { command: "publish" }), Output::Reject { op: o, error }] =>
        {
            assert_eq!(*o, op);
            assert_eq!(error.code, ErrorCode::Timeout);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.poll_timeout(),
        Some(60_006),
        "only the next heartbeat is due"
    );
    assert!(
        c.is_joined(),
        "a timed-out publish does not end the session"
    );
}

/// A socket that never opens must not hang `join`: at the connect deadline the join rejects
/// and the socket is closed.
#[test]
fn connect_timeout_rejects_join_and_closes() {
    let mut c = client();
    let op = c.join(0, "r", 1, None).unwrap();
    drain(&mut c);
    c.handle_timeout(10_000);
    let outs = drain(&mut c);
    assert!(matches!(outs[0], Output::Close { .. }));
    assert!(
        matches!(&outs[1], Output::Reject { op: o, error } if *o == op && error.code == ErrorCode::ConnectionLost)
    );
    // A new join opens a new socket.
    c.join(20_000, "r", 1, None).unwrap();
    assert!(matches!(drain(&mut c)[..], [Output::Connect { .. }]));
}

/// The server's error codes reach the app unchanged, and a refused join leaves no half-joined
/// state behind (a second join must work).
#[test]
fn server_errors_reject_with_their_code_and_failed_join_cleans_up() {
    let mut c = client();
    let op = c.join(0, "r", 1, None).unwrap();
    drain(&mut c);
    c.handle_socket_open(1);
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(
        2,
        &encode_err(
            Some(id),
            &WireError::new(ErrorCode::TokenExpired, "expired"),
        ),
    );
    let outs = drain(&mut c);
    assert!(outs.iter().any(|o| matches!(o, Output::Close { .. })));
    assert!(outs.iter().any(|o| matches!(o, Output::Reject { op: x, error } if *x == op && error.code == ErrorCode::TokenExpired)));
    assert!(!c.is_joined());
    assert!(
        c.join(3, "r", 1, None).is_ok(),
        "can join again after a failed join"
    );
}

/// With reconnecting off, a lost socket ends the session at once: every pending call rejects
/// and `disconnect` says with which code.
#[test]
fn socket_loss_without_reconnect_rejects_pending_and_reports_disconnect() {
    let mut c = joined_as(no_reconnect(), vec![]);
    let op = c.subscribe(10, 5, Media::BOTH).unwrap();
    drain(&mut c);
    c.handle_socket_close(11, 1006, "gone");
    let outs = drain(&mut c);
    assert!(
        matches!(&outs[0], Output::Reject { op: x, error } if *x == op && error.code == ErrorCode::ConnectionLost)
    );
    assert_eq!(
        outs[1],
        Output::Event(AppEvent::Disconnect {
            code: 1006,
            reason: "connection closed (1006 gone)".into()
        })
    );
    assert!(!c.is_joined());
}

/// A newer server may send frames this client cannot read: they are counted, never fatal.
#[test]
fn garbage_from_the_server_is_ignored() {
    let mut c = joined(vec![]);
    for junk in [
        "",
        "{",
        "[]",
        r#"{"v":1}"#,
        r#"{"v":7,"re":1,"ok":true}"#,
        r#"{"v":1,"seq":1,"type":"zzz"}"#,
        r#"{"v":1,"re":999,"ok":true}"#,
    ] {
        c.handle_socket_message(1, junk);
    }
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.bad_frames, 6);
    assert!(c.is_joined());
}

/// Wrong arguments are the app's bugs: the call fails at once and nothing reaches the server.
#[test]
fn api_rules_are_checked_before_sending() {
    let mut c = client();
    assert_eq!(
        c.publish(0, Media::BOTH).unwrap_err().code,
        ErrorCode::NotJoined
    );
    assert_eq!(
        c.join(0, "bad room", 1, None).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    let mut c = joined(vec![]);
    assert_eq!(
        c.join(0, "r", 1, None).unwrap_err().code,
        ErrorCode::AlreadyJoined
    );
    assert_eq!(
        c.subscribe(0, 1, Media::BOTH).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    let op = c.set_role(0, Role::Audience).unwrap();
    let (id, kind, _) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::SetRole);
    c.handle_socket_message(1, &encode_ok(id, &serde_json::json!({})));
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::Done
        }]
    );
    assert_eq!(
        c.publish(2, Media::BOTH).unwrap_err().code,
        ErrorCode::AudienceCannotPublish
    );
    assert!(ClientConfig::new("", "ws://x").is_err());
    assert!(ClientConfig::new("a", "http://x").is_err());
}

/// `leave` closes for good (a normal close, which the server takes as goodbye), the close it
/// asked for is not reported as a disconnect, and a `leave` with nothing joined resolves at once.
#[test]
fn leave_closes_and_allows_a_new_join() {
    let mut c = joined(vec![]);
    let op = c.leave(1).unwrap();
    let (id, kind, _) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::Leave);
    c.handle_socket_message(2, &encode_ok(id, &serde_json::json!({})));
    let outs = drain(&mut c);
    assert!(matches!(outs[0], Output::Close { code: 1000, .. }));
    assert_eq!(
        outs[1],
        Output::Resolve {
            op,
            value: OpValue::Done
        }
    );
    c.handle_socket_close(3, 1000, "");
    assert!(
        drain(&mut c).is_empty(),
        "our own close is not a disconnect"
    );
    // leave when not joined resolves at once
    let op = c.leave(4).unwrap();
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::Done
        }]
    );
}

/// `destroy` settles every pending promise (rejected, cancelled) so no app code waits forever.
#[test]
fn destroy_rejects_everything_pending_and_closes() {
    let mut c = joined(vec![]);
    let a = c.publish(1, Media::BOTH).unwrap();
    let b = c.subscribe(1, 2, Media::BOTH).unwrap();
    drain(&mut c);
    c.destroy();
    let outs = drain(&mut c);
    let rejected: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Reject { op, error } if error.code == ErrorCode::Cancelled => Some(*op),
            _ => None,
        })
        .collect();
    assert_eq!(rejected, vec![a, b]);
    assert!(outs.iter().any(|o| matches!(o, Output::Close { .. })));
    assert!(!c.is_joined());
    assert_eq!(c.poll_timeout(), None);
}

/// Heartbeats both measure the round trip and detect a dead connection that never reported
/// its close (common after WeChat suspends a page).
#[test]
fn heartbeats_measure_rtt_and_a_missed_one_means_a_dead_connection() {
    let mut c = client();
    c.join(0, "r", 1, None).unwrap();
    drain(&mut c);
    c.handle_socket_open(0);
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    let ok = JoinOk {
        ping_interval_ms: 1000,
        ping_timeout_ms: 3000,
        ..join_ok("s", 0, vec![], false)
    };
    c.handle_socket_message(10, &encode_ok(id, &ok));
    drain(&mut c);
    assert_eq!(c.poll_timeout(), Some(1010));
    c.handle_timeout(1010);
    let (id, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!((kind, body["ts"].as_u64()), (RequestKind::Ping, Some(1010)));
    c.handle_socket_message(
        1052,
        &encode_ok(
            id,
            &PingOk {
                ts: 1010,
                server_time_ms: 5,
            },
        ),
    );
    assert_eq!(c.rtt_ms, Some(42));
    assert!(drain(&mut c).is_empty(), "pings are invisible to the app");
    // The next ping gets no answer: at its deadline the connection counts as dead.
    c.handle_timeout(2010);
    assert_eq!(sent(&drain(&mut c))[0].1, RequestKind::Ping);
    let op = c.publish(2500, Media::BOTH).unwrap();
    drain(&mut c);
    c.handle_timeout(4999);
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(5010);
    let outs = drain(&mut c);
    assert!(matches!(outs[0], Output::Close { .. }), "{outs:?}");
    // The dead connection is replaced, and the publish waits for the next one.
    assert!(!outs
        .iter()
        .any(|o| matches!(o, Output::Reject { op: x, .. } if *x == op)));
    assert!(c.is_reconnecting());
    assert_eq!(
        outs.last(),
        Some(&Output::Event(AppEvent::WillReconnect {
            count: 1,
            gap: false
        }))
    );
    let mut c = joined_as(no_reconnect(), vec![]);
    c.handle_timeout(60_006);
    drain(&mut c);
    let op = c.publish(60_010, Media::BOTH).unwrap();
    c.handle_timeout(60_006 + 60_000);
    let outs = drain(&mut c);
    assert!(outs.iter().any(|o| matches!(o, Output::Reject { op: x, error } if *x == op && error.code == ErrorCode::ConnectionLost)));
    assert_eq!(
        outs.last(),
        Some(&Output::Event(AppEvent::Disconnect {
            code: HEARTBEAT_CLOSE_CODE,
            reason: "heartbeat timeout: the connection is dead".into()
        }))
    );
    assert!(!c.is_joined());
    c.handle_socket_close(5020, 1000, "");
    assert!(
        drain(&mut c).is_empty(),
        "the close that follows is not news"
    );
}
