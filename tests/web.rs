//! The wasm boundary in a real browser engine (headless Chromium via `wasm-pack test`): JS values
//! in, plain objects and real `Error`s out.
#![cfg(target_arch = "wasm32")]

use js_sys::{Object, Reflect};
use mprtc::wasm::WasmClient;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o: JsValue = Object::new().into();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap()
}

fn client() -> WasmClient {
    WasmClient::new(obj(&[
        ("appkey", "app".into()),
        ("server", "ws://127.0.0.1:9/ws".into()),
    ]))
    .unwrap()
}

#[wasm_bindgen_test]
fn errors_are_real_js_errors_with_codes() {
    let e = WasmClient::new(obj(&[("appkey", "app".into())]))
        .err()
        .expect("server is required");
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&e, "code").as_f64(), Some(1001.0));
    assert_eq!(
        get(&e, "reason").as_string().as_deref(),
        Some("invalid_argument")
    );
    let mut c = client();
    let e = c.publish(JsValue::UNDEFINED, 0.0).unwrap_err();
    assert_eq!(get(&e, "code").as_f64(), Some(1002.0));
    let e = c
        .join(
            obj(&[
                ("channelName", "r".into()),
                ("uid", JsValue::from_f64(-1.0)),
            ]),
            0.0,
        )
        .unwrap_err();
    assert_eq!(get(&e, "code").as_f64(), Some(1001.0));
    let e = c.publish(JsValue::from_str("screen"), 0.0).unwrap_err();
    assert!(e.is_instance_of::<js_sys::Error>());
}

#[wasm_bindgen_test]
fn join_drives_outputs_and_big_uids_come_back_as_strings() {
    let mut c = client();
    let op = c
        .join(
            obj(&[
                ("channelName", "r".into()),
                ("uid", "18446744073709551615".into()),
            ]),
            1000.0,
        )
        .unwrap();
    let out = c.poll_output();
    assert_eq!(get(&out, "kind").as_string().as_deref(), Some("connect"));
    assert_eq!(
        get(&out, "url").as_string().as_deref(),
        Some("ws://127.0.0.1:9/ws")
    );
    assert!(c.poll_output().is_undefined());
    assert_eq!(c.next_deadline(), Some(11000.0));
    c.socket_opened(1001.0);
    assert_eq!(
        get(&c.poll_output(), "name").as_string().as_deref(),
        Some("open")
    );
    let send = c.poll_output();
    let data = get(&send, "data").as_string().unwrap();
    assert!(data.contains("\"uid\":18446744073709551615"), "{data}");
    let ok = r#"{"v":1,"re":1,"ok":true,"body":{"session":"s","room":"r","uid":18446744073709551615,"role":"broadcaster","members":[{"uid":9007199254740993,"role":"broadcaster","live":{"audio":false,"video":true}}],"seq":0,"server_time_ms":0}}"#;
    c.socket_message(ok.into(), 1002.0);
    let res = c.poll_output();
    assert_eq!(get(&res, "kind").as_string().as_deref(), Some("resolve"));
    assert_eq!(get(&res, "op").as_f64(), Some(op as f64));
    let join = c.poll_output();
    assert_eq!(
        get(&join, "name").as_string().as_deref(),
        Some("clientJoin")
    );
    let data = get(&join, "data");
    assert_eq!(
        get(&data, "uid").as_string().as_deref(),
        Some("9007199254740993")
    );
    assert_eq!(get(&data, "isBigNumber").as_bool(), Some(true));
    let added = get(&c.poll_output(), "data");
    assert_eq!(
        get(&added, "mediaType").as_string().as_deref(),
        Some("video")
    );
    // a timed-out request rejects with an Error carrying code 1004
    let op = c.publish(JsValue::UNDEFINED, 2000.0).unwrap();
    c.poll_output();
    c.tick(12_000.0);
    let over = c.poll_output();
    assert_eq!(
        get(&over, "name").as_string().as_deref(),
        Some("sendCommandOverTime")
    );
    assert_eq!(
        get(&get(&over, "data"), "command").as_string().as_deref(),
        Some("publish")
    );
    let rej = c.poll_output();
    assert_eq!(get(&rej, "op").as_f64(), Some(op as f64));
    let err = get(&rej, "error");
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&err, "code").as_f64(), Some(1004.0));
}

#[wasm_bindgen_test]
fn uids_come_as_bigint_or_bignumber_and_netease_options_are_checked() {
    let big = js_sys::BigInt::from(9_007_199_254_740_993u64);
    let mut c = client();
    c.join(
        obj(&[("channelName", "r".into()), ("uid", big.into())]),
        0.0,
    )
    .expect("a BigInt uid");
    // A bignumber.js value is read through toFixed().
    let bn: JsValue = Object::new().into();
    let to_fixed = js_sys::Function::new_no_args("return '12345'");
    Reflect::set(&bn, &"toFixed".into(), &to_fixed).unwrap();
    let mut d = client();
    d.join(obj(&[("channelName", "r".into()), ("uid", bn)]), 0.0)
        .expect("a bignumber uid");
    let mut e = client();
    let err = e
        .join(
            obj(&[
                ("channelName", "r".into()),
                ("uid", JsValue::from_f64(1.0)),
                ("recordVideo", JsValue::from_f64(1.0)),
            ]),
            0.0,
        )
        .unwrap_err();
    assert_eq!(get(&err, "code").as_f64(), Some(1010.0));
    assert_eq!(
        get(&err, "reason").as_string().as_deref(),
        Some("unsupported")
    );
    let err = WasmClient::new(obj(&[
        ("appkey", "app".into()),
        ("server", "ws://h/ws".into()),
        ("requestTimeout", JsValue::from_f64(5.0)),
    ]))
    .err()
    .expect("too short a timeout");
    assert_eq!(get(&err, "code").as_f64(), Some(1001.0));
}
