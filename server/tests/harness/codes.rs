//! The server's error codes that no other test reaches, each on the path a client takes to it:
//! 4021 (a second join on one connection), 4014 (subscribing, and push tasks, without the
//! privilege), 4012 and 4013 (renewing with a token that does not fit), 4030 (rejoining a
//! session the server ended) and 5000 (an app configured without its secret).

use std::collections::HashMap;

use mprtc::core::{AppEvent, OpValue};
use mprtc::protocol::{ErrorCode, Event, KickReason, LeaveReason, Media, Resume, ServerFrame};
use mprtc_server::config::AppConfig;
use mprtc_server::signaling::Hub;
use mprtc_server::token::{self, Privileges};

use crate::common::{self, SECRET, VIDEO};
use crate::support::*;

/// A token of app `sec` for room "r" and `uid`, valid for ten minutes from `now_ms`.
fn sec_token(uid: u64, p: Privileges, now_ms: u64) -> String {
    token::mint(SECRET.as_bytes(), "sec", "r", uid, p, now_ms / 1000, 600)
}

/// Peers of app `sec` in room "r", peer `i` as uid `i + 1` with `privileges[i]`.
fn sec_room(privileges: &[Privileges]) -> Net {
    let mut net = Net::new(privileges.len());
    for (i, p) in privileges.iter().enumerate() {
        net = net.with_app(i, "sec");
        let t = sec_token(i as u64 + 1, *p, net.now);
        net.run(i, |c, now| c.join(now, "r", i as u64 + 1, Some(t)))
            .unwrap();
        net.events(i);
    }
    net
}

#[test]
fn a_second_join_on_one_connection_is_4021_and_changes_nothing() {
    let mut net = Net::new(2).joined(2);
    // The SDK refuses before asking (1003); a client that asks anyway gets 4021.
    assert_eq!(
        net.peers[0]
            .core
            .join(net.now, "x", 5, None)
            .unwrap_err()
            .code,
        ErrorCode::AlreadyJoined
    );
    let sid = net.peers[0].sid.unwrap();
    for (id, room, uid) in [(40, "x", 5), (41, "r", 1), (42, "r", 3)] {
        let (mine, rest) = raw(
            &mut net.hub,
            sid,
            &join_frame(id, "dbg", room, uid, None, None),
            net.now,
        );
        assert_eq!(
            mine.iter().map(refusal).collect::<Vec<_>>(),
            vec![(Some(id), ErrorCode::AlreadyInRoom)]
        );
        assert_eq!(rest, vec![], "nothing else happens");
    }
    assert_eq!(net.hub.room_count(), 1);
    assert_eq!(net.hub.snapshot("dbg", "r").len(), 2);
    net.pump();
    assert_eq!(net.events(1), vec![], "the others noticed nothing");
    assert!(net.peers[0].core.is_joined());
}

/// A token without `subscribe` joins and publishes, but gets no play URL (4014), its URLs would
/// not play, and its push tasks may show only itself; a token with `tasks: false` keeps a
/// broadcaster from managing tasks, and `tasks: true` lets an audience member do it.
#[test]
fn subscribing_and_tasks_need_their_privileges() {
    let no_subscribe = Privileges {
        subscribe: false,
        ..Privileges::default()
    };
    let no_tasks = Privileges {
        tasks: Some(false),
        ..Privileges::default()
    };
    let audience_tasks = Privileges {
        publish: false,
        tasks: Some(true),
        ..Privileges::default()
    };
    let mut net = sec_room(&[
        Privileges::default(),
        no_subscribe,
        no_tasks,
        audience_tasks,
    ]);
    let mroom = net.go_live(0, Media::BOTH);
    assert_eq!(
        net.refused(1, |c, now| c.subscribe(now, 1, VIDEO)),
        ErrorCode::PermissionDenied
    );
    assert!(!net.hub.may_play(&mroom, 2));
    assert!(net.hub.may_play(&mroom, 3));
    // It still publishes, and the others may watch it.
    net.go_live(1, VIDEO);
    assert!(matches!(
        net.run(0, |c, now| c.subscribe(now, 2, VIDEO)),
        Ok(OpValue::Play { .. })
    ));
    // A task showing another member would let it watch what it may not: refused.
    assert_eq!(
        net.refused(1, |c, now| c.add_tasks(now, &tasks_req("t1", &[1, 2]))),
        ErrorCode::PermissionDenied
    );
    assert_eq!(net.tasks, vec![]);
    net.run(1, |c, now| c.add_tasks(now, &tasks_req("t1", &[2])))
        .unwrap();
    assert_eq!(net.tasks.len(), 1, "a task of itself only is fine");

    assert_eq!(
        net.refused(2, |c, now| c.add_tasks(now, &tasks_req("t2", &[3]))),
        ErrorCode::PermissionDenied
    );
    assert_eq!(
        net.refused(2, |c, now| c.delete_tasks(now, r#"{"taskIds":["t1"]}"#)),
        ErrorCode::PermissionDenied
    );
    assert_eq!(net.peers[3].core.role(), mprtc::protocol::Role::Audience);
    net.run(3, |c, now| c.delete_tasks(now, r#"{"taskIds":["t1"]}"#))
        .unwrap();
    assert_eq!(net.hub.api_list_tasks("sec", "r").unwrap().len(), 0);
}

/// `renew-token` on the server path: an app without tokens has nothing to renew (4012), and a
/// token that is expired (4013), forged or for another room (4012) changes nothing.
#[test]
fn a_renewal_that_does_not_fit_is_refused_with_its_code() {
    let mut net = Net::new(1);
    net.join(0, "r", 1).unwrap();
    let any = sec_token(1, Privileges::default(), net.now);
    assert_eq!(
        net.refused(0, |c, now| c.renew_token(now, any)),
        ErrorCode::TokenInvalid
    );

    let mut net = sec_room(&[Privileges::default()]);
    let now_s = net.now / 1000;
    let p = Privileges::default();
    let expired = token::mint(SECRET.as_bytes(), "sec", "r", 1, p, now_s - 700, 600);
    let forged = token::mint(b"not-the-secret", "sec", "r", 1, p, now_s, 600);
    let other_room = token::mint(SECRET.as_bytes(), "sec", "elsewhere", 1, p, now_s, 600);
    for (t, code) in [
        (expired, ErrorCode::TokenExpired),
        (forged, ErrorCode::TokenInvalid),
        (other_room, ErrorCode::TokenInvalid),
        ("not a token".to_owned(), ErrorCode::TokenInvalid),
    ] {
        assert_eq!(net.refused(0, |c, now| c.renew_token(now, t)), code);
    }
    assert!(net.peers[0].core.is_joined());
    assert_eq!(net.events(0), vec![], "the session goes on");
}

/// A member kicked while its connection was down comes back to resume: it is shown the
/// `kicked` it missed, then 4030, and stops; the SDK reports the kick, not a reconnect. A rejoin
/// naming a session the room's close ended is shown `liveRoomClose` the same way. Once the
/// resume window is over the server has forgotten the session: a rejoin is a fresh join.
#[test]
fn a_rejoin_of_a_session_the_server_ended_is_told_how_then_4030() {
    let mut net = Net::new(2).joined(2);
    let session = net.peers[0].core.session().unwrap().to_owned();
    net.cut(0);
    let mut out = Vec::new();
    net.hub.api_kick("dbg", "r", 1, net.now, &mut out).unwrap();
    deliver(&mut net, out);
    assert_eq!(
        net.events(1),
        vec![AppEvent::ClientLeave {
            uid: 1,
            reason: LeaveReason::Kicked
        }]
    );
    // The SDK reconnects and asks to resume.
    net.advance(100);
    let ev = net.events(0);
    assert!(
        ev.ends_with(&[AppEvent::Kicked {
            reason: KickReason::Kicked
        }]),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, AppEvent::Reconnected { .. })));
    assert!(!net.peers[0].core.is_joined() && !net.peers[0].core.is_reconnecting());

    // The same rejoin as raw frames: the final event, then the refusal.
    let rejoin = |session: &str| {
        let resume = Resume {
            session: session.to_owned(),
            last_seq: 0,
        };
        join_frame(7, "dbg", "r", 1, None, Some(resume))
    };
    let sid = net.hub.connect();
    let (mine, _) = raw(&mut net.hub, sid, &rejoin(&session), net.now);
    assert!(
        matches!(
            &mine[0],
            ServerFrame::Event {
                event: Event::Kicked {
                    reason: KickReason::Kicked
                },
                ..
            }
        ),
        "{mine:?}"
    );
    assert_eq!(refusal(&mine[1]), (Some(7), ErrorCode::SessionEnded));
    assert_eq!(mine.len(), 2);

    // The room is closed by the server API: its members' sessions end the same way.
    let other = net.peers[1].core.session().unwrap().to_owned();
    let mut out = Vec::new();
    net.hub
        .api_close_room("dbg", "r", net.now, &mut out)
        .unwrap();
    deliver(&mut net, out);
    assert_eq!(net.events(1), vec![AppEvent::LiveRoomClose]);
    let late = |session: &str, uid| {
        let resume = Resume {
            session: session.to_owned(),
            last_seq: 0,
        };
        join_frame(8, "dbg", "r", uid, None, Some(resume))
    };
    let sid = net.hub.connect();
    let (mine, _) = raw(&mut net.hub, sid, &late(&other, 2), net.now);
    assert!(
        matches!(
            &mine[0],
            ServerFrame::Event {
                event: Event::RoomClosed {},
                ..
            }
        ),
        "{mine:?}"
    );
    assert_eq!(refusal(&mine[1]), (Some(8), ErrorCode::SessionEnded));

    // Only the member the session was for is told: another uid naming it joins afresh.
    let sid = net.hub.connect();
    let (mine, _) = raw(&mut net.hub, sid, &late(&other, 3), net.now);
    assert!(
        matches!(&mine[..], [ServerFrame::Ok { re: 8, .. }]),
        "{mine:?}"
    );

    // After the resume window the ended sessions are forgotten.
    let mut out = Vec::new();
    net.hub.tick(net.now + 30_000, &mut out);
    let sid = net.hub.connect();
    let (mine, _) = raw(&mut net.hub, sid, &rejoin(&session), net.now + 30_000);
    assert!(
        matches!(&mine[..], [ServerFrame::Ok { re: 7, .. }]),
        "{mine:?}"
    );
}

/// A secure app whose secret is missing (the config check makes it impossible; a hub built
/// without it) refuses every token with 5000 rather than admit anyone.
#[test]
fn a_secure_app_without_its_secret_refuses_with_5000() {
    let app = AppConfig {
        key: "broken".into(),
        secret: None,
        insecure: false,
        max_rooms: None,
        webhooks: Vec::new(),
        webhook_queue: None,
    };
    let apps = HashMap::from([("broken".to_owned(), app)]);
    let (_, signer) = common::hub();
    let mut hub = Hub::new(apps, signer, 4096, common::seed(1));
    let now = 1_700_000_000_000;
    let t = sec_token(1, Privileges::default(), now);
    let sid = hub.connect();
    let (mine, _) = raw(
        &mut hub,
        sid,
        &join_frame(1, "broken", "r", 1, Some(t), None),
        now,
    );
    assert_eq!(refusal(&mine[0]), (Some(1), ErrorCode::Internal));
    let (mine, _) = raw(
        &mut hub,
        sid,
        &join_frame(2, "broken", "r", 1, None, None),
        now,
    );
    assert_eq!(refusal(&mine[0]), (Some(2), ErrorCode::TokenRequired));
    assert_eq!(hub.room_count(), 0);
}
