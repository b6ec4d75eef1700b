//! Webhooks of the real binary to a real HTTP receiver written here (hyper on loopback): the
//! signature (checked here and by the README's Node and Python examples in
//! `deploy/webhook-verify/`, which also refuse a tampered body), order under a burst, a 500
//! retried until a 2xx with the order kept, a receiver that holds its requests while the room
//! goes on, a receiver that is down (bounded queue, drops in `/metrics`), and every event kind
//! from real members, a real ffmpeg push, the server API, a push task and an expiring token.
//!
//! Every wait is on an event (a delivery, a frame, a scrape that shows a change) with a
//! generous deadline; no clock decides a pass.

use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mprtc_server::token::Privileges;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

mod live;
use live::binary::Running;
use live::scrape::at;
use live::{answer, connect, join, join_sec, recv_within, until_event, SECRET};

/// One scrape's samples, `name{labels}` → value.
type Samples = std::collections::BTreeMap<String, f64>;

const METRICS: &str = "metrics-token-for-the-webhook-tests-0123";
/// How long a delivery, a real ffmpeg or a retry may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    timestamp: String,
    signature: String,
    id_header: String,
    body: String,
    event: Value,
    /// The status the receiver answers it with.
    status: u16,
}

impl Delivery {
    fn kind(&self) -> &str {
        self.event["type"].as_str().unwrap_or("")
    }
}

/// The receiver's behaviour and what it saw.
#[derive(Clone)]
struct Receiver {
    tx: mpsc::Sender<Delivery>,
    /// Requests answered 500 (or a redirect to `redirect`) before the first 2xx.
    fail_first: usize,
    redirect: Option<String>,
    seen: Arc<AtomicUsize>,
    /// Requests are held unanswered until this is `true`.
    release: watch::Receiver<bool>,
}

async fn handle(
    req: hyper::Request<Incoming>,
    r: Receiver,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (timestamp, signature, id_header) = (
        header("x-mprtc-timestamp"),
        header("x-mprtc-signature"),
        header("x-mprtc-event-id"),
    );
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let failing = r.seen.fetch_add(1, Ordering::SeqCst) < r.fail_first;
    let status = match (failing, &r.redirect) {
        (false, _) => 200,
        (true, None) => 500,
        (true, Some(_)) => 307,
    };
    let event = serde_json::from_str(&body).unwrap_or(Value::Null);
    let d = Delivery {
        timestamp,
        signature,
        id_header,
        body,
        event,
        status,
    };
    let _ = r.tx.send(d).await;
    let mut release = r.release.clone();
    let _ = release.wait_for(|go| *go).await;
    let mut resp = hyper::Response::builder().status(status);
    if let (307, Some(to)) = (status, &r.redirect) {
        resp = resp.header("location", to);
    }
    let resp = resp.body(Full::new(Bytes::new()));
    Ok(resp.unwrap_or_default())
}

/// A receiver on a loopback port answering 500 to its first `fail_first` requests: its URL,
/// the deliveries, and the switch that lets held requests be answered (on unless `hold`).
async fn receiver(
    fail_first: usize,
    hold: bool,
) -> (String, mpsc::Receiver<Delivery>, watch::Sender<bool>) {
    receiver_with(fail_first, hold, None).await
}

/// [`receiver`], its failures redirects to `redirect` when given.
async fn receiver_with(
    fail_first: usize,
    hold: bool,
    redirect: Option<String>,
) -> (String, mpsc::Receiver<Delivery>, watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks?from=mprtc", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel(4096);
    let (go, release) = watch::channel(!hold);
    let r = Receiver {
        tx,
        fail_first,
        redirect,
        seen: Arc::default(),
        release,
    };
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let r = r.clone();
            let svc = hyper::service::service_fn(move |req| handle(req, r.clone()));
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(s), svc),
            );
        }
    });
    (url, rx, go)
}

/// The next delivery; it must come within [`PATIENCE`].
async fn next(rx: &mut mpsc::Receiver<Delivery>) -> Delivery {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("a webhook delivery in time")
        .expect("the receiver runs")
}

/// Deliveries up to and including the first of `kind`.
async fn until_kind(rx: &mut mpsc::Receiver<Delivery>, kind: &str) -> Vec<Delivery> {
    let mut seen = Vec::new();
    loop {
        let d = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {kind} delivered in time; before it: {seen:?}"))
            .expect("the receiver runs");
        let done = d.kind() == kind;
        seen.push(d);
        if done {
            return seen;
        }
    }
}

/// The server with app `sec` sending its webhooks to `urls` (queue `queue` per URL), the
/// metrics token, and `args`.
fn server(tag: &str, urls: &[&str], queue: usize, args: &[&str]) -> Running {
    let dir = live::probe::scratch(tag);
    let file = dir.join("mprtc.toml");
    let toml = format!(
        "[[apps]]\nkey = \"sec\"\nsecret = \"{SECRET}\"\nwebhooks = {urls:?}\nwebhook_queue = {queue}\n"
    );
    std::fs::write(&file, toml).unwrap();
    let mut all = vec!["--config", file.to_str().unwrap()];
    all.extend_from_slice(args);
    Running::with(&all, &[("MPRTC_METRICS_TOKEN", METRICS)])
}

/// Scrapes `/metrics` until `done` holds for the samples (see `live/scrape.rs`).
async fn scrape_until(addr: &str, what: &str, done: impl Fn(&Samples) -> bool) -> Samples {
    live::scrape::scrape_until(addr, METRICS, what, done).await
}

/// Runs `program script TIMESTAMP SIGNATURE` with the secret in the environment and `body`
/// on stdin: whether it accepted the delivery.
fn script_accepts(program: &str, script: &str, d: &Delivery, body: &str) -> bool {
    use std::io::Write;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/webhook-verify")
        .join(script);
    let mut child = std::process::Command::new(program)
        .arg(path)
        .args([&d.timestamp, &d.signature])
        .env("MPRTC_WEBHOOK_SECRET", SECRET)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(said == "valid", out.status.success(), "{program}: {said}");
    out.status.success()
}

#[tokio::test]
async fn deliveries_are_signed_and_the_node_and_python_examples_verify_them() {
    let (url, mut rx, _go) = receiver(0, false).await;
    let srv = server("wh-sign", &[&url], 64, &[]);
    let _a = join_sec(&srv.signal(), "sig", 1).await;
    let got = until_kind(&mut rx, "member.joined").await;
    assert_eq!(got[0].kind(), "room.started", "{got:?}");
    let d = got.last().unwrap().clone();
    assert_eq!(d.event["app"], "sec");
    assert_eq!(d.event["room"], "sig");
    assert_eq!(d.event["data"]["uid"], 1);
    assert_eq!(
        d.event["id"],
        d.id_header.as_str(),
        "the body's id is the header's"
    );
    let ts: u64 = d.timestamp.parse().unwrap();
    assert_eq!(
        d.signature,
        mprtc_server::webhooks::signature(SECRET.as_bytes(), ts, &d.body)
    );
    let tampered = d.body.replace("\"uid\":1", "\"uid\":2");
    assert_ne!(tampered, d.body);
    for (program, script) in [("node", "verify.js"), ("python3", "verify.py")] {
        assert!(
            script_accepts(program, script, &d, &d.body),
            "{program} refused a good delivery"
        );
        assert!(
            !script_accepts(program, script, &d, &tampered),
            "{program} accepted a tampered body"
        );
    }
}

#[tokio::test]
async fn a_burst_in_one_room_is_delivered_in_order() {
    let (url, mut rx, _go) = receiver(0, false).await;
    let srv = server("wh-burst", &[&url], 256, &["--resume-window-ms", "0"]);
    let mut members = Vec::new();
    for uid in 1..=12 {
        members.push(join_sec(&srv.signal(), "burst", uid).await);
    }
    members.truncate(0);
    let got = until_kind(&mut rx, "room.ended").await;
    let kinds: Vec<String> = got
        .iter()
        .map(|d| format!("{} {}", d.kind(), d.event["data"]["uid"]))
        .collect();
    assert_eq!(kinds[0], "room.started null");
    for uid in 1..=12 {
        assert_eq!(kinds[uid], format!("member.joined {uid}"), "{kinds:?}");
    }
    assert_eq!(kinds.len(), 1 + 12 + 12 + 1, "{kinds:?}");
    assert!(
        kinds[13..25].iter().all(|k| k.starts_with("member.left")),
        "{kinds:?}"
    );
    let mut ids: Vec<&str> = got.iter().map(|d| d.id_header.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), got.len(), "every event has its own id");
}

#[tokio::test]
async fn a_500_is_retried_until_a_2xx_and_the_order_is_kept() {
    let (url, mut rx, _go) = receiver(2, false).await;
    let srv = server("wh-retry", &[&url], 64, &[]);
    let _a = join_sec(&srv.signal(), "retry", 1).await;
    let _b = join_sec(&srv.signal(), "retry", 2).await;
    let got = until_kind(&mut rx, "member.joined").await;
    let got = [got, until_kind(&mut rx, "member.joined").await].concat();
    let statuses: Vec<u16> = got.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [500, 500, 200, 200, 200], "{got:?}");
    // The same event (same id) until it is taken, then the next ones in order.
    assert!(got[..3]
        .iter()
        .all(|d| d.kind() == "room.started" && d.id_header == got[0].id_header));
    assert_eq!(
        (
            got[3].event["data"]["uid"].clone(),
            got[4].event["data"]["uid"].clone()
        ),
        (json!(1), json!(2))
    );
    let m = scrape_until(&srv.addr("signal"), "the retries counted", |m| {
        at(m, "mprtc_webhook_deliveries_total") == 3.0
    })
    .await;
    assert_eq!(at(&m, "mprtc_webhook_failures_total"), 2.0, "{m:?}");
    assert_eq!(at(&m, "mprtc_webhook_retries_total"), 2.0, "{m:?}");
}

/// A redirect is a failure like a 500: retried at the same URL, never followed elsewhere.
#[tokio::test]
async fn a_redirect_is_not_followed_but_retried() {
    let (elsewhere, mut elsewhere_rx, _go) = receiver(0, false).await;
    let (url, mut rx, _go2) = receiver_with(1, false, Some(elsewhere)).await;
    let srv = server("wh-redirect", &[&url], 64, &[]);
    let _a = join_sec(&srv.signal(), "moved", 1).await;
    let got = until_kind(&mut rx, "member.joined").await;
    let statuses: Vec<u16> = got.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [307, 200, 200], "{got:?}");
    assert_eq!(got[0].id_header, got[1].id_header);
    assert!(
        elsewhere_rx.try_recv().is_err(),
        "the redirect was followed"
    );
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_does_not_slow_the_room() {
    let (url, mut rx, go) = receiver(0, true).await;
    let srv = server("wh-slow", &[&url], 64, &[]);
    let mut a = join_sec(&srv.signal(), "slow", 1).await;
    // The receiver holds the first event, unanswered…
    assert_eq!(next(&mut rx).await.kind(), "room.started");
    // …while members come and go and A hears each of them at once.
    for uid in 2..=6 {
        let _m = join_sec(&srv.signal(), "slow", uid).await;
        let (ev, _) = until_event(&mut a, "member-joined").await;
        assert_eq!(ev["body"]["uid"], uid, "{ev}");
    }
    assert!(rx.try_recv().is_err(), "one event at a time per URL");
    go.send_replace(true);
    let got = until_kind(&mut rx, "member.joined").await;
    let got = [got.clone(), until_kind(&mut rx, "member.joined").await].concat();
    // A held request may have timed out and come again (same id); after it, the order holds.
    let uids: Vec<Value> = got
        .iter()
        .filter(|d| d.kind() == "member.joined")
        .map(|d| d.event["data"]["uid"].clone())
        .collect();
    assert_eq!(uids, [json!(1), json!(2)], "{got:?}");
}

#[tokio::test]
async fn a_receiver_that_is_down_loses_the_oldest_events_and_metrics_count_them() {
    // A port that was bound and let go: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", closed.local_addr().unwrap());
    drop(closed);
    let srv = server("wh-down", &[&url], 2, &[]);
    let mut members = Vec::new();
    for uid in 1..=6 {
        members.push(join_sec(&srv.signal(), "down", uid).await);
    }
    // Seven events (the room and six joins) against one in flight and two queued.
    let m = scrape_until(&srv.addr("signal"), "the overflow dropped", |m| {
        at(m, "mprtc_webhook_dropped_total") + at(m, "mprtc_webhook_given_up_total") >= 4.0
            && at(m, "mprtc_webhook_failures_total") >= 1.0
    })
    .await;
    assert!(at(&m, "mprtc_webhook_queued") <= 2.0, "{m:?}");
    assert!(at(&m, "mprtc_webhook_dropped_total") >= 1.0, "{m:?}");
    assert_eq!(at(&m, "mprtc_webhook_deliveries_total"), 0.0, "{m:?}");
    // The room went on regardless.
    let (ev, _) = until_event(&mut members[0], "member-joined").await;
    assert_eq!(ev["body"]["uid"], 2);
}

#[tokio::test]
async fn every_event_kind_is_delivered() {
    let (url, mut rx, _go) = receiver(0, false).await;
    let dir = live::probe::scratch("wh-kinds-rec");
    let srv = server(
        "wh-kinds",
        &[&url],
        1024,
        &["--recordings-dir", dir.to_str().unwrap()],
    );
    let (sig, addr) = (srv.signal(), srv.addr("signal"));
    let mut kinds = Vec::new();
    let rec_dir = dir.display().to_string();
    // Neither the task's output URL (it may carry a CDN's key) nor a recording's path (the
    // operator's disk) is ever sent.
    let mut expect = |got: Vec<Delivery>| {
        for d in &got {
            assert!(
                !d.body.contains("kinds-out") && !d.body.contains(&rec_dir),
                "{}",
                d.body
            );
        }
        kinds.extend(got.iter().map(|d| d.kind().to_owned()))
    };

    // A joins (with the record privilege) and publishes with a real ffmpeg push.
    let mut a = connect(&sig).await;
    let t = live::token_for(
        "kinds",
        "1",
        Privileges {
            record: Some(true),
            ..Privileges::default()
        },
    );
    assert_eq!(
        answer(&mut a, join(1, "sec", "kinds", 1, Some(&t))).await["ok"],
        true
    );
    expect(until_kind(&mut rx, "member.joined").await);
    let publish = json!({"v":1,"id":2,"type":"publish","body":{"audio":true,"video":true}});
    let r = answer(&mut a, publish).await;
    let mut ffmpeg = live::probe::pusher(r["body"]["url"].as_str().unwrap());
    expect(until_kind(&mut rx, "stream.published").await);

    // A recorded push task: its status, and its recording once deleted.
    let out = format!("{}/kinds-out", srv.endpoint("rtmp"));
    let r = answer(
        &mut a,
        live::probe::add_tasks(3, vec![live::probe::task("t1", &out, 1, true)]),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    expect(until_kind(&mut rx, "task.status").await);
    let del = json!({"v":1,"id":4,"type":"delete-tasks","body":{"taskIds":["t1"]}});
    assert_eq!(answer(&mut a, del).await["ok"], true);
    expect(until_kind(&mut rx, "recording.finished").await);

    // B is kicked through the server API; C leaves; D's token runs out.
    let _b = join_sec(&sig, "kinds", 2).await;
    let (status, body) =
        live::http::api(&addr, "POST", "/api/v1/rooms/kinds/members/2/kick", "").await;
    assert_eq!(status, 200, "{body}");
    expect(until_kind(&mut rx, "member.kicked").await);
    let mut c = join_sec(&sig, "kinds", 3).await;
    assert_eq!(
        answer(&mut c, json!({"v":1,"id":2,"type":"leave","body":{}})).await["ok"],
        true
    );
    expect(until_kind(&mut rx, "member.left").await);
    let mut d = connect(&sig).await;
    let now = live::now_s();
    let short = mprtc_server::token::sign(
        SECRET.as_bytes(),
        &mprtc_server::token::Claims {
            app: "sec".into(),
            room: "kinds".into(),
            uid: "4".into(),
            iat: now,
            exp: now + 2,
            privileges: Privileges::default(),
        },
    );
    assert_eq!(
        answer(&mut d, join(1, "sec", "kinds", 4, Some(&short))).await["ok"],
        true
    );
    loop {
        if recv_within(&mut d, PATIENCE).await["type"] == "kicked" {
            break;
        }
    }
    expect(until_kind(&mut rx, "token.expired").await);

    // The push stops; the room is closed through the server API.
    ffmpeg.kill().await.unwrap();
    expect(until_kind(&mut rx, "stream.unpublished").await);
    let (status, body) = live::http::api(&addr, "DELETE", "/api/v1/rooms/kinds", "").await;
    assert_eq!(status, 200, "{body}");
    expect(until_kind(&mut rx, "room.ended").await);

    for kind in [
        "room.started",
        "room.ended",
        "member.joined",
        "member.left",
        "member.kicked",
        "stream.published",
        "stream.unpublished",
        "task.status",
        "recording.finished",
        "token.expired",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Webhooks the server could not honour stop it at start with a typed error: an insecure app
/// (nothing to sign with), a URL that is not http(s) with a host, a queue out of range.
#[test]
fn bad_webhook_settings_are_refused_at_start() {
    let dir = live::probe::scratch("wh-refused");
    let app = format!("[[apps]]\nkey = \"sec\"\nsecret = \"{SECRET}\"\n");
    for (toml, code) in [
        (
            "[[apps]]\nkey = \"dbg\"\ninsecure = true\nwebhooks = [\"http://127.0.0.1:9/h\"]\n"
                .to_owned(),
            "config.webhooks_without_secret",
        ),
        (
            format!("{app}webhooks = [\"ftp://backend.example/h\"]\n"),
            "config.bad_webhook_url",
        ),
        (
            format!("{app}webhooks = [\"http://user@backend.example/h\"]\n"),
            "config.bad_webhook_url",
        ),
        (
            format!("{app}webhooks = [\"https:///h\"]\n"),
            "config.bad_webhook_url",
        ),
        (
            format!("{app}webhooks = [\"http://b.example/h\"]\nwebhook_queue = 0\n"),
            "config.bad_webhook_queue",
        ),
    ] {
        let file = dir.join("bad.toml");
        std::fs::write(&file, &toml).unwrap();
        let out = live::binary::refusal(&["--config", file.to_str().unwrap()], &[]);
        let err = out.refused_with(code);
        assert!(!err.contains(SECRET), "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The README's verification examples are the very functions the tests run.
#[test]
fn the_readme_shows_the_verify_functions_that_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (file, start, end) in [
        ("verify.js", "function verify(", "\n}\n"),
        ("verify.py", "def verify(", "signature)\n"),
    ] {
        let text = std::fs::read_to_string(root.join("deploy/webhook-verify").join(file)).unwrap();
        let from = text.find(start).unwrap();
        let to = from + text[from..].find(end).unwrap() + end.len();
        let function = &text[from..to];
        let lines = function.lines().filter(|l| l.trim() != "}").count();
        assert_eq!(
            lines, 5,
            "{file}: five lines, not counting a closing brace: {function}"
        );
        assert!(
            readme.contains(function),
            "README.md does not show {file}'s verify:\n{function}"
        );
    }
}
