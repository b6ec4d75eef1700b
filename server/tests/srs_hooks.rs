//! SRS's hook protocol against the running `mprtc-server` binary with `media = "srs"`.
//!
//! SRS is not installable on these machines, so its side is played from its documented
//! request and answer bodies (`http_hooks` `on_publish`, `on_play`, `on_unpublish`, `on_stop`,
//! with SRS 5+'s string `client_id` and SRS 4's integer one; `{"code":0}` admits). Its HTTP
//! API, which the server calls to kick (`DELETE /api/v1/clients/{id}`), is a loopback listener
//! here that records the requests it gets and answers 200.

mod engine;

use engine::*;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// A loopback HTTP listener standing where SRS's API would: each request line is sent on.
async fn srs_api() -> (u16, mpsc::UnboundedReceiver<String>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut s = BufReader::new(s);
                let mut line = String::new();
                if s.read_line(&mut line).await.is_ok() {
                    let _ = tx.send(line.trim_end().to_owned());
                }
                let _ = s
                    .get_mut()
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"code\":0}\n")
                    .await;
            });
        }
    });
    (port, rx)
}

/// The next request SRS's API got, within the deadline.
async fn api_call(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("a kick within the deadline")
        .unwrap()
}

/// SRS's documented hook body (v5+) for `action` on the stream of `url`, from `client_id`.
fn body(action: &str, client_id: Value, url: &str) -> Value {
    let (path, query) = url.split_once('?').unwrap();
    let stream = path.rsplit('/').next().unwrap();
    let mut b = json!({
        "server_id": "vid-0xk989d", "action": action, "client_id": client_id,
        "ip": "127.0.0.1", "vhost": "__defaultVhost__", "app": "live",
        "tcUrl": "rtmp://127.0.0.1:1935/live?vhost=__defaultVhost__", "stream": stream,
        "param": format!("?{query}"), "stream_url": format!("/live/{stream}"),
        "stream_id": "vid-124q9y3"
    });
    if action == "on_play" {
        b["pageUrl"] = "".into();
    }
    b
}

/// Posts `body` to hook node `node` with `secret`: (status, answer body).
async fn post(addr: &str, secret: &str, node: &str, body: &[u8]) -> (u16, String) {
    let path = format!("/hooks/srs/{secret}/{node}");
    http(addr, "POST", &path, None, "application/json", body).await
}

/// The answer's `code` for a hook call with `b` at the origin (status must be 200).
async fn hook(addr: &str, b: &Value) -> i64 {
    let (status, answer) = post(addr, HOOK_SECRET, "0", b.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let v: Value = serde_json::from_str(&answer).unwrap();
    v["code"].as_i64().unwrap()
}

/// The server binary with `media = "srs"`, kicking through the API stand-in on `api_port`.
fn start_server(api_port: u16) -> (ServerProc, Cleanup) {
    start_server_with(api_port, &[])
}

/// [`start_server`] with more flags.
fn start_server_with(api_port: u16, more: &[&str]) -> (ServerProc, Cleanup) {
    let dir = temp_dir("srs");
    let mut more: Vec<String> = more.iter().map(|m| m.to_string()).collect();
    more.extend([
        "--media-flv-base".into(),
        "http://127.0.0.1:8080/live".into(),
    ]);
    let control = [format!("http://127.0.0.1:{api_port}")];
    let base = "rtmp://127.0.0.1:1935/live";
    let log = dir.join("server.log");
    let server = ServerProc::external("srs", base, &control, &more, &log);
    (server, Cleanup(dir))
}

/// on_publish admits a member's push URL and the room hears `stream-added`; on_play admits a
/// member's play URL (SRS 4's integer client id); on_unpublish ends the stream
/// (`stream-removed`); a newer publisher replaces an older one SRS never reported gone;
/// forged, expired and wrong-kind URLs get a non-zero code and no event; a kick goes to SRS's
/// API as `DELETE /api/v1/clients/{id}`.
#[tokio::test]
async fn srs_hooks_admit_signed_urls_and_drive_stream_events() {
    let (api_port, mut api) = srs_api().await;
    let (server, _dir) = start_server(api_port);
    let addr = server.addr.clone();
    let mut alice = member(&addr, "s", 1).await;
    let mut bob = member(&addr, "s", 2).await;
    let mut carol = member(&addr, "s", 3).await;

    let push = publish(&mut alice).await;
    assert!(push.starts_with("rtmp://127.0.0.1:1935/live/"), "{push}");
    // Refused: forged, expired, wrong kind; no event follows a refusal.
    let forged = push.replace("&s=", "&s=AAAA");
    let name = push.split('?').next().unwrap().rsplit('/').next().unwrap();
    let (room, uid) = name.rsplit_once('.').unwrap();
    let expired = mprtc_server::media::MediaSigner::new(MEDIA_SECRET, "rtmp://x/live", "", 60)
        .push_url(room, uid.parse().unwrap(), now_s() - 120);
    assert_ne!(
        hook(&addr, &body("on_publish", "e1".into(), &expired)).await,
        0
    );
    assert_ne!(
        hook(&addr, &body("on_publish", "9308h583".into(), &forged)).await,
        0
    );
    assert_ne!(
        hook(&addr, &body("on_play", "9308h583".into(), &push)).await,
        0
    );
    // Admitted (SRS 5+: string client id): the room hears it.
    assert_eq!(
        hook(&addr, &body("on_publish", "9308h583".into(), &push)).await,
        0
    );
    assert_eq!(event(&mut bob, "stream-added").await["body"]["uid"], 1);
    // A newer publisher of the stream (SRS never said the first left) replaces it: the
    // older is kicked at SRS.
    assert_eq!(
        hook(&addr, &body("on_publish", "x2".into(), &push)).await,
        0
    );
    assert_eq!(
        api_call(&mut api).await,
        "DELETE /api/v1/clients/9308h583 HTTP/1.1"
    );

    let r = request(
        &mut bob,
        json!({"v":1,"id":3,"type":"subscribe","body":{"uid":1,"video":true}}),
    )
    .await;
    let play = r["body"]["url"].as_str().unwrap().to_owned();
    let flv = r["body"]["flv_url"].as_str().unwrap();
    assert!(flv.starts_with("http://127.0.0.1:8080/live/"), "{flv}");
    assert_ne!(
        hook(&addr, &body("on_publish", 107.into(), &play)).await,
        0,
        "play URL pushed"
    );
    assert_eq!(
        hook(&addr, &body("on_play", 107.into(), &play)).await,
        0,
        "SRS 4 integer id"
    );

    // Kicking bob kicks his client at SRS.
    kick(&addr, "s", 2).await;
    assert_eq!(
        api_call(&mut api).await,
        "DELETE /api/v1/clients/107 HTTP/1.1"
    );
    // His URL is dead from then on.
    assert_ne!(hook(&addr, &body("on_play", 108.into(), &play)).await, 0);
    assert_eq!(hook(&addr, &body("on_stop", 107.into(), &play)).await, 0);

    // The publisher leaves SRS: the others hear `stream-removed`.
    assert_eq!(
        hook(&addr, &body("on_unpublish", "x2".into(), &push)).await,
        0
    );
    assert_eq!(
        event_about(&mut carol, "stream-removed", 1).await["body"]["uid"],
        1
    );
    // Published again and then kicked: the kick names its client id.
    assert_eq!(
        hook(&addr, &body("on_publish", "k2".into(), &push)).await,
        0
    );
    event_about(&mut carol, "stream-added", 1).await;
    kick(&addr, "s", 1).await;
    assert_eq!(
        api_call(&mut api).await,
        "DELETE /api/v1/clients/k2 HTTP/1.1"
    );
    drop(alice);
}

/// The hook endpoint is reachable by anyone who reaches the port: a wrong secret is 403, an
/// unknown node 404, a big body 413, a hostile body a refusal; none admits anything.
#[tokio::test]
async fn srs_hook_endpoint_refuses_strangers_and_hostile_bodies() {
    let (api_port, _api) = srs_api().await;
    let (server, _dir) = start_server(api_port);
    let addr = server.addr.clone();
    let mut alice = member(&addr, "h", 1).await;
    let push = publish(&mut alice).await;
    let good = body("on_publish", "c1".into(), &push).to_string();

    let wrong = &HOOK_SECRET[1..];
    assert_eq!(post(&addr, wrong, "0", good.as_bytes()).await.0, 403);
    assert_eq!(
        post(&addr, &format!("{HOOK_SECRET}x"), "0", good.as_bytes())
            .await
            .0,
        403
    );
    for node in ["1", "01", "-1", "99999999999999999999999"] {
        assert_eq!(
            post(&addr, HOOK_SECRET, node, good.as_bytes()).await.0,
            404,
            "{node}"
        );
    }
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(8192));
    assert_eq!(post(&addr, HOOK_SECRET, "0", big.as_bytes()).await.0, 413);
    let nginx_path = format!("/hooks/nginx-rtmp/{HOOK_SECRET}/0/publish");
    let (status, _) = http(
        &addr,
        "POST",
        &nginx_path,
        None,
        "application/x-www-form-urlencoded",
        b"",
    )
    .await;
    assert_eq!(status, 404, "only the configured engine's hooks exist");
    for hostile in [
        json!({"action":"on_publish","client_id":[1],"app":"live","stream":"a.1","param":""}),
        json!({"action":"on_publish","client_id":"../../x","app":"live","stream":"a.1","param":""}),
        json!({"action":"on_connect","client_id":"c","app":"live","stream":"a.1","param":""}),
        json!("not an object"),
    ] {
        assert_ne!(hook(&addr, &hostile).await, 0, "{hostile}");
    }
    // After all that, the real publisher is admitted: nothing above took its place.
    assert_eq!(hook(&addr, &serde_json::from_str(&good).unwrap()).await, 0);
}

/// With hook sources configured, a call from any other address is refused even with the
/// secret, and one from an allowed address admits.
#[tokio::test]
async fn srs_hooks_only_from_the_configured_sources() {
    let (api_port, _api) = srs_api().await;
    let sources = [
        "--media-hook-source",
        "127.0.0.2",
        "--media-hook-source",
        "10.0.0.0/8",
    ];
    let (server, _dir) = start_server_with(api_port, &sources);
    let addr = server.addr.clone();
    let mut alice = member(&addr, "f", 1).await;
    let push = publish(&mut alice).await;
    let good = body("on_publish", "c1".into(), &push).to_string();
    let path = format!("/hooks/srs/{HOOK_SECRET}/0");
    let from = |ip: &'static str| {
        let (addr, path, good) = (addr.clone(), path.clone(), good.clone());
        async move {
            let json = "application/json";
            http_from(ip, &addr, ("POST", &path), None, json, good.as_bytes()).await
        }
    };
    assert_eq!(from("127.0.0.1").await.0, 403);
    assert_eq!(from("127.0.0.3").await.0, 403);
    let (status, answer) = from("127.0.0.2").await;
    assert_eq!((status, answer.as_str()), (200, "{\"code\":0}"));
}
