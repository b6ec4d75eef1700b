//! What the server binary logs, at its most verbose, never includes a secret: not the app
//! secret, not the media secret, not a join token (JWT), not the signature (`s=`) of a signed
//! media URL, not the HTTP Basic credentials of the server API.

use std::time::Duration;

use base64::Engine as _;
use futures_util::SinkExt;
use mprtc_server::token::{self, Privileges};
use rtmp_rs::client::{ClientConfig, RtmpConnector};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{ClientRequestBuilder, Message};

mod live;
use live::binary::{self, Running};
use live::{answer, Ws};

const APP_SECRET: &str = "app-secret-5f3a9c1e77";
const MEDIA_SECRET: &str = "media-secret-b7d24e9031-5c0a7f12e9d4";
const ORIGIN: &str = "https://app.example";

async fn connect(url: &str) -> Ws {
    let req = ClientRequestBuilder::new(url.parse().unwrap()).with_header("Origin", ORIGIN);
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

fn join(id: u32, uid: u64, token: &str) -> Value {
    json!({"v":1,"id":id,"type":"join","body":{"appkey":"sec","room":"logs","uid":uid,"token":token}})
}

/// The `s=` value of a signed URL.
fn sig_of(url: &str) -> String {
    let q = url.split_once('?').unwrap().1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix("s="))
        .unwrap()
        .to_string()
}

/// `url` with its signature replaced by another valid-looking one.
fn forged(url: &str) -> String {
    let sig = sig_of(url);
    url.replace(&format!("s={sig}"), &format!("s={}", "A".repeat(sig.len())))
}

/// Opens an HTTP-FLV play URL and returns the status.
async fn flv_get(url: &str) -> u16 {
    live::probe::flv_open(url, Duration::from_secs(5)).await.1
}

/// An RTMP connection to `url`'s application, ready to publish or play `url`'s stream name
/// (with its signed query).
async fn rtmp(url: &str) -> (RtmpConnector, String) {
    let (base, stream) = url.rsplit_once('/').unwrap();
    let conn = tokio::time::timeout(
        Duration::from_secs(5),
        RtmpConnector::connect(ClientConfig::new(base)),
    )
    .await
    .unwrap()
    .unwrap();
    (conn, stream.to_string())
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A filter naming the libraries' own targets more specifically than the redaction (as an
/// operator chasing a WebSocket or RTMP problem would write it).
const BYPASS_FILTER: &str = "info,tungstenite::protocol=trace,tungstenite=trace,rtmp_rs=trace,\
    rtmp_rs::server=debug,tokio_tungstenite=trace";

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    // Everything, including what the libraries log at trace level.
    secrets_stay_out_of_logs("trace", true, "text").await;
}

/// [`BYPASS_FILTER`] still logs no secret.
#[tokio::test]
async fn no_log_filter_can_bypass_the_redaction() {
    secrets_stay_out_of_logs(BYPASS_FILTER, false, "text").await;
}

/// JSON lines (`log_format = "json"`) pass the same caps: the same two runs, and every line
/// the server prints is a JSON object.
#[tokio::test]
async fn json_logs_are_json_lines_without_secrets() {
    secrets_stay_out_of_logs("trace", true, "json").await;
    secrets_stay_out_of_logs(BYPASS_FILTER, false, "json").await;
}

/// `log_format` by flag, by variable and by file: the ready line on stderr is a JSON object
/// with its fields, and `text` (the default) is not JSON.
#[test]
fn log_format_reaches_the_server_by_flag_by_env_and_by_file() {
    let dir = live::probe::scratch("log-format");
    let file = dir.join("json.toml");
    std::fs::write(&file, "log_format = \"json\"\n").unwrap();
    let file = file.to_str().unwrap();
    type Run<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], bool);
    let runs: [Run; 4] = [
        (&["--log-format", "json"], &[], true),
        (&[], &[("MPRTC_LOG_FORMAT", "json")], true),
        (&["--config", file], &[], true),
        (&[], &[("MPRTC_LOG_FORMAT", "text")], false),
    ];
    for (args, env, json) in runs {
        let srv = Running::with(args, &[env, &[("MPRTC_LOG", "info")]].concat());
        let (_, text) = srv.stop_with(libc::SIGTERM);
        let line = text
            .lines()
            .find(|l| l.contains("mprtc-server ready"))
            .unwrap_or_else(|| panic!("no ready log line: {text}"));
        let parsed = serde_json::from_str::<Value>(line);
        assert_eq!(parsed.is_ok(), json, "{args:?} {env:?}: {line}");
        if let Ok(v) = parsed {
            assert_eq!(v["level"], "INFO", "{v}");
            assert_eq!(v["target"], "mprtc_server", "{v}");
            assert!(v["timestamp"].is_string(), "{v}");
            assert_eq!(v["fields"]["message"], "mprtc-server ready", "{v}");
        }
    }
    let out = binary::refusal(&["--log-format", "yaml"], &[]);
    assert_eq!(out.code, Some(2), "{out:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs the server with `MPRTC_LOG=filter`, its logs in `format` (`text` or `json`), through
/// joins, refused joins, pushes, plays (RTMP and HTTP-FLV), forged URLs, malformed frames and
/// API calls, then searches its output for every secret involved. `verbose`: the filter logs everything, so the logs must also show
/// that those things happened (a test of redaction that logs nothing would prove nothing).
async fn secrets_stay_out_of_logs(filter: &str, verbose: bool, format: &str) {
    let srv = Running::start(
        binary::on_loopback()
            .args(["--allowed-origin", ORIGIN, "--log-format", format])
            .env("MPRTC_APPS", format!("sec:{APP_SECRET}"))
            .env("MPRTC_MEDIA_SECRET", MEDIA_SECRET)
            .env("MPRTC_LOG", filter),
    );
    let signal = srv.signal();
    let api = srv.addr("signal");
    let api = api.as_str();

    let now = live::now_s();
    let mint = |uid, at| {
        token::mint(
            APP_SECRET.as_bytes(),
            "sec",
            "logs",
            uid,
            Privileges::default(),
            at,
            600,
        )
    };
    let (tok1, tok2, expired) = (mint(1, now), mint(2, now), mint(3, now - 7200));
    let wrong_room = token::mint(
        APP_SECRET.as_bytes(),
        "sec",
        "other",
        4,
        Privileges::default(),
        now,
        600,
    );

    // Secure joins, and refused ones.
    let mut a = connect(&signal).await;
    assert_eq!(answer(&mut a, join(1, 1, &tok1)).await["ok"], true);
    let mut b = connect(&signal).await;
    assert_eq!(
        answer(&mut b, join(1, 3, &expired)).await["err"]["code"],
        4013
    );
    assert_eq!(
        answer(&mut b, join(2, 4, &wrong_room)).await["err"]["code"],
        4012
    );
    assert_eq!(answer(&mut b, join(3, 2, &tok2)).await["ok"], true);

    // Publish: a signed push URL, used to really push over RTMP.
    let r = answer(
        &mut a,
        json!({"v":1,"id":2,"type":"publish","body":{"video":true,"audio":true}}),
    )
    .await;
    let push = r["body"]["url"].as_str().unwrap().to_string();
    assert!(push.contains("s="), "{push}");
    let (mut forger, name) = rtmp(&forged(&push)).await;
    assert!(
        forger.publish(&name).await.is_err(),
        "a forged URL is refused"
    );
    let (mut pusher, name) = rtmp(&push).await;
    pusher.publish(&name).await.unwrap();

    // Subscribe: signed play URLs, used over RTMP and HTTP-FLV, and forged.
    let r = answer(
        &mut b,
        json!({"v":1,"id":4,"type":"subscribe","body":{"uid":1,"video":true}}),
    )
    .await;
    let play = r["body"]["url"].as_str().unwrap().to_string();
    let flv = r["body"]["flv_url"].as_str().unwrap().to_string();
    assert_eq!(flv_get(&forged(&flv)).await, 403);
    assert_eq!(flv_get(&flv).await, 200);
    let (mut player, name) = rtmp(&play).await;
    player.play(&name).await.unwrap();
    drop((player, pusher, forger));

    // Malformed frames, one of them carrying a token.
    let mut bad = connect(&signal).await;
    bad.send(Message::Text(format!("{{not json {tok1}").into()))
        .await
        .unwrap();
    // A binary frame carrying a token ends its connection (1003); the log must not show it.
    bad.send(Message::Binary(tok2.clone().into_bytes().into()))
        .await
        .unwrap();
    let mut bad = connect(&signal).await;
    let r = answer(
        &mut bad,
        json!({"v":1,"id":5,"type":"join","body":{"token":tok1}}),
    )
    .await;
    assert_eq!(r["ok"], false);

    // The server API with the app secret (HTTP Basic), and with a wrong one.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("sec:{APP_SECRET}"));
    for auth in [basic.as_str(), "c2VjOndyb25n"] {
        let mut s = tokio::net::TcpStream::connect(api).await.unwrap();
        let req = format!(
            "GET /api/v1/rooms/logs/tasks HTTP/1.1\r\nHost: {api}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.unwrap();
        assert!(resp.starts_with("HTTP/1.1 "), "{resp}");
    }

    // A page of a foreign origin is refused, and the log says which.
    let req = ClientRequestBuilder::new(signal.parse().unwrap())
        .with_header("Origin", "https://evil.example");
    assert!(tokio_tungstenite::connect_async(req).await.is_err());

    drop((a, b, bad));
    let (status, logs) = srv.stop_with(libc::SIGTERM);
    assert!(status.success(), "{status:?}: {logs}");

    // The logs are real: verbose, and covering what happened above.
    let expected: &[&str] = if verbose {
        &[
            "connected",
            "RTMP publish refused",
            "RTMP publish started",
            "HTTP-FLV play refused",
            "HTTP-FLV play started",
            "RTMP play started",
            "origin not allowed",
            "https://evil.example",
        ]
    } else {
        &["mprtc-server ready"]
    };
    for seen in expected {
        assert!(logs.contains(seen), "no {seen:?} in the logs:\n{logs}");
    }
    if format == "json" {
        // stdout's ready line is JSON too; every other line is a log event.
        for line in logs.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert!(v.is_object(), "{line}");
        }
    }
    let mut secrets = vec![
        APP_SECRET.to_string(),
        MEDIA_SECRET.to_string(),
        basic.clone(),
    ];
    for t in [&tok1, &tok2, &expired, &wrong_room] {
        secrets.push(t.to_string());
        secrets.push(t.rsplit('.').next().unwrap().to_string());
    }
    for u in [&push, &play, &flv] {
        secrets.push(sig_of(u));
    }
    for s in secrets {
        for form in [s.clone(), hex(&s)] {
            assert!(
                !logs.contains(&form),
                "the logs contain a secret ({s}):\n{logs}"
            );
        }
    }
    assert!(!logs.contains("s="), "a signed query in the logs:\n{logs}");
}

#[test]
fn config_errors_do_not_echo_secrets() {
    let dir = live::probe::scratch("logs");
    let cfg = dir.join("mprtc.toml");
    // An unquoted secret: the TOML error must not quote the line back.
    std::fs::write(
        &cfg,
        format!("[[apps]]\nkey = \"a\"\nsecret = {APP_SECRET}\n"),
    )
    .unwrap();
    let out = binary::refusal(&["--config", cfg.to_str().unwrap()], &[]);
    let err = out.refused_with("config.parse");
    assert!(err.contains("line 3"), "{err}");
    assert!(!err.contains(APP_SECRET), "{err}");
    // A secret given where KEY:SECRET was expected.
    let apps = format!("a:b,{APP_SECRET}");
    let out = binary::refusal(&[], &[("MPRTC_APPS", &apps)]);
    let err = out.refused_with("config.bad_app_flag");
    assert!(!err.contains(APP_SECRET), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The logger's level bounds what libraries' `log` records cost: at `info`, tungstenite's
/// per-frame trace records are refused where they are made, not built and carried to the
/// subscriber to be dropped there (the caps alone gave no level hint: the maximum was trace).
#[test]
fn the_logger_tells_libraries_its_level() {
    use tracing::level_filters::LevelFilter;
    mprtc_server::logging::init(Some("info"), mprtc_server::logging::LogFormat::Text);
    assert_eq!(LevelFilter::current(), LevelFilter::INFO);
}
