//! How each setting shows once the server runs with it: the observations
//! `every_setting_reaches_the_server_by_flag_by_env_and_by_file` makes, one per setting, and
//! the joins, URLs and requests they use. Kept apart from the table so each file stays short.

use super::*;

/// A fresh connection joined to `room` of the insecure app `dbg` as `uid`: the socket and the
/// answer.
pub(super) async fn join_dbg(srv: &Running, room: &str, uid: u64) -> (live::Ws, Value) {
    let mut ws = connect(&srv.signal()).await;
    let r = answer(&mut ws, join(1, "dbg", room, uid, None)).await;
    (ws, r)
}

/// A member of app `sec` in `room` joined with a token of `privileges`.
pub(super) async fn join_sec_with(
    srv: &Running,
    room: &str,
    uid: u64,
    privileges: Privileges,
) -> live::Ws {
    let mut ws = connect(&srv.signal()).await;
    let t = live::token_for(room, &uid.to_string(), privileges);
    let r = answer(&mut ws, join(1, "sec", room, uid, Some(&t))).await;
    assert_eq!(r["ok"], true, "{r}");
    ws
}

/// The push URL a fresh member of `dbg` gets when it publishes.
pub(super) async fn push_url(srv: &Running) -> String {
    let (mut ws, r) = join_dbg(srv, "urls", 1).await;
    assert_eq!(r["ok"], true, "{r}");
    let p = json!({"v":1,"id":2,"type":"publish","body":{"video":true,"audio":true}});
    let r = answer(&mut ws, p).await;
    r["body"]["url"].as_str().expect("a push URL").to_owned()
}

/// The value of `name` in a URL's query.
pub(super) fn query_param(url: &str, name: &str) -> String {
    let q = url.split_once('?').expect("a query").1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .to_owned()
}

/// Checks that the server `srv`, started with `key = value`, does what the setting says.
pub(super) async fn observe(key: &str, value: &str, srv: &Running, dir: &Path) {
    let join_answer = || async {
        let (_ws, r) = join_dbg(srv, "seen", 1).await;
        assert_eq!(r["ok"], true, "{r}");
        r["body"].clone()
    };
    match key {
        "listen" => assert_eq!(srv.addr("signal"), value),
        "rtmp_listen" => assert_eq!(srv.addr("rtmp"), value),
        "flv_listen" => assert_eq!(srv.addr("flv"), value),
        "public_host" => {
            for e in ["signal", "rtmp", "flv"] {
                let host = binary::host_port(&srv.endpoint(e));
                assert!(host.starts_with("media.test:"), "{e}: {host}");
            }
        }
        "media_secret" => {
            let url = push_url(srv).await;
            let (path, query) = url.split_once('?').unwrap();
            let name = path.rsplit('/').next().unwrap();
            let now = live::now_s();
            let ours = MediaSigner::new(value.as_bytes().to_vec(), "", "", 60);
            assert!(ours.verify(UrlKind::Push, name, query, now).is_ok());
            let other = MediaSigner::new(vec![7u8; 40], "", "", 60);
            assert!(other.verify(UrlKind::Push, name, query, now).is_err());
        }
        "url_ttl_secs" => {
            let before = live::now_s();
            let url = push_url(srv).await;
            let after = live::now_s();
            let e: u64 = query_param(&url, "e").parse().unwrap();
            assert!((before + 120..=after + 120).contains(&e), "{url}");
        }
        "max_frame_bytes" => {
            let (mut ws, _) = join_dbg(srv, "frames", 1).await;
            let big = json!({"v":1,"id":2,"type":"ping","body":{"ts":1,"pad":"x".repeat(400)}});
            // Too large to be read for its id: the refusal answers no request id.
            assert_eq!(live::code(&ask(&mut ws, big).await), 4004);
            let small = json!({"v":1,"id":3,"type":"ping","body":{"ts":1}});
            assert_eq!(answer(&mut ws, small).await["ok"], true);
        }
        "max_rooms" => {
            let (_a, r) = join_dbg(srv, "room-a", 1).await;
            assert_eq!(r["ok"], true, "{r}");
            let (_b, r) = join_dbg(srv, "room-b", 2).await;
            assert_eq!(live::code(&r), 4029);
        }
        "max_members_per_room" => {
            let (_a, r) = join_dbg(srv, "full", 1).await;
            assert_eq!(r["ok"], true, "{r}");
            let (_b, r) = join_dbg(srv, "full", 2).await;
            assert_eq!(live::code(&r), 4029);
        }
        "max_requests_per_sec" => {
            // The join took the one request of this second; a burst of pings gets one 4029.
            let (mut ws, _) = join_dbg(srv, "rate", 1).await;
            for id in 2..12 {
                let ping = json!({"v":1,"id":id,"type":"ping","body":{"ts":1}});
                ask_nothing(&mut ws, ping).await;
            }
            loop {
                let v = live::recv(&mut ws).await;
                if v["ok"] == false {
                    assert_eq!(live::code(&v), 4029);
                    break;
                }
            }
        }
        "max_connections" | "max_connections_per_ip" => {
            let seen =
                probe::two_connections(&srv.addr("signal"), &probe::http_get("/healthz")).await;
            assert_eq!(seen, (true, false), "{key}");
        }
        "rtmp_max_connections" | "rtmp_max_connections_per_ip" => {
            let seen = probe::two_connections(&srv.addr("rtmp"), &probe::rtmp_c0c1()).await;
            assert_eq!(seen, (true, false), "{key}");
        }
        "flv_max_connections" | "flv_max_connections_per_ip" => {
            let seen =
                probe::two_connections(&srv.addr("flv"), &probe::http_get("/live/x.flv")).await;
            assert_eq!(seen, (true, false), "{key}");
        }
        "ping_interval_ms" => {
            let b = join_answer().await;
            assert_eq!(
                (
                    b["ping_interval_ms"].as_u64(),
                    b["ping_timeout_ms"].as_u64()
                ),
                (Some(1500), Some(3000))
            );
        }
        "ping_timeout_ms" => {
            assert_eq!(join_answer().await["ping_timeout_ms"], 25000);
        }
        "resume_window_ms" => resume_window_zero(srv).await,
        "debug_token_endpoint" => {
            let (status, _, body) = live::http::exchange(
                &srv.addr("signal"),
                None,
                "GET",
                "/api/v1/debug/token?appkey=sec&room=r&uid=1",
                None,
                "",
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        "recordings_dir" | "ffmpeg" => compositor_started(srv, key, value, dir).await,
        "metrics_token" => {
            let ok = bearer_get(srv, "/metrics", value).await;
            assert!(
                ok.starts_with("HTTP/1.1 200") && ok.contains("mprtc_rooms"),
                "{ok}"
            );
            let wrong =
                bearer_get(srv, "/metrics", "settings-metrics-token-0123456789abcdeX").await;
            assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
        }
        "console_token" => {
            let ok = bearer_get(srv, "/console/api/overview", value).await;
            assert!(
                ok.starts_with("HTTP/1.1 200") && ok.contains("\"rooms\""),
                "{ok}"
            );
            let wrong = bearer_get(
                srv,
                "/console/api/overview",
                "settings-console-token-0123456789abcdeX",
            )
            .await;
            assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
        }
        other => panic!("no observation for {other}"),
    }
}

/// The whole answer to a GET of `path` on the signaling listener with a bearer `token`.
pub(super) async fn bearer_get(srv: &Running, path: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    let mut s = tokio::net::TcpStream::connect(srv.addr("signal"))
        .await
        .unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    resp
}

/// Sends `frame` without waiting for anything.
pub(super) async fn ask_nothing(ws: &mut live::Ws, frame: Value) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// With a resume window of 0 a dropped connection is a leave: the room hears it at once and
/// the member's resume finds nothing to resume.
pub(super) async fn resume_window_zero(srv: &Running) {
    let (mut stay, r) = join_dbg(srv, "drops", 1).await;
    assert_eq!(r["ok"], true, "{r}");
    let (gone, r) = join_dbg(srv, "drops", 2).await;
    let session = r["body"]["session"].as_str().unwrap().to_owned();
    // Dropped without a close frame: a lost connection, which a resume window would cover.
    drop(gone);
    let (left, _) = live::until_event(&mut stay, "member-left").await;
    assert_eq!(left["body"]["uid"], 2, "{left}");
    let mut back = connect(&srv.signal()).await;
    let mut j = join(1, "dbg", "drops", 2, None);
    j["body"]["resume"] = json!({"session": session, "last_seq": 0});
    let r = answer(&mut back, j).await;
    // A fresh join, or told that the session ended: either way nothing was resumed.
    let fresh = r["ok"] == true && r["body"]["resumed"] != true;
    assert!(fresh || live::code(&r) == 4030, "nothing to resume: {r}");
}

/// A member of app `sec` allowed to record adds a recorded task pushed to the server's own RTMP
/// listener: the compositor the server starts is the configured binary (which notes its
/// arguments in `dir/ran`) and records into the configured directory.
pub(super) async fn compositor_started(srv: &Running, key: &str, value: &str, dir: &Path) {
    let p = Privileges {
        record: Some(true),
        ..Default::default()
    };
    let mut ws = join_sec_with(srv, "tasks", 1, p).await;
    let out = format!("{}/task-out", srv.endpoint("rtmp"));
    let mut task = probe::task("t1", &out, 1, key == "recordings_dir");
    // ffmpeg composes nothing since the live compositor (mprtc-compositor): it runs the
    // passthrough of `singleVideoNoTrans`, which needs the member live.
    let _pusher = if key == "ffmpeg" {
        let publish = json!({"v":1,"id":3,"type":"publish","body":{"video":true,"audio":true}});
        let url = answer(&mut ws, publish).await["body"]["url"]
            .as_str()
            .expect("a push URL")
            .to_owned();
        task["config"] = json!({"singleVideoNoTrans": true});
        Some(probe::pusher(&url))
    } else {
        None
    };
    let r = answer(&mut ws, probe::add_tasks(2, vec![task])).await;
    assert_eq!(r["ok"], true, "{r}");
    // The first status comes once the compositor ran: pushing (505) or failed (506).
    let status = loop {
        let v = live::recv_within(&mut ws, binary::BOUND).await;
        if v["type"] == "task-status" {
            break v;
        }
    };
    assert!(
        [505, 506].contains(&status["body"]["code"].as_u64().unwrap_or(0)),
        "{status}"
    );
    match key {
        "ffmpeg" => {
            // Once the member is live, the task runs as its passthrough.
            live::until("the configured ffmpeg", || dir.join("ran").exists()).await;
            let ran = std::fs::read_to_string(dir.join("ran")).expect("the configured ffmpeg ran");
            assert!(ran.contains("task-out"), "{ran}");
        }
        _ => {
            let rec = Path::new(value);
            assert!(rec.is_dir(), "{} made for the recording", rec.display());
        }
    }
}
