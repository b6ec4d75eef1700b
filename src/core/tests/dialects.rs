//! What both dialects lean on: mute, app-chosen user and stream ids, component phases, and
//! rate-limited quality samples. Frame by frame, in virtual time.

use super::*;
use crate::protocol::frame::{encode_event, encode_ok};
use crate::protocol::json::Json;
use crate::protocol::*;

const AUDIO: Media = Media {
    audio: true,
    video: false,
};

/// Muting is the server's news to tell the others, so it is a request; what others mute
/// comes as one event per kind, as NetEase names them (`mute-audio`, `unmute-video` ...).
#[test]
fn mute_is_a_request_and_remote_mutes_are_events_per_kind() {
    let mut c = joined_as(
        client(),
        vec![MemberInfo {
            uid: 2,
            role: Role::Broadcaster,
            live: Media::BOTH,
            muted: AUDIO,
            ..Default::default()
        }],
    );
    // Already muted when we joined: told right after its streams.
    let _ = drain(&mut c);
    let op = c.mute(10, Media::BOTH).unwrap();
    let (id, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::Mute);
    assert_eq!(
        body,
        serde_json::json!({"audio": true, "video": true, "muted": true})
    );
    c.handle_socket_message(11, &encode_ok(id, &serde_json::json!({})));
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::Done
        }]
    );
    assert_eq!(c.muted(), Media::BOTH);
    assert!(c.unmute(12, Media::NONE).is_err(), "needs a kind");

    // The server says 2 muted video and unmuted audio.
    let video = Media {
        audio: false,
        video: true,
    };
    c.handle_socket_message(
        13,
        &encode_event(
            1,
            &Event::MuteChanged {
                uid: 2,
                media: video,
                muted: true,
            },
        ),
    );
    c.handle_socket_message(
        14,
        &encode_event(
            2,
            &Event::MuteChanged {
                uid: 2,
                media: Media::BOTH,
                muted: false,
            },
        ),
    );
    let evs = events(&drain(&mut c));
    let names: Vec<&str> = evs.iter().map(AppEvent::name).collect();
    assert_eq!(names, ["mute-video", "unmute-audio", "unmute-video"]);
}

/// A member already muted when this client joins is announced as muted right after its
/// streams, so an app sees the same sequence as for a member that muted later.
#[test]
fn the_members_muted_at_join_are_announced_after_their_streams() {
    let mut c = client();
    c.join(0, "r", 1, None).unwrap();
    drain(&mut c);
    c.handle_socket_open(1);
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    let ok = JoinOk {
        ping_interval_ms: 10_000,
        ping_timeout_ms: 20_000,
        ..join_ok(
            "s",
            0,
            vec![MemberInfo {
                uid: 2,
                role: Role::Broadcaster,
                live: AUDIO,
                muted: AUDIO,
                ..Default::default()
            }],
            false,
        )
    };
    c.handle_socket_message(2, &encode_ok(id, &ok));
    let names: Vec<&str> = events(&drain(&mut c)).iter().map(AppEvent::name).collect();
    assert_eq!(names, ["clientJoin", "stream-added", "mute-audio"]);
}

/// App-chosen user and stream ids travel with the members: the core announces them before
/// the events they belong to and maps them back to uids for the ZEGO engine.
#[test]
fn user_and_stream_ids_are_announced_and_mapped() {
    let mut c = client();
    let tag = UserTag {
        id: "alice".into(),
        name: "Alice".into(),
    };
    let uid = names::uid_for_user("alice");
    c.join_as(0, "r", uid, None, Some(tag.clone())).unwrap();
    drain(&mut c);
    c.handle_socket_open(1);
    let (id, _, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(
        body["user"],
        serde_json::json!({"id": "alice", "name": "Alice"})
    );
    assert_eq!(body["uid"], uid);
    let bob = UserTag {
        id: "bob".into(),
        name: String::new(),
    };
    let bob_uid = names::uid_for_user("bob");
    let ok = JoinOk {
        uid,
        ping_interval_ms: 10_000,
        ping_timeout_ms: 20_000,
        ..join_ok(
            "s",
            0,
            vec![MemberInfo {
                uid: bob_uid,
                role: Role::Broadcaster,
                live: Media::BOTH,
                user: Some(bob.clone()),
                stream: Some("bob-cam".into()),
                ..Default::default()
            }],
            false,
        )
    };
    c.handle_socket_message(2, &encode_ok(id, &ok));
    let evs = events(&drain(&mut c));
    assert_eq!(
        evs[0],
        AppEvent::Identity {
            uid: bob_uid,
            user: Some(bob),
            stream: Some("bob-cam".into())
        },
        "ids come before clientJoin"
    );
    assert_eq!(evs[1].name(), "clientJoin");
    assert_eq!(c.uid_of_stream("bob-cam"), Some(bob_uid));
    assert_eq!(c.uid_of_user("bob"), Some(bob_uid));
    assert_eq!(c.uid_of_stream("nobody"), None);

    // Publishing under our own stream id: sent, and mapped to us.
    c.publish_as(3, Media::BOTH, Some("alice-cam".into()))
        .unwrap();
    let (_, _, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(body["stream"], "alice-cam");
    assert_eq!(c.uid_of_stream("alice-cam"), Some(uid));
    assert!(c
        .publish_as(4, Media::BOTH, Some("bad id!".into()))
        .is_err());
}

/// The user id -> uid rule (`protocol::names`): a decimal user id is its own uid, so the two
/// dialects agree on a NetEase member; other ids hash to uids that stay apart.
#[test]
fn numeric_user_ids_stand_for_themselves_and_others_hash_apart() {
    assert_eq!(names::uid_for_user("12345"), 12345);
    assert_ne!(
        names::uid_for_user("012"),
        12,
        "a leading zero is not the same id"
    );
    let a = names::uid_for_user("alice");
    assert!(a >= 1 << 63);
    assert_ne!(a, names::uid_for_user("alicf"));
    assert!(names::check_user_id("has space").is_err());
    assert!(names::check_user_id(&"x".repeat(65)).is_err());
}

/// `pusher-state` / `player-state` phases come from the component codes the page forwards,
/// once per change: apps get requesting, active and failed without knowing WeChat's codes.
#[test]
fn component_phases_follow_the_codes_the_page_forwards() {
    let mut c = joined_as(client(), vec![]);
    c.publish(10, Media::BOTH).unwrap();
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
    let push = |c: &mut Client, now, code: i64| {
        c.data_reporter(
            now,
            ComponentKind::Push,
            ReportEvent::StateChange,
            &Json::from(serde_json::json!({ "code": code })),
            None,
        )
        .unwrap();
        events(&drain_all(c))
            .into_iter()
            .filter(|e| matches!(e, AppEvent::PusherState { .. }))
            .collect::<Vec<_>>()
    };
    // The publish answer itself put the pusher in "requesting".
    let first = push(&mut c, 12, 1001);
    assert_eq!(
        first,
        vec![AppEvent::PusherState {
            phase: Phase::Requesting,
            code: 0
        }]
    );
    assert_eq!(
        push(&mut c, 13, 1002),
        vec![AppEvent::PusherState {
            phase: Phase::Active,
            code: 1002
        }]
    );
    assert_eq!(
        push(&mut c, 14, 1002),
        vec![],
        "no repeat for the same phase"
    );
    assert_eq!(
        push(&mut c, 15, -1307),
        vec![AppEvent::PusherState {
            phase: Phase::Failed,
            code: -1307
        }]
    );
}

/// Components report `bindnetstatus` often; the app gets at most one sample a second per
/// component, so a busy room does not flood its listeners.
#[test]
fn quality_samples_reach_the_app_at_most_once_a_second_per_component() {
    let mut c = joined_as(
        client(),
        vec![MemberInfo {
            uid: 2,
            role: Role::Broadcaster,
            live: Media::BOTH,
            ..Default::default()
        }],
    );
    drain(&mut c);
    let mut seen = Vec::new();
    for t in (0..3_000).step_by(250) {
        for (kind, uid) in [(ComponentKind::Push, None), (ComponentKind::Pull, Some(2))] {
            c.data_reporter(
                100 + t,
                kind,
                ReportEvent::NetStatus,
                &Json::from(serde_json::json!({"videoBitrate": t, "netSpeed": "512"})),
                uid,
            )
            .unwrap();
        }
        seen.extend(events(&drain_all(&mut c)));
    }
    let per = |k: ComponentKind| {
        seen.iter()
            .filter(|e| matches!(e, AppEvent::Quality { kind, .. } if *kind == k))
            .count()
    };
    assert_eq!((per(ComponentKind::Push), per(ComponentKind::Pull)), (3, 3));
    match &seen[0] {
        AppEvent::Quality { uid, net, .. } => {
            assert_eq!(*uid, 1);
            assert_eq!(net.net_speed, Some(512));
        }
        e => panic!("{e:?}"),
    }
    // Samples with nothing readable are not news.
    c.data_reporter(
        10_000,
        ComponentKind::Push,
        ReportEvent::NetStatus,
        &Json::from(serde_json::json!({"foo": 1})),
        None,
    )
    .unwrap();
    assert!(events(&drain_all(&mut c)).is_empty());
}

/// NetEase's join options are honoured where mprtc can (`liveEnable`) and refused with 1010
/// where it cannot, never dropped silently: an app must not believe it records when it does not.
#[test]
fn netease_join_extras_are_honoured_or_refused() {
    use params::{check_join_extras, JoinExtras};
    assert!(check_join_extras(JoinExtras::default()).is_ok());
    assert!(check_join_extras(JoinExtras {
        live_enable: true,
        ..Default::default()
    })
    .is_ok());
    for x in [
        JoinExtras {
            record: true,
            ..Default::default()
        },
        JoinExtras {
            host_speaker: true,
            ..Default::default()
        },
        JoinExtras {
            split_mode: true,
            ..Default::default()
        },
    ] {
        let e = check_join_extras(x).unwrap_err();
        assert_eq!(e.code, ErrorCode::Unsupported, "{x:?}");
    }
}

/// NetEase's `recordAudio` / `recordVideo` travel in the join (the server records), and again
/// in a rejoin, so a recording asked for survives a reconnect; without them nothing is sent.
#[test]
fn record_flags_travel_in_the_join_and_its_rejoins() {
    let mut c = client();
    c.join_record = Media {
        audio: true,
        video: false,
    };
    c.join(0, "r", 1, None).unwrap();
    drain(&mut c);
    c.handle_socket_open(5);
    let (_, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::Join);
    assert_eq!(
        body["record"],
        serde_json::json!({"audio": true, "video": false})
    );
    let (_, _, plain) = sent(&{
        let mut d = client();
        d.join(0, "r", 2, None).unwrap();
        drain(&mut d);
        d.handle_socket_open(5);
        drain(&mut d)
    })
    .remove(0);
    assert!(plain.get("record").is_none(), "{plain}");
}
