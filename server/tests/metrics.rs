//! `/metrics` and `/readyz` of the real binary: a scrape, real members over the WebSocket
//! (joins, a refused join, a real ffmpeg push to the embedded RTMP server and an HTTP-FLV
//! play, a resume, a fresh rejoin, a member given up, a failing compositor), and a scrape
//! again that moved by exactly what happened. Anonymous and wrong-token scrapes are refused;
//! the text is checked line by line as the exposition format. Readiness on the embedded
//! server and on an external engine whose control base answers or is closed.
//!
//! Everything waits on events (an answer, an event frame, a scrape that shows the change)
//! with generous deadlines; no clock decides a pass.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::SinkExt;
use mprtc_server::token::Privileges;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

mod live;
use live::binary::Running;
use live::scrape::{at, get};
use live::{connect, join, recv_within, token_for, Ws, SECRET};

const TOKEN: &str = "metrics-token-for-the-tests-0123456789";
/// How long a real ffmpeg or a scrape that must show a change may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

thread_local! {
    /// Event frames (those with a `seq`) this test's members read: per thread, since each
    /// test runs on its own thread (its own current-thread runtime) beside the others.
    static EVENTS_READ: Cell<u64> = const { Cell::new(0) };
}

/// The server with app `sec`, the metrics token and `args`.
fn server(args: &[&str]) -> Running {
    Running::with(
        args,
        &[
            ("MPRTC_APPS", &format!("sec:{SECRET}")),
            ("MPRTC_METRICS_TOKEN", TOKEN),
        ],
    )
}

/// One scrape with the token, checked as the exposition format (see `live/scrape.rs`).
async fn scrape(addr: &str) -> BTreeMap<String, f64> {
    live::scrape::scrape(addr, TOKEN).await
}

/// Scrapes with the token until `done` holds for the samples; fails after a minute.
async fn scrape_until(
    addr: &str,
    what: &str,
    done: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    live::scrape::scrape_until(addr, TOKEN, what, done).await
}

/// The next frame, counted in [`EVENTS_READ`] if it is an event.
async fn read(ws: &mut Ws) -> Value {
    let v = recv_within(ws, PATIENCE).await;
    if v.get("seq").is_some() {
        EVENTS_READ.with(|n| n.set(n.get() + 1));
    }
    v
}

async fn send(ws: &mut Ws, frame: &Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// Sends `frame`; its answer, reading (and counting) the events before it.
async fn answer(ws: &mut Ws, frame: Value) -> Value {
    send(ws, &frame).await;
    loop {
        let v = read(ws).await;
        if v["re"] == frame["id"] {
            return v;
        }
    }
}

/// Reads until an event of `kind`.
async fn event(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = read(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

/// Reads everything `ws` was sent up to the answer to a ping sent now; the last event's seq.
async fn drain(ws: &mut Ws, last_seq: &mut u64) {
    send(ws, &json!({"v":1,"id":900,"type":"ping","body":{"ts":1}})).await;
    loop {
        let v = read(ws).await;
        if let Some(s) = v["seq"].as_u64() {
            *last_seq = s;
        }
        if v["re"] == 900 {
            return;
        }
    }
}

/// Member `uid` of app `sec` in `room` with a fresh token: the socket and the answer.
async fn member(url: &str, room: &str, uid: u64, resume: Option<Value>) -> (Ws, Value) {
    let mut ws = connect(url).await;
    let t = token_for(room, &uid.to_string(), Privileges::default());
    let mut frame = join(1, "sec", room, uid, Some(&t));
    if let Some(r) = resume {
        frame["body"]["resume"] = r;
    }
    let r = answer(&mut ws, frame).await;
    assert_eq!(r["ok"], true, "{r}");
    (ws, r)
}

#[tokio::test]
async fn scrapes_are_refused_without_the_token_and_absent_without_one_configured() {
    let srv = server(&[]);
    let addr = srv.addr("signal");
    for bearer in [
        None,
        Some("wrong-token-of-the-same-length-000000"),
        Some(""),
    ] {
        let (status, head, _) = get(&addr, "/metrics", bearer).await;
        assert_eq!(status, 401, "{bearer:?}: {head}");
        assert!(head.contains("www-authenticate: Bearer"), "{head}");
    }
    // Basic credentials of an app are not the operator's.
    let (status, _, _) = live::http::exchange(
        &addr,
        None,
        "GET",
        "/metrics",
        Some(&format!("sec:{SECRET}")),
        "",
    )
    .await;
    assert_eq!(status, 401);
    let m = scrape(&addr).await;
    let version = format!(
        "mprtc_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(at(&m, &version), 1.0, "{m:?}");
    // Without a token configured there is no /metrics at all.
    let bare = Running::with(&[], &[("MPRTC_APPS", &format!("sec:{SECRET}"))]);
    let (status, _, _) = get(&bare.addr("signal"), "/metrics", Some(TOKEN)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn scrapes_count_joins_refusals_media_and_resumes() {
    let srv = server(&[]);
    let (addr, url) = (srv.addr("signal"), srv.signal());
    let before = scrape(&addr).await;
    for (series, v) in [
        ("mprtc_rooms", 0.0),
        ("mprtc_members", 0.0),
        ("mprtc_media_publishers", 0.0),
    ] {
        assert_eq!(at(&before, series), v, "{series}: {before:?}");
    }
    EVENTS_READ.with(|n| n.set(0));

    let (mut a, _) = member(&url, "m", 1, None).await;
    let (mut b, b_join) = member(&url, "m", 2, None).await;
    // A refused join: a token for another room.
    let mut c = connect(&url).await;
    let t = token_for("other", "3", Privileges::default());
    let r = answer(&mut c, join(1, "sec", "m", 3, Some(&t))).await;
    let refused_code = r["err"]["code"].as_u64().expect("refused");

    // A real push and an HTTP-FLV play.
    let publish = json!({"v":1,"id":2,"type":"publish","body":{"audio":true,"video":true}});
    let r = answer(&mut a, publish).await;
    let mut ffmpeg = live::probe::pusher(r["body"]["url"].as_str().unwrap());
    event(&mut b, "stream-added").await;
    let r = answer(
        &mut b,
        json!({"v":1,"id":3,"type":"subscribe","body":{"uid":1,"video":true}}),
    )
    .await;
    let (play, status) =
        live::probe::flv_open(r["body"]["flv_url"].as_str().unwrap(), PATIENCE).await;
    assert_eq!(status, 200);
    let during = scrape_until(&addr, "a publisher and a player", |m| {
        at(m, "mprtc_media_publishers") == 1.0 && at(m, "mprtc_media_players") == 1.0
    })
    .await;
    for series in [
        "mprtc_media_received_bytes_total",
        "mprtc_media_sent_bytes_total",
    ] {
        assert!(
            at(&during, series) > at(&before, series),
            "{series}: {during:?}"
        );
    }
    drop(play);
    ffmpeg.kill().await.unwrap();
    event(&mut b, "stream-removed").await;
    scrape_until(&addr, "no publisher, no player", |m| {
        at(m, "mprtc_media_publishers") == 0.0 && at(m, "mprtc_media_players") == 0.0
    })
    .await;

    // B's connection drops (no close frame) and B resumes its session.
    let mut b_seq = 0;
    drain(&mut b, &mut b_seq).await;
    drop(b);
    let session = b_join["body"]["session"].clone();
    let (mut b, r) = member(
        &url,
        "m",
        2,
        Some(json!({"session": session, "last_seq": b_seq})),
    )
    .await;
    assert_eq!(r["body"]["resumed"], true, "{r}");
    // D asks to resume a session that is not there: a fresh session.
    let bogus = json!({"session": "0".repeat(32), "last_seq": 0});
    let (mut d, r) = member(&url, "m", 4, Some(bogus)).await;
    assert_ne!(r["body"]["resumed"], true, "{r}");

    let mut seq = 0;
    for ws in [&mut a, &mut b, &mut d] {
        drain(ws, &mut seq).await;
    }
    let after = scrape(&addr).await;
    let moved = |s: &str| at(&after, s) - at(&before, s);
    assert_eq!(at(&after, "mprtc_rooms"), 1.0, "{after:?}");
    assert_eq!(at(&after, "mprtc_members"), 3.0, "{after:?}");
    assert_eq!(
        moved("mprtc_joins_total"),
        4.0,
        "A, B, B resumed, D: {after:?}"
    );
    let refused = format!("mprtc_joins_refused_total{{code=\"{refused_code}\"}}");
    assert_eq!(moved(&refused), 1.0, "{after:?}");
    assert_eq!(moved("mprtc_sessions_resumed_total"), 1.0, "{after:?}");
    assert_eq!(moved("mprtc_sessions_rejoined_total"), 1.0, "{after:?}");
    assert_eq!(moved("mprtc_sessions_expired_total"), 0.0, "{after:?}");
    assert_eq!(
        moved("mprtc_events_sent_total"),
        EVENTS_READ.with(Cell::get) as f64,
        "every event sent was read by a member: {after:?}"
    );
    // Everyone read everything: nothing is queued.
    assert_eq!(at(&after, "mprtc_queued_bytes"), 0.0, "{after:?}");
    assert_eq!(at(&after, "mprtc_queued_frames"), 0.0, "{after:?}");
    drop((a, b, c, d));
}

#[tokio::test]
async fn a_member_whose_resume_window_runs_out_is_counted_as_given_up() {
    let srv = server(&["--resume-window-ms", "100"]);
    let (addr, url) = (srv.addr("signal"), srv.signal());
    let (a, _) = member(&url, "gone", 1, None).await;
    drop(a);
    let m = scrape_until(&addr, "the member given up", |m| {
        at(m, "mprtc_sessions_expired_total") == 1.0
    })
    .await;
    assert_eq!(at(&m, "mprtc_members"), 0.0, "{m:?}");
    assert_eq!(at(&m, "mprtc_rooms"), 0.0, "{m:?}");
}

#[tokio::test]
async fn compositor_starts_restarts_and_failures_are_counted() {
    use std::os::unix::fs::PermissionsExt;
    let dir = live::probe::scratch("metrics-ffmpeg");
    let failing = dir.join("ffmpeg-fails.sh");
    std::fs::write(&failing, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).unwrap();
    let srv = server(&["--ffmpeg", failing.to_str().unwrap()]);
    let (addr, url) = (srv.addr("signal"), srv.signal());
    let (mut a, _) = member(&url, "task", 1, None).await;
    let out = format!("{}/task-out", srv.endpoint("rtmp"));
    let r = answer(
        &mut a,
        live::probe::add_tasks(2, vec![live::probe::task("t1", &out, 1, false)]),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    // The compositor fails at once; the supervisor retries after its back-off.
    scrape_until(&addr, "a compositor restarted after failing", |m| {
        at(m, "mprtc_compositor_restarts_total") >= 1.0 && at(m, "mprtc_tasks") == 1.0
    })
    .await;
    let del = json!({"v":1,"id":3,"type":"delete-tasks","body":{"taskIds":["t1"]}});
    assert_eq!(answer(&mut a, del).await["ok"], true);
    let m = scrape_until(&addr, "the task gone", |m| {
        at(m, "mprtc_tasks") == 0.0 && at(m, "mprtc_compositors") == 0.0
    })
    .await;
    let starts = at(&m, "mprtc_compositor_starts_total");
    let failures = at(&m, "mprtc_compositor_failures_total");
    assert_eq!(
        at(&m, "mprtc_compositor_restarts_total"),
        starts - 1.0,
        "{m:?}"
    );
    // Every start failed, but the last may have been stopped before it did.
    assert!(failures == starts || failures == starts - 1.0, "{m:?}");
    assert_eq!(at(&m, "mprtc_recordings_finished_total"), 0.0, "{m:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn readyz_is_ready_on_the_embedded_server() {
    let srv = server(&[]);
    let (status, _, body) = get(&srv.addr("signal"), "/readyz", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ready": true})
    );
    let (status, _, body) = get(&srv.addr("signal"), "/healthz", None).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
}

/// The server on nginx-rtmp whose one control base is `control`.
fn on_external_engine(control: &str) -> Running {
    Running::with(
        &[
            "--media",
            "nginx-rtmp",
            "--media-rtmp-base",
            "rtmp://127.0.0.1:1935/live",
            "--media-control",
            control,
        ],
        &[
            ("MPRTC_APPS", &format!("sec:{SECRET}")),
            (
                "MPRTC_MEDIA_HOOK_SECRET",
                "hook-secret-for-the-metrics-tests-0123",
            ),
        ],
    )
}

#[tokio::test]
async fn readyz_asks_an_external_engine_and_says_what_is_not_ready() {
    // A closed port: bound, then let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let srv = on_external_engine(&format!("http://{closed_addr}/control"));
    let (status, _, body) = get(&srv.addr("signal"), "/readyz", None).await;
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], false, "{v}");
    assert_eq!(v["notReady"][0]["what"], "media.node.0", "{v}");
    drop(srv);

    // A control base that takes the connection and never answers: not ready, at its deadline.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            kept.push(s);
        }
    });
    let srv = on_external_engine(&format!("http://{silent_addr}/control"));
    let (status, _, body) = get(&srv.addr("signal"), "/readyz", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no answer within 2 s"), "{body}");
    drop(srv);
    held.abort();

    // A control base that answers (any status will do): ready.
    let engine = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let engine_addr = engine.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = engine.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    let srv = on_external_engine(&format!("http://{engine_addr}/control"));
    let (status, _, body) = get(&srv.addr("signal"), "/readyz", None).await;
    assert_eq!(status, 200, "{body}");
}

/// Both operator tokens (the scraper's and the console's) are held to 32 bytes, from each
/// source, and never echoed.
#[test]
fn short_operator_tokens_are_refused_from_every_source() {
    let dir = live::probe::scratch("metrics-token");
    let short = "0123456789abcdef0123456789abcde"; // 31 bytes
    for (key, flag, env, code) in [
        (
            "metrics_token",
            "--metrics-token",
            "MPRTC_METRICS_TOKEN",
            "config.bad_metrics_token",
        ),
        (
            "console_token",
            "--console-token",
            "MPRTC_CONSOLE_TOKEN",
            "config.bad_console_token",
        ),
    ] {
        let file = dir.join(format!("{key}.toml"));
        std::fs::write(&file, format!("{key} = \"short\"\n")).unwrap();
        for out in [
            live::binary::refusal(&[flag, short], &[]),
            live::binary::refusal(&[], &[(env, short)]),
            live::binary::refusal(&[], &[(env, "")]),
            live::binary::refusal(&["--config", file.to_str().unwrap()], &[]),
        ] {
            let err = out.refused_with(code);
            assert!(!err.contains(short), "the token is not echoed: {err}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Guessing the token costs what guessing an app secret does: 10 failures a minute from an
/// address, then 429 for that address, the right token included.
#[tokio::test]
async fn wrong_tokens_are_throttled_like_failed_api_logins() {
    let srv = server(&[]);
    let addr = srv.addr("signal");
    for _ in 0..10 {
        let (status, _, _) = get(&addr, "/metrics", Some("guess")).await;
        assert_eq!(status, 401);
    }
    let (status, head, _) = get(&addr, "/metrics", Some(TOKEN)).await;
    assert_eq!(status, 429, "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after"), "{head}");
}

/// A token given as a flag is visible in `ps`: the server says so, naming the flag only
/// (the scraper's and the console's alike).
#[test]
fn operator_tokens_given_as_flags_are_warned_about() {
    const CONSOLE: &str = "metrics-suite-console-token-0123456789ab";
    let srv = Running::with(&["--metrics-token", TOKEN, "--console-token", CONSOLE], &[]);
    let (_, err) = srv.stop_with(libc::SIGKILL);
    for flag in ["--metrics-token", "--console-token"] {
        assert!(
            err.contains(flag) && err.contains("visible to every local user"),
            "{flag}: {err}"
        );
    }
    assert!(!err.contains(TOKEN) && !err.contains(CONSOLE), "{err}");
}

/// A recorded push task with the real ffmpeg: one compositor alive while it runs, none after,
/// and its recording counted once the task ends.
#[tokio::test]
async fn a_recorded_task_counts_its_compositor_and_its_recording() {
    let dir = live::probe::scratch("metrics-record");
    let srv = server(&["--recordings-dir", dir.to_str().unwrap()]);
    let (addr, url) = (srv.addr("signal"), srv.signal());
    let mut a = connect(&url).await;
    let may_record = Privileges {
        record: Some(true),
        ..Privileges::default()
    };
    let t = token_for("rec", "1", may_record);
    assert_eq!(
        answer(&mut a, join(1, "sec", "rec", 1, Some(&t))).await["ok"],
        true
    );
    let out = format!("{}/rec-out", srv.endpoint("rtmp"));
    let task = live::probe::task("r1", &out, 1, true);
    let r = answer(&mut a, live::probe::add_tasks(2, vec![task])).await;
    assert_eq!(r["ok"], true, "{r}");
    scrape_until(&addr, "the compositor running", |m| {
        at(m, "mprtc_compositors") == 1.0 && at(m, "mprtc_tasks") == 1.0
    })
    .await;
    let del = json!({"v":1,"id":3,"type":"delete-tasks","body":{"taskIds":["r1"]}});
    assert_eq!(answer(&mut a, del).await["ok"], true);
    let m = scrape_until(&addr, "the task and its recording done", |m| {
        at(m, "mprtc_tasks") == 0.0 && at(m, "mprtc_recordings_finished_total") == 1.0
    })
    .await;
    assert_eq!(at(&m, "mprtc_compositors"), 0.0, "{m:?}");
    assert_eq!(at(&m, "mprtc_compositor_starts_total"), 1.0, "{m:?}");
    std::fs::remove_dir_all(&dir).ok();
}
