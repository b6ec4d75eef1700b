//! Bounded fuzzing (property tests) of the wire decoding: [`frame`]'s decoders on arbitrary
//! text, arbitrary JSON and mutated valid frames, and encode/decode round trips. (The client
//! fed such frames is fuzzed with the core, in `core::fuzz`, using the strategies here.)
//!
//! Cases per property: `MPRTC_FUZZ_CASES` (default 256). Failures are not persisted (no
//! `proptest-regressions/` files): a failing case is printed shrunk, and inputs worth keeping
//! become plain tests below. Runs are random; `PROPTEST_RNG_SEED=<u64>` makes one repeatable.
//!
//! JSON is generated and inspected with serde_json, an implementation independent of
//! [`super::json`]: the round trips below are also a differential test of our reader and
//! writer against it. Typed values are built from JSON rather than struct literals so that
//! fields added later with defaults do not break this file.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

use super::arbitrary::*;
use super::error::{ErrorCode, WireError};
use super::frame::{
    self, decode_request, decode_server, encode_err, encode_event, encode_ok, encode_request,
    RequestKind, ServerFrame, VERSION,
};
use super::json::{self, FromJson, Json, ToJson};
use super::messages::*;
use super::tasks::{DeleteTasksReq, TasksReq};

// ---- arbitrary objects (the rest of the vocabulary is in `super::arbitrary`) -------------

/// Any JSON object, often with a protocol-looking envelope.
pub(crate) fn arb_json_object() -> BoxedStrategy<Value> {
    (
        proptest::option::of(prop_oneof![Just(json!(VERSION)), arb_json()]),
        proptest::option::of(arb_json()),
        proptest::option::of(prop_oneof![select(NAMES).prop_map(Value::from), arb_json()]),
        proptest::collection::vec((arb_key(), arb_json()), 0..4),
    )
        .prop_map(|(v, id, kind, rest)| {
            let mut m: Map<String, Value> = rest.into_iter().collect();
            for (k, x) in [("v", v), ("id", id), ("type", kind)] {
                if let Some(x) = x {
                    m.insert(k.into(), x);
                }
            }
            Value::Object(m)
        })
        .boxed()
}

// ---- valid requests --------------------------------------------------------------------------

/// Mostly small uids, so that frames in one case often refer to the same member (a join, then
/// its stream); sometimes any u64, beyond what an f64 holds exactly.
fn uid() -> BoxedStrategy<u64> {
    prop_oneof![3 => 0u64..8, 1 => any::<u64>()].boxed()
}

/// Room names: mostly ordinary ones, sometimes any string (the codec must carry whatever
/// it is given, escapes included).
fn room() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(vec!["room1", "r2", "a_b-c"]).prop_map(str::to_owned),
        1 => arb_string(),
    ]
    .boxed()
}

/// A push task as JSON (it decodes; it need not pass `check_task`), with `hostUid` and
/// `audioParam` sometimes absent, so both forms of the optional members go through the codec.
fn task_json() -> BoxedStrategy<Value> {
    let user = (
        0u64..6,
        0u32..100,
        0u32..100,
        1u32..300,
        1u32..200,
        0u8..2,
        0i32..5,
    )
        .prop_map(|(uid, x, y, w, h, a, z)| {
            json!({"uid": uid, "x": x, "y": y, "width": w, "height": h, "adaption": a,
                   "zOrder": z, "pushAudio": true, "pushVideo": z % 2 == 0})
        });
    let image = (0u32..100, 0u32..100, 1u32..300, 1u32..200)
        .prop_map(|(x, y, w, h)| json!({"url": "https://i/x.png", "x": x, "y": y, "width": w, "height": h, "adaption": 0}));
    (
        "[a-zA-Z0-9_]{1,10}",
        "rtmp://h/[a-z]{1,6}",
        any::<bool>(),
        proptest::option::of(0u64..6),
        (8u32..960).prop_map(|w| w * 2),
        (8u32..540).prop_map(|h| h * 2),
        proptest::collection::vec(user, 0..3),
        proptest::collection::vec(image, 0..2),
        any::<bool>(),
        ".{0,8}",
    )
        .prop_map(
            |(id, url, record, host, w, h, users, images, audio_param, extra)| {
                let mut t = json!({
                    "taskId": id, "streamUrl": url, "record": record,
                    "layout": {"canvas": {"width": w, "height": h, "color": 0}, "users": users, "images": images},
                    "config": {"singleVideoNoTrans": false},
                    "extraInfo": extra,
                });
                if let Some(host) = host {
                    t["hostUid"] = json!(host);
                }
                if audio_param {
                    t["config"]["audioParam"] = json!({"bitRate": 64, "channels": 1, "codecProfile": 0, "sampleRate": 44100, "singleVideoNoTrans": false});
                }
                t
            },
        )
    .boxed()
}

/// A request body of `kind`, valid for its type (built as JSON, typed by [`typed_round_trip`]).
fn request_body(kind: RequestKind) -> BoxedStrategy<Value> {
    match kind {
        RequestKind::Join => (
            select(vec!["app", "dbg", "x"]),
            room(),
            uid(),
            proptest::option::of(arb_string()),
            role(),
            ".{0,6}",
        )
            .prop_map(|(appkey, room, uid, token, role, sdk)| {
                let mut b =
                    json!({"appkey": appkey, "room": room, "uid": uid, "role": role, "sdk": sdk});
                if let Some(t) = token {
                    b["token"] = json!(t);
                }
                b
            })
            .boxed(),
        RequestKind::Leave => Just(json!({})).boxed(),
        RequestKind::Publish | RequestKind::Unpublish => media().boxed(),
        RequestKind::Subscribe | RequestKind::Unsubscribe => (uid(), media())
            .prop_map(|(u, mut m)| {
                m["uid"] = json!(u);
                m
            })
            .boxed(),
        RequestKind::SetRole => role().prop_map(|r| json!({ "role": r })).boxed(),
        RequestKind::AddTasks | RequestKind::UpdateTasks => {
            proptest::collection::vec(task_json(), 1..3)
                .prop_map(|t| json!({ "rtmpTasks": t }))
                .boxed()
        }
        RequestKind::DeleteTasks => proptest::collection::vec("[a-zA-Z0-9_]{1,10}", 1..4)
            .prop_map(|ids| json!({ "taskIds": ids }))
            .boxed(),
        RequestKind::Ping => any::<u64>().prop_map(|ts| json!({ "ts": ts })).boxed(),
        RequestKind::RenewToken => arb_string().prop_map(|t| json!({ "token": t })).boxed(),
        RequestKind::Mute => (media(), any::<bool>())
            .prop_map(|(mut m, muted)| {
                m["muted"] = json!(muted);
                m
            })
            .boxed(),
        RequestKind::SendMessage => (
            message_kind(),
            arb_string(),
            proptest::collection::vec(uid(), 0..3),
        )
            .prop_map(|(k, text, to)| json!({ "kind": k, "text": text, "to": to }))
            .boxed(),
        RequestKind::SetExtraInfo => (proptest::option::of(arb_string()), arb_string())
            .prop_map(|(key, value)| match key {
                Some(k) => json!({ "key": k, "value": value }),
                None => json!({ "value": value }),
            })
            .boxed(),
    }
}

fn message_kind() -> BoxedStrategy<&'static str> {
    select(vec!["broadcast", "barrage", "command"]).boxed()
}

const KINDS: [RequestKind; 15] = [
    RequestKind::Join,
    RequestKind::Leave,
    RequestKind::Publish,
    RequestKind::Unpublish,
    RequestKind::Subscribe,
    RequestKind::Unsubscribe,
    RequestKind::SetRole,
    RequestKind::AddTasks,
    RequestKind::UpdateTasks,
    RequestKind::DeleteTasks,
    RequestKind::Ping,
    RequestKind::RenewToken,
    RequestKind::Mute,
    RequestKind::SendMessage,
    RequestKind::SetExtraInfo,
];

/// Any request: any id, any kind, and a body valid for that kind.
fn request() -> BoxedStrategy<(u32, RequestKind, Value)> {
    (any::<u32>(), select(KINDS.to_vec()))
        .prop_flat_map(|(id, kind)| request_body(kind).prop_map(move |b| (id, kind, b)))
        .boxed()
}

/// Type `b` (written by serde_json) as `kind`'s body, encode that, decode it again and type it
/// again: both must agree. serde_json must read what we wrote, and mean the same by it.
fn typed_round_trip(id: u32, kind: RequestKind, b: Value) -> Result<(), TestCaseError> {
    fn check<T>(id: u32, kind: RequestKind, b: Value) -> Result<(), TestCaseError>
    where
        T: FromJson + ToJson + PartialEq + std::fmt::Debug,
    {
        let typed: T = frame::body(&Json::from(&b))
            .map_err(|e| TestCaseError::fail(format!("generated body {b} is invalid: {e:?}")))?;
        let text = encode_request(id, kind, &typed);
        let (id2, kind2, b2) = decode_request(&text)
            .map_err(|e| TestCaseError::fail(format!("{text} does not decode: {e:?}")))?;
        prop_assert_eq!((id2, kind2), (id, kind));
        let again: T = frame::body(&b2)
            .map_err(|e| TestCaseError::fail(format!("{text}: body does not type: {e:?}")))?;
        prop_assert_eq!(&again, &typed);
        let theirs: Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("serde_json cannot read {text}: {e}")))?;
        prop_assert_eq!(&theirs["id"], &json!(id));
        let via_serde: T = frame::body(&Json::from(&theirs["body"])).map_err(|e| {
            TestCaseError::fail(format!("{text}: serde's body does not type: {e:?}"))
        })?;
        prop_assert_eq!(via_serde, typed);
        Ok(())
    }
    match kind {
        RequestKind::Join => check::<JoinReq>(id, kind, b),
        RequestKind::Leave => check::<Json>(id, kind, b),
        RequestKind::Publish => check::<PublishReq>(id, kind, b),
        RequestKind::Unpublish => check::<UnpublishReq>(id, kind, b),
        RequestKind::Subscribe => check::<SubscribeReq>(id, kind, b),
        RequestKind::Unsubscribe => check::<UnsubscribeReq>(id, kind, b),
        RequestKind::SetRole => check::<SetRoleReq>(id, kind, b),
        RequestKind::AddTasks | RequestKind::UpdateTasks => check::<TasksReq>(id, kind, b),
        RequestKind::DeleteTasks => check::<DeleteTasksReq>(id, kind, b),
        RequestKind::Ping => check::<PingReq>(id, kind, b),
        RequestKind::RenewToken => check::<RenewTokenReq>(id, kind, b),
        RequestKind::Mute => check::<MuteReq>(id, kind, b),
        RequestKind::SendMessage => check::<SendMessageReq>(id, kind, b),
        RequestKind::SetExtraInfo => check::<SetExtraInfoReq>(id, kind, b),
    }
}

// ---- valid server frames ---------------------------------------------------------------------

/// An event as JSON (`{"type":..,"body":..}`), every variant.
fn event_json() -> BoxedStrategy<Value> {
    let leave_reason = select(vec!["left", "connection_lost", "kicked"]);
    let kick_reason = select(vec!["replaced", "kicked", "token_expired"]);
    prop_oneof![
        (uid(), role()).prop_map(|(u, r)| json!({"type": "member-joined", "body": {"uid": u, "role": r}})),
        (uid(), leave_reason).prop_map(|(u, r)| json!({"type": "member-left", "body": {"uid": u, "reason": r}})),
        (uid(), media()).prop_map(|(u, m)| json!({"type": "stream-added", "body": {"uid": u, "media": m}})),
        (uid(), media()).prop_map(|(u, m)| json!({"type": "stream-removed", "body": {"uid": u, "media": m}})),
        (uid(), role()).prop_map(|(u, r)| json!({"type": "role-changed", "body": {"uid": u, "role": r}})),
        (arb_string(), any::<u16>(), arb_string(), arb_string()).prop_map(|(t, c, m, s)| {
            json!({"type": "task-status", "body": {"task_id": t, "code": c, "msg": m, "stream_url": s}})
        }),
        kick_reason.prop_map(|r| json!({"type": "kicked", "body": {"reason": r}})),
        Just(json!({"type": "room-closed", "body": {}})),
        any::<u64>().prop_map(|s| json!({"type": "token-will-expire", "body": {"remaining_s": s}})),
        (any::<u64>(), message_kind(), uid(), arb_string(), any::<u64>()).prop_map(|(i, k, u, t, ts)| {
            json!({"type": "message", "body": {"id": i, "kind": k, "from": u, "text": t, "ts": ts}})
        }),
        (uid(), arb_string(), any::<u64>()).prop_map(|(u, v, ts)| {
            json!({"type": "extra-info", "body": {"uid": u, "key": "k", "value": v, "ts": ts}})
        }),
    ]
    .boxed()
}

/// A typed event. A generated event that does not type is a bug in `event_json`, not a
/// finding, hence the panic.
fn event() -> BoxedStrategy<Event> {
    event_json()
        .prop_map(|v| {
            Event::from_json(&Json::from(&v))
                .unwrap_or_else(|e| panic!("generated event {v} is invalid: {e:?}"))
        })
        .boxed()
}

/// A known error code, drawn from the ranges codes are allocated in.
fn error_code() -> BoxedStrategy<ErrorCode> {
    prop_oneof![1000u16..1012, 4000u16..4035, 5000u16..5002]
        .prop_filter_map("a known code", |n| ErrorCode::try_from(n).ok())
        .boxed()
}

/// A wire error with any message, and a `field` path or none.
fn wire_error() -> BoxedStrategy<WireError> {
    (
        error_code(),
        arb_string(),
        proptest::option::of(arb_string()),
    )
        .prop_map(|(code, msg, f)| {
            let mut e = WireError::new(code, msg);
            e.field = f;
            e
        })
        .boxed()
}

/// Ok bodies the server sends (as JSON): join, publish, subscribe, ping, empty.
fn ok_body() -> BoxedStrategy<Value> {
    let member =
        (uid(), role(), media()).prop_map(|(u, r, m)| json!({"uid": u, "role": r, "live": m}));
    prop_oneof![
        (room(), uid(), role(), proptest::collection::vec(member, 0..3), 0u64..20, any::<u64>())
            .prop_map(|(room, uid, role, members, seq, t)| json!({
                "session": "s-1", "room": room, "uid": uid, "role": role, "members": members,
                "seq": seq, "server_time_ms": t, "ping_interval_ms": 10_000, "ping_timeout_ms": 20_000,
            })),
        (arb_string(), media()).prop_map(|(url, m)| json!({"url": url, "media": m})),
        (arb_string(), arb_string()).prop_map(|(u, f)| json!({"url": u, "flv_url": f})),
        (any::<u64>(), any::<u64>()).prop_map(|(ts, t)| json!({"ts": ts, "server_time_ms": t})),
        Just(json!({})),
    ]
    .boxed()
}

/// Small sequence numbers mostly, so that events after a join are often new.
fn seq() -> BoxedStrategy<u64> {
    prop_oneof![4 => 0u64..40, 1 => any::<u64>()].boxed()
}

/// Mostly small request ids, so a response often answers a request the client has pending.
fn re() -> BoxedStrategy<u32> {
    prop_oneof![4 => 0u32..8, 1 => any::<u32>()].boxed()
}

/// A valid server frame's text: ok and error responses, and every event.
pub(crate) fn server_frame() -> BoxedStrategy<String> {
    prop_oneof![
        1 => (re(), ok_body()).prop_map(|(re, b)| encode_ok(re, &b)),
        1 => (proptest::option::of(re()), wire_error()).prop_map(|(re, e)| encode_err(re, &e)),
        3 => (seq(), event()).prop_map(|(s, ev)| encode_event(s, &ev)),
    ]
    .boxed()
}

/// A valid request frame's text, as `encode_request` writes it.
fn request_frame() -> BoxedStrategy<String> {
    request()
        .prop_map(|(id, kind, b)| encode_request(id, kind, &b))
        .boxed()
}

// ---- decoder properties ----------------------------------------------------------------------

/// Both decoders on `text`: no panic, and what `decode_request` accepts really is a v1 object
/// carrying that id (and an error is only attributed to the id the frame carries).
fn decode_both(text: &str) -> Result<(), TestCaseError> {
    let _ = decode_server(text);
    let as_u64 = |x: Option<Value>| x.as_ref().and_then(Value::as_u64);
    match decode_request(text) {
        Ok((id, _, _)) => {
            let (v, i) =
                envelope(text).ok_or_else(|| TestCaseError::fail("accepted a non-object"))?;
            prop_assert_eq!(as_u64(v), Some(u64::from(VERSION)));
            prop_assert_eq!(as_u64(i), Some(u64::from(id)));
        }
        Err((Some(id), _)) => {
            let (_, i) =
                envelope(text).ok_or_else(|| TestCaseError::fail("attributed a non-object"))?;
            prop_assert_eq!(as_u64(i), Some(u64::from(id)));
        }
        Err((None, _)) => {}
    }
    Ok(())
}

/// A frame's `v` and `id` if it is a JSON object, read leniently: a number elsewhere in the
/// frame that serde_json cannot hold (say `1E309`, valid JSON grammar) does not hide them.
fn envelope(text: &str) -> Option<(Option<Value>, Option<Value>)> {
    #[derive(serde::Deserialize)]
    struct Env {
        #[serde(default)]
        v: Option<Value>,
        #[serde(default)]
        id: Option<Value>,
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let o = v.as_object()?;
        return Some((o.get("v").cloned(), o.get("id").cloned()));
    }
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let e: Env = serde_json::from_str(text).ok()?;
    Some((e.v, e.id))
}

/// `a` and `b` are the same JSON. Integers compare exactly; other numbers to within 1e-15
/// relative (`json::parse` reads fractions to within a few ulps, not correctly rounded).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let int = |n: &serde_json::Number| n.is_u64() || n.is_i64();
            if int(x) && int(y) {
                x == y
            } else {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                // Subnormals have fewer bits, so tiny numbers compare absolutely.
                (x - y).abs() <= (x.abs().max(y.abs()) * 1e-15).max(f64::MIN_POSITIVE)
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// `json::parse` and serde_json accept the same texts, but for the documented differences:
/// our depth limit is lower, and we read numbers beyond f64's range (as infinity) where
/// serde_json refuses them.
fn same_verdict(text: &str) -> Result<(), TestCaseError> {
    let ours = json::parse(text);
    let theirs = serde_json::from_str::<Value>(text);
    match (&ours, &theirs) {
        (Ok(_), Err(e)) => prop_assert!(
            e.to_string().contains("number out of range"),
            "we accept {:?}, serde_json does not: {}",
            text,
            e
        ),
        (Err(e), Ok(_)) => prop_assert_eq!(e.what, "nested too deeply", "{:?}", text),
        _ => {}
    }
    Ok(())
}

/// Inputs worth keeping: unrepresentable numbers, repeated keys, deep nesting.
#[test]
fn decoders_on_known_edge_cases() {
    for text in [
        r#"{"v":1,"id":0,"type":"subscribe","body":{"audio":false,"uid":1E0309,"video":false}}"#,
        r#"{"v":1,"id":1E309,"type":"ping"}"#,
        r#"{"v":1,"v":1,"id":0,"type":"ping","body":{"ts":0}}"#,
        r#"{"v":1,"seq":1E309,"type":"room-closed","body":{}}"#,
        r#"{"v":1,"re":4294967296,"ok":true}"#,
        "\u{feff}{}",
    ] {
        decode_both(text).unwrap();
    }
    decode_both(&"[".repeat(100_000)).unwrap();
    decode_both(&"{\"v\":".repeat(100_000)).unwrap();
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decoders_never_panic_on_text(text in arb_text()) {
        decode_both(&text)?;
    }

    /// serde_json's text, read by us and written back, is what serde_json wrote.
    #[test]
    fn our_json_reads_and_writes_what_serde_json_does(v in prop_oneof![arb_json(), arb_json_object()]) {
        for text in [v.to_string(), serde_json::to_string_pretty(&v).unwrap()] {
            let ours = json::parse(&text)
                .map_err(|e| TestCaseError::fail(format!("{text}: {}", e.message())))?;
            let back: Value = serde_json::from_str(&ours.to_json_string())
                .map_err(|e| TestCaseError::fail(format!("serde_json cannot read ours: {e}")))?;
            prop_assert!(same_json(&v, &back), "{} became {}", v, back);
        }
    }

    /// Both JSON readers accept and refuse the same texts, valid frames broken in every way
    /// included.
    #[test]
    fn our_json_accepts_what_serde_json_does(
        text in prop_oneof![arb_text(), mutated(prop_oneof![server_frame(), request_frame()])]
    ) {
        same_verdict(&text)?;
    }

    #[test]
    fn decoders_never_panic_on_json(v in prop_oneof![arb_json(), arb_json_object()]) {
        decode_both(&v.to_string())?;
        decode_both(&serde_json::to_string_pretty(&v).unwrap())?;
    }

    #[test]
    fn decoders_never_panic_on_mutated_frames(
        text in mutated(prop_oneof![server_frame(), request_frame()])
    ) {
        decode_both(&text)?;
    }

    #[test]
    fn events_round_trip(s in any::<u64>(), ev in event()) {
        let text = encode_event(s, &ev);
        prop_assert_eq!(decode_server(&text), Ok(ServerFrame::Event { seq: s, event: ev }));
    }

    #[test]
    fn responses_round_trip(re in any::<u32>(), b in ok_body(), e in wire_error(), ere in proptest::option::of(any::<u32>())) {
        let text = encode_ok(re, &b);
        prop_assert_eq!(decode_server(&text), Ok(ServerFrame::Ok { re, body: Json::from(&b) }));
        let text = encode_err(ere, &e);
        prop_assert_eq!(decode_server(&text), Ok(ServerFrame::Err { re: ere, err: e }));
    }

    #[test]
    fn requests_round_trip((id, kind, b) in request()) {
        typed_round_trip(id, kind, b)?;
    }
}
