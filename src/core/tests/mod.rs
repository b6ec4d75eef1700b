//! Unit tests of the state machine, driven frame by frame in virtual time, one file per
//! behaviour; this file holds the fixtures they share. The two-party tests against the real
//! server logic live in `server/tests/harness/`, the seeded fault runs in
//! `server/tests/faults/`.

mod components;
mod dialects;
mod gaps;
mod messages;
mod reconnect;
mod roles;
mod session;
mod tasks;
mod zego;

use super::*;
use crate::protocol::frame::{decode_request, encode_ok};
use crate::protocol::json::{Json, ToJson};
use crate::protocol::*;

/// A client with the default settings (it reconnects) and seed 0. The port is closed on
/// purpose: nothing here opens a socket, the tests play the server's part.
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
fn drain(c: &mut Client) -> Vec<Output> {
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

/// Every output queued so far, in order: what a driver would carry out after one input.
fn drain_all(c: &mut Client) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

/// The requests among `outs`, decoded: (request id, kind, body as serde_json, so that the
/// assertions do not lean on the core's own JSON reader).
fn sent(outs: &[Output]) -> Vec<(u32, RequestKind, serde_json::Value)> {
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

/// The server's answer to a join of room "r" as uid 1: `session` at event `seq`, with
/// `members` already there; `resumed` when it answers a rejoin that kept the session.
/// Heartbeats are a minute apart, out of the way of tests not about them.
fn join_ok(session: &str, seq: u64, members: Vec<MemberInfo>, resumed: bool) -> JoinOk {
    JoinOk {
        session: session.into(),
        room: "r".into(),
        uid: 1,
        role: Role::Broadcaster,
        members,
        seq,
        server_time_ms: 0,
        ping_interval_ms: 60_000,
        ping_timeout_ms: 60_000,
        resumed,
    }
}

/// A broadcaster publishing `live`, with no user or stream id.
fn member(uid: u64, live: Media) -> MemberInfo {
    MemberInfo {
        uid,
        role: Role::Broadcaster,
        live,
        ..Default::default()
    }
}

/// Joined room "r" as uid 1 with `members` already there; the join has been answered.
fn joined(members: Vec<MemberInfo>) -> Client {
    joined_as(client(), members)
}

/// [`joined`] for a client made with other settings: the join is asked at 0, the socket
/// opens at 5 and the answer comes at 6 (tests that count time start after that).
fn joined_as(mut c: Client, members: Vec<MemberInfo>) -> Client {
    let op = c.join(0, "r", 1, None).unwrap();
    assert!(matches!(drain(&mut c)[..], [Output::Connect { .. }]));
    c.handle_socket_open(5);
    let outs = drain(&mut c);
    assert_eq!(outs[0], Output::Event(AppEvent::Open));
    let (id, kind, _) = sent(&outs).remove(0);
    assert_eq!(kind, RequestKind::Join);
    c.handle_socket_message(6, &encode_ok(id, &join_ok("s", 0, members, false)));
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

/// The app events among `outs`, in order.
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

/// Forward a component report as a page would (`e.detail` written with serde_json); the
/// reports in these tests are all well-formed calls, so an error fails the test.
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
