//! Bounded fuzzing (property tests) of the server's request decoding: the real [`Hub`] fed
//! sequences of valid, mutated and arbitrary request frames from several sessions.
//!
//! For every frame: no panic; exactly one response goes back to its session, carrying
//! `"re": id` when the frame is a JSON object with a numeric (u32) `id` and `"v":1`, and no
//! `re` when the frame has no attributable id; every frame the hub sends is one a client can
//! read, and each session's events are numbered 1, 2, 3, ... from its join; a bystander joined
//! in another room receives nothing.
//!
//! Cases per property: `MPRTC_FUZZ_CASES` (default 256). Failures are not persisted (no
//! `proptest-regressions/` files): a failing case is printed shrunk, and inputs worth keeping
//! become plain tests below. Runs are random; `PROPTEST_RNG_SEED=<u64>` makes one repeatable.

use std::collections::HashMap;
use std::sync::Arc;

use mprtc::protocol::arbitrary::*;
use mprtc::protocol::frame::{decode_server, encode_request, RequestKind};
use mprtc::protocol::json::Json;
use mprtc::protocol::ServerFrame;
use mprtc_server::config::AppConfig;
use mprtc_server::media::MediaSigner;
use mprtc_server::signaling::{Hub, HubOut, SessionId};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

// ---- arbitrary objects (the rest of the vocabulary is in `mprtc::protocol::arbitrary`) ----

/// Any JSON object, often with a request-looking envelope.
fn arb_json_object() -> BoxedStrategy<Value> {
    (
        proptest::option::of(prop_oneof![Just(json!(1)), arb_json()]),
        proptest::option::of(prop_oneof![(0u32..8).prop_map(Value::from), arb_json()]),
        proptest::option::of(prop_oneof![select(NAMES).prop_map(Value::from), arb_json()]),
        proptest::option::of(arb_json()),
        proptest::collection::vec((arb_key(), arb_json()), 0..3),
    )
        .prop_map(|(v, id, kind, body, rest)| {
            let mut m: Map<String, Value> = rest.into_iter().collect();
            for (k, x) in [("v", v), ("id", id), ("type", kind), ("body", body)] {
                if let Some(x) = x {
                    m.insert(k.into(), x);
                }
            }
            Value::Object(m)
        })
        .boxed()
}

// ---- valid requests --------------------------------------------------------------------------

/// Rooms the fuzzed sessions use. The bystander's room is none of these, and no generated
/// string (at most 12 random characters, or a few inserted into these) can spell it.
const ROOMS: &[&str] = &["r1", "r2"];
const BYSTANDER_ROOM: &str = "zz-bystander-room";
const BYSTANDER_UID: u64 = 1;

/// Few uids, so that sessions meet (and replace each other) in the rooms.
fn uid() -> BoxedStrategy<u64> {
    prop_oneof![6 => 1u64..5, 1 => any::<u64>()].boxed()
}

fn task_id() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(vec!["t1", "t2"]).prop_map(str::to_owned),
        1 => "[a-zA-Z0-9_]{1,10}",
    ]
    .boxed()
}

fn task_json() -> BoxedStrategy<Value> {
    let user =
        (1u64..5, 0u32..100, 0u32..100, 1u32..300, 1u32..200).prop_map(|(uid, x, y, w, h)| {
            json!({"uid": uid, "x": x, "y": y, "width": w, "height": h, "adaption": 1,
                   "zOrder": 0, "pushAudio": true, "pushVideo": true})
        });
    (
        task_id(),
        proptest::collection::btree_map(1u64..5, user, 0..3),
        any::<bool>(),
    )
        .prop_map(|(id, users, audio_param)| {
            // One user per uid: the layout rejects a uid listed twice.
            let users: Vec<Value> = users.into_values().collect();
            let mut t = json!({
                "taskId": id,
                "streamUrl": "rtmp://cdn/live/x",
                "layout": {"canvas": {"width": 640, "height": 360, "color": 0}, "users": users},
            });
            if audio_param {
                t["config"] =
                    json!({"audioParam": {"bitRate": 64, "channels": 2, "sampleRate": 48000}});
            }
            t
        })
        .boxed()
}

fn request_body(kind: RequestKind) -> BoxedStrategy<Value> {
    match kind {
        RequestKind::Join => (
            prop_oneof![6 => Just("dbg"), 1 => Just("sec"), 1 => Just("nope")],
            prop_oneof![6 => select(ROOMS).prop_map(str::to_owned), 1 => arb_string()],
            uid(),
            proptest::option::of(arb_string()),
            role(),
        )
            .prop_map(|(appkey, room, uid, token, role)| {
                let mut b = json!({"appkey": appkey, "room": room, "uid": uid, "role": role});
                if let Some(t) = token {
                    b["token"] = json!(t);
                }
                b
            })
            .boxed(),
        RequestKind::Leave => Just(json!({})).boxed(),
        RequestKind::Publish | RequestKind::Unpublish => media(),
        RequestKind::Subscribe | RequestKind::Unsubscribe => (uid(), media())
            .prop_map(|(u, mut m)| {
                m["uid"] = json!(u);
                m
            })
            .boxed(),
        RequestKind::SetRole => role().prop_map(|r| json!({ "role": r })).boxed(),
        RequestKind::AddTasks | RequestKind::UpdateTasks => {
            proptest::collection::btree_map(task_id(), task_json(), 1..3)
                .prop_map(|t| {
                    // Unique task ids within a request.
                    let tasks: Vec<Value> = t
                        .into_iter()
                        .map(|(id, mut task)| {
                            task["taskId"] = json!(id);
                            task
                        })
                        .collect();
                    json!({ "rtmpTasks": tasks })
                })
                .boxed()
        }
        RequestKind::DeleteTasks => proptest::collection::vec(task_id(), 1..3)
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
            select(vec!["broadcast", "barrage", "command"]),
            arb_string(),
            proptest::collection::vec(uid(), 0..3),
        )
            .prop_map(|(kind, text, to)| json!({ "kind": kind, "text": text, "to": to }))
            .boxed(),
        RequestKind::SetExtraInfo => (proptest::option::of("[a-z]{1,8}"), arb_string())
            .prop_map(|(key, value)| json!({ "key": key, "value": value }))
            .boxed(),
    }
}

/// Joins weigh most: most requests need a joined session to get past "not in room".
const KINDS: [(u32, RequestKind); 15] = [
    (6, RequestKind::Join),
    (2, RequestKind::Leave),
    (3, RequestKind::Publish),
    (2, RequestKind::Unpublish),
    (3, RequestKind::Subscribe),
    (1, RequestKind::Unsubscribe),
    (2, RequestKind::SetRole),
    (2, RequestKind::AddTasks),
    (1, RequestKind::UpdateTasks),
    (1, RequestKind::DeleteTasks),
    (2, RequestKind::Ping),
    (1, RequestKind::RenewToken),
    (1, RequestKind::Mute),
    (1, RequestKind::SendMessage),
    (1, RequestKind::SetExtraInfo),
];

/// A valid request frame of any kind, with a small id mostly.
fn request_frame() -> BoxedStrategy<String> {
    let kind =
        proptest::strategy::Union::new_weighted(KINDS.iter().map(|&(w, k)| (w, Just(k))).collect());
    (prop_oneof![4 => 0u32..64, 1 => any::<u32>()], kind)
        .prop_flat_map(|(id, kind)| {
            request_body(kind).prop_map(move |b| encode_request(id, kind, &b))
        })
        .boxed()
}

/// Anything a client socket might carry.
fn any_frame() -> BoxedStrategy<String> {
    prop_oneof![
        4 => request_frame(),
        4 => mutated(request_frame()),
        1 => prop_oneof![arb_json(), arb_json_object()].prop_map(|v| v.to_string()),
        1 => arb_text(),
    ]
    .boxed()
}

// ---- the hub and its sessions ----------------------------------------------------------------

const MAX_FRAME_BYTES: usize = 4096;
const SESSIONS: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    /// Session `slot` sends a frame.
    Frame(usize, String),
    /// Session `slot`'s connection drops; the slot reconnects at once.
    Drop(usize),
    /// Time passes and the hub's timer fires.
    Tick(u64),
}

fn steps(frames: BoxedStrategy<String>) -> BoxedStrategy<Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            12 => (0..SESSIONS, frames).prop_map(|(s, f)| Step::Frame(s, f)),
            1 => (0..SESSIONS).prop_map(Step::Drop),
            1 => (0u64..120_000).prop_map(Step::Tick),
        ],
        1..32,
    )
    .boxed()
}

/// What `re` the single response to `text` must carry.
#[derive(Debug, PartialEq)]
enum Re {
    /// A JSON object with `"v":1` and a u32 `id`.
    Exactly(u32),
    /// A JSON object with a u32 `id` whose `v` is not 1: the error may name the id or not.
    NoneOr(u32),
    /// No attributable id (not a JSON object, no u32 `id`, or over the size limit).
    Absent,
}

fn expected_re(text: &str) -> Re {
    if text.len() > MAX_FRAME_BYTES {
        return Re::Absent;
    }
    let Some((v, id)) = envelope(text) else {
        return Re::Absent;
    };
    let id = id
        .as_ref()
        .and_then(Value::as_u64)
        .and_then(|i| u32::try_from(i).ok());
    match (id, v.as_ref().and_then(Value::as_u64)) {
        (None, _) => Re::Absent,
        (Some(id), Some(1)) => Re::Exactly(id),
        (Some(id), _) => Re::NoneOr(id),
    }
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

struct World {
    hub: Hub,
    now: u64,
    slots: [SessionId; SESSIONS],
    bystander: SessionId,
    /// The seq of the last event each session was sent (reset by a successful join).
    seqs: HashMap<SessionId, u64>,
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

impl World {
    /// Construction as in `common::hub` (harness/, faults/): a debug-mode app, an app with a
    /// secret, a signer; without its task switch, and with its own seed.
    fn new() -> Self {
        let app = |v: Value| -> AppConfig { serde_json::from_value(v).expect("an app config") };
        let mut apps = HashMap::new();
        apps.insert(
            "dbg".to_owned(),
            app(json!({"key": "dbg", "insecure": true})),
        );
        apps.insert(
            "sec".to_owned(),
            app(json!({"key": "sec", "secret": "app-secret", "insecure": false})),
        );
        let signer = Arc::new(MediaSigner::new(
            b"media".to_vec(),
            "rtmp://h:1/live",
            "http://h:2/live",
            600,
        ));
        let mut hub = Hub::new(apps, signer, MAX_FRAME_BYTES, [7; 32]);
        let now = 1_700_000_000_000;
        let bystander = hub.connect();
        let mut out = Vec::new();
        let join = encode_request(
            1,
            RequestKind::Join,
            &json!({"appkey": "dbg", "room": BYSTANDER_ROOM, "uid": BYSTANDER_UID}),
        );
        hub.handle_frame(bystander, &join, now, &mut out);
        assert!(
            matches!(&out[..], [HubOut::Send(s, f)] if *s == bystander
                && matches!(decode_server(f), Ok(ServerFrame::Ok { re: 1, .. }))),
            "the bystander joins: {out:?}"
        );
        let slots = std::array::from_fn(|_| hub.connect());
        World {
            hub,
            now,
            slots,
            bystander,
            seqs: HashMap::new(),
        }
    }

    /// Check what the hub did (nothing for the bystander, readable frames, contiguous event
    /// numbers), carry out its closes as the shell would, and return the responses each
    /// session got.
    fn carry(&mut self, out: Vec<HubOut>) -> Result<Vec<(SessionId, ServerFrame)>, TestCaseError> {
        let mut responses = Vec::new();
        let mut closes = Vec::new();
        for o in out {
            match o {
                HubOut::Send(sid, f) => {
                    if sid == self.bystander {
                        return Err(fail(format!("the bystander was sent {f}")));
                    }
                    let frame = decode_server(&f).map_err(|e| {
                        fail(format!(
                            "the hub sent an unreadable frame {f}: {}",
                            e.message()
                        ))
                    })?;
                    match &frame {
                        ServerFrame::Event { seq, .. } => {
                            let last = self.seqs.entry(sid).or_insert(0);
                            if *seq != *last + 1 {
                                return Err(fail(format!(
                                    "session {sid}: event seq {seq} after {last}: {f}"
                                )));
                            }
                            *last = *seq;
                        }
                        ServerFrame::Ok { body, .. } => {
                            // A join response restarts the session's event numbering.
                            if let (Some(_), Some(seq)) =
                                (body.get("session"), body.get("seq").and_then(Json::as_u64))
                            {
                                self.seqs.insert(sid, seq);
                            }
                            responses.push((sid, frame));
                        }
                        ServerFrame::Err { .. } => responses.push((sid, frame)),
                    }
                }
                HubOut::Close { sid, .. } => {
                    if sid == self.bystander {
                        return Err(fail("the bystander's connection was closed".into()));
                    }
                    closes.push(sid);
                }
                HubOut::KickPublisher { .. }
                | HubOut::KickViewer { .. }
                | HubOut::TaskApply { .. }
                | HubOut::TaskStop { .. }
                | HubOut::Hook(_)
                | HubOut::RecordMember { .. }
                | HubOut::RecordStop { .. } => {}
            }
        }
        for sid in closes {
            self.drop_session(sid)?;
        }
        Ok(responses)
    }

    /// The connection of `sid` is gone; its slot (if any) reconnects as a new session.
    fn drop_session(&mut self, sid: SessionId) -> Result<(), TestCaseError> {
        let mut out = Vec::new();
        self.hub.disconnect(sid, self.now, &mut out);
        let responses = self.carry(out)?;
        if !responses.is_empty() {
            return Err(fail(format!(
                "a disconnect produced responses: {responses:?}"
            )));
        }
        self.seqs.remove(&sid);
        if let Some(slot) = self.slots.iter().position(|s| *s == sid) {
            self.slots[slot] = self.hub.connect();
        }
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Frame(slot, text) => {
                // 100 ms apart: well under the per-connection request rate limit.
                self.now += 100;
                let sid = self.slots[*slot];
                let mut out = Vec::new();
                self.hub.handle_frame(sid, text, self.now, &mut out);
                let responses = self.carry(out)?;
                let mine: Vec<&ServerFrame> = responses
                    .iter()
                    .filter(|(s, _)| *s == sid)
                    .map(|(_, f)| f)
                    .collect();
                if responses.len() != mine.len() {
                    return Err(fail(format!(
                        "responses went to other sessions: {responses:?}"
                    )));
                }
                let [frame] = &mine[..] else {
                    return Err(fail(format!(
                        "{} responses to {text:?}: {responses:?}",
                        mine.len()
                    )));
                };
                let re = match frame {
                    ServerFrame::Ok { re, .. } => Some(*re),
                    ServerFrame::Err { re, .. } => *re,
                    ServerFrame::Event { .. } => unreachable!("events are not responses"),
                };
                let ok = match expected_re(text) {
                    Re::Exactly(id) => re == Some(id),
                    Re::NoneOr(id) => re.is_none() || re == Some(id),
                    Re::Absent => re.is_none() && !matches!(frame, ServerFrame::Ok { .. }),
                };
                if !ok {
                    return Err(fail(format!(
                        "frame {text:?} (expected {:?}) got response {frame:?}",
                        expected_re(text)
                    )));
                }
            }
            Step::Drop(slot) => {
                self.now += 100;
                self.drop_session(self.slots[*slot])?;
            }
            Step::Tick(dt) => {
                self.now += dt;
                let mut out = Vec::new();
                self.hub.tick(self.now, &mut out);
                let responses = self.carry(out)?;
                if !responses.is_empty() {
                    return Err(fail(format!("a tick produced responses: {responses:?}")));
                }
            }
        }
        Ok(())
    }

    /// The bystander is still alone in its room and still answered.
    fn check_bystander(&mut self) -> Result<(), TestCaseError> {
        let members: Vec<u64> = self
            .hub
            .snapshot("dbg", BYSTANDER_ROOM)
            .iter()
            .map(|m| m.uid)
            .collect();
        prop_assert_eq!(members, vec![BYSTANDER_UID]);
        self.now += 100;
        let mut out = Vec::new();
        let ping = encode_request(99, RequestKind::Ping, &json!({"ts": 5}));
        self.hub
            .handle_frame(self.bystander, &ping, self.now, &mut out);
        prop_assert!(
            matches!(&out[..], [HubOut::Send(s, f)] if *s == self.bystander
                && matches!(decode_server(f), Ok(ServerFrame::Ok { re: 99, .. }))),
            "the bystander's ping: {:?}",
            out
        );
        Ok(())
    }
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut w = World::new();
    for s in steps {
        w.step(s)?;
    }
    w.check_bystander()
}

/// Found by the fuzzer: a number serde_json cannot hold (`1E0309`) in the body; the frame
/// is still a JSON object with an id, and is answered with that id.
#[test]
fn unrepresentable_number_in_body_keeps_the_id() {
    let text =
        r#"{"v":1,"id":0,"type":"subscribe","body":{"audio":false,"uid":1E0309,"video":false}}"#;
    assert_eq!(expected_re(text), Re::Exactly(0));
    run(&[Step::Frame(0, text.into())]).unwrap();
}

proptest! {
    #![proptest_config(config())]

    /// Sessions send valid requests, mutated requests, arbitrary JSON and arbitrary text.
    #[test]
    fn hub_answers_every_frame_once(steps in steps(any_frame())) {
        run(&steps)?;
    }

    /// Sessions send only valid requests (deeper state: rooms, publishing, tasks), with
    /// mutated ones now and then.
    #[test]
    fn hub_answers_every_valid_request_once(steps in steps(prop_oneof![
        6 => request_frame(),
        1 => mutated(request_frame()),
    ].boxed())) {
        run(&steps)?;
    }

    /// A JSON object with `"v":1` and a u32 `id` is answered with that `re` even when a key
    /// of the envelope is repeated (with the same value). (It found the decoder rejecting
    /// repeated keys and answering without `re`; a repeat now keeps its last value.)
    #[test]
    fn repeated_envelope_keys_keep_the_id(
        frame in request_frame(),
        key in select(vec!["v", "id", "type", "body"]),
    ) {
        // Repeat `key` with its own value, first in the object.
        let v: Value = serde_json::from_str(&frame).unwrap();
        let dup = format!("{{{}:{},", json!(key), v[key]);
        let text = frame.replacen('{', &dup, 1);
        run(&[Step::Frame(0, text)])?;
    }
}
