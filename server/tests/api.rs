//! The server API for push tasks over real HTTP: authentication with the app secret, the same
//! validation as clients get, and status events reaching the room's members.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mprtc_server::config::FileConfig;
use mprtc_server::token::{self, Privileges};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

mod live;
use live::{Live, Ws, SECRET};

async fn http(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    http_raw(addr, method, path, auth, &body).await
}

/// An unauthenticated `GET`.
async fn get(addr: &str, path: &str) -> (u16, Value) {
    http(addr, "GET", path, None, None).await
}

/// [`http`] with the body as text, which need not be JSON.
async fn http_raw(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let (status, _, text) = live::http::exchange(addr, None, method, path, auth, body).await;
    // Bodies are small; accept chunked encoding by taking the JSON object inside.
    let text = text.as_str();
    let json_text = text
        .find('{')
        .map(|i| &text[i..text.rfind('}').unwrap() + 1])
        .unwrap_or("null");
    (
        status,
        serde_json::from_str(json_text).unwrap_or(Value::Null),
    )
}

fn task(id: &str, width: u32) -> Value {
    json!({"taskId": id, "streamUrl": "rtmp://127.0.0.1:1/live/nowhere",
           "layout": {"canvas": {"width": 640, "height": 360, "color": 0},
                      "users": [{"uid": 1, "x": 0, "y": 0, "width": width, "height": 360}]}})
}

/// A server on loopback with app `sec` (secret [`SECRET`]) and debug app `dbg`, plus
/// `debug_token_endpoint` as given.
async fn serve(debug_tokens: Option<bool>) -> Live {
    // The tasks here push to a closed loopback port: the operator switch that allows
    // non-public outputs (tests only have loopback).
    let file = FileConfig {
        tasks: mprtc_server::tasks::TaskPolicy {
            output_allow_private: true,
            ..Default::default()
        },
        ..Default::default()
    };
    live::start_with_file(file, |o| o.debug_token_endpoint = debug_tokens).await
}

#[tokio::test]
async fn tasks_over_the_server_api() {
    let srv = serve(None).await;
    let (addr, ws_url) = (srv.addr(), srv.url.clone());

    // A member makes the room exist and will hear the task's status.
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    let now = live::now_s();
    // A token of app `sec` for room r1, valid for a minute.
    let mint = |uid| {
        token::mint(
            SECRET.as_bytes(),
            "sec",
            "r1",
            uid,
            Privileges::default(),
            now,
            60,
        )
    };
    let tok = mint(1);
    let join =
        json!({"v":1,"id":1,"type":"join","body":{"appkey":"sec","room":"r1","uid":1,"token":tok}});
    ws.send(Message::Text(join.to_string().into()))
        .await
        .unwrap();
    ws.next().await.unwrap().unwrap();

    let path = "/api/v1/rooms/r1/tasks";
    let body = json!({"rtmpTasks": [task("t1", 640)]});
    // authentication
    assert_eq!(get(&addr, path).await.0, 401);
    assert_eq!(
        http(&addr, "GET", path, Some("sec:wrong"), None).await.0,
        401
    );
    assert_eq!(
        http(&addr, "GET", path, Some("dbg:"), None).await.0,
        401,
        "debug apps have no server API"
    );
    assert_eq!(
        http(&addr, "POST", path, Some("nope:x"), Some(body.clone()))
            .await
            .0,
        401
    );
    let credentials = format!("sec:{SECRET}");
    let auth = Some(credentials.as_str());
    // validation, naming the field
    let (st, v) = http(
        &addr,
        "POST",
        path,
        auth,
        Some(json!({"rtmpTasks": [task("t1", 700)]})),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_u64(), v["field"].as_str()),
        (400, Some(4005), Some("rtmpTasks[0].layout.users[0].width"))
    );
    let (st, v) = http(
        &addr,
        "POST",
        path,
        auth,
        Some(json!({"rtmpTasks": "nope"})),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_u64(), v["field"].as_str()),
        (400, Some(4005), Some("rtmpTasks"))
    );
    let mut wide = task("t1", 640);
    wide["layout"]["canvas"]["width"] = json!(-2);
    let (st, v) = http(
        &addr,
        "POST",
        path,
        auth,
        Some(json!({"rtmpTasks": [wide]})),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_u64(), v["field"].as_str()),
        (400, Some(4005), Some("rtmpTasks[0].layout.canvas.width"))
    );
    assert_eq!(
        v["msg"],
        "rtmpTasks[0].layout.canvas.width: expected an integer from 0 to 4294967295"
    );
    let (st, v) = http_raw(&addr, "POST", path, auth, "{\"rtmpTasks\": [").await;
    assert_eq!((st, v["code"].as_u64()), (400, Some(4005)));
    // create, conflict, list
    assert_eq!(
        http(&addr, "POST", path, auth, Some(body.clone())).await.0,
        200
    );
    assert_eq!(
        http(&addr, "POST", path, auth, Some(body.clone())).await.0,
        409
    );
    let (st, v) = http(&addr, "GET", path, auth, None).await;
    assert_eq!(st, 200);
    assert_eq!(v["rtmpTasks"][0]["taskId"], "t1");
    // The task's own members (as the wire writes them) and its status: none yet, or the
    // compositor's verdict.
    let listed = v["rtmpTasks"][0].as_object().unwrap();
    assert_eq!(listed["streamUrl"], body["rtmpTasks"][0]["streamUrl"]);
    assert_eq!(
        listed["layout"]["canvas"],
        body["rtmpTasks"][0]["layout"]["canvas"]
    );
    assert!(
        matches!(listed.get("status"), Some(s) if s.is_null() || s == 505 || s == 506),
        "{v}"
    );
    assert!(!listed.contains_key("task"), "{v}");
    // update replaces; unknown task is 404
    let (st, _) = http(
        &addr,
        "PUT",
        path,
        auth,
        Some(json!({"rtmpTasks": [task("t1", 320)]})),
    )
    .await;
    assert_eq!(st, 200);
    let (_, v) = http(&addr, "GET", path, auth, None).await;
    assert_eq!(v["rtmpTasks"][0]["layout"]["users"][0]["width"], 320);
    assert_eq!(
        http(
            &addr,
            "PUT",
            path,
            auth,
            Some(json!({"rtmpTasks": [task("t9", 320)]}))
        )
        .await
        .0,
        404
    );
    // delete: the member hears 511
    assert_eq!(
        http(&addr, "DELETE", "/api/v1/rooms/r1/tasks/t1", auth, None)
            .await
            .0,
        200
    );
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Message::Text(t) = ws.next().await.unwrap().unwrap() {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "task-status" && v["body"]["code"] == 511 {
                    return v;
                }
            }
        }
    })
    .await
    .expect("511 reaches the member");
    assert_eq!(ended["body"]["task_id"], "t1");
    for (method, path, want) in [
        ("DELETE", "/api/v1/rooms/r1/tasks/t1", 404),
        ("GET", "/api/v1/rooms/ghost/tasks", 404),
        ("DELETE", "/api/v1/rooms/r1/tasks/bad%20id", 400),
    ] {
        let (status, body) = http(&addr, method, path, auth, None).await;
        assert_eq!(status, want, "{method} {path}: {body}");
    }

    // kick a member and close the room
    let (mut ws2, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    let tok2 = mint(2);
    let join2 = json!({"v":1,"id":1,"type":"join","body":{"appkey":"sec","room":"r1","uid":2,"token":tok2}});
    ws2.send(Message::Text(join2.to_string().into()))
        .await
        .unwrap();
    ws2.next().await.unwrap().unwrap();
    // An unknown member, then the right one without and with the credentials.
    for (uid, auth, want) in [(99, auth, 404), (2, None, 401), (2, auth, 200)] {
        let path = format!("/api/v1/rooms/r1/members/{uid}/kick");
        let (status, body) = http(&addr, "POST", &path, auth, None).await;
        assert_eq!(status, want, "kick {uid}: {body}");
    }
    let (ev, close) = until_closed(&mut ws2).await;
    assert!(
        ev.iter()
            .any(|v| v["type"] == "kicked" && v["body"]["reason"] == "kicked"),
        "{ev:?}"
    );
    assert_eq!(close, Some(4409));
    assert_eq!(
        http(&addr, "DELETE", "/api/v1/rooms/r1", auth, None)
            .await
            .0,
        200
    );
    let (ev, close) = until_closed(&mut ws).await;
    assert!(ev.iter().any(|v| v["type"] == "room-closed"), "{ev:?}");
    assert_eq!(close, Some(4409));
    assert_eq!(
        http(&addr, "GET", path, auth, None).await.0,
        404,
        "the room is gone"
    );

    srv.stop_within(Duration::from_secs(10)).await;
}

/// Events read until the server closes the socket, and the close code.
async fn until_closed(ws: &mut Ws) -> (Vec<Value>, Option<u16>) {
    let mut events = Vec::new();
    let code = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => events.push(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                _ => {}
            }
        }
    })
    .await
    .expect("the server closes the socket");
    (events, code)
}

/// The development token endpoint is off unless asked for; on, its tokens open the room.
#[tokio::test]
async fn debug_tokens_only_when_switched_on() {
    let ask = "/api/v1/debug/token?appkey=sec&room=r1&uid=alice";
    let srv = serve(None).await;
    let addr = srv.addr();
    assert_eq!(get(&addr, ask).await.0, 404, "off by default");
    srv.cancel();

    let srv = serve(Some(true)).await;
    let (addr, ws_url) = (srv.addr(), srv.url.clone());
    let (status, body) = get(&addr, ask).await;
    assert_eq!(status, 200, "{body}");
    let tok = body["token"].as_str().unwrap().to_owned();
    for (query, want) in [
        ("appkey=nope&room=r1&uid=1", 404),
        ("appkey=sec&room=bad%20room&uid=1", 400),
    ] {
        let (status, _) = get(&addr, &format!("/api/v1/debug/token?{query}")).await;
        assert_eq!(status, want, "{query}");
    }
    let (status, body) = get(&addr, "/api/v1/debug/token?appkey=dbg&room=r1&uid=1").await;
    assert_eq!(
        (status, body["token"].as_str()),
        (200, Some("")),
        "debug apps need none"
    );
    // The token joins as the user id it names.
    let mut ws = live::connect(&ws_url).await;
    let uid = mprtc::protocol::names::uid_for_user("alice");
    let join = json!({"v":1,"id":1,"type":"join","body":{"appkey":"sec","room":"r1","uid":uid,"token":tok,"user":{"id":"alice"}}});
    live::ask_ok(&mut ws, join).await;
    srv.cancel();
}

/// A server binary with app `sec` (secret [`SECRET`]), insecure app `dbg` and the debug token
/// endpoint on.
fn binary_server() -> live::binary::Running {
    live::binary::Running::with(
        &["--debug-token-endpoint", "--insecure-app", "dbg"],
        &[("MPRTC_APPS", &format!("sec:{SECRET}"))],
    )
}

/// One call to the binary's API: (status, headers, body as JSON).
async fn call(addr: &str, method: &str, path: &str, auth: Option<&str>) -> (u16, String, Value) {
    let (status, head, body) = live::http::exchange(addr, None, method, path, auth, "").await;
    let json = body
        .find('{')
        .and_then(|i| serde_json::from_str(&body[i..=body.rfind('}')?]).ok())
        .unwrap_or(Value::Null);
    (status, head, json)
}

/// Every route's documented answers, from the binary: `/healthz`; the error body
/// `{ok: false, code, reason, msg, field}` with 401 for missing, malformed or wrong credentials
/// (and for an insecure app, which has no secret), 404 with the code naming what is missing,
/// 400 for a malformed kick or task body; 200 `{ok: true}` otherwise.
#[tokio::test]
async fn every_route_answers_as_documented() {
    let srv = binary_server();
    let addr = srv.addr("signal");
    let (status, _, body) = live::http::exchange(&addr, None, "GET", "/healthz", None, "").await;
    assert_eq!((status, body.as_str()), (200, "ok"));

    let right = format!("sec:{SECRET}");
    let good = Some(right.as_str());
    let tasks = "/api/v1/rooms/api-room/tasks";
    for auth in [
        None,
        Some("sec:wrong"),
        Some("sec"),
        Some("dbg:"),
        Some("nope:x"),
    ] {
        let (status, _, v) = call(&addr, "GET", tasks, auth).await;
        assert_eq!(status, 401, "{auth:?}: {v}");
        assert_eq!(
            (v["ok"].as_bool(), v["code"].as_u64(), v["reason"].as_str()),
            (Some(false), Some(4012), Some("token_invalid")),
            "{v}"
        );
        assert!(v["msg"].is_string() && v.get("field").is_some(), "{v}");
    }
    // Nothing there yet: each 404 names what is missing.
    let kick = |uid: &str| format!("/api/v1/rooms/api-room/members/{uid}/kick");
    for (method, path, code) in [
        ("GET", tasks.to_owned(), 4028),
        ("DELETE", "/api/v1/rooms/api-room".to_owned(), 4028),
        ("POST", kick("7"), 4028),
    ] {
        let (status, _, v) = call(&addr, method, &path, good).await;
        assert_eq!(
            (status, v["code"].as_u64()),
            (404, Some(code)),
            "{method} {path}: {v}"
        );
    }
    let mut member = live::join_sec(&srv.signal(), "api-room", 7).await;
    for (method, path, want, code) in [
        ("POST", kick("8"), 404, Some(4024)),
        ("DELETE", format!("{tasks}/no_task"), 404, Some(4027)),
        ("DELETE", format!("{tasks}/bad-id"), 400, Some(4005)),
        ("POST", kick(&"u".repeat(65)), 400, Some(4003)),
        ("GET", tasks.to_owned(), 200, None),
    ] {
        let (status, _, v) = call(&addr, method, &path, good).await;
        assert_eq!(
            (status, v["code"].as_u64()),
            (want, code),
            "{method} {path}: {v}"
        );
    }
    let (status, v) = http_raw(&addr, "POST", tasks, good, "not json").await;
    assert_eq!((status, v["code"].as_u64()), (400, Some(4005)), "{v}");
    let (status, _, v) = call(&addr, "POST", &kick("7"), good).await;
    assert_eq!((status, v["ok"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(live::closed_with(&mut member).await, Some(4409));
}

/// Ten failed logins from one address: the next call, with the right secret too, is 429 with
/// `Retry-After` (seconds, at most the one-minute lockout); another address is still served.
#[tokio::test]
async fn failed_logins_lock_the_address_out_with_retry_after() {
    let srv = binary_server();
    let addr = srv.addr("signal");
    let path = "/api/v1/rooms/none/tasks";
    for i in 0..mprtc_server::throttle::MAX_FAILURES {
        let (status, _) = live::http::api_as(
            &addr,
            "127.0.0.3",
            &format!("sec:guess{i}"),
            "GET",
            path,
            "",
        )
        .await;
        assert_eq!(status, 401);
    }
    let right = format!("sec:{SECRET}");
    let (status, head, body) =
        live::http::exchange(&addr, Some("127.0.0.3"), "GET", path, Some(&right), "").await;
    assert_eq!(status, 429, "{body}");
    let retry: u64 = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after:")
                .map(|v| v.trim().to_owned())
        })
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{head}");
    let v: Value =
        serde_json::from_str(&body[body.find('{').unwrap()..=body.rfind('}').unwrap()]).unwrap();
    assert_eq!(
        (v["code"].as_u64(), v["reason"].as_str()),
        (Some(4029), Some("limit_exceeded"))
    );
    let (status, _) = live::http::api_as(&addr, "127.0.0.4", &right, "GET", path, "").await;
    assert_eq!(status, 404, "another address is served");
}

/// The debug token endpoint clamps the lifetime asked for to 1 second .. 1 day; an hour when
/// none is asked.
#[tokio::test]
async fn debug_token_lifetimes_are_clamped() {
    use base64::Engine as _;
    let srv = binary_server();
    let addr = srv.addr("signal");
    for (ttl, want) in [
        ("", 3600),
        ("&ttl=0", 1),
        ("&ttl=120", 120),
        ("&ttl=999999", 86_400),
    ] {
        let path = format!("/api/v1/debug/token?appkey=sec&room=r&uid=1{ttl}");
        let (status, _, v) = call(&addr, "GET", &path, None).await;
        assert_eq!(status, 200, "{v}");
        let payload = v["token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .to_owned();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        let life = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
        assert_eq!(life, want, "{ttl}: {claims}");
    }
}
