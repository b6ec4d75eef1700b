//! The bounds of `Limits` and the resume window, driven through the hub's own clock (`now_ms`
//! comes in): the room limits server-wide and per app, a full room taking its own members
//! back, a resume window of 0, and the per-connection request rate as an exact token bucket.

use std::collections::HashMap;
use std::sync::Arc;

use mprtc::core::AppEvent;
use mprtc::protocol::{ErrorCode, LeaveReason, Media, ServerFrame};
use mprtc_server::config::AppConfig;
use mprtc_server::media::MediaSigner;
use mprtc_server::signaling::{Hub, Limits, SessionId, INSECURE_APP_MAX_ROOMS};

use crate::common;
use crate::support::*;

const T0: u64 = 1_700_000_000_000;

/// A hub of insecure (token-less) apps, each with its own room limit (`None`: the default),
/// under `limits`.
fn hub_of(apps: &[(&str, Option<usize>)], limits: Limits) -> Hub {
    let apps: HashMap<String, AppConfig> = apps
        .iter()
        .map(|(key, max_rooms)| {
            let app = AppConfig {
                key: (*key).into(),
                secret: None,
                insecure: true,
                max_rooms: *max_rooms,
                webhooks: Vec::new(),
                webhook_queue: None,
            };
            ((*key).to_owned(), app)
        })
        .collect();
    let signer = Arc::new(MediaSigner::new(
        b"m".to_vec(),
        "rtmp://h/live",
        "http://h/live",
        60,
    ));
    Hub::new(apps, signer, 4096, common::seed(3)).with_limits(limits)
}

/// A new connection joins `app`/`room` as `uid` at `now`: the connection, or the code its join
/// was refused with.
fn open(hub: &mut Hub, app: &str, room: &str, uid: u64, now: u64) -> Result<SessionId, ErrorCode> {
    let sid = hub.connect();
    let (mine, _) = raw(hub, sid, &join_frame(1, app, room, uid, None, None), now);
    match &mine[0] {
        ServerFrame::Ok { .. } => Ok(sid),
        f => Err(refusal(f).1),
    }
}

const FULL: Result<SessionId, ErrorCode> = Err(ErrorCode::LimitExceeded);

/// The join that would open one room too many is refused with 4029, counted over the whole
/// server; joins into rooms that exist still work, and a room that ends frees its place.
#[test]
fn the_room_one_too_many_for_the_server_is_refused() {
    let limits = Limits {
        max_rooms: 3,
        ..Limits::default()
    };
    let mut hub = hub_of(&[("a", Some(10)), ("b", Some(10))], limits);
    open(&mut hub, "a", "a1", 1, T0).unwrap();
    open(&mut hub, "a", "a2", 1, T0).unwrap();
    let b1 = open(&mut hub, "b", "b1", 1, T0).unwrap();
    assert_eq!(open(&mut hub, "a", "a3", 1, T0), FULL);
    assert_eq!(
        open(&mut hub, "b", "b2", 1, T0),
        FULL,
        "the limit is the server's, whichever app asks"
    );
    assert_eq!(hub.room_count(), 3, "a refused join opens nothing");
    let second = open(&mut hub, "b", "b1", 2, T0);
    assert!(second.is_ok(), "existing rooms still take members");
    // b1's members leave: the room ends, and its place is free again.
    let leave = r#"{"v":1,"id":2,"type":"leave","body":{}}"#;
    raw(&mut hub, b1, leave, T0);
    assert_eq!(
        open(&mut hub, "b", "b2", 1, T0),
        FULL,
        "b1 still holds a member"
    );
    raw(&mut hub, second.unwrap(), leave, T0);
    assert_eq!(hub.room_count(), 2);
    assert!(open(&mut hub, "b", "b2", 1, T0).is_ok());
}

/// An app's own limit refuses its next room while the other apps open theirs; an insecure app
/// without one holds at most [`INSECURE_APP_MAX_ROOMS`], and rooms held by members waiting to
/// resume count until their window is over — to the millisecond.
#[test]
fn the_room_one_too_many_for_an_app_is_refused_until_one_ends() {
    let mut hub = hub_of(
        &[("one", Some(1)), ("anon", None), ("other", None)],
        Limits::default(),
    )
    .with_resume_window(30_000);
    open(&mut hub, "one", "r1", 1, T0).unwrap();
    assert_eq!(open(&mut hub, "one", "r2", 1, T0), FULL);
    assert!(
        open(&mut hub, "other", "r2", 1, T0).is_ok(),
        "other apps are not held by it"
    );

    let mut sids = Vec::new();
    for i in 0..INSECURE_APP_MAX_ROOMS {
        let sid = hub.connect();
        let (mine, _) = raw(
            &mut hub,
            sid,
            &join_frame(1, "anon", &format!("x{i}"), 1, None, None),
            T0,
        );
        assert!(is_ok_to(&mine[0], 1), "room {i}: {mine:?}");
        sids.push(sid);
    }
    assert_eq!(open(&mut hub, "anon", "x-more", 1, T0), FULL);
    // Every member's connection drops: their rooms wait out the resume window.
    let mut out = Vec::new();
    for sid in sids {
        hub.disconnect(sid, T0, &mut out);
    }
    let last_held = T0 + 29_999;
    hub.tick(last_held, &mut out);
    assert_eq!(open(&mut hub, "anon", "x-more", 1, last_held), FULL);
    hub.tick(T0 + 30_000, &mut out);
    assert!(open(&mut hub, "anon", "x-more", 1, T0 + 30_000).is_ok());
}

/// A full room (`max_members_per_room`) refuses a new member with 4029, but not a member coming
/// back: a replacement (same uid, new connection) and a resume take the place they held.
#[test]
fn a_full_room_still_takes_its_own_members_back() {
    let limits = Limits {
        max_members_per_room: 2,
        ..Limits::default()
    };
    let mut net = Net::tuned(4, |h| h.with_limits(limits)).joined(2);
    assert_eq!(
        net.join(2, "r", 3).unwrap_err().code,
        ErrorCode::LimitExceeded
    );
    // uid 1's page reopens on a new connection: it replaces its old session.
    assert_eq!(net.join(3, "r", 1), Ok(mprtc::core::OpValue::Done));
    assert_eq!(net.hub.snapshot("dbg", "r").len(), 2);
    // uid 2's connection drops; its client resumes into the full room.
    net.cut(1);
    net.advance(100);
    assert!(net
        .events(1)
        .contains(&AppEvent::Reconnected { resumed: true }));
    assert_eq!(net.hub.snapshot("dbg", "r").len(), 2);
}

/// With `resume_window_ms = 0` a dropped connection is a leave: the others see the member's
/// streams go and the member leave at once, its pusher is stopped, and its client, coming
/// back, joins afresh (the old session is gone) and publishes again.
#[test]
fn with_no_resume_window_a_drop_is_a_leave_and_the_client_rejoins_fresh() {
    let mut net = Net::tuned(2, |h| h.with_resume_window(0)).joined(2);
    let mroom = net.go_live(0, Media::BOTH);
    assert_eq!(net.events(1), streams_added(1));
    let old_session = net.peers[0].core.session().unwrap().to_owned();

    net.cut(0);
    assert!(
        !net.hub.is_detached("dbg", "r", 1),
        "nobody waits for a resume"
    );
    let mut left = streams_removed(1);
    left.push(AppEvent::ClientLeave {
        uid: 1,
        reason: LeaveReason::ConnectionLost,
    });
    assert_eq!(net.events(1), left, "at once, before any time passes");
    assert_eq!(net.kicks, vec![(mroom, 1)]);

    // The client reconnects within 100 ms and asks to resume; the server no longer has it.
    net.advance(100);
    let ev = net.events(0);
    assert!(
        ev.contains(&AppEvent::Reconnected { resumed: false }),
        "{ev:?}"
    );
    assert!(
        !ev.contains(&AppEvent::Reconnected { resumed: true }),
        "{ev:?}"
    );
    assert_ne!(net.peers[0].core.session(), Some(old_session.as_str()));
    assert!(
        ev.iter()
            .any(|e| matches!(e, AppEvent::SyncDone { uid: 1, .. })),
        "published again, with a fresh push URL: {ev:?}"
    );
    assert_eq!(net.events(1), vec![AppEvent::ClientJoin { uid: 1 }]);

    // The same with the window: a resume, and the others see nothing.
    let mut held = Net::new(2).joined(2);
    held.cut(0);
    held.advance(100);
    assert!(held
        .events(0)
        .contains(&AppEvent::Reconnected { resumed: true }));
    assert_eq!(held.events(1), vec![]);
}

/// The request rate is a token bucket per connection, exact in the hub's time: with 8 a
/// second, a burst of 8 is served (a join counts), the 9th is told once with 4029 and the rest
/// are dropped unanswered; 124 ms later nothing is back, 125 ms later exactly one request is,
/// and a bucket idle for ten seconds holds one second's worth, no more.
#[test]
fn the_request_rate_is_an_exact_token_bucket() {
    let limits = Limits {
        max_requests_per_sec: 8,
        ..Limits::default()
    };
    let mut hub = hub_of(&[("a", None)], limits);

    let a = hub.connect();
    let (mine, _) = raw(&mut hub, a, &join_frame(1, "a", "r", 1, None, None), T0);
    assert!(is_ok_to(&mine[0], 1), "{mine:?}");
    for id in 2..=8 {
        let (mine, _) = raw(&mut hub, a, &ping_frame(id), T0);
        assert!(
            matches!(&mine[..], [f] if is_ok_to(f, id)),
            "ping {id}: {mine:?}"
        );
    }
    let (mine, _) = raw(&mut hub, a, &ping_frame(9), T0);
    assert_eq!(
        mine.iter().map(refusal).collect::<Vec<_>>(),
        vec![(None, ErrorCode::LimitExceeded)]
    );
    for id in 10..=30 {
        assert_eq!(
            raw(&mut hub, a, &ping_frame(id), T0).0,
            vec![],
            "dropped unanswered"
        );
    }
    assert_eq!(
        raw(&mut hub, a, &ping_frame(31), T0 + 124).0,
        vec![],
        "7/8 of a token"
    );

    // Another connection has its own bucket: full, whatever the first one did.
    let b = hub.connect();
    for id in 1..=8 {
        assert!(is_ok_to(&raw(&mut hub, b, &ping_frame(id), T0).0[0], id));
    }
    assert_eq!(
        refusal(&raw(&mut hub, b, &ping_frame(9), T0).0[0]).1,
        ErrorCode::LimitExceeded
    );
    let one_token = T0 + 125;
    assert!(is_ok_to(
        &raw(&mut hub, b, &ping_frame(10), one_token).0[0],
        10
    ));
    assert_eq!(
        raw(&mut hub, b, &ping_frame(11), one_token)
            .0
            .iter()
            .map(refusal)
            .collect::<Vec<_>>(),
        vec![(None, ErrorCode::LimitExceeded)],
        "a new excess is told again, once"
    );
    let idle = one_token + 10_000;
    for id in 12..=19 {
        assert!(is_ok_to(&raw(&mut hub, b, &ping_frame(id), idle).0[0], id));
    }
    assert_eq!(
        refusal(&raw(&mut hub, b, &ping_frame(20), idle).0[0]).1,
        ErrorCode::LimitExceeded
    );
    // The member of the first connection was never touched by any of it.
    assert_eq!(hub.snapshot("a", "r").len(), 1);
}
