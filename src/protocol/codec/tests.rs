//! Golden test of the codecs: for each wire type, a complete object and every one-member
//! mutation of it (member removed, `null`, the wrong type, an unknown member added) are read,
//! and what comes out (the value written back, or the reader's error) must match
//! `golden.txt` to the byte. This pins the exact JSON written, the member order, what is left
//! out, and which field a refusal names. Regenerate only for an intended wire change:
//! `MPRTC_BLESS=1 cargo test -p mprtc codec::tests`, and say why in the commit.

use serde_json::{json, Value};

use crate::prelude::*;
use crate::protocol::error::WireError;
use crate::protocol::json::{self, FromJson, ToJson};
use crate::protocol::messages::*;
use crate::protocol::tasks::*;

/// Read `text` as `T` and write it back, or the reader's error.
fn outcome<T: FromJson + ToJson>(text: &str) -> String {
    match json::from_str::<T>(text) {
        Ok(v) => v.to_json_string(),
        Err(e) => format!("ERR {e}"),
    }
}

/// `full`, then each mutation of one member of it, then non-objects.
fn cases(full: &Value) -> Vec<Value> {
    let mut out = vec![full.clone(), json!({}), json!(null), json!([]), json!("x")];
    let mut extra = full.clone();
    extra["unknownMember"] = json!(1);
    out.push(extra);
    if let Value::Object(m) = full {
        for k in m.keys() {
            for replace in [None, Some(json!(null)), Some(json!([])), Some(json!(-1))] {
                let mut v = full.clone();
                let Value::Object(vm) = &mut v else { continue };
                match replace {
                    None => {
                        vm.remove(k);
                    }
                    Some(x) => {
                        vm.insert(k.clone(), x);
                    }
                }
                out.push(v);
            }
        }
    }
    out
}

fn section<T: FromJson + ToJson>(log: &mut String, name: &str, full: Value) {
    log.push_str("## ");
    log.push_str(name);
    log.push('\n');
    for c in cases(&full) {
        let text = c.to_string();
        log.push_str(&text);
        log.push_str("\n  -> ");
        log.push_str(&outcome::<T>(&text));
        log.push('\n');
    }
}

fn media() -> Value {
    json!({"audio": true, "video": false})
}
fn task() -> Value {
    json!({
        "taskId": "t1", "streamUrl": "rtmp://cdn/live/x", "record": true, "hostUid": 9,
        "layout": layout(), "config": config(), "extraInfo": "e\"x"
    })
}
fn layout() -> Value {
    json!({"canvas": canvas(), "users": [user()], "images": [image()]})
}
fn canvas() -> Value {
    json!({"width": 1280, "height": 720, "color": 255})
}
fn user() -> Value {
    json!({"uid": 100, "x": 1, "y": 2, "width": 640, "height": 360, "adaption": 0,
           "zOrder": 3, "pushAudio": false, "pushVideo": false})
}
fn image() -> Value {
    json!({"url": "https://e/bg.png", "x": 0, "y": 360, "width": 480, "height": 360,
           "adaption": 0})
}
fn config() -> Value {
    json!({"audioParam": audio_param(), "singleVideoNoTrans": true, "videoFps": 30,
           "videoBitrate": 1200})
}
fn audio_param() -> Value {
    json!({"bitRate": 32, "channels": 1, "codecProfile": 1, "sampleRate": 44100,
           "singleVideoNoTrans": true})
}
fn user_tag() -> Value {
    json!({"id": "u-42", "name": "Ann"})
}
fn member() -> Value {
    json!({"uid": 7, "role": "audience", "live": media(), "muted": media(),
           "user": user_tag(), "stream": "s"})
}

fn events(log: &mut String) {
    let bodies = [
        (
            "member-joined",
            json!({"uid": 7, "role": "broadcaster", "user": user_tag()}),
        ),
        (
            "member-left",
            json!({"uid": 7, "reason": "connection_lost"}),
        ),
        (
            "stream-added",
            json!({"uid": 7, "media": media(), "stream": "s"}),
        ),
        ("stream-removed", json!({"uid": 7, "media": media()})),
        ("role-changed", json!({"uid": 7, "role": "audience"})),
        (
            "mute-changed",
            json!({"uid": 7, "media": media(), "muted": true}),
        ),
        (
            "task-status",
            json!({"task_id": "t1", "code": 505, "msg": "m", "stream_url": "u"}),
        ),
        ("kicked", json!({"reason": "token_expired"})),
        ("room-closed", json!({})),
        ("token-will-expire", json!({"remaining_s": 30})),
        ("no-such-event", json!({})),
    ];
    for (kind, body) in bodies {
        log.push_str("## Event ");
        log.push_str(kind);
        log.push('\n');
        for b in cases(&body) {
            let text = json!({"type": kind, "body": b}).to_string();
            log.push_str(&text);
            log.push_str("\n  -> ");
            log.push_str(&outcome::<Event>(&text));
            log.push('\n');
        }
    }
    for text in [
        r#"{"type":"kicked"}"#,
        r#"{"body":{}}"#,
        r#"{"type":3,"body":{}}"#,
    ] {
        log.push_str(text);
        log.push_str("\n  -> ");
        log.push_str(&outcome::<Event>(text));
        log.push('\n');
    }
}

fn all() -> String {
    let mut log = String::new();
    let l = &mut log;
    section::<WireError>(
        l,
        "WireError",
        json!({"code": 4003, "msg": "no", "field": "a[0].b"}),
    );
    section::<Media>(l, "Media", media());
    section::<UserTag>(l, "UserTag", user_tag());
    section::<Resume>(l, "Resume", json!({"session": "s1", "last_seq": 12}));
    section::<JoinReq>(
        l,
        "JoinReq",
        json!({"appkey": "k", "room": "r1", "uid": 7, "token": "t", "role": "audience",
               "sdk": "wx/1", "resume": {"session": "s1", "last_seq": 3}, "user": user_tag(),
               "record": {"audio": true, "video": false}}),
    );
    section::<MemberInfo>(l, "MemberInfo", member());
    section::<JoinOk>(
        l,
        "JoinOk",
        json!({"session": "s1", "room": "r1", "uid": 7, "role": "broadcaster",
               "members": [member()], "seq": 4, "server_time_ms": 1700000000000u64,
               "ping_interval_ms": 1000, "ping_timeout_ms": 3000, "resumed": true}),
    );
    section::<PingReq>(l, "PingReq", json!({"ts": 123}));
    section::<PingOk>(l, "PingOk", json!({"ts": 123, "server_time_ms": 5}));
    section::<PublishReq>(
        l,
        "PublishReq",
        json!({"audio": true, "video": true, "stream": "s"}),
    );
    section::<MuteReq>(
        l,
        "MuteReq",
        json!({"audio": false, "video": true, "muted": true}),
    );
    section::<PublishOk>(l, "PublishOk", json!({"url": "rtmp://x", "media": media()}));
    section::<UnpublishReq>(l, "UnpublishReq", media());
    section::<SubscribeReq>(
        l,
        "SubscribeReq",
        json!({"uid": 7, "audio": true, "video": false}),
    );
    section::<UnsubscribeReq>(
        l,
        "UnsubscribeReq",
        json!({"uid": 7, "audio": false, "video": true}),
    );
    section::<SubscribeOk>(
        l,
        "SubscribeOk",
        json!({"url": "rtmp://x", "flv_url": "https://y"}),
    );
    section::<SetRoleReq>(l, "SetRoleReq", json!({"role": "audience"}));
    section::<RenewTokenReq>(l, "RenewTokenReq", json!({"token": "t"}));
    section::<RtmpTask>(l, "RtmpTask", task());
    section::<Layout>(l, "Layout", layout());
    section::<Canvas>(l, "Canvas", canvas());
    section::<LayoutUser>(l, "LayoutUser", user());
    section::<LayoutImage>(l, "LayoutImage", image());
    section::<TaskConfig>(l, "TaskConfig", config());
    section::<AudioParam>(l, "AudioParam", audio_param());
    section::<TasksReq>(l, "TasksReq", json!({"rtmpTasks": [task()]}));
    section::<DeleteTasksReq>(l, "DeleteTasksReq", json!({"taskIds": ["t1", "t2"]}));
    events(l);
    log
}

#[test]
fn every_wire_type_reads_and_writes_as_pinned() {
    let got = all();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/protocol/codec/golden.txt");
    if std::env::var_os("MPRTC_BLESS").is_some() {
        std::fs::write(path, &got).expect("write golden.txt");
        return;
    }
    let want = include_str!("golden.txt");
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "golden.txt line {}", n + 1);
    }
    assert_eq!(
        got.lines().count(),
        want.lines().count(),
        "golden.txt length"
    );
}
