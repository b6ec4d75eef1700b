//! Streams that stop: `unpublish` of one kind and of everything, `unsubscribe`, and a
//! publisher that turns audience — what the others hear, and which pushers the server stops.

use mprtc::core::{AppEvent, MediaKind, OpValue};
use mprtc::protocol::{ErrorCode, Media, Role};
use mprtc_server::media::MediaEvent;

use crate::common::{AUDIO, VIDEO};
use crate::support::*;

/// Three members: 1 and 2 in room "r" (events read), 3 not joined yet.
fn room() -> Net {
    Net::new(3).joined(2)
}

fn removed(uid: u64, media: MediaKind) -> AppEvent {
    AppEvent::StreamRemoved { uid, media }
}

/// Unpublishing video leaves audio live: the others hear only video go, may still play the
/// audio and not the video, and a newcomer's snapshot has audio only; the pusher is stopped
/// only when nothing is left.
#[test]
fn unpublish_one_kind_then_the_rest() {
    let mut net = room();
    let mroom = net.go_live(0, Media::BOTH);
    assert_eq!(net.events(1), streams_added(1));

    assert_eq!(
        net.run(0, |c, now| c.unpublish(now, VIDEO)),
        Ok(OpValue::Done)
    );
    assert_eq!(net.events(1), vec![removed(1, MediaKind::Video)]);
    assert_eq!(
        net.events(0),
        vec![],
        "the publisher is not told of its own stream"
    );
    assert_eq!(net.kicks, vec![], "audio still flows through the pusher");
    assert_eq!(
        net.refused(1, |c, now| c.subscribe(now, 1, VIDEO)),
        ErrorCode::NotPublishing
    );
    assert!(matches!(
        net.run(1, |c, now| c.subscribe(now, 1, AUDIO)),
        Ok(OpValue::Play { .. })
    ));
    net.join(2, "r", 3).unwrap();
    let seen = net.events(2);
    assert!(seen.contains(&AppEvent::StreamAdded {
        uid: 1,
        media: MediaKind::Audio
    }));
    assert!(!seen.contains(&AppEvent::StreamAdded {
        uid: 1,
        media: MediaKind::Video
    }));
    net.events(1);

    // Unpublishing what is not published is no news.
    net.run(0, |c, now| c.unpublish(now, VIDEO)).unwrap();
    assert_eq!(net.events(1), vec![]);

    net.run(0, |c, now| c.unpublish(now, Media::BOTH)).unwrap();
    for i in [1, 2] {
        assert_eq!(
            net.events(i),
            vec![removed(1, MediaKind::Audio)],
            "peer {i}"
        );
    }
    assert_eq!(
        net.kicks,
        vec![(mroom.clone(), 1)],
        "nothing is left: the pusher stops"
    );
    assert_eq!(
        net.refused(1, |c, now| c.subscribe(now, 1, AUDIO)),
        ErrorCode::NotPublishing
    );
    // The pusher's connection ends: nothing more to tell.
    net.media(MediaEvent::PublishStopped {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(net.events(1), vec![]);
    // A pusher coming back with the old, still signed URL is stopped, unannounced.
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(net.kicks, vec![(mroom.clone(), 1), (mroom, 1)]);
    assert_eq!(net.events(1), vec![]);
}

/// Unpublished before the media server saw the pusher: nobody was told of it, so nobody is
/// told of its end, and a pusher arriving late is stopped.
#[test]
fn unpublish_before_the_pusher_arrives_is_silent() {
    let mut net = room();
    let url = net.publish(0, Media::BOTH);
    let (mroom, _) = media_room_of(&url);
    net.run(0, |c, now| c.unpublish(now, Media::BOTH)).unwrap();
    assert_eq!(net.events(1), vec![]);
    assert_eq!(net.kicks, vec![], "there is no pusher to stop");
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(net.kicks, vec![(mroom, 1)]);
    assert_eq!(net.events(1), vec![]);
}

/// `unsubscribe` asks nothing of the server but a member it names: any member is fine, a uid
/// not in the room is 4024, and before a join it is 4020.
#[test]
fn unsubscribe_names_a_member_of_the_room() {
    let mut net = room();
    net.go_live(0, Media::BOTH);
    net.run(1, |c, now| c.subscribe(now, 1, Media::BOTH))
        .unwrap();
    assert_eq!(
        net.run(1, |c, now| c.unsubscribe(now, 1, VIDEO)),
        Ok(OpValue::Done)
    );
    assert_eq!(
        net.run(0, |c, now| c.unsubscribe(now, 2, Media::BOTH)),
        Ok(OpValue::Done),
        "a member who publishes nothing"
    );
    assert_eq!(
        net.refused(1, |c, now| c.unsubscribe(now, 99, Media::BOTH)),
        ErrorCode::NoSuchMember
    );
    assert_eq!(net.events(0), vec![]);
    let sid = net.hub.connect();
    let frame = r#"{"v":1,"id":3,"type":"unsubscribe","body":{"uid":1,"audio":true,"video":true}}"#;
    let (mine, _) = raw(&mut net.hub, sid, frame, net.now);
    assert_eq!(refusal(&mine[0]), (Some(3), ErrorCode::NotInRoom));
}

/// A live publisher that turns audience ends its streams for the others at once (removed, then
/// the role change), its pusher is stopped, and a pusher that comes back with its still signed
/// URL is stopped again, unannounced; back as broadcaster it must publish anew.
#[test]
fn to_audience_while_publishing_ends_the_streams_and_the_push() {
    let mut net = room();
    let mroom = net.go_live(0, Media::BOTH);
    net.events(1);
    net.run(0, |c, now| c.set_role(now, Role::Audience))
        .unwrap();
    let mut heard = streams_removed(1);
    heard.push(AppEvent::RoleChanged {
        uid: 1,
        role: Role::Audience,
    });
    assert_eq!(net.events(1), heard);
    assert_eq!(net.kicks, vec![(mroom.clone(), 1)]);
    assert_eq!(
        net.refused(1, |c, now| c.subscribe(now, 1, Media::BOTH)),
        ErrorCode::NotPublishing
    );
    net.media(MediaEvent::PublishStopped {
        room: mroom.clone(),
        uid: 1,
    });
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(net.kicks, vec![(mroom.clone(), 1), (mroom.clone(), 1)]);
    assert_eq!(
        net.events(1),
        vec![],
        "the returning pusher is never announced"
    );
    // A newcomer sees an audience member with no streams.
    net.join(2, "r", 3).unwrap();
    let seen = net.events(2);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, AppEvent::StreamAdded { .. })),
        "{seen:?}"
    );
    net.events(1);

    net.run(0, |c, now| c.set_role(now, Role::Broadcaster))
        .unwrap();
    let heard = vec![AppEvent::RoleChanged {
        uid: 1,
        role: Role::Broadcaster,
    }];
    assert_eq!(net.events(1), heard);
    assert_eq!(
        net.refused(1, |c, now| c.subscribe(now, 1, Media::BOTH)),
        ErrorCode::NotPublishing,
        "what it published before is not published again by itself"
    );
    net.media(MediaEvent::PublishStopped {
        room: mroom.clone(),
        uid: 1,
    });
    net.go_live(0, AUDIO);
    assert_eq!(
        net.events(1),
        vec![AppEvent::StreamAdded {
            uid: 1,
            media: MediaKind::Audio
        }]
    );
}

/// Turning audience before the pusher arrived: no stream was announced, so only the role
/// change is heard, and the pusher arriving late is stopped.
#[test]
fn to_audience_before_the_pusher_arrives_stops_it_when_it_does() {
    let mut net = room();
    let url = net.publish(0, VIDEO);
    let (mroom, _) = media_room_of(&url);
    net.run(0, |c, now| c.set_role(now, Role::Audience))
        .unwrap();
    assert_eq!(
        net.events(1),
        vec![AppEvent::RoleChanged {
            uid: 1,
            role: Role::Audience
        }]
    );
    assert_eq!(net.kicks, vec![]);
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(net.kicks, vec![(mroom, 1)]);
    assert_eq!(net.events(1), vec![]);
}

/// A member that turns audience gives its stream id up with its streams: another member may
/// publish under it at once (before, the id stayed claimed and the publish got 4003).
#[test]
fn to_audience_frees_the_stream_id() {
    let mut net = room();
    net.run(0, |c, now| {
        c.publish_as(now, Media::BOTH, Some("cam".into()))
    })
    .unwrap();
    net.run(0, |c, now| c.set_role(now, Role::Audience))
        .unwrap();
    assert!(matches!(
        net.run(1, |c, now| c.publish_as(
            now,
            Media::BOTH,
            Some("cam".into())
        )),
        Ok(OpValue::PushUrl(_))
    ));
}
