//! Components that give up: the pusher's and the player's fresh URLs.

use mprtc::core::{AppEvent, ComponentKind, OpValue, ReportEvent};
use mprtc::protocol::json::Json;
use mprtc::protocol::Media;
use mprtc_server::media::{MediaEvent, UrlKind};

use crate::support::*;

/// Components that give up get fresh URLs: A's `<live-pusher>` reports -1307 and B's
/// `<live-player>` of A reports -2301; each side re-requests through the real hub and gets a
/// `syncDone` with a URL the media server admits.
#[test]
fn components_that_give_up_get_fresh_urls() {
    let mut net = Net::new(2);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    let old_push = net.publish(0, Media::BOTH);
    let (mroom, _) = media_room_of(&old_push);
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    assert!(net.events(1).ends_with(&streams_added(1)));
    let old_play = match net
        .run(1, |c, now| c.subscribe(now, 1, Media::BOTH))
        .unwrap()
    {
        OpValue::Play { url, .. } => url,
        v => panic!("{v:?}"),
    };
    net.events(0);

    // A's network drops for good: the media server loses the pusher, the component gives up.
    net.now += 5_000;
    net.media(MediaEvent::PublishStopped {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(net.events(1).len(), 2, "stream-removed audio and video");
    let now = net.now;
    for _ in 0..2 {
        net.peers[0]
            .core
            .data_reporter(
                now,
                ComponentKind::Push,
                ReportEvent::StateChange,
                &Json::from(serde_json::json!({"code": -1307, "reason": ""})),
                None,
            )
            .unwrap();
    }
    net.pump();
    let evs = net.events(0);
    let [AppEvent::SyncDone { uid: 1, url, .. }] = &evs[..] else {
        panic!("one syncDone for A's own uid: {evs:?}")
    };
    assert_ne!(url, &old_push, "a fresh URL");
    let (room, uid) = media_room_of(url);
    assert_eq!((room.as_str(), uid), (mroom.as_str(), 1));
    let query = url.split_once('?').unwrap().1;
    let admitted = net
        .signer
        .verify(UrlKind::Push, &format!("{mroom}.1"), query, net.now / 1000)
        .unwrap();
    assert_eq!(admitted.uid, 1);
    assert!(
        net.events(1).is_empty(),
        "a republish of the same media is no news"
    );
    // The page sets the URL, the pusher is back: B hears of it as usual.
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(net.events(1), streams_added(1));

    // B's player of A gave up meanwhile (the NetEase sample passes no uid; B has one
    // subscription, so it is meant).
    let now = net.now;
    net.peers[1]
        .core
        .data_reporter(
            now,
            ComponentKind::Pull,
            ReportEvent::StateChange,
            &Json::from(serde_json::json!({"code": "-2301"})),
            None,
        )
        .unwrap();
    net.pump();
    let evs = net.events(1);
    let [AppEvent::SyncDone { uid: 1, url, .. }] = &evs[..] else {
        panic!("one syncDone for the played uid: {evs:?}")
    };
    assert_ne!(url, &old_play);
    let q = url.split_once('?').unwrap().1;
    let a = net
        .signer
        .verify(UrlKind::Play, &format!("{mroom}.1"), q, net.now / 1000)
        .unwrap();
    assert_eq!(a.viewer, Some(2));
    assert!(
        net.signer
            .verify(UrlKind::Push, &format!("{mroom}.1"), q, net.now / 1000)
            .is_err(),
        "the new play URL cannot push"
    );
    assert!(net.events(0).is_empty());
}
