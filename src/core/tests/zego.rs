//! What the core tells a ZEGO engine's client ([`ClientConfig::zego`]) that a NetEase client
//! is not told, and what both are told in the same words: the code a session's end is reported
//! with, and which component a recovered URL is for. Frame by frame, in virtual time.

use super::*;
use crate::protocol::frame::{encode_event, encode_ok};
use crate::protocol::json::Json;

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

/// Bob, with a user id and stream id of his own, and 3, a NetEase-style member with neither.
fn bob_and_three() -> Vec<MemberInfo> {
    vec![
        MemberInfo {
            uid: 2,
            role: Role::Broadcaster,
            live: Media::BOTH,
            user: Some(UserTag {
                id: "bob".into(),
                name: "Bob".into(),
            }),
            stream: Some("bob-cam".into()),
            ..Default::default()
        },
        member(3, Media::BOTH),
    ]
}

/// ZEGO names streams; a member that gave no stream id (a NetEase-style member) is named by
/// its uid in decimal, so both dialects can play each other. The rule lives here, not in the
/// shim, so the two cannot disagree.
#[test]
fn stream_ids_resolve_to_members_and_a_members_uid_names_a_stream_it_did_not_name() {
    let mut c = joined_as(zego_client(), bob_and_three());
    drain(&mut c);
    assert_eq!(c.uid_of_stream("bob-cam"), Some(2));
    assert_eq!(c.uid_of_stream("3"), Some(3));
    // Bob's stream has an id of its own; "03" is not how uid 3 is written; 9 is nobody.
    for nobody in ["2", "03", "9", ""] {
        assert_eq!(c.uid_of_stream(nobody), None, "{nobody:?}");
    }
    c.publish_as(20, Media::BOTH, Some("me-cam".into()))
        .unwrap();
    assert_eq!(c.uid_of_stream("me-cam"), Some(1));
}

/// ZEGO pages report component events by stream id: the core, not the shim, tells this
/// member's `<live-pusher>` (its own stream) from the `<live-player>` of another.
#[test]
fn a_stream_id_names_the_pusher_or_the_player_that_shows_it() {
    let mut c = joined_as(zego_client(), bob_and_three());
    drain(&mut c);
    assert_eq!(c.stream_component("me-cam"), None, "not published yet");
    c.publish_as(10, Media::BOTH, Some("me-cam".into()))
        .unwrap();
    drain(&mut c);
    let push = Some((ComponentKind::Push, None));
    assert_eq!(c.stream_component("me-cam"), push);
    let pull = |uid| Some((ComponentKind::Pull, Some(uid)));
    assert_eq!(c.stream_component("bob-cam"), pull(2));
    assert_eq!(c.stream_component("3"), pull(3));
    // A stream no member has: no component (the bridge drops a page's late report).
    assert_eq!(c.stream_component("gone"), None);
    let (kind, uid) = c.stream_component("bob-cam").unwrap();
    let playing = Json::from(&serde_json::json!({"code": 2004}));
    c.data_reporter(20, kind, ReportEvent::StateChange, &playing, uid)
        .unwrap();
    let evs = events(&drain_all(&mut c));
    assert!(
        matches!(evs[..], [AppEvent::PlayerState { uid: 2, .. }]),
        "{evs:?}"
    );
}
