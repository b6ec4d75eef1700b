//! Task fields the live compositor brought (issue #19), over the server API of a real server:
//! HE-AAC refused naming the field when no encoder for it exists (never turned into AAC-LC),
//! and layout uids above 2^53 kept exactly.

use mprtc_server::config::FileConfig;
use serde_json::{json, Value};

mod live;
use live::SECRET;

/// `method path` with the app's credentials; the status and the JSON body.
async fn call(addr: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = format!("sec:{SECRET}");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, _, text) =
        live::http::exchange(addr, None, method, path, Some(&auth), &body).await;
    // The first JSON value of the body (it may come chunked).
    let start = text.find('{').unwrap_or(text.len());
    let first = serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<Value>()
        .next();
    (status, first.and_then(Result::ok).unwrap_or(Value::Null))
}

fn task(id: &str, uid: u64, codec_profile: u8) -> Value {
    json!({"taskId": id, "streamUrl": "rtmp://127.0.0.1:1/live/nowhere",
           "layout": {"canvas": {"width": 640, "height": 360, "color": 0},
                      "users": [{"uid": uid, "x": 0, "y": 0, "width": 320, "height": 180}]},
           "config": {"audioParam": {"bitRate": 48, "channels": 2, "codecProfile": codec_profile,
                                     "sampleRate": 48000}}})
}

#[tokio::test]
async fn he_aac_is_refused_by_field_and_big_uids_stay_exact() {
    let file = FileConfig {
        tasks: mprtc_server::tasks::TaskPolicy {
            output_allow_private: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let srv = live::start_with_file(file, |_| {}).await;
    let addr = srv.addr();
    // A member makes the room exist.
    let _member = live::join_sec(&srv.url, "r1", 1).await;
    let path = "/api/v1/rooms/r1/tasks";

    // This machine's GStreamer has no HE-AAC encoder (Debian ships none): refused, by field.
    let (st, v) = call(
        &addr,
        "POST",
        path,
        Some(json!({"rtmpTasks": [task("he", 2, 1)]})),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_u64(), v["field"].as_str()),
        (
            400,
            Some(4005),
            Some("rtmpTasks[0].config.audioParam.codecProfile")
        ),
        "{v}"
    );

    // 2^53 + 1 is the first integer a double cannot hold; u64::MAX the largest uid.
    for (id, uid) in [("big", 9_007_199_254_740_993u64), ("max", u64::MAX)] {
        let (st, v) = call(
            &addr,
            "POST",
            path,
            Some(json!({"rtmpTasks": [task(id, uid, 0)]})),
        )
        .await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, v) = call(&addr, "GET", path, None).await;
    assert_eq!(st, 200);
    let uids: Vec<u64> = v["rtmpTasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["layout"]["users"][0]["uid"]
                .as_u64()
                .expect("an integer uid")
        })
        .collect();
    assert!(uids.contains(&9_007_199_254_740_993), "{uids:?}");
    assert!(uids.contains(&u64::MAX), "{uids:?}");
}
