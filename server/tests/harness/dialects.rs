//! The dialects' user ids, stream ids and mutes through the real hub.

use mprtc::core::{AppEvent, OpValue};
use mprtc::protocol::{ErrorCode, Media};
use mprtc_server::media::MediaEvent;

use crate::common::AUDIO;
use crate::support::*;

/// The ZEGO dialect's ids and NetEase's mute travel through the real hub: a member joins
/// with its own user id, publishes under its own stream id, mutes; the other sees all of it.
#[test]
fn user_ids_stream_ids_and_mutes_reach_the_others() {
    use mprtc::protocol::names::uid_for_user;
    use mprtc::protocol::UserTag;
    let mut net = Net::new(3);
    let alice = uid_for_user("alice");
    let tag = UserTag {
        id: "alice".into(),
        name: "Alice".into(),
    };
    net.run(0, |c, now| {
        c.join_as(now, "r", alice, None, Some(tag.clone()))
    })
    .unwrap();
    net.join(1, "r", 2).unwrap();
    let url = match net
        .run(0, |c, now| {
            c.publish_as(now, Media::BOTH, Some("alice-cam".into()))
        })
        .unwrap()
    {
        OpValue::PushUrl(u) => u,
        v => panic!("{v:?}"),
    };
    net.events(1);
    net.media(MediaEvent::PublishStarted {
        room: media_room_of(&url).0,
        uid: alice,
    });
    let evs = net.events(1);
    assert_eq!(
        evs[0],
        AppEvent::Identity {
            uid: alice,
            user: Some(tag.clone()),
            stream: Some("alice-cam".into())
        }
    );
    assert_eq!(net.peers[1].core.uid_of_stream("alice-cam"), Some(alice));
    assert_eq!(net.peers[1].core.uid_of_user("alice"), Some(alice));
    // Mute: the other hears it per kind; muting again changes nothing.
    net.run(0, |c, now| c.mute(now, AUDIO)).unwrap();
    net.run(0, |c, now| c.mute(now, AUDIO)).unwrap();
    let names: Vec<&str> = net.events(1).iter().map(AppEvent::name).collect();
    assert_eq!(names, ["mute-audio"]);
    // A late joiner sees ids and the mute in its snapshot.
    net.join(2, "r", 3).unwrap();
    let names: Vec<&str> = net.events(2).iter().map(AppEvent::name).collect();
    assert_eq!(
        names,
        [
            "open",
            "clientJoin",
            "identity",
            "clientJoin",
            "stream-added",
            "stream-added",
            "mute-audio"
        ]
    );
    // The stream id is the member's own: nobody else may publish under it.
    let taken = net.run(1, |c, now| {
        c.publish_as(now, Media::BOTH, Some("alice-cam".into()))
    });
    assert_eq!(taken.unwrap_err().code, ErrorCode::InvalidParams);
    // A user id must match the uid it claims.
    let mut bad = Net::new(1);
    let forged = UserTag {
        id: "mallory".into(),
        name: String::new(),
    };
    let r = bad.run(0, |c, now| c.join_as(now, "r", alice, None, Some(forged)));
    assert_eq!(r.unwrap_err().code, ErrorCode::InvalidParams);
}
