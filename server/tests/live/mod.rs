//! What the tests against a running server share: a real `mprtc-server` on loopback ports,
//! real WebSockets, and the frames they send.
#![allow(dead_code)] // each test crate uses its own part of it

pub mod binary;
pub mod http;
pub mod probe;
pub mod scrape;
pub mod unread;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mprtc_server::app::{Endpoints, Server};
use mprtc_server::config::{Config, FileConfig, Overrides};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The secret of app `sec`.
pub const SECRET: &str = "topsecret-for-the-tests-0123456789";

/// A running server; dropping it does not stop it, [`Live::stop`] does.
pub struct Live {
    pub url: String,
    pub endpoints: Endpoints,
    /// The server's push-task supervisor (which tasks run now).
    pub tasks: std::sync::Arc<mprtc_server::tasks::Supervisor>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Live {
    /// Stops the server and waits until it has (within 5 s).
    pub async fn stop(self) {
        self.stop_within(Duration::from_secs(5)).await
    }

    /// Stops the server and waits until it has, within `bound`.
    pub async fn stop_within(self, bound: Duration) {
        self.stop.cancel();
        tokio::time::timeout(bound, self.task)
            .await
            .expect("server stops promptly")
            .unwrap();
    }

    /// Tells the server to stop, without waiting for it.
    pub fn cancel(self) {
        self.stop.cancel();
    }

    /// `host:port` of the signaling listener (the server API too).
    pub fn addr(&self) -> String {
        self.url
            .strip_prefix("ws://")
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned()
    }
}

/// A server on loopback ports with apps `sec` (secret [`SECRET`]) and `dbg` (debug mode);
/// `tune` adjusts the settings for one test.
pub async fn start_with(tune: impl FnOnce(&mut Overrides)) -> Live {
    start_with_file(FileConfig::default(), tune).await
}

/// [`start_with`] on top of a config file's settings.
pub async fn start_with_file(file: FileConfig, tune: impl FnOnce(&mut Overrides)) -> Live {
    let any = "127.0.0.1:0".parse().unwrap();
    let mut o = Overrides {
        listen: Some(any),
        rtmp_listen: Some(any),
        flv_listen: Some(any),
        apps: vec![format!("sec:{SECRET}").into()],
        insecure_apps: vec!["dbg".into()],
        ..Default::default()
    };
    tune(&mut o);
    let server = Server::bind(Config::resolve(file, o).unwrap())
        .await
        .unwrap();
    let url = server.endpoints.signal.clone();
    let endpoints = server.endpoints.clone();
    let tasks = server.supervisor();
    let stop = CancellationToken::new();
    let s = stop.clone();
    let task = tokio::spawn(async move { server.run(s).await.unwrap() });
    Live {
        url,
        endpoints,
        tasks,
        stop,
        task,
    }
}

/// Waits until `done()` holds, looking every 100 ms; panics naming `what` after 90 s.
pub async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..900 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still waiting for {what} after 90 s");
}

pub async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next text frame, parsed.
pub async fn recv(ws: &mut Ws) -> Value {
    recv_within(ws, Duration::from_secs(5)).await
}

/// The next text frame, parsed; it must come within `bound`.
pub async fn recv_within(ws: &mut Ws, bound: Duration) -> Value {
    loop {
        let m = tokio::time::timeout(bound, ws.next())
            .await
            .expect("answer in time")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Sends `frame` and returns the next text frame.
pub async fn ask(ws: &mut Ws, frame: Value) -> Value {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
    recv(ws).await
}

/// [`ask`], failing unless the next frame is a successful answer (a join that must work).
pub async fn ask_ok(ws: &mut Ws, frame: Value) -> Value {
    let r = ask(ws, frame).await;
    assert_eq!(r["ok"], true, "{r}");
    r
}

/// Sends `frame` and returns the answer to it, skipping events.
pub async fn answer(ws: &mut Ws, frame: Value) -> Value {
    let id = frame["id"].clone();
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
    loop {
        let v = recv(ws).await;
        if v["re"] == id {
            return v;
        }
    }
}

/// Reads until an event of `kind` arrives; the events before it are returned too.
pub async fn until_event(ws: &mut Ws, kind: &str) -> (Value, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        let v = recv(ws).await;
        if v["type"] == kind {
            return (v, before);
        }
        before.push(v);
    }
}

/// Reads until the server ends the connection; the close code, if it sent one.
pub async fn closed_with(ws: &mut Ws) -> Option<u16> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(f)))) => return Some(u16::from(f.code)),
                None | Some(Err(_)) | Some(Ok(Message::Close(None))) => return None,
                _ => {}
            }
        }
    })
    .await
    .expect("the server ends the connection")
}

/// Every event `ws` is sent until the answer to a ping sent now: what it had been told so far.
pub async fn heard_so_far(ws: &mut Ws) -> Vec<Value> {
    let ping = json!({"v":1,"id":900,"type":"ping","body":{"ts":1}});
    ws.send(Message::Text(ping.to_string().into()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    loop {
        let v = recv_within(ws, Duration::from_secs(60)).await;
        if v["re"] == 900 {
            return seen;
        }
        seen.push(v);
    }
}

/// A new connection to `url`, joined to app `sec`'s `room` as `uid` with a token of the
/// default privileges (the join must succeed).
pub async fn join_sec(url: &str, room: &str, uid: u64) -> Ws {
    let mut ws = connect(url).await;
    let t = token_for(
        room,
        &uid.to_string(),
        mprtc_server::token::Privileges::default(),
    );
    let r = answer(&mut ws, join(1, "sec", room, uid, Some(&t))).await;
    assert_eq!(r["ok"], true, "{r}");
    ws
}

/// A `join` request frame with id `id`.
pub fn join(id: u32, app: &str, room: &str, uid: u64, token: Option<&str>) -> Value {
    json!({"v":1,"id":id,"type":"join","body":{"appkey":app,"room":room,"uid":uid,"token":token}})
}

/// The error code of a refusal (fails the test on anything else).
pub fn code(v: &Value) -> u64 {
    assert_eq!(v["ok"], false, "{v}");
    v["err"]["code"].as_u64().unwrap()
}

pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A join token of app `sec` for `who` (a decimal uid or a user id).
pub fn token_for(room: &str, who: &str, p: mprtc_server::token::Privileges) -> String {
    let now = now_s();
    mprtc_server::token::sign(
        SECRET.as_bytes(),
        &mprtc_server::token::Claims {
            app: "sec".into(),
            room: room.into(),
            uid: who.into(),
            iat: now,
            exp: now + 600,
            privileges: p,
        },
    )
}
