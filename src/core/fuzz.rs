//! Bounded fuzzing (property tests) of the client: a joined [`Client`] fed any sequence of
//! server frames (built by the wire's strategies, `protocol::fuzz` and `protocol::arbitrary`),
//! mutated join answers, and any component report a page may forward. Nothing panics, nothing
//! is answered twice, and old events are never delivered again.
//!
//! Cases per property: `MPRTC_FUZZ_CASES` (default 256); `PROPTEST_RNG_SEED=<u64>` makes a run
//! repeatable.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

use crate::core::{AppEvent, Client, ClientConfig, Output};
use crate::protocol::arbitrary::*;
use crate::protocol::frame::{
    self, decode_request, decode_server, encode_ok, RequestKind, ServerFrame,
};
use crate::protocol::fuzz::*;
use crate::protocol::json::Json;
use crate::protocol::messages::*;

const T0: u64 = 1_700_000_000_000;
/// The `seq` of the join response: events at or below it are old.
const JOIN_SEQ: u64 = 5;
/// The joined member's own uid.
const SELF_UID: u64 = 7;

/// The join response body for request 1, built as JSON so that fields added to [`JoinOk`] with
/// serde defaults need no change here.
fn join_ok_body() -> Value {
    json!({
        "session": "s-1",
        "room": "room1",
        "uid": SELF_UID,
        "role": "broadcaster",
        "members": [{"uid": 8, "role": "broadcaster", "live": {"audio": true, "video": true}}],
        "seq": JOIN_SEQ,
        "server_time_ms": T0,
        "ping_interval_ms": 10_000,
        "ping_timeout_ms": 20_000,
    })
}

fn drain(c: &mut Client) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

/// A client that sent `join` (request 1) on an open socket and has not heard back.
fn joining_client() -> Client {
    let mut c = Client::new(ClientConfig::new("app", "ws://x").unwrap());
    c.join(T0, "room1", 7, None).unwrap();
    c.handle_socket_open(T0);
    let sent: Vec<String> = drain(&mut c)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "one join frame: {sent:?}");
    let (id, kind, _) = decode_request(&sent[0]).expect("the client's own frame decodes");
    assert_eq!((id, kind), (1, RequestKind::Join));
    c
}

fn joined_client() -> Client {
    let mut c = joining_client();
    c.handle_socket_message(T0, &encode_ok(1, &join_ok_body()));
    let out = drain(&mut c);
    assert!(
        out.iter().any(|o| matches!(o, Output::Resolve { .. })),
        "join resolves: {out:?}"
    );
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::Close { .. } | Output::Reject { .. })));
    assert_eq!(c.bad_frames, 0);
    c
}

#[test]
fn join_ok_body_is_a_join_ok() {
    let ok: JoinOk = frame::body(&Json::from(join_ok_body())).expect("join_ok_body matches JoinOk");
    assert_eq!((ok.uid, ok.seq), (SELF_UID, JOIN_SEQ));
    let _ = joined_client();
}

#[derive(Debug, Clone)]
enum Step {
    Frame(String),
    /// Time passes by this many ms and the client's timer fires.
    Tick(u64),
}

fn client_frame() -> BoxedStrategy<String> {
    prop_oneof![
        4 => server_frame(),
        4 => mutated(server_frame()),
        1 => prop_oneof![arb_json(), arb_json_object()].prop_map(|v| v.to_string()),
        1 => arb_text(),
    ]
    .boxed()
}

fn steps() -> BoxedStrategy<Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            8 => client_frame().prop_map(Step::Frame),
            1 => prop_oneof![0u64..2_000, 9_000u64..25_000].prop_map(Step::Tick),
        ],
        1..24,
    )
    .boxed()
}

/// What a frame must do to a client whose socket is open, judged by `decode_server` alone.
fn check_frame(
    text: &str,
    bad: u64,
    out: &[Output],
    last_seq: &mut u64,
) -> Result<(), TestCaseError> {
    let app_ops = out
        .iter()
        .any(|o| matches!(o, Output::Resolve { .. } | Output::Reject { .. }));
    match decode_server(text) {
        Err(_) | Ok(ServerFrame::Err { re: None, .. }) => {
            // Unreadable, or an error nobody asked for: counted, and nothing else happens.
            prop_assert_eq!(bad, 1, "an unreadable frame counts once: {}", text);
            prop_assert!(
                out.is_empty(),
                "an unreadable frame did something: {:?}",
                out
            );
        }
        Ok(ServerFrame::Ok { .. }) | Ok(ServerFrame::Err { .. }) => {
            // Only heartbeats can be pending: no app operation settles, nothing is counted.
            prop_assert_eq!(bad, 0, "a readable response was counted bad: {}", text);
            prop_assert!(!app_ops, "a response settled an app op: {:?}", out);
        }
        Ok(ServerFrame::Event { seq, event }) => {
            prop_assert_eq!(bad, 0, "a readable event was counted bad: {}", text);
            prop_assert!(!app_ops, "an event settled an app op: {:?}", out);
            if seq <= *last_seq {
                prop_assert!(
                    out.is_empty(),
                    "old event (seq {} <= {}) applied: {:?}",
                    seq,
                    *last_seq,
                    out
                );
                return Ok(());
            }
            let ends = matches!(event, Event::Kicked { .. } | Event::RoomClosed { .. });
            if seq - *last_seq > 1 && !ends {
                // A hole: not applied; the client drops the socket to resume from `last_seq`.
                prop_assert!(
                    matches!(
                        out,
                        [
                            Output::Close { code: 4000, .. },
                            Output::Event(AppEvent::WillReconnect { gap: true, .. })
                        ]
                    ),
                    "event past a hole (seq {} after {}): {:?}",
                    seq,
                    *last_seq,
                    out
                );
                return Ok(());
            }
            *last_seq = seq;
            let has = |f: &dyn Fn(&AppEvent) -> bool| {
                out.iter().any(|o| matches!(o, Output::Event(e) if f(e)))
            };
            let applied = match &event {
                Event::MemberJoined { uid, .. } => {
                    has(&|e| matches!(e, AppEvent::ClientJoin { uid: u } if u == uid))
                }
                // The member's own role is told only when it is news (`client/room.rs`; the
                // core's `roles` tests check that): here it may be the role it already has.
                Event::RoleChanged { uid, .. } if *uid == SELF_UID => true,
                Event::RoleChanged { uid, role, .. } => has(
                    &|e| matches!(e, AppEvent::RoleChanged { uid: u, role: r } if u == uid && r == role),
                ),
                Event::TaskStatus { task_id, code, .. } => has(
                    &|e| matches!(e, AppEvent::RtmpTasksStatus { task_id: t, code: c, .. } if t == task_id && c == code),
                ),
                Event::Kicked { reason, .. } => {
                    has(&|e| matches!(e, AppEvent::Kicked { reason: r } if r == reason))
                }
                Event::RoomClosed { .. } => has(&|e| matches!(e, AppEvent::LiveRoomClose)),
                Event::TokenWillExpire { remaining_s, .. } => has(
                    &|e| matches!(e, AppEvent::TokenWillExpire { remaining_s: r } if r == remaining_s),
                ),
                // These may change nothing the app sees (an unknown uid, media already live).
                _ => true,
            };
            prop_assert!(applied, "event {:?} not applied: {:?}", event, out);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// A joined client fed any frames: no panic; each frame is either counted in `bad_frames`
    /// (and does nothing else) or applied. Once the client closes its socket (kicked, room
    /// closed, heartbeat lost) it ignores the rest, since this test never reopens it.
    #[test]
    fn joined_client_survives_any_frames(steps in steps()) {
        let mut c = joined_client();
        let mut now = T0;
        let mut open = true;
        let mut last_seq = JOIN_SEQ;
        for step in &steps {
            match step {
                Step::Tick(dt) => {
                    now += dt;
                    c.handle_timeout(now);
                    let out = drain(&mut c);
                    for o in &out {
                        match o {
                            Output::Send(f) => {
                                prop_assert!(decode_request(f).is_ok(), "the client sent {}", f);
                            }
                            // Closing, or opening a new socket (which this test never
                            // reports open): either way this socket's frames are ignored now.
                            Output::Close { .. } | Output::Connect { .. } => open = false,
                            Output::Event(_) => {}
                            other => prop_assert!(false, "a tick produced {:?}", other),
                        }
                    }
                }
                Step::Frame(text) => {
                    let before = c.bad_frames;
                    c.handle_socket_message(now, text);
                    let bad = c.bad_frames - before;
                    let out = drain(&mut c);
                    if open {
                        check_frame(text, bad, &out, &mut last_seq)?;
                    } else {
                        prop_assert_eq!(bad, 0);
                        prop_assert!(out.is_empty(), "a closed client acted: {:?}", out);
                    }
                    if out
                        .iter()
                        .any(|o| matches!(o, Output::Close { .. } | Output::Connect { .. }))
                    {
                        open = false;
                    }
                }
            }
        }
    }

    /// The join response itself, mutated: the client either joins, rejects the join, or counts
    /// the frame; it never panics.
    #[test]
    fn mutated_join_response_never_panics(
        text in mutated(Just(encode_ok(1, &join_ok_body()))),
        ticks in proptest::collection::vec(0u64..30_000, 0..4),
    ) {
        join_then_tick(&text, &ticks);
    }

    /// A well-formed join response with any numbers in its numeric fields: no panic. (It
    /// found the client adding the server's heartbeat periods to `now` unchecked; they are
    /// clamped now.)
    #[test]
    fn join_response_with_any_numbers_never_panics(
        (uid, seq, t, interval, timeout) in (any_u64(), any_u64(), any_u64(), any_u64(), any_u64()),
        ticks in proptest::collection::vec(0u64..30_000, 0..4),
    ) {
        let mut b = join_ok_body();
        b["uid"] = json!(uid);
        b["seq"] = json!(seq);
        b["server_time_ms"] = json!(t);
        b["ping_interval_ms"] = json!(interval);
        b["ping_timeout_ms"] = json!(timeout);
        join_then_tick(&encode_ok(1, &b), &ticks);
    }
}

/// Small numbers, any number, and the edges.
fn any_u64() -> BoxedStrategy<u64> {
    prop_oneof![
        2 => 0u64..100_000,
        1 => any::<u64>(),
        1 => select(vec![u64::MAX, u64::MAX - 1, u64::MAX / 2, u64::MAX - T0]),
    ]
    .boxed()
}

/// A joining client gets `text` as the answer to its join, then its timer fires after `ticks`.
fn join_then_tick(text: &str, ticks: &[u64]) {
    let mut c = joining_client();
    c.handle_socket_message(T0, text);
    let _ = drain(&mut c);
    let mut now = T0;
    for dt in ticks {
        now += dt;
        c.handle_timeout(now);
        let _ = drain(&mut c);
    }
}

// ---- component reports -----------------------------------------------------------------------

/// A `bindnetstatus` info as phones send it, and as they should not: every documented field
/// as a number, a numeric string, junk, or missing, plus unknown fields.
fn net_status_json() -> BoxedStrategy<Value> {
    const FIELDS: [&str; 18] = [
        "videoBitrate",
        "audioBitrate",
        "videoFPS",
        "videoGOP",
        "netSpeed",
        "netJitter",
        "netQualityLevel",
        "videoWidth",
        "videoHeight",
        "videoCache",
        "audioCache",
        "vDecCacheSize",
        "vSumCacheSize",
        "avPlayInterval",
        "avRecvInterval",
        "audioCacheThreshold",
        "code",
        "message",
    ];
    let field = prop_oneof![
        3 => arb_number(),
        2 => any::<i64>().prop_map(|n| json!(n.to_string())),
        1 => arb_json(),
    ];
    (
        proptest::collection::vec(proptest::option::of(field), FIELDS.len()),
        proptest::collection::btree_map(arb_key(), arb_leaf(), 0..3),
    )
        .prop_map(|(vals, extra)| {
            let mut o = serde_json::Map::new();
            for (k, v) in FIELDS.iter().zip(vals) {
                if let Some(v) = v {
                    o.insert((*k).to_owned(), v);
                }
            }
            for (k, v) in extra {
                o.entry(k).or_insert(v);
            }
            Value::Object(o)
        })
        .boxed()
}

proptest! {
    #![proptest_config(config())]

    /// Whatever a page forwards, the readers never panic, keep every field they return within
    /// its documented range, and read `{info: ...}` the same as the info itself.
    #[test]
    fn component_reports_are_read_leniently(v in prop_oneof![net_status_json(), arb_json()]) {
        use crate::core::component::{
            parse_component_error, parse_net_status, parse_player_state, parse_pusher_state,
        };
        let j = Json::from(&v);
        let _ = parse_pusher_state(&j);
        let _ = parse_player_state(&j);
        let _ = parse_component_error(&j);
        if let Some(n) = parse_net_status(&j) {
            prop_assert!(n.net_quality_level.is_none_or(|q| q <= 6));
            prop_assert!(n.video_fps.is_none_or(f64::is_finite));
            prop_assert_eq!(parse_net_status(&Json::from(json!({ "info": v.clone() }))), Some(n));
        }
    }

    /// A joined client takes any report for either component without an error or a panic,
    /// and sends at most one recovery request per failure.
    #[test]
    fn the_client_takes_any_report(
        reports in proptest::collection::vec(
            (any::<bool>(), 0u8..3, prop_oneof![net_status_json(), arb_json()]),
            1..8,
        ),
    ) {
        use crate::core::{ComponentKind, ReportEvent};
        let mut c = joined_client();
        drain(&mut c);
        for (i, (push, event, v)) in reports.iter().enumerate() {
            let kind = if *push { ComponentKind::Push } else { ComponentKind::Pull };
            let event = match event {
                0 => ReportEvent::StateChange,
                1 => ReportEvent::NetStatus,
                _ => ReportEvent::Error,
            };
            prop_assert!(c.data_reporter(100 + i as u64, kind, event, &Json::from(v), Some(8)).is_ok());
        }
        let requests = drain(&mut c)
            .into_iter()
            .filter(|o| matches!(o, Output::Send(_)))
            .count();
        prop_assert!(requests <= 2, "{requests} recovery requests");
    }
}
