//! The bridge as the shim uses it: argument arrays in, answers read back with serde_json (an
//! implementation independent of `protocol::json`), time passed in.

use super::Bridge;
use serde_json::{json, Value};

fn call(b: &mut Bridge, name: &str, args: Value, now: f64) -> Value {
    let text = b.call(name, &args.to_string(), now);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{name} answered unreadable JSON {text}: {e}"))
}

fn client() -> Bridge {
    let mut b = Bridge::new();
    let r = call(
        &mut b,
        "init",
        json!([{"appkey": "app", "server": "ws://127.0.0.1:9/ws"}]),
        0.0,
    );
    assert_eq!(r, json!({"ok": null, "out": [], "next": null}));
    b
}

fn err_code(r: &Value) -> u64 {
    r["err"]["code"]
        .as_u64()
        .unwrap_or_else(|| panic!("no error in {r}"))
}

#[test]
fn errors_carry_code_reason_and_message() {
    let mut b = Bridge::new();
    let r = call(&mut b, "join", json!([{}]), 0.0);
    assert_eq!(err_code(&r), 1001, "calls before init are refused: {r}");
    let r = call(&mut b, "init", json!([{"appkey": "app"}]), 0.0);
    assert_eq!(r["err"]["code"], 1001);
    assert_eq!(r["err"]["reason"], "invalid_argument");
    assert!(
        r["err"]["message"].as_str().unwrap().contains("server"),
        "{r}"
    );
    let r = call(
        &mut b,
        "init",
        json!([{"appkey": "app", "server": "ws://h/ws", "requestTimeout": 5}]),
        0.0,
    );
    assert_eq!(err_code(&r), 1001, "too short a timeout");
    let mut c = client();
    assert_eq!(err_code(&call(&mut c, "publish", json!([]), 0.0)), 1002);
    assert_eq!(
        err_code(&call(
            &mut c,
            "join",
            json!([{"channelName": "r", "uid": -1}]),
            0.0
        )),
        1001
    );
    assert_eq!(
        err_code(&call(&mut c, "publish", json!(["screen"]), 0.0)),
        1001
    );
    assert_eq!(err_code(&call(&mut c, "nonsense", json!([]), 0.0)), 1001);
    // JSON.stringify threw in the shim (a cycle): typed errors, tasks keep theirs.
    let text = c.call("join", "", 0.0);
    assert!(
        text.contains("\"code\":1001") && text.contains("not plain data"),
        "{text}"
    );
    let text = c.call("addTasks", "", 0.0);
    assert!(
        text.contains("\"code\":1002"),
        "not joined comes first: {text}"
    );
    assert_eq!(
        super::sole_argument("[ {\"a\": [1.5]} ]"),
        " {\"a\": [1.5]} "
    );
    assert_eq!(
        super::sole_argument(" [1] "),
        "",
        "JSON.stringify writes no space around"
    );
    assert_eq!(super::sole_argument("[1,2]"), "");
    assert_eq!(super::sole_argument("[]"), "");
    assert_eq!(super::sole_argument("[1"), "");
}

#[test]
fn join_drives_outputs_and_big_uids_come_back_as_strings() {
    let mut c = client();
    let r = call(
        &mut c,
        "join",
        json!([{"channelName": "r", "uid": "18446744073709551615"}]),
        1000.0,
    );
    let op = r["ok"].as_u64().expect("an op id");
    assert_eq!(
        r["out"],
        json!([{"kind": "connect", "url": "ws://127.0.0.1:9/ws"}])
    );
    assert_eq!(r["next"], 11000, "the connect timeout");
    let r = call(&mut c, "socketOpened", json!([]), 1001.0);
    assert_eq!(
        r["out"][0],
        json!({"kind": "event", "name": "open", "data": {}})
    );
    let sent = r["out"][1]["data"].as_str().unwrap();
    assert!(sent.contains("\"uid\":18446744073709551615"), "{sent}");
    let ok = r#"{"v":1,"re":1,"ok":true,"body":{"session":"s","room":"r","uid":18446744073709551615,"role":"broadcaster","members":[{"uid":9007199254740993,"role":"broadcaster","live":{"audio":false,"video":true}}],"seq":0,"server_time_ms":0}}"#;
    let r = call(&mut c, "socketMessage", json!([ok]), 1002.0);
    let out = r["out"].as_array().unwrap();
    assert_eq!(
        out[0],
        json!({"kind": "resolve", "op": op}),
        "join resolves with nothing"
    );
    assert_eq!(out[1]["name"], "clientJoin");
    assert_eq!(
        out[1]["data"],
        json!({"uid": "9007199254740993", "isBigNumber": true})
    );
    assert_eq!(
        out[2]["data"],
        json!({"uid": "9007199254740993", "isBigNumber": true, "mediaType": "video"})
    );
    let r = call(&mut c, "myUid", json!([]), 1003.0);
    assert_eq!(r["ok"], "18446744073709551615");
    // A timed-out request: sendCommandOverTime, then the op rejects with 1004.
    let r = call(&mut c, "publish", json!([null]), 2000.0);
    let op = r["ok"].as_u64().unwrap();
    let r = call(&mut c, "tick", json!([]), 12_000.0);
    let out = r["out"].as_array().unwrap();
    assert_eq!(out[0]["data"], json!({"command": "publish"}));
    assert_eq!(out[1]["kind"], "reject");
    assert_eq!(out[1]["op"], op);
    assert_eq!(out[1]["error"]["code"], 1004);
    assert_eq!(out[1]["error"]["reason"], "timeout");
}

#[test]
fn netease_join_options_are_checked() {
    let mut c = client();
    let r = call(
        &mut c,
        "join",
        json!([{"channelName": "r", "uid": 1, "rtmpRecord": 1}]),
        0.0,
    );
    assert_eq!(r["err"]["code"], 1010);
    assert_eq!(r["err"]["reason"], "unsupported");
    // Mixed-only recording of a member: a push task's job.
    let r = call(
        &mut c,
        "join",
        json!([{"channelName": "r", "uid": 1, "recordAudio": 1, "recordType": 1}]),
        0.0,
    );
    assert_eq!(r["err"]["code"], 1010, "{r}");
    assert_eq!(
        err_code(&call(
            &mut c,
            "join",
            json!([{"channelName": "r", "uid": 1, "recordType": 3}]),
            0.0
        )),
        1001
    );
    assert_eq!(
        err_code(&call(
            &mut c,
            "join",
            json!([{"channelName": "r", "uid": 1, "liveEnable": "2"}]),
            0.0
        )),
        1001
    );
    // Accepted: off flags as strings, recordType as a string, a ZEGO user id.
    let r = call(
        &mut c,
        "join",
        json!([{"channelName": "r", "uid": 1, "recordAudio": "0", "recordType": "1"}]),
        0.0,
    );
    assert!(r["ok"].is_u64(), "{r}");
    let mut z = client();
    let r = call(
        &mut z,
        "join",
        json!([{"channelName": "r", "userID": "alice", "userName": "A"}]),
        0.0,
    );
    assert!(r["ok"].is_u64(), "{r}");
    assert!(
        call(&mut z, "myUid", json!([]), 0.0)["ok"].is_null(),
        "no uid until joined"
    );
}

#[test]
fn socket_inputs_tolerate_odd_values() {
    let mut c = client();
    call(&mut c, "join", json!([{"channelName": "r", "uid": 7}]), 1.0);
    // A close code out of range reads as 1006; a binary frame as unreadable text.
    let r = call(&mut c, "socketClosed", json!([70000, null]), 2.0);
    assert!(r["err"].is_null(), "{r}");
    let r = call(&mut c, "socketMessage", json!([{"not": "text"}]), 3.0);
    assert!(r["err"].is_null(), "{r}");
    let r = call(&mut c, "networkChanged", json!(["?"]), 4.0);
    assert!(r["err"].is_null(), "{r}");
}

#[test]
fn quality_and_component_states_keep_their_numbers() {
    let mut c = client();
    let r = call(&mut c, "join", json!([{"channelName": "r", "uid": 5}]), 0.0);
    let op = r["ok"].as_u64().unwrap();
    call(&mut c, "socketOpened", json!([]), 1.0);
    let ok = r#"{"v":1,"re":1,"ok":true,"body":{"session":"s","room":"r","uid":5,"role":"broadcaster","members":[],"seq":0,"server_time_ms":0}}"#;
    let r = call(&mut c, "socketMessage", json!([ok]), 2.0);
    assert_eq!(r["out"][0], json!({"kind": "resolve", "op": op}));
    let r = call(
        &mut c,
        "dataReporter",
        json!(["push", "bindnetstatus", {"videoFPS": 14.928, "videoBitrate": 512, "netSpeed": 600}]),
        1000.0,
    );
    let out = r["out"].as_array().unwrap();
    let q = out
        .iter()
        .find(|o| o["name"] == "quality")
        .unwrap_or_else(|| panic!("a quality sample in {r}"));
    assert_eq!(
        q["data"],
        json!({"kind": "push", "uid": 5, "isBigNumber": false, "videoFPS": 14.928, "videoBitrate": 512, "netSpeed": 600})
    );
    let r = call(
        &mut c,
        "dataReporter",
        json!(["push", "bindstatechange", {"code": 1002}]),
        1001.0,
    );
    let out = r["out"].as_array().unwrap();
    let state = out
        .iter()
        .find(|o| o["name"] == "pusher-state")
        .unwrap_or_else(|| panic!("a pusher state in {r}"));
    assert_eq!(state["data"], json!({"phase": "active", "code": 1002}));
    assert_eq!(
        err_code(&call(
            &mut c,
            "dataReporter",
            json!(["side", "bindstatechange", {}]),
            0.0
        )),
        1001
    );
}

// ---- any input ---------------------------------------------------------------------------

// proptest is a native-only dev-dependency (as in `protocol::fuzz`).
#[cfg(not(target_arch = "wasm32"))]
mod any_input {
    use super::*;
    use crate::protocol::arbitrary::{arb_json, arb_text, config};
    use proptest::prelude::*;
    use proptest::sample::select;

    const NAMES: &[&str] = &[
        "init",
        "join",
        "leave",
        "publish",
        "unpublish",
        "mute",
        "unmute",
        "publishStream",
        "subscribe",
        "unsubscribe",
        "setRole",
        "renewToken",
        "addTasks",
        "updateTasks",
        "deleteTasks",
        "dataReporter",
        "myUid",
        "uidOfStream",
        "reportStream",
        "destroy",
        "socketOpened",
        "socketMessage",
        "socketClosed",
        "socketError",
        "appHidden",
        "appShown",
        "networkChanged",
        "tick",
        "",
        "nonsense",
    ];

    /// Argument texts: any text (what a broken shim could send), or an array of JSON values,
    /// often shaped like what apps pass.
    fn arb_args() -> BoxedStrategy<String> {
        let app = prop_oneof![
            arb_json(),
            (arb_json(), arb_json()).prop_map(|(c, u)| json!({"channelName": c, "uid": u})),
            Just(json!({"channelName": "r", "uid": 7})),
            Just(json!({"appkey": "a", "server": "ws://h/ws"})),
            Just(json!("push")),
            Just(json!("bindnetstatus")),
        ];
        prop_oneof![
            1 => arb_text(),
            3 => proptest::collection::vec(app, 0..5).prop_map(|v| Value::from(v).to_string()),
        ]
        .boxed()
    }

    proptest! {
        #![proptest_config(config())]

        /// Whatever the calls and their arguments, the bridge never panics and always answers
        /// `{ok | err, out: [...], next}` in JSON, with a typed error when it refuses.
        #[test]
        fn every_call_is_answered(calls in proptest::collection::vec((select(NAMES), arb_args(), 0u32..5_000), 1..24)) {
            let mut b = client();
            let mut now = 0.0;
            for (name, args, step) in calls {
                now += f64::from(step);
                let text = b.call(name, &args, now);
                let v: Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{name}: {e}: {text}")))?;
                prop_assert!(v["out"].is_array(), "{}", text);
                prop_assert!(v["next"].is_null() || v["next"].is_u64(), "{}", text);
                let err = &v["err"];
                prop_assert!(err.is_null() != v.get("ok").is_none(), "ok or err, not both: {}", text);
                if !err.is_null() {
                    prop_assert!(err["code"].is_u64() && err["reason"].is_string() && err["message"].is_string(), "{}", text);
                }
            }
        }
    }
}

/// The `name: number` entries of the one-line JS object literal `var {table} = { ... };`.
fn js_table(js: &str, table: &str) -> Vec<(String, u16)> {
    let start = format!("var {table} = {{");
    let line = js
        .lines()
        .find_map(|l| l.strip_prefix(start.as_str()))
        .unwrap_or_else(|| panic!("client.js has no `{start}` line"));
    let body = line.split('}').next().unwrap_or_default();
    body.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once(':').expect("name: code");
            (k.trim().to_string(), v.trim().parse().expect("a number"))
        })
        .collect()
}

/// The shim writes a few codes itself, when there is no core to ask (before the wasm loads,
/// after it is freed) and on sockets it ends on its own: they must be the core's, entry by
/// entry, or an app would see two codes for one thing.
#[test]
fn the_codes_the_shim_writes_itself_are_the_cores() {
    use crate::core::{LEAVE_CLOSE_CODE, LOST_CLOSE_CODE, RECONNECT_CLOSE_CODE};
    use crate::protocol::ErrorCode;
    let js = include_str!("../../js-shim/client.js");
    let codes = js_table(js, "CODES");
    assert!(!codes.is_empty());
    for (reason, code) in codes {
        let known = ErrorCode::try_from(code).map(ErrorCode::name);
        assert_eq!(
            known,
            Ok(reason.as_str()),
            "client.js CODES.{reason} = {code}"
        );
    }
    let core = [
        ("replaced", RECONNECT_CLOSE_CODE),
        ("destroyed", LEAVE_CLOSE_CODE),
        ("lost", LOST_CLOSE_CODE),
    ];
    for (name, code) in js_table(js, "CLOSE") {
        let want = core.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
        assert_eq!(want, Some(code), "client.js CLOSE.{name} = {code}");
    }
}

/// A joined bridge (uid 7, session "s", no one else in the room) with `opts` merged into the
/// init options; the join has been answered at 3.
fn joined_with(opts: Value) -> Bridge {
    let mut b = Bridge::new();
    let mut init = json!({"appkey": "app", "server": "ws://127.0.0.1:9/ws"});
    init.as_object_mut()
        .unwrap()
        .extend(opts.as_object().unwrap().clone());
    call(&mut b, "init", json!([init]), 0.0);
    call(&mut b, "join", json!([{"channelName": "r", "uid": 7}]), 1.0);
    call(&mut b, "socketOpened", json!([]), 2.0);
    let ok = r#"{"v":1,"re":1,"ok":true,"body":{"session":"s","room":"r","uid":7,"role":"broadcaster","members":[],"seq":0,"server_time_ms":0}}"#;
    let r = call(&mut b, "socketMessage", json!([ok]), 3.0);
    assert_eq!(r["out"][0]["kind"], "resolve", "{r}");
    b
}

/// What the shim sees of frames it cannot use: a binary frame (WeChat hands an ArrayBuffer
/// to `onMessage`, which the shim passes on as `null`) changes nothing and is no error; an
/// answer the core cannot read rejects its call with 1006 `protocol_violation`.
#[test]
fn a_binary_frame_changes_nothing_and_an_unreadable_answer_rejects_with_1006() {
    let mut b = joined_with(json!({}));
    let r = call(&mut b, "publish", json!([null]), 10.0);
    let op = r["ok"].as_u64().expect("an op id");
    let sent: Value = serde_json::from_str(r["out"][0]["data"].as_str().unwrap()).unwrap();
    for binary in [json!(null), json!({"byteLength": 8})] {
        let r = call(&mut b, "socketMessage", json!([binary]), 11.0);
        assert_eq!(r, json!({"ok": null, "out": [], "next": r["next"]}), "{r}");
    }
    let bad = json!({"v": 1, "re": sent["id"], "ok": true, "body": {"url": 5}}).to_string();
    let r = call(&mut b, "socketMessage", json!([bad]), 12.0);
    let out = &r["out"][0];
    assert_eq!(
        (&out["kind"], &out["op"]),
        (&json!("reject"), &json!(op)),
        "{r}"
    );
    assert_eq!(out["error"]["code"], 1006);
    assert_eq!(out["error"]["reason"], "protocol_violation");
}

/// A close without a usable code reports as 1006 (abnormal closure), and `willreconnect`
/// says whether the SDK dropped the connection itself over a missing event (`gap`).
#[test]
fn a_lost_socket_reports_1006_and_willreconnect_tells_a_gap() {
    let mut b = joined_with(json!({"reconnectTimeout": 0}));
    let r = call(&mut b, "socketClosed", json!([70000, null]), 10.0);
    let disconnect = r["out"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "disconnect")
        .unwrap_or_else(|| panic!("no disconnect in {r}"));
    assert_eq!(disconnect["data"]["code"], 1006, "{r}");

    // An ordinary drop: `{count}` alone.
    let mut b = joined_with(json!({}));
    let r = call(&mut b, "socketClosed", json!([1006, ""]), 10.0);
    assert_eq!(r["out"][0]["name"], "willreconnect", "{r}");
    assert_eq!(r["out"][0]["data"], json!({"count": 1}));

    let mut b = joined_with(json!({}));
    let skip = r#"{"v":1,"seq":2,"type":"member-joined","body":{"uid":8,"role":"broadcaster"}}"#;
    let r = call(&mut b, "socketMessage", json!([skip]), 10.0);
    let names: Vec<&str> = r["out"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["willreconnect"],
        "the member past the hole is not applied: {r}"
    );
    let will = r["out"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "willreconnect");
    assert_eq!(will.unwrap()["data"], json!({"count": 1, "gap": true}));
    let r = call(&mut b, "socketClosed", json!([1006, ""]), 11.0);
    let will = r["out"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "willreconnect");
    assert_eq!(will, None, "the close the core asked for is not news: {r}");
}
