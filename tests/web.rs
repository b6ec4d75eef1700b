//! The wasm boundary in a real browser engine (headless Chromium via `wasm-pack test`): text
//! crosses through wasm-bindgen's glue both ways, and every answer is JSON the engine's own
//! `JSON.parse` reads as the shim expects. The calls themselves are tested natively in
//! `src/bridge/tests.rs`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Reflect, JSON};
use mprtc::wasm::WasmClient;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// `core.call(...)`, parsed by the engine.
fn call(c: &mut WasmClient, name: &str, args: &str, now: f64) -> JsValue {
    let text = c.call(name, args, now);
    JSON::parse(&text).unwrap_or_else(|_| panic!("{name} answered text JSON.parse refuses: {text}"))
}

fn get(o: &JsValue, path: &[&str]) -> JsValue {
    path.iter()
        .fold(o.clone(), |v, k| Reflect::get(&v, &(*k).into()).unwrap())
}

fn at(o: &JsValue, i: u32) -> JsValue {
    Reflect::get_u32(o, i).unwrap()
}

fn client() -> WasmClient {
    let mut c = WasmClient::new();
    let r = call(
        &mut c,
        "init",
        r#"[{"appkey":"app","server":"ws://127.0.0.1:9/ws"}]"#,
        0.0,
    );
    assert!(get(&r, &["err"]).is_undefined());
    c
}

#[wasm_bindgen_test]
fn errors_come_as_objects_with_codes() {
    let mut c = WasmClient::new();
    let r = call(&mut c, "init", r#"[{"appkey":"app"}]"#, 0.0);
    assert_eq!(get(&r, &["err", "code"]).as_f64(), Some(1001.0));
    assert_eq!(
        get(&r, &["err", "reason"]).as_string().as_deref(),
        Some("invalid_argument")
    );
    let mut c = client();
    let r = call(&mut c, "publish", "[]", 0.0);
    assert_eq!(get(&r, &["err", "code"]).as_f64(), Some(1002.0));
    assert!(get(&r, &["ok"]).is_undefined());
}

#[wasm_bindgen_test]
fn text_beyond_ascii_crosses_both_ways() {
    let mut c = client();
    let name = "张三 😀 ü";
    let args = format!(r#"[{{"channelName":"r","userID":"u1","userName":"{name}"}}]"#);
    let r = call(&mut c, "join", &args, 1000.0);
    assert!(get(&r, &["ok"]).as_f64().is_some());
    assert_eq!(
        get(&at(&get(&r, &["out"]), 0), &["url"])
            .as_string()
            .as_deref(),
        Some("ws://127.0.0.1:9/ws")
    );
    assert_eq!(get(&r, &["next"]).as_f64(), Some(11000.0));
    let r = call(&mut c, "socketOpened", "[]", 1001.0);
    let frame = get(&at(&get(&r, &["out"]), 1), &["data"])
        .as_string()
        .unwrap();
    let sent = JSON::parse(&frame).unwrap();
    assert_eq!(
        get(&sent, &["body", "user", "name"]).as_string().as_deref(),
        Some(name),
        "{frame}"
    );
}

#[wasm_bindgen_test]
fn big_uids_and_fractions_read_back_in_the_engine() {
    let mut c = client();
    call(
        &mut c,
        "join",
        r#"[{"channelName":"r","uid":"18446744073709551615"}]"#,
        0.0,
    );
    call(&mut c, "socketOpened", "[]", 1.0);
    let ok = r#"{"v":1,"re":1,"ok":true,"body":{"session":"s","room":"r","uid":18446744073709551615,"role":"broadcaster","members":[{"uid":9007199254740993,"role":"broadcaster","live":{"audio":false,"video":true}}],"seq":0,"server_time_ms":0}}"#;
    let args = JSON::stringify(&js_sys::Array::of1(&ok.into())).unwrap();
    let r = call(&mut c, "socketMessage", &String::from(args), 2.0);
    let join = at(&get(&r, &["out"]), 1);
    assert_eq!(
        get(&join, &["data", "uid"]).as_string().as_deref(),
        Some("9007199254740993")
    );
    assert_eq!(get(&join, &["data", "isBigNumber"]).as_bool(), Some(true));
    let r = call(
        &mut c,
        "dataReporter",
        r#"["push","bindnetstatus",{"videoFPS":14.928,"videoGOP":0.1}]"#,
        1000.0,
    );
    let q = at(&get(&r, &["out"]), 0);
    assert_eq!(get(&q, &["name"]).as_string().as_deref(), Some("quality"));
    assert_eq!(get(&q, &["data", "videoFPS"]).as_f64(), Some(14.928));
    assert_eq!(get(&q, &["data", "videoGOP"]).as_f64(), Some(0.1));
    assert_eq!(
        get(&q, &["data", "uid"]).as_string().as_deref(),
        Some("18446744073709551615")
    );
}
