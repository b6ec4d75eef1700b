//! The signaling findings of the attack review (issue #13), each tried again against the real
//! server over real sockets: what the attacker did then is refused now, and the member it was
//! aimed at notices nothing.

use futures_util::SinkExt;
use mprtc::protocol::names::uid_for_user;
use mprtc_server::config::{AppConfig, FileConfig};
use mprtc_server::token::Privileges;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

mod live;
use live::http::{api, api_as};
use live::*;

fn join_as(id: u32, room: &str, user: &str, token: &str) -> Value {
    json!({"v":1,"id":id,"type":"join","body":{
        "appkey":"sec","room":room,"uid":uid_for_user(user),"token":token,
        "user":{"id":user,"name":user}}})
}

fn ping(id: u32) -> Value {
    json!({"v":1,"id":id,"type":"ping","body":{"ts":id}})
}

const NO_PUBLISH: Privileges = Privileges {
    publish: false,
    subscribe: true,
    tasks: None,
    record: None,
};

/// Finding 4: a token for the decimal user id `15027151566004041991` (alice's hashed uid) took
/// alice's place (she was "replaced") and published as her. Now that id has a uid of its own,
/// a token for it admits nobody else, and no join replaces a member of another identity.
#[tokio::test]
async fn no_user_id_takes_another_members_uid() {
    let server = start_with(|_| {}).await;
    let alice_uid = uid_for_user("alice");
    let mut alice = connect(&server.url).await;
    let t = token_for("r4", "alice", Privileges::default());
    let r = ask(&mut alice, join_as(1, "r4", "alice", &t)).await;
    assert_eq!(r["body"]["uid"].as_u64(), Some(alice_uid), "{r}");

    let evil = alice_uid.to_string();
    let evil_token = token_for("r4", &evil, Privileges::default());
    let mut attacker = connect(&server.url).await;
    // As a user id: it no longer stands for alice's uid.
    assert_ne!(uid_for_user(&evil), alice_uid);
    let forged = json!({"v":1,"id":1,"type":"join","body":{
        "appkey":"sec","room":"r4","uid":alice_uid,"token":evil_token,
        "user":{"id":evil,"name":"Alice"}}});
    assert_eq!(code(&ask(&mut attacker, forged).await), 4003);
    // As a plain decimal uid (no user id): the uid is held by another identity.
    let r = ask(
        &mut attacker,
        join(2, "sec", "r4", alice_uid, Some(&evil_token)),
    )
    .await;
    assert_eq!(code(&r), 4025, "{r}");
    // A token naming the decimal uid does not admit the user id whose uid it is.
    let numeric = token_for("r4", &alice_uid.to_string(), Privileges::default());
    let r = ask(&mut attacker, join_as(3, "r4", "alice", &numeric)).await;
    assert_eq!(code(&r), 4012, "{r}");
    // With its own identity the attacker joins like anyone; alice saw only that.
    let r = ask(&mut attacker, join_as(4, "r4", &evil, &evil_token)).await;
    assert_eq!(r["ok"], true, "{r}");
    let ev = recv(&mut alice).await;
    assert_eq!(ev["type"], "member-joined", "{ev}");
    assert_eq!(ev["body"]["user"]["id"], evil.as_str());
    assert_eq!(
        answer(&mut alice, ping(9)).await["ok"],
        true,
        "alice is still in"
    );
    server.stop().await;
}

/// Finding 14: session ids were `<salt>-<counter>` (the salt shown to every member), and a
/// rejoin naming an ended session was shown how it ended before its token was checked.
#[tokio::test]
async fn session_ids_are_unguessable_and_ended_sessions_need_the_token() {
    let server = start_with(|_| {}).await;
    let mut sessions = Vec::new();
    for uid in 1..=3u64 {
        let mut ws = connect(&server.url).await;
        let t = token_for("r14", &uid.to_string(), Privileges::default());
        let r = answer(&mut ws, join(1, "sec", "r14", uid, Some(&t))).await;
        let s = r["body"]["session"].as_str().unwrap().to_owned();
        assert!(
            s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()),
            "128 random bits in hex: {s}"
        );
        sessions.push((s, ws));
    }
    // No two share a prefix long enough to be a salt.
    assert_ne!(sessions[0].0[..8], sessions[1].0[..8]);
    assert_ne!(sessions[1].0[..8], sessions[2].0[..8]);

    let (status, body) = api(
        &server.addr(),
        "POST",
        "/api/v1/rooms/r14/members/1/kick",
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let kicked = sessions[0].0.clone();
    let mut snoop = connect(&server.url).await;
    let resume = |token: Option<&str>| {
        json!({"v":1,"id":1,"type":"join","body":{"appkey":"sec","room":"r14","uid":1,
            "token":token,"resume":{"session":kicked,"last_seq":0}}})
    };
    // No token: refused as any token-less join, and nothing about the session is told.
    let r = ask(&mut snoop, resume(None)).await;
    assert_eq!(code(&r), 4011, "{r}");
    // Another member's valid token does not learn it either.
    let t2 = token_for("r14", "2", Privileges::default());
    let r = ask(&mut snoop, resume(Some(&t2))).await;
    assert_eq!(code(&r), 4012, "{r}");
    server.stop().await;
}

/// Finding 8 (the kick half): a kicked member rejoined at once with the same token. Now the
/// tokens issued before the kick no longer admit it; a fresh one from the app's backend does.
#[tokio::test]
async fn a_kick_is_not_undone_by_replaying_the_token() {
    let server = start_with(|_| {}).await;
    let t = token_for("r8", "42", Privileges::default());
    let mut m = connect(&server.url).await;
    assert_eq!(
        answer(&mut m, join(1, "sec", "r8", 42, Some(&t))).await["ok"],
        true
    );
    // A second member keeps the room open while 42 is out.
    let _other = join_sec(&server.url, "r8", 7).await;
    let (status, body) = api(
        &server.addr(),
        "POST",
        "/api/v1/rooms/r8/members/42/kick",
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (ev, _) = until_event(&mut m, "kicked").await;
    assert_eq!(ev["body"]["reason"], "kicked");

    let mut again = connect(&server.url).await;
    let r = ask(&mut again, join(1, "sec", "r8", 42, Some(&t))).await;
    assert_eq!(code(&r), 4012, "{r}");
    // The app's backend decides to let it back in: a token issued after the kick works.
    let later = {
        let now = now_s() + 1;
        mprtc_server::token::sign(
            SECRET.as_bytes(),
            &mprtc_server::token::Claims {
                app: "sec".into(),
                room: "r8".into(),
                uid: "42".into(),
                iat: now,
                exp: now + 600,
                privileges: Privileges::default(),
            },
        )
    };
    assert_eq!(
        answer(&mut again, join(2, "sec", "r8", 42, Some(&later))).await["ok"],
        true
    );
    server.stop().await;
}

/// Finding 12: `max_rooms` was one pool for every app, and rooms outlive dropped sockets for
/// the resume window, so anonymous joins on an insecure app filled it without holding any
/// connection. Now each app has its own limit, smaller for insecure apps.
#[tokio::test]
async fn one_app_cannot_use_up_the_rooms_of_the_others() {
    let file = FileConfig {
        file_apps: vec![AppConfig {
            key: "anon".into(),
            secret: None,
            insecure: true,
            max_rooms: Some(3),
            webhooks: Vec::new(),
            webhook_queue: None,
        }],
        ..Default::default()
    };
    let server = start_with_file(file, |o| o.max_rooms = Some(10)).await;
    for i in 0..3 {
        let mut ws = connect(&server.url).await;
        let r = answer(&mut ws, join(1, "anon", &format!("a{i}"), 1, None)).await;
        assert_eq!(r["ok"], true, "{r}");
        // Dropped without a close frame: the room stays for the resume window.
        drop(ws);
    }
    let mut ws = connect(&server.url).await;
    let r = answer(&mut ws, join(1, "anon", "a3", 1, None)).await;
    assert_eq!(code(&r), 4029, "{r}");
    assert!(
        r["err"]["msg"].as_str().unwrap().contains("this app"),
        "{r}"
    );
    // An existing room of that app still takes members; other apps are untouched.
    assert_eq!(
        answer(&mut ws, join(2, "anon", "a0", 2, None)).await["ok"],
        true
    );
    let t = token_for("s", "1", Privileges::default());
    let mut s = connect(&server.url).await;
    assert_eq!(
        answer(&mut s, join(1, "sec", "s", 1, Some(&t))).await["ok"],
        true
    );
    server.stop().await;
}

/// Finding 13: a renewed token, or the token a resume presents, that no longer grants
/// publishing left the member a broadcaster that kept pushing and managing push tasks. Now it
/// becomes audience at once, and everyone, itself included, hears so.
#[tokio::test]
async fn a_token_without_publishing_demotes_on_renewal_and_on_resume() {
    let server = start_with(|_| {}).await;
    let mut watcher = join_sec(&server.url, "r13", 9).await;

    for (uid, on_resume) in [(1u64, false), (2, true)] {
        let mut m = connect(&server.url).await;
        let full = token_for("r13", &uid.to_string(), Privileges::default());
        let r = answer(&mut m, join(1, "sec", "r13", uid, Some(&full))).await;
        assert_eq!(r["body"]["role"], "broadcaster", "{r}");
        let session = r["body"]["session"].as_str().unwrap().to_owned();
        let r = answer(
            &mut m,
            json!({"v":1,"id":2,"type":"publish","body":{"video":true}}),
        )
        .await;
        assert_eq!(r["ok"], true, "{r}");
        until_event(&mut watcher, "member-joined").await;

        let demoted = token_for("r13", &uid.to_string(), NO_PUBLISH);
        let frame = if on_resume {
            // The connection drops (no close frame); the client resumes with the new token.
            drop(m);
            m = connect(&server.url).await;
            json!({"v":1,"id":3,"type":"join","body":{"appkey":"sec","room":"r13","uid":uid,
                "token":demoted,"resume":{"session":session,"last_seq":0}}})
        } else {
            json!({"v":1,"id":3,"type":"renew-token","body":{"token":demoted}})
        };
        // The answer and the demotion, in whichever order the server sends them.
        m.send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
        let (mut answered, mut demotion) = (None, None);
        while answered.is_none() || demotion.is_none() {
            let v = recv(&mut m).await;
            if v["re"] == 3 {
                answered = Some(v);
            } else if v["type"] == "role-changed" {
                demotion = Some(v);
            }
        }
        let r = answered.unwrap();
        assert_eq!(r["ok"], true, "{r}");
        if on_resume {
            assert_eq!(r["body"]["resumed"], true, "{r}");
        }
        let ev = demotion.unwrap();
        assert_eq!(
            (ev["body"]["uid"].as_u64(), ev["body"]["role"].as_str()),
            (Some(uid), Some("audience"))
        );
        let (ev, _) = until_event(&mut watcher, "role-changed").await;
        assert_eq!(ev["body"]["uid"].as_u64(), Some(uid));
        // What the role gave is gone: no publishing, no push tasks.
        let r = answer(
            &mut m,
            json!({"v":1,"id":4,"type":"publish","body":{"video":true}}),
        )
        .await;
        assert_eq!(code(&r), 4022, "{r}");
        let task = json!({"v":1,"id":5,"type":"add-tasks","body":{"rtmpTasks":[{
            "taskId":"t1","streamUrl":"rtmp://127.0.0.1:1/live/x",
            "layout":{"canvas":{"width":320,"height":240},"users":[]}}]}});
        assert_eq!(code(&answer(&mut m, task).await), 4014);
        let r = answer(
            &mut m,
            json!({"v":1,"id":6,"type":"set-role","body":{"role":"broadcaster"}}),
        )
        .await;
        assert_eq!(code(&r), 4014, "{r}");
        m.close(None).await.ok();
    }
    server.stop().await;
}

/// Finding 16: the server API's Basic auth took guesses as fast as they came. Now an address
/// that failed ten times in a minute is refused (429) for a minute, the right secret included,
/// while other addresses are served.
#[tokio::test]
async fn guessing_the_api_secret_is_throttled() {
    let server = start_with(|_| {}).await;
    let path = "/api/v1/rooms/none/tasks";
    for i in 0..mprtc_server::throttle::MAX_FAILURES {
        let guess = format!("sec:guess{i}");
        let (status, _) = api_as(&server.addr(), "127.0.0.1", &guess, "GET", path, "").await;
        assert_eq!(status, 401);
    }
    let (status, body) = api(&server.addr(), "GET", path, "").await;
    assert_eq!(status, 429, "{body}");
    // Another address (127.0.0.2 is loopback too) is not affected.
    let right = format!("sec:{SECRET}");
    let (status, body) = api_as(&server.addr(), "127.0.0.2", &right, "GET", path, "").await;
    assert_eq!(status, 404, "no such room, but authenticated: {body}");
    server.stop().await;
}

/// Finding 8 (the media half): a kicked viewer's play URL went on playing for the URL's whole
/// life (up to 7 days), and a play already running was never cut. Now the kick ends its plays
/// at once and every URL it was given is refused from then on.
#[tokio::test]
async fn a_kick_ends_the_viewers_plays_and_voids_its_urls() {
    use rtmp_rs::client::{ClientConfig, RtmpConnector};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start_with(|_| {}).await;
    let mut publisher = join_sec(&server.url, "r8m", 1).await;
    let r = answer(
        &mut publisher,
        json!({"v":1,"id":2,"type":"publish","body":{"video":true}}),
    )
    .await;
    let push = r["body"]["url"].as_str().unwrap().to_owned();
    let (base, name) = push.rsplit_once('/').unwrap();
    let mut pusher = RtmpConnector::connect(ClientConfig::new(base))
        .await
        .unwrap();
    pusher.publish(name).await.unwrap();

    let mut viewer = join_sec(&server.url, "r8m", 2).await;
    let r = answer(
        &mut viewer,
        json!({"v":1,"id":2,"type":"subscribe","body":{"uid":1,"video":true}}),
    )
    .await;
    let flv = r["body"]["flv_url"].as_str().unwrap().to_owned();
    let rtmp_play = r["body"]["url"].as_str().unwrap().to_owned();

    // An HTTP-FLV play that runs while the kick happens.
    let get = |url: String| async move {
        let rest = url.strip_prefix("http://").unwrap().to_owned();
        let (host, path) = rest.split_once('/').unwrap();
        let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
        let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut head = vec![0u8; 12];
        s.read_exact(&mut head).await.unwrap();
        let status: u16 = String::from_utf8_lossy(&head[9..12]).parse().unwrap();
        (status, s)
    };
    let (status, mut playing) = get(flv.clone()).await;
    assert_eq!(status, 200);

    let (status, body) = api(
        &server.addr(),
        "POST",
        "/api/v1/rooms/r8m/members/2/kick",
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The running play ends (its response body stops) ...
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match playing.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the kicked viewer's HTTP-FLV play was not ended"
    );
    // ... and its URLs, still within their lifetime, are refused.
    assert_eq!(get(flv).await.0, 403);
    let (base, name) = rtmp_play.rsplit_once('/').unwrap();
    let mut player = RtmpConnector::connect(ClientConfig::new(base))
        .await
        .unwrap();
    assert!(
        player.play(name).await.is_err(),
        "the RTMP play URL is refused"
    );
    // The publisher and the room are untouched.
    assert_eq!(answer(&mut publisher, ping(3)).await["ok"], true);
    server.stop().await;
}
