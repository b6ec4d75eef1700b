//! Strategies for property tests of the wire format, shared by the client's fuzzing
//! (`protocol::fuzz`) and the server's (`server/tests/fuzz.rs`, through the `fuzzing`
//! feature): arbitrary text and JSON in the protocol's vocabulary, and mutations of valid
//! frames. Cases per property: `MPRTC_FUZZ_CASES` (default 256).

use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{Map, Value};

// ---- configuration -----------------------------------------------------------------------------

/// Cases per property: `MPRTC_FUZZ_CASES`, or 256. CI runs the default; a long local run
/// sets it high without editing code.
pub fn cases() -> u32 {
    std::env::var("MPRTC_FUZZ_CASES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(256)
}

/// The proptest configuration every property here uses. Failures are not persisted to
/// `proptest-regressions/` files: a shrunk failing input is printed instead, to be kept as a
/// plain test.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        // A failure is shrunk for at most this long (ms), so a failing CI run stays bounded.
        max_shrink_time: 20_000,
        ..ProptestConfig::with_cases(cases())
    }
}

// ---- arbitrary JSON and text -----------------------------------------------------------------

/// Keys the protocol uses, so generated objects often collide with real fields.
pub const KEYS: &[&str] = &[
    "v",
    "id",
    "re",
    "ok",
    "seq",
    "type",
    "body",
    "err",
    "code",
    "msg",
    "field",
    "uid",
    "role",
    "room",
    "appkey",
    "token",
    "record",
    "media",
    "audio",
    "video",
    "reason",
    "members",
    "session",
    "live",
    "ts",
    "url",
    "flv_url",
    "task_id",
    "stream_url",
    "remaining_s",
    "rtmpTasks",
    "taskIds",
    "taskId",
    "streamUrl",
    "layout",
    "canvas",
    "users",
    "width",
    "height",
];

/// Wire names of request types and events (and near misses).
pub const NAMES: &[&str] = &[
    "join",
    "leave",
    "publish",
    "unpublish",
    "subscribe",
    "unsubscribe",
    "set-role",
    "add-tasks",
    "update-tasks",
    "delete-tasks",
    "ping",
    "renew-token",
    "member-joined",
    "member-left",
    "stream-added",
    "stream-removed",
    "role-changed",
    "task-status",
    "kicked",
    "room-closed",
    "token-will-expire",
    "send-message",
    "message",
    "set-extra-info",
    "extra-info",
    "Join",
    "",
    "member_joined",
    "broadcaster",
    "audience",
    "left",
    "connection_lost",
    "replaced",
    "token_expired",
    "set_role",
    "dbg",
    "sec",
    "r1",
];

/// Short strings: mostly arbitrary characters (control characters, quotes, non-ASCII, the
/// things escaping must handle), sometimes a protocol name or key, so that a string lands
/// where an enum value or a field name is expected.
pub fn arb_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => proptest::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
        1 => select(NAMES).prop_map(str::to_owned),
        1 => select(KEYS).prop_map(str::to_owned),
    ]
    .boxed()
}

/// Numbers aimed at the edges a typed read must refuse or keep exact: small values (valid
/// uids, indexes), the limits of u16 / u32 / u64 (overflow on narrowing), real error codes
/// and the canvas maximum, any i64 (negative where unsigned is expected) and floats
/// (fractions where integers are expected, `1e300` beyond every integer type).
pub fn arb_number() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (0u64..16).prop_map(Value::from),
        2 => select(vec![
            u64::from(u16::MAX),
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX - 1,
            u64::MAX,
            1000,
            4000,
            4013,
            5000,
            1920,
        ])
        .prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from), // NaN and infinities become null
        1 => select(vec![-1.0f64, -0.0, 0.5, 1.0, 1e300]).prop_map(Value::from),
    ]
    .boxed()
}

/// A JSON scalar, weighted towards numbers and strings, the leaves fields are made of.
pub fn arb_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => arb_number(),
        3 => arb_string().prop_map(Value::String),
    ]
    .boxed()
}

/// An object key, mostly one the protocol reads, so generated objects hit real fields with
/// wrong values more often than they miss them entirely.
pub fn arb_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(KEYS).prop_map(str::to_owned),
        1 => arb_string(),
    ]
    .boxed()
}

/// Any JSON value, small and at most a few levels deep.
pub fn arb_json() -> BoxedStrategy<Value> {
    arb_leaf()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((arb_key(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
            ]
        })
        .boxed()
}

/// Text that is mostly not JSON: random characters, JSON-ish tokens, deep nesting.
pub fn arb_text() -> BoxedStrategy<String> {
    let token = select(vec![
        "{", "}", "[", "]", ",", ":", "\"", "\\", "null", "true", "1", "-", "e999", "0.", "\"v\"",
        "\"id\"", "\u{0}", "\u{feff}", " ", "\n", "\\u0000", "\\ud800", "💥",
    ]);
    prop_oneof![
        3 => proptest::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        3 => proptest::collection::vec(token, 0..30).prop_map(|t| t.concat()),
        1 => (0usize..3000, select(vec!["[", "{\"v\":", "{\"body\":["]))
            .prop_map(|(n, open)| open.repeat(n)),
    ]
    .boxed()
}

// ---- mutations of valid frames ----------------------------------------------------------------

/// One edit to a valid frame. The text edits find parser and envelope bugs (a frame that
/// stops being JSON, or stops at an odd place); the JSON edits keep the text valid and find
/// typing bugs (a field of the wrong type, missing, or replaced by a whole object).
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Replace one character.
    Flip(Index, char),
    /// Delete up to 4 characters.
    Delete(Index, usize),
    /// Insert a short string.
    Insert(Index, String),
    /// Cut the frame short.
    Truncate(Index),
    /// Replace any value in the frame's JSON (the whole frame, a field, a nested field).
    Replace(Index, Value),
    /// Remove any object field.
    Remove(Index),
}

/// A mutation, weighted towards value replacement: that is what reaches the typed readers,
/// while most text edits are refused by the parser early. Inserted text favours the bytes
/// that are structural in JSON, plus NUL and a two-byte character (char boundaries).
pub fn arb_mutation() -> BoxedStrategy<Mutation> {
    let insert = prop_oneof![
        select(vec![
            "{", "}", "\"", ",", ":", "\\", "0", "-", "null", "[]", "\u{0}", "é"
        ])
        .prop_map(str::to_owned),
        proptest::collection::vec(any::<char>(), 1..4).prop_map(String::from_iter),
    ];
    prop_oneof![
        2 => (any::<Index>(), any::<char>()).prop_map(|(i, c)| Mutation::Flip(i, c)),
        1 => (any::<Index>(), 1usize..5).prop_map(|(i, n)| Mutation::Delete(i, n)),
        2 => (any::<Index>(), insert).prop_map(|(i, s)| Mutation::Insert(i, s)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        4 => (any::<Index>(), arb_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => any::<Index>().prop_map(Mutation::Remove),
    ]
    .boxed()
}

/// One step of a path into a JSON value: an object key or an array index.
#[derive(Debug, Clone)]
pub enum Seg {
    /// The member of an object with this key.
    Key(String),
    /// The item of an array at this index.
    At(usize),
}

/// Every path in `v` (the root is the empty path).
pub fn paths(v: &Value, here: &mut Vec<Seg>, all: &mut Vec<Vec<Seg>>) {
    all.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                here.push(Seg::Key(k.clone()));
                paths(x, here, all);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(Seg::At(i));
                paths(x, here, all);
                here.pop();
            }
        }
        _ => {}
    }
}

/// The value at `path` in `v`, for editing; `None` if the path no longer exists.
pub fn at_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match s {
            Seg::Key(k) => cur.as_object_mut()?.get_mut(k)?,
            Seg::At(i) => cur.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(cur)
}

/// `text` with `m` applied. Text edits work on chars, not bytes, so the result is still a
/// `String`; an `Index` picks a position relative to the current length, so a mutation is
/// valid for any frame. JSON edits apply to `text` parsed by serde_json and are a no-op when
/// it is not JSON (an earlier mutation may have broken it).
pub fn apply(text: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    match m {
        Mutation::Flip(i, c) => {
            if n > 0 {
                chars[i.index(n)] = *c;
            }
        }
        Mutation::Delete(i, k) => {
            if n > 0 {
                let at = i.index(n);
                chars.drain(at..(at + k).min(n));
            }
        }
        Mutation::Insert(i, s) => {
            let at = i.index(n + 1);
            chars.splice(at..at, s.chars());
        }
        Mutation::Truncate(i) => chars.truncate(i.index(n + 1)),
        Mutation::Replace(i, x) => {
            let Ok(mut v) = serde_json::from_str::<Value>(text) else {
                return text.to_owned();
            };
            let mut all = Vec::new();
            paths(&v, &mut Vec::new(), &mut all);
            let p = &all[i.index(all.len())];
            if let Some(slot) = at_mut(&mut v, p) {
                *slot = x.clone();
            }
            return v.to_string();
        }
        Mutation::Remove(i) => {
            let Ok(mut v) = serde_json::from_str::<Value>(text) else {
                return text.to_owned();
            };
            let mut all = Vec::new();
            paths(&v, &mut Vec::new(), &mut all);
            let fields: Vec<&Vec<Seg>> = all
                .iter()
                .filter(|p| matches!(p.last(), Some(Seg::Key(_))))
                .collect();
            if fields.is_empty() {
                return text.to_owned();
            }
            let p = fields[i.index(fields.len())];
            let (Some(Seg::Key(k)), parent) = (p.last(), &p[..p.len() - 1]) else {
                unreachable!("filtered on keys")
            };
            if let Some(Value::Object(o)) = at_mut(&mut v, parent) {
                o.remove(k);
            }
            return v.to_string();
        }
    }
    chars.into_iter().collect()
}

/// Frames from `base` with one to three mutations applied in turn: several small breaks find
/// combinations (a removed field and a truncation) no single edit reaches.
pub fn mutated(base: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
    (base, proptest::collection::vec(arb_mutation(), 1..4))
        .prop_map(|(t, ms)| ms.iter().fold(t, |t, m| apply(&t, m)))
        .boxed()
}

// ---- request fields --------------------------------------------------------------------------

/// A `{audio, video}` media selection.
pub fn media() -> BoxedStrategy<Value> {
    (any::<bool>(), any::<bool>())
        .prop_map(|(a, v)| serde_json::json!({"audio": a, "video": v}))
        .boxed()
}

/// A role's wire name.
pub fn role() -> BoxedStrategy<Value> {
    select(vec!["broadcaster", "audience"])
        .prop_map(Value::from)
        .boxed()
}
