//! Joining, publishing, subscribing and leaving, and the typed refusals on the way.

use mprtc::core::{AppEvent, MediaKind, OpValue};
use mprtc::protocol::{ErrorCode, LeaveReason, Media, Role};
use mprtc_server::media::{MediaEvent, UrlKind};
use mprtc_server::signaling::HubOut;

use crate::common::VIDEO;
use crate::support::*;

#[test]
fn join_publish_subscribe_leave() {
    let mut net = Net::new(2);
    assert_eq!(net.join(0, "room1", 1), Ok(OpValue::Done));
    assert_eq!(net.events(0), vec![AppEvent::Open]);
    assert_eq!(net.join(1, "room1", 2), Ok(OpValue::Done));
    assert_eq!(
        net.events(1),
        vec![AppEvent::Open, AppEvent::ClientJoin { uid: 1 }]
    );
    assert_eq!(net.events(0), vec![AppEvent::ClientJoin { uid: 2 }]);

    let url = net.publish(0, Media::BOTH);
    let (query_room, uid) = media_room_of(&url);
    assert_eq!(uid, 1);
    let query = url.split_once('?').unwrap().1;
    let admitted = net
        .signer
        .verify(
            UrlKind::Push,
            &format!("{query_room}.1"),
            query,
            net.now / 1000,
        )
        .unwrap();
    assert_eq!(admitted.uid, 1);
    // Nothing is announced until media really flows.
    assert_eq!(net.events(1), vec![]);
    net.media(MediaEvent::PublishStarted {
        room: query_room.clone(),
        uid: 1,
    });
    assert_eq!(net.events(1), streams_added(1));
    assert_eq!(
        net.events(0),
        vec![],
        "the publisher does not hear about its own stream"
    );

    let play = net.run(1, |c, now| c.subscribe(now, 1, VIDEO)).unwrap();
    let OpValue::Play { url, flv_url } = play else {
        panic!("{play:?}")
    };
    let q = url.split_once('?').unwrap().1;
    let a = net
        .signer
        .verify(UrlKind::Play, &format!("{query_room}.1"), q, net.now / 1000)
        .unwrap();
    assert_eq!(a.viewer, Some(2));
    assert!(flv_url.contains(".flv?"));
    assert!(
        net.signer
            .verify(UrlKind::Push, &format!("{query_room}.1"), q, net.now / 1000)
            .is_err(),
        "a play URL cannot push"
    );

    // A third member arriving later sees the live stream in the snapshot.
    let mut net3 = net;
    net3.peers.push(Peer::new());
    assert_eq!(net3.join(2, "room1", 3), Ok(OpValue::Done));
    let ev = net3.events(2);
    assert!(
        ev.contains(&AppEvent::StreamAdded {
            uid: 1,
            media: MediaKind::Video
        }),
        "{ev:?}"
    );

    assert_eq!(net3.run(0, |c, now| c.leave(now)), Ok(OpValue::Done));
    assert_eq!(
        net3.events(1),
        vec![
            AppEvent::ClientJoin { uid: 3 },
            AppEvent::StreamRemoved {
                uid: 1,
                media: MediaKind::Audio
            },
            AppEvent::StreamRemoved {
                uid: 1,
                media: MediaKind::Video
            },
            AppEvent::ClientLeave {
                uid: 1,
                reason: LeaveReason::Left
            },
        ]
    );
    assert_eq!(
        net3.kicks,
        vec![(query_room, 1)],
        "the leaver's pusher is stopped"
    );
}

#[test]
fn refusals_are_typed() {
    let mut net = Net::new(3);
    net.join(0, "r", 1).unwrap();
    // subscribe to a member who publishes nothing
    net.join(1, "r", 2).unwrap();
    let e = net
        .run(1, |c, now| c.subscribe(now, 1, Media::BOTH))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotPublishing);
    let e = net
        .run(1, |c, now| c.subscribe(now, 99, Media::BOTH))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSuchMember);
    // audience cannot publish: the core refuses first, and so does the server
    net.run(1, |c, now| c.set_role(now, Role::Audience))
        .unwrap();
    assert_eq!(
        net.run(1, |c, now| c.publish(now, Media::BOTH))
            .unwrap_err()
            .code,
        ErrorCode::AudienceCannotPublish
    );
    let mut out = Vec::new();
    let sid = net.peers[1].sid.unwrap();
    net.hub.handle_frame(
        sid,
        r#"{"v":1,"id":77,"type":"publish","body":{"audio":true,"video":true}}"#,
        net.now,
        &mut out,
    );
    assert!(
        matches!(&out[..], [HubOut::Send(s, f)] if *s == sid && f.contains("\"re\":77") && f.contains("4022")),
        "{out:?}"
    );
    // the others see the role change
    assert!(net.events(0).contains(&AppEvent::RoleChanged {
        uid: 2,
        role: Role::Audience
    }));
}
