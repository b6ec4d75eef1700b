//! The component bridge (`dataReporter`): recoveries, odd payloads and quality per component.

use super::*;
use crate::protocol::frame::{encode_err, encode_event, encode_ok};
use crate::protocol::json::Json;
use crate::protocol::*;

use crate::core::component::ComponentState;
use crate::core::component::{ComponentErrorCode, PlayerState, PusherState};

/// -1307 is the one pusher failure a fresh URL cures: one republish, however many reports of
/// the same failure the page forwards while it is in flight.
#[test]
fn pusher_gave_up_leads_to_one_republish_and_then_sync_done() {
    let video = Media {
        audio: false,
        video: true,
    };
    let mut c = publishing(video);
    let (push, state) = (ComponentKind::Push, ReportEvent::StateChange);
    report(
        &mut c,
        20,
        push,
        state,
        serde_json::json!({"code": -1307, "reason": ""}),
        None,
    );
    let outs = drain(&mut c);
    let reqs = sent(&outs);
    assert_eq!(reqs.len(), 1, "{outs:?}");
    let (id, kind, body) = reqs.into_iter().next().unwrap();
    assert_eq!(kind, RequestKind::Publish);
    assert_eq!(
        body,
        serde_json::json!({"audio": false, "video": true}),
        "what is published"
    );
    assert!(events(&outs).is_empty(), "nothing for the app yet");
    assert!(c.recovering(push, None));
    assert_eq!(
        c.component(push, None).unwrap().state,
        Some(ComponentState::Pusher(PusherState::NetworkDisconnected))
    );

    // The same failure again (and as a string code) while recovering: nothing is sent.
    report(
        &mut c,
        21,
        push,
        state,
        serde_json::json!({"code": -1307}),
        None,
    );
    report(
        &mut c,
        22,
        push,
        state,
        serde_json::json!({"code": "-1307"}),
        Some(1),
    );
    assert!(drain(&mut c).is_empty());

    c.handle_socket_message(
        30,
        &encode_ok(
            id,
            &PublishOk {
                url: "rtmp://h/live/r.1?v=2".into(),
                media: video,
            },
        ),
    );
    assert_eq!(
        drain(&mut c),
        vec![Output::Event(AppEvent::SyncDone {
            kind: ComponentKind::Push,
            uid: 1,
            url: "rtmp://h/live/r.1?v=2".into()
        })],
        "no op resolves: the app only sees syncDone"
    );
    assert!(!c.recovering(push, None));
    assert_eq!(c.published(), video);

    // A later, new failure recovers again.
    report(
        &mut c,
        40,
        push,
        state,
        serde_json::json!({"code": -1307}),
        None,
    );
    assert_eq!(sent(&drain(&mut c))[0].1, RequestKind::Publish);
}

/// Only the codes a fresh URL cures start a recovery: any other state, or a pusher that
/// publishes nothing, must not send a request (a page forwards every state change).
#[test]
fn other_pusher_states_and_idle_pushers_send_nothing() {
    let (push, state) = (ComponentKind::Push, ReportEvent::StateChange);
    let mut c = publishing(Media::BOTH);
    for code in [1002, -1301, -1302, 1102, 3004, 0, 5000] {
        report(
            &mut c,
            20,
            push,
            state,
            serde_json::json!({ "code": code }),
            None,
        );
    }
    assert!(drain(&mut c).is_empty());
    // Not publishing: there is nothing to restart.
    let mut c = joined(vec![]);
    report(
        &mut c,
        20,
        push,
        state,
        serde_json::json!({"code": -1307}),
        None,
    );
    assert!(drain(&mut c).is_empty());
    assert!(!c.recovering(push, None));
}

/// A recovery that fails (refused, or no answer in time) tells the app nothing, as no call
/// of the app's is pending; it ends, so the next report of the same failure retries.
#[test]
fn a_failed_recovery_is_quiet_and_the_next_failure_retries() {
    let (push, state) = (ComponentKind::Push, ReportEvent::StateChange);
    let mut c = publishing(Media::BOTH);
    report(
        &mut c,
        20,
        push,
        state,
        serde_json::json!({"code": -1307}),
        None,
    );
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(
        21,
        &encode_err(Some(id), &WireError::new(ErrorCode::Internal, "boom")),
    );
    assert!(drain(&mut c).is_empty(), "no op to reject, no event");
    assert!(!c.recovering(push, None));
    // A recovery that times out ends too.
    report(
        &mut c,
        22,
        push,
        state,
        serde_json::json!({"code": -1307}),
        None,
    );
    assert_eq!(sent(&drain(&mut c))[0].1, RequestKind::Publish);
    c.handle_timeout(22 + 10_000);
    assert!(drain(&mut c).is_empty());
    assert!(!c.recovering(push, None));
    assert!(c.is_joined());
}

/// A `<live-player>` that gave up (-2301) is cured by a fresh play URL: one resubscribe of
/// what was subscribed from that member, however often the page repeats the report.
#[test]
fn player_gave_up_leads_to_one_resubscribe_and_sync_done_for_that_uid() {
    let audio = Media {
        audio: true,
        video: false,
    };
    let mut c = subscribed(audio);
    let (pull, state) = (ComponentKind::Pull, ReportEvent::StateChange);
    report(
        &mut c,
        20,
        pull,
        state,
        serde_json::json!({"code": -2301}),
        Some(2),
    );
    let reqs = sent(&drain(&mut c));
    assert_eq!(reqs.len(), 1);
    let (id, kind, body) = reqs.into_iter().next().unwrap();
    assert_eq!(kind, RequestKind::Subscribe);
    assert_eq!(
        body,
        serde_json::json!({"uid": 2, "audio": true, "video": false})
    );
    report(
        &mut c,
        21,
        pull,
        state,
        serde_json::json!({"code": -2301}),
        Some(2),
    );
    // uid left out: the only subscription is meant.
    report(
        &mut c,
        21,
        pull,
        state,
        serde_json::json!({"code": -2301}),
        None,
    );
    assert!(drain(&mut c).is_empty(), "one recovery at a time");
    assert!(c.recovering(pull, Some(2)));
    c.handle_socket_message(
        22,
        &encode_ok(
            id,
            &SubscribeOk {
                url: "rtmp://h/live/r.2?v=2".into(),
                flv_url: "http://h/live/r.2.flv?v=2".into(),
            },
        ),
    );
    assert_eq!(
        drain(&mut c),
        vec![Output::Event(AppEvent::SyncDone {
            kind: ComponentKind::Pull,
            uid: 2,
            url: "rtmp://h/live/r.2?v=2".into()
        })]
    );
    assert_eq!(
        c.component(pull, Some(2)).unwrap().state,
        Some(ComponentState::Player(PlayerState::NetworkDisconnected))
    );
    // Players of members never subscribed, or after unsubscribing, are not restarted.
    report(
        &mut c,
        30,
        pull,
        state,
        serde_json::json!({"code": -2301}),
        Some(7),
    );
    assert!(drain(&mut c).is_empty());
    c.unsubscribe(31, 2, Media::BOTH).unwrap();
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(32, &encode_ok(id, &serde_json::json!({})));
    drain(&mut c);
    assert_eq!(c.subscriptions().count(), 0);
    report(
        &mut c,
        33,
        pull,
        state,
        serde_json::json!({"code": -2301}),
        Some(2),
    );
    assert!(drain(&mut c).is_empty());
}

/// A member that leaves takes what this client knew of it along: subscriptions, recoveries
/// and component reports, so that nothing is recovered or reported for a member gone.
#[test]
fn subscriptions_end_with_the_member() {
    let mut c = subscribed(Media::BOTH);
    c.handle_socket_message(
        20,
        &encode_event(
            1,
            &Event::MemberLeft {
                uid: 2,
                reason: LeaveReason::ConnectionLost,
            },
        ),
    );
    drain(&mut c);
    assert_eq!(c.subscriptions().count(), 0);
    report(
        &mut c,
        21,
        ComponentKind::Pull,
        ReportEvent::StateChange,
        serde_json::json!({"code": -2301}),
        Some(2),
    );
    assert!(sent(&drain(&mut c)).is_empty());
}

/// The names are strict (a typo is a bug the app wants to hear about); the contents are not.
#[test]
fn reporting_needs_a_room_and_known_names() {
    let mut c = client();
    let e = c
        .data_reporter(
            0,
            ComponentKind::Push,
            ReportEvent::NetStatus,
            &Json::from(serde_json::json!({})),
            None,
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotJoined);
    assert!(drain(&mut c).is_empty());
    let e = "rtmp".parse::<ComponentKind>().unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert!(
        e.message.contains("'push'") && e.message.contains("\"rtmp\""),
        "{}",
        e.message
    );
    let e = "bindfullscreenchange".parse::<ReportEvent>().unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
}

/// NetEase's guide calls `dataReporter('pull', ...)` without a uid: with exactly one member
/// subscribed the report is that player's; with none or several it is refused (1001, which the
/// shim logs), never kept under no member.
#[test]
fn a_player_report_without_uid_is_attributed_or_refused() {
    let report = Json::from(&serde_json::json!({"code": 2004}));
    let mut c = joined(vec![]);
    let e = c
        .data_reporter(
            5,
            ComponentKind::Pull,
            ReportEvent::StateChange,
            &report,
            None,
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    let mut one = subscribed(Media::BOTH);
    assert_eq!(
        one.data_reporter(
            5,
            ComponentKind::Pull,
            ReportEvent::StateChange,
            &report,
            None
        ),
        Ok(())
    );
    assert!(one.component(ComponentKind::Pull, Some(2)).is_some());
}

/// Pages forward whatever the component gave them: odd contents are skipped, never an error.
#[test]
fn odd_payloads_are_accepted_and_ignored() {
    let mut c = publishing(Media::BOTH);
    for kind in [ComponentKind::Push, ComponentKind::Pull] {
        for ev in [
            ReportEvent::StateChange,
            ReportEvent::NetStatus,
            ReportEvent::Error,
        ] {
            for junk in [
                serde_json::json!(null),
                serde_json::json!("x"),
                serde_json::json!([1, 2]),
                serde_json::json!({"code": {"deep": true}}),
                serde_json::json!({"info": "none"}),
            ] {
                let uid = (kind == ComponentKind::Pull).then_some(2);
                assert_eq!(
                    c.data_reporter(5, kind, ev, &Json::from(&junk), uid),
                    Ok(())
                );
            }
        }
    }
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.push_quality(), None);
    assert_eq!(c.component(ComponentKind::Push, None).unwrap().state, None);
}

/// `bindnetstatus` arrives per component and, on some phones, with numbers as strings: each
/// component keeps its own last sample, read the same either way.
#[test]
fn net_status_is_kept_per_component_and_read_from_strings() {
    let mut c = subscribed(Media::BOTH);
    let net = ReportEvent::NetStatus;
    report(
        &mut c,
        20,
        ComponentKind::Push,
        net,
        serde_json::json!({"videoBitrate": "812", "netSpeed": "900", "netQualityLevel": "2", "videoFPS": "15.5", "videoWidth": "?"}),
        None,
    );
    report(
        &mut c,
        21,
        ComponentKind::Pull,
        net,
        serde_json::json!({"info": {"videoCache": 300, "audioCache": "250"}}),
        Some(2),
    );
    let q = c.push_quality().unwrap();
    assert_eq!(q.video_bitrate, Some(812));
    assert_eq!(q.net_speed, Some(900));
    assert_eq!(q.net_quality_level, Some(2));
    assert_eq!(q.video_fps, Some(15.5));
    assert_eq!(q.video_width, None);
    assert_eq!(
        c.quality(ComponentKind::Push, Some(1)),
        Some(q),
        "the pusher is this member's, with or without its uid"
    );
    let p = c.pull_quality(2).unwrap();
    assert_eq!((p.video_cache, p.audio_cache), (Some(300), Some(250)));
    assert_eq!(
        c.quality(ComponentKind::Pull, None),
        Some(p),
        "the only subscription"
    );
    assert_eq!(
        c.component(ComponentKind::Pull, Some(2))
            .unwrap()
            .updated_ms,
        21
    );
    // A later report replaces the earlier; one with nothing readable keeps it.
    report(
        &mut c,
        22,
        ComponentKind::Push,
        net,
        serde_json::json!({"videoBitrate": 400}),
        None,
    );
    report(
        &mut c,
        23,
        ComponentKind::Push,
        net,
        serde_json::json!({"videoBitrate": "n/a"}),
        None,
    );
    assert_eq!(c.push_quality().unwrap().video_bitrate, Some(400));
    assert_eq!(c.push_quality().unwrap().net_speed, None);
    // Errors are kept too; nothing of this reaches the app.
    report(
        &mut c,
        24,
        ComponentKind::Push,
        ReportEvent::Error,
        serde_json::json!({"errCode": 10001, "errMsg": "camera"}),
        None,
    );
    assert_eq!(
        c.component(ComponentKind::Push, None)
            .unwrap()
            .error
            .as_ref()
            .unwrap()
            .code,
        Some(ComponentErrorCode::CameraDenied)
    );
    assert!(drain(&mut c).is_empty());
    // Leaving forgets everything.
    c.destroy();
    assert_eq!(c.push_quality(), None);
}
