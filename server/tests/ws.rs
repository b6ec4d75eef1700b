//! The real server over loopback sockets: bad input of every kind gets its typed error, and the
//! server keeps serving everyone else.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mprtc_server::token::{self, Privileges};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

mod live;
use live::*;

/// A server whose frame limit is 2 KiB (the bad-input tests send bigger ones).
async fn start() -> (String, Live) {
    let l = start_with(|o| o.max_frame_bytes = Some(2048)).await;
    (l.url.clone(), l)
}

#[tokio::test]
async fn bad_input_gets_typed_errors_and_nobody_else_notices() {
    let (url, server) = start().await;

    // A bystander in a room, who must see nothing of the abuse below.
    let mut good = connect(&url).await;
    let r = ask(&mut good, join(1, "dbg", "calm", 1, None)).await;
    assert_eq!(r["ok"], true, "{r}");

    let mut bad = connect(&url).await;
    assert_eq!(code(&ask(&mut bad, json!("not an object")).await), 4000);
    bad.send(Message::Text("{not json".into())).await.unwrap();
    let r = recv(&mut bad).await;
    assert_eq!((code(&r), r.get("re").is_none()), (4000, true));
    let r = ask(&mut bad, json!({"v":1,"id":5,"type":"teleport","body":{}})).await;
    assert_eq!((code(&r), r["re"].as_u64()), (4002, Some(5)));
    assert_eq!(
        code(&ask(&mut bad, json!({"v":2,"id":6,"type":"join"})).await),
        4001
    );
    let r = ask(
        &mut bad,
        json!({"v":1,"id":7,"type":"join","body":{"appkey":"dbg","room":1}}),
    )
    .await;
    assert_eq!(
        (code(&r), r["re"].as_u64(), r["err"]["msg"].as_str()),
        (4003, Some(7), Some("room: expected a string"))
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        2,
        Privileges::default(),
        now - 7200,
        60,
    );
    let big = "x".repeat(4096);
    for (frame, want) in [
        // Publishing before joining.
        (
            json!({"v":1,"id":8,"type":"publish","body":{"video":true}}),
            4020,
        ),
        // Over the frame size limit.
        (json!({"v":1,"id":9,"type":"join","body":{"pad":big}}), 4004),
        (join(10, "nope", "r", 2, None), 4010),
        (join(11, "sec", "r", 2, None), 4011),
        (join(12, "sec", "r", 2, Some("garbage")), 4012),
        (join(13, "sec", "r", 2, Some(&expired)), 4013),
        (join(14, "dbg", "bad room!", 2, None), 4003),
    ] {
        let id = frame["id"].clone();
        assert_eq!(code(&ask(&mut bad, frame).await), want, "request {id}");
    }
    // Still usable after all that: a valid token joins; subscribe to a non-publisher is refused.
    let valid = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        2,
        Privileges::default(),
        now,
        60,
    );
    let r = ask(&mut bad, join(15, "sec", "r", 2, Some(&valid))).await;
    assert_eq!(r["ok"], true, "{r}");
    let mut other = connect(&url).await;
    let other_tok = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        3,
        Privileges::default(),
        now,
        60,
    );
    ask_ok(&mut other, join(1, "sec", "r", 3, Some(&other_tok))).await;
    let ev = recv(&mut bad).await;
    assert_eq!(
        (ev["type"].as_str(), ev["seq"].as_u64()),
        (Some("member-joined"), Some(1))
    );
    assert_eq!(
        code(
            &ask(
                &mut bad,
                json!({"v":1,"id":16,"type":"subscribe","body":{"uid":3,"video":true}})
            )
            .await
        ),
        4023
    );
    // audience cannot publish (the member hears its own role change too: skip to the answer)
    let r = answer(
        &mut other,
        json!({"v":1,"id":2,"type":"set-role","body":{"role":"audience"}}),
    )
    .await;
    assert_eq!(r["ok"], true);
    assert_eq!(
        code(
            &ask(
                &mut other,
                json!({"v":1,"id":3,"type":"publish","body":{"video":true}})
            )
            .await
        ),
        4022
    );

    // A frame beyond the hard limit ends only that connection.
    let mut huge = connect(&url).await;
    let _ = huge.send(Message::Text("y".repeat(2 << 20).into())).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match huge.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                _ => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "oversized connection is closed");

    // The bystander saw nothing and still works.
    let r = ask(
        &mut good,
        json!({"v":1,"id":2,"type":"publish","body":{"video":true}}),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["body"]["url"]
        .as_str()
        .unwrap()
        .starts_with("rtmp://127.0.0.1:"));

    server.stop().await;
}

/// A member whose connection says nothing for the ping interval plus timeout is dropped (4408)
/// and leaves once its resume window is over; one that pings stays. The heartbeat is 1 s + 1 s,
/// twenty times the pace the live member pings at, so only the silence decides who goes.
#[tokio::test]
async fn a_silent_connection_is_dropped_and_its_member_leaves() {
    let server = start_with(|o| {
        o.ping_interval_ms = Some(1000);
        o.ping_timeout_ms = Some(1000);
        o.resume_window_ms = Some(500);
    })
    .await;
    let url = server.url.clone();

    let mut alive = connect(&url).await;
    let r = ask(&mut alive, join(1, "dbg", "hb", 1, None)).await;
    assert_eq!(r["body"]["ping_interval_ms"], 1000);
    assert_eq!(r["body"]["ping_timeout_ms"], 1000);
    let mut silent = connect(&url).await;
    ask_ok(&mut silent, join(1, "dbg", "hb", 2, None)).await;
    assert_eq!(recv(&mut alive).await["type"], "member-joined");

    // `alive` pings every 100 ms until `silent`'s member leaves (within a generous deadline);
    // `silent` says nothing.
    let left = tokio::time::timeout(Duration::from_secs(60), async {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        let mut id = 10;
        loop {
            every.tick().await;
            id += 1;
            let pong = ask(
                &mut alive,
                json!({"v":1,"id":id,"type":"ping","body":{"ts":7}}),
            )
            .await;
            if pong["type"] == "member-left" {
                return pong;
            }
            assert_eq!(
                (pong["re"].as_u64(), pong["body"]["ts"].as_u64()),
                (Some(id as u64), Some(7))
            );
        }
    })
    .await
    .expect("the silent member leaves");
    assert_eq!(left["body"]["uid"], 2);
    assert_eq!(left["body"]["reason"], "connection_lost");
    assert_eq!(closed_with(&mut silent).await, Some(4408));
    server.stop().await;
}

/// Full rooms and floods get their limit errors (4029), and nobody else notices. A room of two
/// refuses a third member while other rooms open. A flood over a real socket, with one request
/// a second: the first ping of a burst written in one go is served, the next is told 4029 once,
/// the rest are dropped unanswered; another connection is served meanwhile, and the flooder is
/// served again once its bucket refills. The bucket's arithmetic is asserted exactly, in
/// virtual time, by the harness (`limits::the_request_rate_is_an_exact_token_bucket`); here the
/// wire: one answer for the burst, one notice, silence. (One request a second: every other
/// connection here sends one request.)
#[tokio::test]
async fn floods_and_full_rooms_get_limit_errors() {
    let server = start_with(|o| {
        o.max_requests_per_sec = Some(1);
        o.max_members_per_room = Some(2);
    })
    .await;
    let mut a = connect(&server.url).await;
    let mut b = connect(&server.url).await;
    let mut c = connect(&server.url).await;
    let mut d = connect(&server.url).await;
    ask_ok(&mut a, join(1, "dbg", "full", 1, None)).await;
    ask_ok(&mut b, join(1, "dbg", "full", 2, None)).await;
    assert_eq!(
        code(&ask(&mut c, join(1, "dbg", "full", 3, None)).await),
        4029
    );
    assert_eq!(
        ask(&mut d, join(1, "dbg", "other", 3, None)).await["ok"],
        true,
        "other rooms are open"
    );

    let mut flood = connect(&server.url).await;
    let mut other = connect(&server.url).await;
    for id in 100..130u32 {
        let ping = json!({"v":1,"id":id,"type":"ping","body":{"ts":1}});
        flood
            .feed(Message::Text(ping.to_string().into()))
            .await
            .unwrap();
    }
    flood.flush().await.unwrap();
    let r = ask(
        &mut other,
        json!({"v":1,"id":9,"type":"ping","body":{"ts":2}}),
    )
    .await;
    assert_eq!(r["ok"], true, "the flood did not touch another connection");

    // Probe every 200 ms until the bucket refills: everything the flood got comes before the
    // probe's answer, in order.
    let (mut tx, mut rx) = flood.split();
    let mut got = Vec::new();
    let mut every = tokio::time::interval(Duration::from_millis(200));
    let mut probe = 1000u32;
    let answered = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            tokio::select! {
                _ = every.tick() => {
                    probe += 1;
                    let ping = json!({"v":1,"id":probe,"type":"ping","body":{"ts":3}});
                    tx.send(Message::Text(ping.to_string().into())).await.unwrap();
                }
                m = rx.next() => {
                    let Some(Ok(Message::Text(t))) = m else { panic!("{m:?}") };
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    if v["re"].as_u64().is_some_and(|re| re > 1000) {
                        return v;
                    }
                    got.push(v);
                }
            }
        }
    })
    .await
    .expect("the bucket refills");
    assert_eq!(answered["ok"], true, "{answered}");
    assert_eq!(
        got.len(),
        2,
        "one served, one notice, the rest dropped: {got:?}"
    );
    assert_eq!(
        (got[0]["ok"].as_bool(), got[0]["re"].as_u64()),
        (Some(true), Some(100))
    );
    assert_eq!(code(&got[1]), 4029);
    assert!(
        got[1].get("re").is_none(),
        "the notice answers no request: {}",
        got[1]
    );
    server.stop().await;
}

/// Connects with an `Origin` header; `Err(status)` when the server refuses the upgrade.
async fn connect_from(url: &str, origin: &str) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::{ClientRequestBuilder, Error};
    let req = ClientRequestBuilder::new(url.parse().unwrap()).with_header("Origin", origin);
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("{origin}: {e}"),
    }
}

#[tokio::test]
async fn only_allowed_origins_may_open_the_socket() {
    let server = start_with(|o| {
        o.allowed_origins = vec![
            "https://App.Example.com/".into(),
            "http://localhost:8080".into(),
        ]
    })
    .await;
    let url = server.url.clone();

    // An allowed origin (compared case-insensitively, trailing `/` ignored) connects and joins.
    let mut good = connect_from(&url, "https://app.example.com").await.unwrap();
    let r = ask(&mut good, join(1, "dbg", "origins", 1, None)).await;
    assert_eq!(r["ok"], true, "{r}");
    let mut local = connect_from(&url, "HTTP://LOCALHOST:8080").await.unwrap();
    ask_ok(&mut local, join(1, "dbg", "elsewhere", 2, None)).await;

    // Foreign origins, look-alikes included, are refused before the upgrade.
    for origin in [
        "https://evil.example.com",
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://app.example.com.evil.example",
        "http://localhost",
        "null",
        "https://app.example.com/path",
    ] {
        assert_eq!(
            connect_from(&url, origin).await.err(),
            Some(403),
            "{origin}"
        );
    }

    // No Origin header, as WeChat mini-program sockets send, connects and joins.
    let mut mini = connect(&url).await;
    ask_ok(&mut mini, join(1, "dbg", "origins", 3, None)).await;

    // The bystander saw only the member who really joined, and still works.
    let ev = recv(&mut good).await;
    assert_eq!(
        (ev["type"].as_str(), ev["body"]["uid"].as_u64()),
        (Some("member-joined"), Some(3)),
        "{ev}"
    );
    let r = ask(
        &mut good,
        json!({"v":1,"id":2,"type":"ping","body":{"ts":9}}),
    )
    .await;
    assert_eq!(
        (r["ok"].as_bool(), r["re"].as_u64()),
        (Some(true), Some(2)),
        "{r}"
    );

    server.stop().await;
}

#[tokio::test]
async fn any_origin_connects_when_none_are_configured() {
    let (url, server) = start().await;
    let mut ws = connect_from(&url, "https://anywhere.example")
        .await
        .unwrap();
    ask_ok(&mut ws, join(1, "dbg", "open", 1, None)).await;
    server.stop().await;
}

/// Binary frames are not the protocol: the first one ends the connection (1003) instead of
/// being answered, so a peer cannot make the server write for every frame it sends.
#[tokio::test]
async fn a_binary_frame_closes_the_connection() {
    let (url, server) = start().await;
    let mut ws = connect(&url).await;
    for _ in 0..1000 {
        if ws
            .send(Message::Binary(vec![1, 2, 3].into()))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(closed_with(&mut ws).await, Some(1003));
    let mut good = connect(&url).await;
    ask_ok(&mut good, join(1, "dbg", "r", 1, None)).await;
    server.stop().await;
}

/// A member that stops reading is cut once the server holds `max_queued_bytes` for it, not
/// kept growing without end (60 MB unread grew the server to 1.85 GB before); the member that
/// caused the traffic is served throughout.
#[tokio::test]
async fn a_member_that_does_not_read_is_cut_and_the_room_goes_on() {
    let server = start_with(|o| {
        o.max_requests_per_sec = Some(1_000_000);
        o.max_queued_bytes = Some(64 * 1024);
    })
    .await;
    let url = server.url.clone();
    // The victim's receive buffer is small and it never reads, so events pile up at the server.
    let mut victim = live::unread::connect_unread(&url).await;
    ask_ok(&mut victim, join(1, "dbg", "slow", 1, None)).await;
    let mut busy = connect(&url).await;
    assert_eq!(
        answer(&mut busy, join(1, "dbg", "slow", 2, None)).await["ok"],
        true
    );
    live::unread::flood_mutes(&mut busy).await;
    // Now the victim reads: what the kernel buffered, then the end of its connection.
    let (events, end) = live::unread::read_to_end(&mut victim, Duration::from_secs(20)).await;
    let toggles = live::unread::TOGGLES;
    assert!(
        events < u64::from(toggles),
        "cut before the end: {events} events of {toggles}"
    );
    assert!(matches!(end, None | Some(4429)), "{end:?}");
    server.stop().await;
}
