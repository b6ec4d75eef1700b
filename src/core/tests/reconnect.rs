//! Reconnecting, frame by frame in virtual time. The thousands of seeded fault runs against the
//! real hub live in `server/tests/faults/`; these pin the details one at a time.

use super::*;
use crate::protocol::frame::{encode_err, encode_event, encode_ok};
use crate::protocol::*;

/// A client with the default reconnect policy and the given jitter seed (a seed makes a
/// run's backoff reproducible).
fn client(seed: u64) -> Client {
    let mut cfg = ClientConfig::new("app", "ws://127.0.0.1:1/ws").unwrap();
    cfg.seed = seed;
    Client::new(cfg)
}

/// Drop the connection at `now` and run the clock until the core opens the next socket;
/// returns when that happened.
fn lose_and_reopen(c: &mut Client, now: u64) -> u64 {
    c.handle_socket_close(now, 1006, "");
    let outs = drain(c);
    assert_eq!(
        events(&outs),
        vec![AppEvent::WillReconnect {
            count: 1,
            gap: false
        }]
    );
    let at = c.poll_timeout().expect("a retry is scheduled");
    assert!(at <= now + 100, "the first retry is fast: {}", at - now);
    c.handle_timeout(at);
    assert!(matches!(drain(c)[..], [Output::Connect { .. }]));
    at
}

/// Let `n` reconnect attempts run and fail (the phone has no network).
fn fail_attempts(c: &mut Client, n: usize) {
    for attempt in 0..n {
        let at = c.poll_timeout().expect("a retry is scheduled");
        c.handle_timeout(at);
        assert!(
            matches!(drain(c)[..], [Output::Connect { .. }]),
            "attempt {attempt} opens a socket"
        );
        c.handle_socket_close(at + 1, 1006, "offline");
        drain(c);
    }
}

/// A resumed session loses nothing: requests unanswered at the drop go again with the same
/// ids, which the server answers from its cache rather than doing them twice.
#[test]
fn a_drop_resumes_the_session_and_resends_what_was_unanswered_with_the_same_ids() {
    let mut c = joined_as(client(1), vec![member(2, Media::NONE)]);
    c.handle_socket_message(
        7,
        &encode_event(
            1,
            &Event::RoleChanged {
                uid: 2,
                role: Role::Audience,
            },
        ),
    );
    drain(&mut c);
    let op = c.publish(10, Media::BOTH).unwrap();
    let (pub_id, _, _) = sent(&drain(&mut c)).remove(0);
    let at = lose_and_reopen(&mut c, 20);
    // Nothing goes out before the socket opens; then the rejoin first, then the publish.
    c.handle_socket_open(at + 5);
    let outs = drain(&mut c);
    let frames = sent(&outs);
    assert_eq!(frames.len(), 2, "{outs:?}");
    let (rejoin_id, kind, body) = &frames[0];
    assert_eq!(*kind, RequestKind::Join);
    assert_eq!(
        body["resume"],
        serde_json::json!({"session": "s", "last_seq": 1})
    );
    assert_eq!((frames[1].0, frames[1].1), (pub_id, RequestKind::Publish));
    // Resumed: the missed event follows the answer; the publish is answered (maybe from the
    // server's cache) and resolves once.
    c.handle_socket_message(
        at + 6,
        &encode_ok(*rejoin_id, &join_ok("s", 1, vec![], true)),
    );
    c.handle_socket_message(
        at + 7,
        &encode_event(
            2,
            &Event::MemberLeft {
                uid: 2,
                reason: LeaveReason::Left,
            },
        ),
    );
    let ok = PublishOk {
        url: "rtmp://x/live/m.1".into(),
        media: Media::BOTH,
    };
    c.handle_socket_message(at + 8, &encode_ok(pub_id, &ok));
    c.handle_socket_message(at + 9, &encode_ok(pub_id, &ok));
    let outs = drain(&mut c);
    assert_eq!(
        events(&outs),
        vec![
            AppEvent::Reconnected { resumed: true },
            AppEvent::ClientLeave {
                uid: 2,
                reason: LeaveReason::Left
            }
        ]
    );
    let resolved: Vec<_> = outs
        .iter()
        .filter(|o| matches!(o, Output::Resolve { op: x, .. } if *x == op))
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(c.last_seq(), 2);
    assert!(!c.is_reconnecting());
}

/// When the server no longer has the session, the app sees the room's changes as ordinary
/// events and the core restores what this member had: role, publication, subscriptions.
#[test]
fn a_new_session_shows_the_difference_and_restores_publication_and_subscriptions() {
    let mut c = joined_as(
        client(2),
        vec![member(2, Media::BOTH), member(3, Media::BOTH)],
    );
    drain(&mut c);
    let op = c.publish(10, Media::BOTH).unwrap();
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(
        11,
        &encode_ok(
            id,
            &PublishOk {
                url: "u".into(),
                media: Media::BOTH,
            },
        ),
    );
    c.subscribe(12, 2, Media::BOTH).unwrap();
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(
        13,
        &encode_ok(
            id,
            &SubscribeOk {
                url: "p".into(),
                flv_url: "f".into(),
            },
        ),
    );
    drain(&mut c);
    let _ = op;
    let at = lose_and_reopen(&mut c, 20);
    c.handle_socket_open(at + 1);
    let (rejoin, _, _) = sent(&drain(&mut c)).remove(0);
    // The server restarted: 3 is gone, 4 is new, 2 stopped its audio.
    let video = Media {
        audio: false,
        video: true,
    };
    let ok = join_ok(
        "s2",
        0,
        vec![member(2, video), member(4, Media::NONE)],
        false,
    );
    c.handle_socket_message(at + 2, &encode_ok(rejoin, &ok));
    let outs = drain(&mut c);
    assert_eq!(
        events(&outs),
        vec![
            AppEvent::Reconnected { resumed: false },
            AppEvent::StreamRemoved {
                uid: 3,
                media: MediaKind::Audio
            },
            AppEvent::StreamRemoved {
                uid: 3,
                media: MediaKind::Video
            },
            AppEvent::ClientLeave {
                uid: 3,
                reason: LeaveReason::ConnectionLost
            },
            AppEvent::StreamRemoved {
                uid: 2,
                media: MediaKind::Audio
            },
            AppEvent::ClientJoin { uid: 4 },
        ]
    );
    // Publication and the subscription to 2 are asked for again; their URLs come as syncDone.
    let again = sent(&outs);
    assert_eq!(again.len(), 2, "{again:?}");
    assert_eq!(again[0].1, RequestKind::Publish);
    assert_eq!(
        (again[1].1, again[1].2["uid"].as_u64()),
        (RequestKind::Subscribe, Some(2))
    );
    c.handle_socket_message(
        at + 3,
        &encode_ok(
            again[0].0,
            &PublishOk {
                url: "u2".into(),
                media: Media::BOTH,
            },
        ),
    );
    c.handle_socket_message(
        at + 4,
        &encode_ok(
            again[1].0,
            &SubscribeOk {
                url: "p2".into(),
                flv_url: "f2".into(),
            },
        ),
    );
    assert_eq!(
        events(&drain(&mut c)),
        vec![
            AppEvent::SyncDone {
                kind: ComponentKind::Push,
                uid: 1,
                url: "u2".into()
            },
            AppEvent::SyncDone {
                kind: ComponentKind::Pull,
                uid: 2,
                url: "p2".into()
            },
        ]
    );
    assert_eq!(c.session(), Some("s2"));
}

/// WeChat allows few sockets per mini-program: the next socket waits for the old one's close
/// (up to a grace period), so a slow close never leaves two open.
#[test]
fn one_socket_at_a_time_even_when_the_old_one_is_slow_to_close() {
    let mut c = joined_as(client(3), vec![]);
    // The heartbeat finds the connection dead: the core closes it and waits for its close.
    c.handle_timeout(60_006);
    let (ping, _, _) = sent(&drain(&mut c)).remove(0);
    let _ = ping;
    c.handle_timeout(120_006);
    let outs = drain(&mut c);
    assert!(
        matches!(
            outs[0],
            Output::Close {
                code: RECONNECT_CLOSE_CODE,
                ..
            }
        ),
        "{outs:?}"
    );
    // No new socket while the old one has not reported its close...
    c.handle_timeout(120_200);
    assert!(drain(&mut c).is_empty());
    // ...unless it never does: after a grace period the core goes on.
    let at = c.poll_timeout().unwrap();
    assert_eq!(at, 122_006);
    c.handle_timeout(at);
    assert!(matches!(drain(&mut c)[..], [Output::Connect { .. }]));
    // A close event that arrives late changes nothing.
    c.handle_socket_close(at + 1, 1006, "");
    assert!(drain(&mut c)
        .iter()
        .all(|o| !matches!(o, Output::Connect { .. })));
}

/// After WeChat suspended the page, waiting out the backoff would only add delay: coming back
/// to the foreground retries at once.
#[test]
fn coming_back_from_the_background_retries_at_once() {
    let mut c = joined_as(client(4), vec![]);
    c.app_hidden(100);
    c.handle_socket_close(200, 1006, "");
    drain(&mut c);
    // Suppose the retry timer was frozen while hidden; much later the app is shown.
    fail_attempts(&mut c, 3);
    let due = c.poll_timeout().unwrap();
    c.app_shown(due - 400);
    assert!(
        matches!(drain(&mut c)[..], [Output::Connect { .. }]),
        "shown: no waiting for the backoff timer"
    );
}

/// Reconnecting ends after `reconnectTimeout`: pending calls reject with typed codes and the
/// app gets `reconnectFailed` then `disconnect`, never a silent stall.
#[test]
fn giving_up_ends_the_session_with_typed_reasons() {
    let mut c = joined_as(client(5), vec![]);
    let op = c.subscribe(10, 2, Media::BOTH).unwrap();
    drain(&mut c);
    let mut now = 20;
    c.handle_socket_close(now, 1006, "");
    let mut seen = events(&drain(&mut c));
    // A call made late in the outage is still pending (its own deadline is 10 s away) when
    // the core gives up: it must reject with 1009, not hang or time out.
    let mut late = None;
    let mut rejected = Vec::new();
    while c.is_reconnecting() {
        now = c.poll_timeout().unwrap();
        c.handle_timeout(now);
        if now > 52_000 && late.is_none() {
            late = Some(c.mute(now, Media::BOTH).unwrap());
        }
        let mut outs = drain(&mut c);
        if outs.iter().any(|o| matches!(o, Output::Connect { .. })) {
            c.handle_socket_close(now + 1, 1006, "offline");
            outs.extend(drain(&mut c));
        }
        seen.extend(events(&outs));
        rejected.extend(outs.into_iter().filter_map(|o| match o {
            Output::Reject { op, error } => Some((op, error.code)),
            _ => None,
        }));
        // The subscribe's own deadline passes meanwhile.
        if now > 100_000 {
            panic!("never gave up");
        }
    }
    assert!(now <= 20 + 60_000, "gave up within the budget: {now}");
    let tail = &seen[seen.len() - 2..];
    assert!(
        matches!(tail[0], AppEvent::ReconnectFailed { attempts, elapsed_ms } if attempts > 5 && elapsed_ms <= 60_000),
        "{tail:?}"
    );
    assert!(
        matches!(&tail[1], AppEvent::Disconnect { code: 1006, reason } if reason.starts_with("gave up reconnecting"))
    );
    assert!(seen.contains(&AppEvent::SendCommandOverTime {
        command: "subscribe"
    }));
    let late = late.expect("the outage lasted past 52 s");
    assert_eq!(
        rejected,
        vec![(op, ErrorCode::Timeout), (late, ErrorCode::ReconnectFailed)],
        "the subscribe timed out (1004) on its own; the late call rejects at the give-up"
    );
    assert_eq!(ErrorCode::ReconnectFailed.as_u16(), 1009);
    assert!(!c.is_joined());
    // Willreconnect counts up, one per attempt.
    let counts: Vec<u32> = seen
        .iter()
        .filter_map(|e| match e {
            AppEvent::WillReconnect { count, .. } => Some(*count),
            _ => None,
        })
        .collect();
    assert_eq!(counts, (1..=counts.len() as u32).collect::<Vec<_>>());
}

/// A joined client loses its connection, reopens, and the server answers its rejoin with
/// `before` (events) and then the error `code`; returns the client and what it did then.
fn rejoin_refused(seed: u64, before: &[Event], code: ErrorCode) -> (Client, Vec<Output>) {
    let mut c = joined_as(client(seed), vec![]);
    let at = lose_and_reopen(&mut c, 10);
    c.handle_socket_open(at + 1);
    let (rejoin, _, _) = sent(&drain(&mut c)).remove(0);
    for (i, ev) in before.iter().enumerate() {
        c.handle_socket_message(at + 2, &encode_event(i as u64 + 1, ev));
    }
    let refusal = encode_err(Some(rejoin), &WireError::new(code, "refused"));
    c.handle_socket_message(at + 3, &refusal);
    let outs = drain(&mut c);
    (c, outs)
}

/// A rejoin refused for good ends the session (an overloaded server is tried again); a session
/// the server ended meanwhile reports its own end (`kicked`) first, so the app learns why.
#[test]
fn a_refused_rejoin_ends_the_session_and_an_ended_one_shows_why() {
    // The token expired while away.
    let (c, outs) = rejoin_refused(6, &[], ErrorCode::TokenExpired);
    assert_eq!(
        events(&outs),
        vec![AppEvent::Kicked {
            reason: KickReason::TokenExpired
        }]
    );
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Close { code: 1000, .. })));
    assert!(!c.is_joined());

    // Kicked by the server API while away: the final event comes before the refusal.
    let kicked = Event::Kicked {
        reason: KickReason::Kicked,
    };
    let (c, outs) = rejoin_refused(7, &[kicked], ErrorCode::SessionEnded);
    assert_eq!(
        events(&outs),
        vec![AppEvent::Kicked {
            reason: KickReason::Kicked
        }]
    );
    assert!(!c.is_joined() && !c.is_reconnecting());

    // An overloaded server is tried again.
    let (c, outs) = rejoin_refused(8, &[], ErrorCode::LimitExceeded);
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Close {
            code: RECONNECT_CLOSE_CODE,
            ..
        }
    )));
    assert_eq!(
        events(&outs),
        vec![AppEvent::WillReconnect {
            count: 2,
            gap: false
        }]
    );
    assert!(c.is_joined() && c.is_reconnecting());
}

/// `leave` while offline need not wait for the server: it ends the session here and no
/// reconnect follows.
#[test]
fn leaving_while_reconnecting_is_local_and_final() {
    let mut c = joined_as(client(9), vec![]);
    c.handle_socket_close(10, 1006, "");
    drain(&mut c);
    let op = c.leave(11).unwrap();
    let outs = drain(&mut c);
    assert!(outs.contains(&Output::Resolve {
        op,
        value: OpValue::Done
    }));
    assert!(!c.is_joined() && !c.is_reconnecting());
    assert_eq!(c.poll_timeout(), None, "no retry left behind");
}

/// A network change often kills sockets without a close event: when the network is back, a
/// waiting reconnect goes at once and an open socket is checked with a ping.
#[test]
fn the_network_coming_back_retries_at_once_and_checks_an_open_socket() {
    // Waiting on backoff: the network is back, so no more waiting.
    let mut c = joined_as(client(10), vec![]);
    c.handle_socket_close(100, 1006, "");
    drain(&mut c);
    fail_attempts(&mut c, 3);
    let due = c.poll_timeout().unwrap();
    c.network_changed(due - 300, false);
    assert!(drain(&mut c).is_empty(), "still offline: keep waiting");
    c.network_changed(due - 300, true);
    assert!(matches!(drain(&mut c)[..], [Output::Connect { .. }]));

    // An open socket after a network switch: pinged now, not at the next heartbeat.
    let mut c = joined_as(client(11), vec![]);
    c.network_changed(1_000, true);
    let pings = sent(&drain(&mut c));
    assert_eq!(pings.len(), 1);
    assert_eq!(pings[0].1, RequestKind::Ping);
}

/// The mute a fresh session restores is the core's own request: when it fails (here, no
/// answer) the app hears nothing, in particular no rejection of an operation it never made
/// (it used to get `reject` for op 0, which the fault runs caught).
#[test]
fn a_restored_mute_that_fails_rejects_nothing() {
    let mut c = joined_as(client(3), vec![]);
    let op = c.mute(10, Media::BOTH).unwrap();
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(11, &encode_ok(id, &crate::protocol::json::Empty));
    assert!(matches!(drain(&mut c)[..], [Output::Resolve { op: o, .. }] if o == op));
    let at = lose_and_reopen(&mut c, 20);
    c.handle_socket_open(at + 1);
    let (rejoin, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(at + 2, &encode_ok(rejoin, &join_ok("s2", 0, vec![], false)));
    let outs = drain(&mut c);
    assert!(
        sent(&outs).iter().any(|(_, k, _)| *k == RequestKind::Mute),
        "the mute is restored: {outs:?}"
    );
    let mut now = at + 2;
    while now < at + 60_000 {
        now = c.poll_timeout().unwrap().max(now + 1);
        c.handle_timeout(now);
        let outs = drain(&mut c);
        assert!(
            !outs
                .iter()
                .any(|o| matches!(o, Output::Reject { .. } | Output::Resolve { .. })),
            "{outs:?}"
        );
        if outs.iter().any(|o| matches!(o, Output::Close { .. })) {
            break; // the heartbeat gave up on the silent server: another story
        }
    }
}
