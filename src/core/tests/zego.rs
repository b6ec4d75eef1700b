//! What the core tells a ZEGO engine's client ([`ClientConfig::zego`]) that a NetEase client
//! is not told, and what both are told in the same words: the code a session's end is reported
//! with, and which component a recovered URL is for. Frame by frame, in virtual time.

use super::*;
use crate::protocol::frame::{encode_event, encode_ok};

/// A client as the ZEGO engine makes it: with the ZEGO facts on.
fn zego_client() -> Client {
    let mut cfg = ClientConfig::new("app", "ws://127.0.0.1:1/ws").unwrap();
    cfg.zego = true;
    Client::new(cfg)
}

/// The ZEGO fact of a session ended with `code`.
fn ended(code: ErrorCode) -> AppEvent {
    AppEvent::Zego(ZegoFact::Ended { code })
}

#[test]
fn the_end_of_a_session_carries_the_code_zego_reports_it_with() {
    for (reason, code) in [
        (KickReason::Replaced, ErrorCode::UidInUse),
        (KickReason::Kicked, ErrorCode::SessionEnded),
        (KickReason::TokenExpired, ErrorCode::TokenExpired),
    ] {
        let mut c = joined_as(zego_client(), vec![]);
        drain(&mut c);
        c.handle_socket_message(10, &encode_event(1, &Event::Kicked { reason }));
        let evs = events(&drain(&mut c));
        // `kicked` as for NetEase, then its code.
        let at = evs.iter().position(|e| *e == AppEvent::Kicked { reason });
        assert_eq!(evs.get(at.unwrap() + 1), Some(&ended(code)), "{evs:?}");
    }
    let mut c = joined_as(zego_client(), vec![]);
    drain(&mut c);
    c.handle_socket_message(10, &encode_event(1, &Event::RoomClosed {}));
    let evs = events(&drain(&mut c));
    let at = evs.iter().position(|e| *e == AppEvent::LiveRoomClose);
    assert_eq!(
        evs.get(at.unwrap() + 1),
        Some(&ended(ErrorCode::SessionEnded))
    );
}

#[test]
fn a_netease_client_is_told_no_zego_facts() {
    let mut c = joined(vec![]);
    drain(&mut c);
    let kicked = Event::Kicked {
        reason: KickReason::Kicked,
    };
    c.handle_socket_message(10, &encode_event(1, &kicked));
    let evs = events(&drain(&mut c));
    assert!(evs.contains(&AppEvent::Kicked {
        reason: KickReason::Kicked
    }));
    assert!(
        evs.iter().all(|e| !matches!(e, AppEvent::Zego(_))),
        "{evs:?}"
    );
}

#[test]
fn a_token_that_expired_while_away_ends_a_zego_session_with_its_code() {
    // The rejoin after a lost connection is refused because the token expired meanwhile.
    let mut c = joined_as(zego_client(), vec![]);
    drain(&mut c);
    c.handle_socket_close(10, 1006, "gone");
    let mut now = 10;
    let id = loop {
        now += 100;
        c.handle_timeout(now);
        let outs = drain(&mut c);
        if outs.iter().any(|o| matches!(o, Output::Connect { .. })) {
            c.handle_socket_open(now);
            let reqs = sent(&drain(&mut c));
            break reqs.first().map(|r| r.0).unwrap();
        }
        assert!(now < 60_000, "no reconnect");
    };
    let err = WireError::new(ErrorCode::TokenExpired, "expired");
    c.handle_socket_message(now, &crate::protocol::frame::encode_err(Some(id), &err));
    let evs = events(&drain(&mut c));
    assert!(evs.contains(&ended(ErrorCode::TokenExpired)), "{evs:?}");
}

#[test]
fn a_recovered_url_says_which_component_it_is_for() {
    // The player: uid 2's <live-player> gave up and was subscribed again.
    let mut c = subscribed(Media::BOTH);
    let (pull, state) = (ComponentKind::Pull, ReportEvent::StateChange);
    report(
        &mut c,
        20,
        pull,
        state,
        serde_json::json!({"code": -2301}),
        Some(2),
    );
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    let ok = SubscribeOk {
        url: "rtmp://h/live/r.2?v=2".into(),
        flv_url: "http://h/live/r.2.flv?v=2".into(),
    };
    c.handle_socket_message(21, &encode_ok(id, &ok));
    let evs = events(&drain(&mut c));
    assert!(matches!(
        evs[..],
        [AppEvent::SyncDone {
            kind: ComponentKind::Pull,
            uid: 2,
            ..
        }]
    ));

    // The pusher: this member's <live-pusher> gave up and was published again.
    let mut c = publishing(Media::BOTH);
    let push = ComponentKind::Push;
    report(
        &mut c,
        20,
        push,
        state,
        serde_json::json!({"code": -1307}),
        None,
    );
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    let ok = PublishOk {
        url: "rtmp://h/live/r.1?v=2".into(),
        media: Media::BOTH,
    };
    c.handle_socket_message(21, &encode_ok(id, &ok));
    let evs = events(&drain(&mut c));
    assert!(matches!(
        evs[..],
        [AppEvent::SyncDone {
            kind: ComponentKind::Push,
            uid: 1,
            ..
        }]
    ));
}
