//! Unit tests of the state machine, driven frame by frame in virtual time. The two-party
//! tests against the real server logic live in `server/tests/harness.rs`.

use super::*;
use crate::protocol::frame::{decode_request, encode_err, encode_event, encode_ok};
use crate::protocol::json::{Json, ToJson};
use crate::protocol::*;

fn client() -> Client {
    Client::new(ClientConfig::new("app", "ws://127.0.0.1:1/ws").unwrap())
}

/// A client that does not reconnect: a lost connection ends the session at once.
fn no_reconnect() -> Client {
    let mut cfg = ClientConfig::new("app", "ws://127.0.0.1:1/ws").unwrap();
    cfg.reconnect.give_up_after_ms = 0;
    Client::new(cfg)
}

/// Every output but the component-phase and quality events, which the tests that are about
/// them read with [`drain_all`].
pub(super) fn drain(c: &mut Client) -> Vec<Output> {
    drain_all(c)
        .into_iter()
        .filter(|o| {
            !matches!(
                o,
                Output::Event(
                    AppEvent::PusherState { .. }
                        | AppEvent::PlayerState { .. }
                        | AppEvent::Quality { .. }
                )
            )
        })
        .collect()
}

pub(super) fn drain_all(c: &mut Client) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

pub(super) fn sent(outs: &[Output]) -> Vec<(u32, RequestKind, serde_json::Value)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(f) => {
                let (id, kind, body) = decode_request(f).unwrap();
                let body = serde_json::from_str(&body.to_json_string()).unwrap();
                Some((id, kind, body))
            }
            _ => None,
        })
        .collect()
}

/// Join room "r" as uid 1 with `members` already there; returns the client and join's request id.
fn joined(members: Vec<MemberInfo>) -> Client {
    joined_as(client(), members)
}

pub(super) fn joined_as(mut c: Client, members: Vec<MemberInfo>) -> Client {
    let op = c.join(0, "r", 1, None).unwrap();
    assert!(matches!(drain(&mut c)[..], [Output::Connect { .. }]));
    c.handle_socket_open(5);
    let outs = drain(&mut c);
    assert_eq!(outs[0], Output::Event(AppEvent::Open));
    let (id, kind, _) = sent(&outs).remove(0);
    assert_eq!(kind, RequestKind::Join);
    let ok = JoinOk {
        session: "s".into(),
        room: "r".into(),
        uid: 1,
        role: Role::Broadcaster,
        members,
        seq: 0,
        server_time_ms: 0,
        ping_interval_ms: 60_000,
        ping_timeout_ms: 60_000,
        resumed: false,
    };
    c.handle_socket_message(6, &encode_ok(id, &ok));
    let outs = drain(&mut c);
    assert_eq!(
        outs[0],
        Output::Resolve {
            op,
            value: OpValue::Done
        }
    );
    c
}

#[test]
fn join_reports_existing_members_and_their_streams() {
    let mut c = client();
    c.join(0, "r", 1, Some("tok".into())).unwrap();
    drain(&mut c);
    c.handle_socket_open(1);
    let outs = drain(&mut c);
    let (id, _, body) = sent(&outs).remove(0);
    assert_eq!(body["token"], "tok");
    assert_eq!(body["uid"], 1);
    let ok = JoinOk {
        session: "s".into(),
        room: "r".into(),
        uid: 1,
        role: Role::Broadcaster,
        members: vec![MemberInfo {
            uid: 2,
            role: Role::Broadcaster,
            live: Media {
                audio: false,
                video: true,
            },
            ..Default::default()
        }],
        seq: 4,
        server_time_ms: 0,
        ping_interval_ms: 60_000,
        ping_timeout_ms: 60_000,
        resumed: false,
    };
    c.handle_socket_message(2, &encode_ok(id, &ok));
    let evs: Vec<_> = drain(&mut c)
        .into_iter()
        .filter_map(|o| {
            if let Output::Event(e) = o {
                Some(e)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        evs,
        vec![
            AppEvent::ClientJoin { uid: 2 },
            AppEvent::StreamAdded {
                uid: 2,
                media: MediaKind::Video
            }
        ]
    );
    assert_eq!(c.last_seq(), 4);
}

#[test]
fn events_apply_in_seq_order_once() {
    let mut c = joined(vec![]);
    let ev = |seq, e: Event| encode_event(seq, &e);
    c.handle_socket_message(
        1,
        &ev(
            1,
            Event::MemberJoined {
                uid: 9,
                role: Role::Broadcaster,
                user: None,
            },
        ),
    );
    c.handle_socket_message(
        1,
        &ev(
            1,
            Event::MemberJoined {
                uid: 9,
                role: Role::Broadcaster,
                user: None,
            },
        ),
    ); // duplicate
    c.handle_socket_message(
        1,
        &ev(
            2,
            Event::StreamAdded {
                uid: 9,
                media: Media::BOTH,
                stream: None,
            },
        ),
    );
    c.handle_socket_message(
        1,
        &ev(
            3,
            Event::MemberLeft {
                uid: 9,
                reason: LeaveReason::Left,
            },
        ),
    );
    let evs: Vec<_> = drain(&mut c)
        .into_iter()
        .filter_map(|o| {
            if let Output::Event(e) = o {
                Some(e)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        evs,
        vec![
            AppEvent::ClientJoin { uid: 9 },
            AppEvent::StreamAdded {
                uid: 9,
                media: MediaKind::Audio
            },
            AppEvent::StreamAdded {
                uid: 9,
                media: MediaKind::Video
            },
            AppEvent::StreamRemoved {
                uid: 9,
                media: MediaKind::Audio
            },
            AppEvent::StreamRemoved {
                uid: 9,
                media: MediaKind::Video
            },
            AppEvent::ClientLeave {
                uid: 9,
                reason: LeaveReason::Left
            },
        ]
    );
    assert_eq!(c.members().count(), 0);
}

#[test]
fn requests_time_out_at_their_deadline() {
    let mut c = joined(vec![]);
    let op = c.publish(100, Media::BOTH).unwrap();
    drain(&mut c);
    assert_eq!(c.poll_timeout(), Some(10_100));
    c.handle_timeout(10_099);
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(10_100);
    match &drain(&mut c)[..] {
        [Output::Event(AppEvent::SendCommandOverTime { command: "publish" }), Output::Reject { op: o, error }] =>
        {
            assert_eq!(*o, op);
            assert_eq!(error.code, ErrorCode::Timeout);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.poll_timeout(),
        Some(60_006),
        "only the next heartbeat is due"
    );
    assert!(
        c.is_joined(),
        "a timed-out publish does not end the session"
    );
}

#[test]
fn connect_timeout_rejects_join_and_closes() {
    let mut c = client();
    let op = c.join(0, "r", 1, None).unwrap();
    drain(&mut c);
    c.handle_timeout(10_000);
    let outs = drain(&mut c);
    assert!(matches!(outs[0], Output::Close { .. }));
    assert!(
        matches!(&outs[1], Output::Reject { op: o, error } if *o == op && error.code == ErrorCode::ConnectionLost)
    );
    // A new join opens a new socket.
    c.join(20_000, "r", 1, None).unwrap();
    assert!(matches!(drain(&mut c)[..], [Output::Connect { .. }]));
}

#[test]
fn server_errors_reject_with_their_code_and_failed_join_cleans_up() {
    let mut c = client();
    let op = c.join(0, "r", 1, None).unwrap();
    drain(&mut c);
    c.handle_socket_open(1);
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(
        2,
        &encode_err(
            Some(id),
            &WireError::new(ErrorCode::TokenExpired, "expired"),
        ),
    );
    let outs = drain(&mut c);
    assert!(outs.iter().any(|o| matches!(o, Output::Close { .. })));
    assert!(outs.iter().any(|o| matches!(o, Output::Reject { op: x, error } if *x == op && error.code == ErrorCode::TokenExpired)));
    assert!(!c.is_joined());
    assert!(
        c.join(3, "r", 1, None).is_ok(),
        "can join again after a failed join"
    );
}

#[test]
fn socket_loss_without_reconnect_rejects_pending_and_reports_disconnect() {
    let mut c = joined_as(no_reconnect(), vec![]);
    let op = c.subscribe(10, 5, Media::BOTH).unwrap();
    drain(&mut c);
    c.handle_socket_close(11, 1006, "gone");
    let outs = drain(&mut c);
    assert!(
        matches!(&outs[0], Output::Reject { op: x, error } if *x == op && error.code == ErrorCode::ConnectionLost)
    );
    assert_eq!(
        outs[1],
        Output::Event(AppEvent::Disconnect {
            code: 1006,
            reason: "connection closed (1006 gone)".into()
        })
    );
    assert!(!c.is_joined());
}

#[test]
fn garbage_from_the_server_is_ignored() {
    let mut c = joined(vec![]);
    for junk in [
        "",
        "{",
        "[]",
        r#"{"v":1}"#,
        r#"{"v":7,"re":1,"ok":true}"#,
        r#"{"v":1,"seq":1,"type":"zzz"}"#,
        r#"{"v":1,"re":999,"ok":true}"#,
    ] {
        c.handle_socket_message(1, junk);
    }
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.bad_frames, 6);
    assert!(c.is_joined());
}

#[test]
fn api_rules_are_checked_before_sending() {
    let mut c = client();
    assert_eq!(
        c.publish(0, Media::BOTH).unwrap_err().code,
        ErrorCode::NotJoined
    );
    assert_eq!(
        c.join(0, "bad room", 1, None).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    let mut c = joined(vec![]);
    assert_eq!(
        c.join(0, "r", 1, None).unwrap_err().code,
        ErrorCode::AlreadyJoined
    );
    assert_eq!(
        c.subscribe(0, 1, Media::BOTH).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    let op = c.set_role(0, Role::Audience).unwrap();
    let (id, kind, _) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::SetRole);
    c.handle_socket_message(1, &encode_ok(id, &serde_json::json!({})));
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::Done
        }]
    );
    assert_eq!(
        c.publish(2, Media::BOTH).unwrap_err().code,
        ErrorCode::AudienceCannotPublish
    );
    assert!(ClientConfig::new("", "ws://x").is_err());
    assert!(ClientConfig::new("a", "http://x").is_err());
}

#[test]
fn leave_closes_and_allows_a_new_join() {
    let mut c = joined(vec![]);
    let op = c.leave(1).unwrap();
    let (id, kind, _) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::Leave);
    c.handle_socket_message(2, &encode_ok(id, &serde_json::json!({})));
    let outs = drain(&mut c);
    assert!(matches!(outs[0], Output::Close { code: 1000, .. }));
    assert_eq!(
        outs[1],
        Output::Resolve {
            op,
            value: OpValue::Done
        }
    );
    c.handle_socket_close(3, 1000, "");
    assert!(
        drain(&mut c).is_empty(),
        "our own close is not a disconnect"
    );
    // leave when not joined resolves at once
    let op = c.leave(4).unwrap();
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::Done
        }]
    );
}

#[test]
fn destroy_rejects_everything_pending_and_closes() {
    let mut c = joined(vec![]);
    let a = c.publish(1, Media::BOTH).unwrap();
    let b = c.subscribe(1, 2, Media::BOTH).unwrap();
    drain(&mut c);
    c.destroy();
    let outs = drain(&mut c);
    let rejected: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Reject { op, error } if error.code == ErrorCode::Cancelled => Some(*op),
            _ => None,
        })
        .collect();
    assert_eq!(rejected, vec![a, b]);
    assert!(outs.iter().any(|o| matches!(o, Output::Close { .. })));
    assert!(!c.is_joined());
    assert_eq!(c.poll_timeout(), None);
}

fn task_req(id: &str, width: u32) -> String {
    serde_json::json!({"rtmpTasks": [{
        "taskId": id, "streamUrl": "rtmp://cdn/x",
        "layout": {"canvas": {"width": 1280, "height": 720, "color": 0},
                   "users": [{"uid": 2, "x": 0, "y": 0, "width": width, "height": 360}]}
    }]})
    .to_string()
}

#[test]
fn tasks_go_to_the_server_as_given_and_statuses_arrive_in_order() {
    let mut c = client();
    let e = c.add_tasks(1, &task_req("t1", 640)).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotJoined);
    let mut c = joined(vec![]);
    for not_an_object in ["[]", "null", "", "{\"rtmpTasks\": [", "7"] {
        let e = c.add_tasks(1, not_an_object).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTask, "{not_an_object:?}");
        let e = c.delete_tasks(1, not_an_object).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTask, "{not_an_object:?}");
    }
    assert!(drain(&mut c).is_empty(), "nothing was sent");

    // The server checks the rules; its refusal, with the field, is the app's error.
    let op = c.add_tasks(1, &task_req("t1", 2000)).unwrap();
    let (id, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::AddTasks);
    assert_eq!(body["rtmpTasks"][0]["layout"]["users"][0]["width"], 2000);
    let refusal = WireError {
        code: ErrorCode::InvalidTask,
        msg: "rtmpTasks[0].layout.users[0].width must be 1 to 1280 (the canvas width)".into(),
        field: Some("rtmpTasks[0].layout.users[0].width".into()),
    };
    c.handle_socket_message(2, &encode_err(Some(id), &refusal));
    match drain(&mut c).as_slice() {
        [Output::Reject { op: o, error }] => {
            assert_eq!(*o, op);
            assert_eq!(error.code, ErrorCode::InvalidTask);
            assert_eq!(error.field, refusal.field);
        }
        other => panic!("{other:?}"),
    }

    let op = c.add_tasks(1, &task_req("t1", 640)).unwrap();
    let (id, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::AddTasks);
    assert_eq!(body["rtmpTasks"][0]["layout"]["users"][0]["width"], 640);
    c.handle_socket_message(2, &encode_ok(id, &serde_json::json!({})));
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::Done
        }]
    );
    let status = |seq, code: u16| {
        encode_event(
            seq,
            &Event::TaskStatus {
                task_id: "t1".into(),
                code,
                msg: "m".into(),
                stream_url: "rtmp://cdn/x".into(),
            },
        )
    };
    c.handle_socket_message(3, &status(1, 506));
    c.handle_socket_message(3, &status(2, 505));
    c.handle_socket_message(3, &status(2, 505)); // duplicate seq
    c.handle_socket_message(3, &status(3, 511));
    let codes: Vec<u16> = drain(&mut c)
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(AppEvent::RtmpTasksStatus { code, .. }) => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![506, 505, 511]);
    c.delete_tasks(4, r#"{"taskIds": ["t1"]}"#).unwrap();
    let (_, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::DeleteTasks);
    assert_eq!(body, serde_json::json!({"taskIds": ["t1"]}));
}

#[test]
fn heartbeats_measure_rtt_and_a_missed_one_means_a_dead_connection() {
    let mut c = client();
    c.join(0, "r", 1, None).unwrap();
    drain(&mut c);
    c.handle_socket_open(0);
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    let ok = JoinOk {
        session: "s".into(),
        room: "r".into(),
        uid: 1,
        role: Role::Broadcaster,
        members: vec![],
        seq: 0,
        server_time_ms: 0,
        ping_interval_ms: 1000,
        ping_timeout_ms: 3000,
        resumed: false,
    };
    c.handle_socket_message(10, &encode_ok(id, &ok));
    drain(&mut c);
    assert_eq!(c.poll_timeout(), Some(1010));
    c.handle_timeout(1010);
    let (id, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!((kind, body["ts"].as_u64()), (RequestKind::Ping, Some(1010)));
    c.handle_socket_message(
        1052,
        &encode_ok(
            id,
            &PingOk {
                ts: 1010,
                server_time_ms: 5,
            },
        ),
    );
    assert_eq!(c.rtt_ms, Some(42));
    assert!(drain(&mut c).is_empty(), "pings are invisible to the app");
    // The next ping gets no answer: at its deadline the connection counts as dead.
    c.handle_timeout(2010);
    assert_eq!(sent(&drain(&mut c))[0].1, RequestKind::Ping);
    let op = c.publish(2500, Media::BOTH).unwrap();
    drain(&mut c);
    c.handle_timeout(4999);
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(5010);
    let outs = drain(&mut c);
    assert!(matches!(outs[0], Output::Close { .. }), "{outs:?}");
    // The dead connection is replaced, and the publish waits for the next one.
    assert!(!outs
        .iter()
        .any(|o| matches!(o, Output::Reject { op: x, .. } if *x == op)));
    assert!(c.is_reconnecting());
    assert_eq!(
        outs.last(),
        Some(&Output::Event(AppEvent::WillReconnect { count: 1 }))
    );
    let mut c = joined_as(no_reconnect(), vec![]);
    c.handle_timeout(60_006);
    drain(&mut c);
    let op = c.publish(60_010, Media::BOTH).unwrap();
    c.handle_timeout(60_006 + 60_000);
    let outs = drain(&mut c);
    assert!(outs.iter().any(|o| matches!(o, Output::Reject { op: x, error } if *x == op && error.code == ErrorCode::ConnectionLost)));
    assert_eq!(
        outs.last(),
        Some(&Output::Event(AppEvent::Disconnect {
            code: HEARTBEAT_CLOSE_CODE,
            reason: "heartbeat timeout: the connection is dead".into()
        }))
    );
    assert!(!c.is_joined());
    c.handle_socket_close(5020, 1000, "");
    assert!(
        drain(&mut c).is_empty(),
        "the close that follows is not news"
    );
}

// ---- the component bridge (dataReporter) -----------------------------------------------------

use super::component::ComponentState;
use super::component::{ComponentErrorCode, PlayerState, PusherState};
use super::{ComponentKind, ReportEvent};

fn events(outs: &[Output]) -> Vec<AppEvent> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// Joined as uid 1 and publishing `media`; the publish has been answered.
fn publishing(media: Media) -> Client {
    let mut c = joined(vec![]);
    let op = c.publish(10, media).unwrap();
    let (id, kind, _) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::Publish);
    c.handle_socket_message(
        11,
        &encode_ok(
            id,
            &PublishOk {
                url: "rtmp://h/live/r.1?v=1".into(),
                media,
            },
        ),
    );
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::PushUrl("rtmp://h/live/r.1?v=1".into())
        }]
    );
    c
}

/// Joined as uid 1 with uid 2 in the room, subscribed to `media` of uid 2.
fn subscribed(media: Media) -> Client {
    let mut c = joined(vec![MemberInfo {
        uid: 2,
        role: Role::Broadcaster,
        live: Media::BOTH,
        ..Default::default()
    }]);
    drain(&mut c);
    c.subscribe(10, 2, media).unwrap();
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(
        11,
        &encode_ok(
            id,
            &SubscribeOk {
                url: "rtmp://h/live/r.2?v=1".into(),
                flv_url: "http://h/live/r.2.flv?v=1".into(),
            },
        ),
    );
    drain(&mut c);
    assert_eq!(c.subscriptions().collect::<Vec<_>>(), vec![(2, media)]);
    c
}

fn report(
    c: &mut Client,
    now: u64,
    kind: ComponentKind,
    event: ReportEvent,
    v: serde_json::Value,
    uid: Option<u64>,
) {
    c.data_reporter(now, kind, event, &Json::from(&v), uid)
        .unwrap();
}

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
                assert_eq!(
                    c.data_reporter(5, kind, ev, &Json::from(&junk), None),
                    Ok(())
                );
            }
        }
    }
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.push_quality(), None);
    assert_eq!(c.component(ComponentKind::Push, None).unwrap().state, None);
}

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
