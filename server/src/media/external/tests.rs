//! The adapter's decisions, without an engine: the bodies nginx-rtmp really sends (captured
//! from nginx 1.22.1 + libnginx-mod-rtmp 1.2.2), SRS's documented ones, and what hostile
//! variants of them get. The engines themselves are in `server/tests/nginx_rtmp.rs` and
//! `server/tests/srs_hooks.rs`.

use std::sync::Arc;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::*;
use crate::config::{parse_http_base, ExternalMediaConfig, MediaEngine};

const HOOK_SECRET: &str = "hook-secret-0123456789abcdef0123456789";

fn signer() -> MediaSigner {
    MediaSigner::new(b"k".repeat(32), "rtmp://o/live", "http://o/live", 60)
}

fn media(engine: MediaEngine) -> (ExternalMedia, UnboundedReceiver<MediaEvent>) {
    let cfg = ExternalMediaConfig {
        engine,
        rtmp_base: "rtmp://o/live".into(),
        flv_base: None,
        play_bases: vec![],
        control: vec![
            parse_http_base("http://127.0.0.1:9/control").unwrap(),
            parse_http_base("http://127.0.0.1:9/control").unwrap(),
        ],
        hook_secret: HOOK_SECRET.into(),
        hook_sources: vec![],
    };
    let m = ExternalMedia::new(cfg, Arc::new(signer()));
    let (tx, rx) = unbounded_channel();
    m.set_events(tx);
    (m, rx)
}

/// The query of a signed URL.
fn query(url: &str) -> &str {
    url.split_once('?').unwrap().1
}

/// An nginx-rtmp body as nginx 1.22.1 sends it for `call`, with the stream URL's query.
fn nginx_body(call: &str, client: u32, name: &str, q: &str) -> String {
    format!(
        "app=live&flashver=FMLE/3.0%20(compatible%3B%20Lavf59.27&swfurl=&tcurl=rtmp://127.0.0.1:19350/live&pageurl=&addr=127.0.0.1&clientid={client}&call={call}&name={name}&type=live&{q}"
    )
}

fn nginx_hook(call: HookCall, node: usize, body: &str) -> Result<Hook, HookRefusal> {
    nginx::parse(call, node, body)
}

fn now() -> u64 {
    unix_now()
}

#[test]
fn nginx_body_parses_to_the_stream_and_its_signed_query() {
    let url = signer().push_url("r1", 7, now());
    let h = nginx_hook(
        HookCall::Publish,
        0,
        &nginx_body("publish", 3, "r1.7", query(&url)),
    )
    .unwrap();
    assert_eq!(h.client, "3");
    assert_eq!(h.app, "live");
    assert_eq!(h.name, "r1.7");
    assert_eq!(h.query, query(&url));
    assert!(!h.relay);
}

#[test]
fn nginx_bodies_with_smuggled_fields_are_refused() {
    let url = signer().push_url("r1", 7, now());
    let q = query(&url);
    // The URL's query repeats a field nginx wrote: name, clientid, or a signed one.
    for extra in ["name=r1.8", "clientid=9", "k=push"] {
        let body = format!("{}&{extra}", nginx_body("publish", 3, "r1.7", q));
        assert_eq!(
            nginx_hook(HookCall::Publish, 0, &body),
            Err(HookRefusal::Malformed),
            "{extra}"
        );
    }
    // A signed field whose decoded value smuggles a separator, bad escapes, bad client ids.
    let smuggled = nginx_body("publish", 3, "r1.7", "k=push%26v%3D1&e=1&s=x");
    let bad_escape = nginx_body("publish", 3, "r1.7", "k=%zz");
    let not_utf8 = nginx_body("publish", 3, "r1.7", "k=%ff");
    for body in [
        smuggled,
        bad_escape,
        not_utf8,
        nginx_body("publish", 3, "r1.7", q).replace("clientid=3", "clientid=-3"),
        nginx_body("publish", 3, "r1.7", q).replace("clientid=3", "clientid="),
        nginx_body("publish", 3, "r1.7", q).replace("app=live", "app=li%2Fve"),
        "x=".repeat(40),
    ] {
        assert_eq!(
            nginx_hook(HookCall::Publish, 0, &body),
            Err(HookRefusal::Malformed),
            "{body}"
        );
    }
}

#[test]
fn publish_is_admitted_and_ends_with_its_own_connection() {
    let (m, mut rx) = media(MediaEngine::NginxRtmp);
    let url = signer().push_url("r1", 7, now());
    let hook =
        |call, client| nginx_hook(call, 0, &nginx_body("x", client, "r1.7", query(&url))).unwrap();
    m.hook(hook(HookCall::Publish, 1)).unwrap();
    assert_eq!(
        rx.try_recv().unwrap(),
        MediaEvent::PublishStarted {
            room: "r1".into(),
            uid: 7
        }
    );
    assert!(m.is_publishing("r1", 7));
    // Its repeat is nothing new.
    m.hook(hook(HookCall::Publish, 1)).unwrap();
    assert!(rx.try_recv().is_err());
    // A newer connection with the URL replaces one the engine never reported gone (the
    // older is dropped through the engine), and the older one's end ends nothing.
    m.hook(hook(HookCall::Publish, 2)).unwrap();
    m.hook(hook(HookCall::PublishDone, 1)).unwrap();
    assert!(m.is_publishing("r1", 7));
    let again = rx.try_recv().unwrap();
    assert_eq!(
        again,
        MediaEvent::PublishStarted {
            room: "r1".into(),
            uid: 7
        }
    );
    assert!(rx.try_recv().is_err());
    // nginx's on_done for the current one ends it, once.
    m.hook(hook(HookCall::Done, 2)).unwrap();
    m.hook(hook(HookCall::Done, 2)).unwrap();
    assert_eq!(
        rx.try_recv().unwrap(),
        MediaEvent::PublishStopped {
            room: "r1".into(),
            uid: 7
        }
    );
    assert!(rx.try_recv().is_err());
    assert!(!m.is_publishing("r1", 7));
}

/// A node that took a room over (a cluster) never admitted the engine's publisher of it: the
/// origin's `publish_done` ends the stream its signed push URL names, expired or not, once; a
/// forged URL, an edge's end or a repeat ends nothing; a publisher admitted again here ends
/// as any.
#[test]
fn an_end_of_a_publisher_admitted_elsewhere_ends_its_stream_once() {
    let (m, mut rx) = media(MediaEngine::NginxRtmp);
    let old = signer().push_url("r1", 7, now() - 3600);
    let done = |node, url: &str| {
        let body = nginx_body("publish_done", 4, "r1.7", query(url));
        m.hook(nginx_hook(HookCall::PublishDone, node, &body).unwrap())
    };
    let forged = old.replace("&s=", "&s=x");
    for (node, url) in [(0, forged.as_str()), (1, old.as_str())] {
        done(node, url).unwrap();
        assert!(rx.try_recv().is_err(), "node {node}: {url}");
    }
    done(0, &old).unwrap();
    let stopped = MediaEvent::PublishStopped {
        room: "r1".into(),
        uid: 7,
    };
    assert_eq!(rx.try_recv().unwrap(), stopped);
    done(0, &old).unwrap();
    assert!(rx.try_recv().is_err(), "once");
    let url = signer().push_url("r1", 7, now());
    let publish = nginx_body("publish", 5, "r1.7", query(&url));
    m.hook(nginx_hook(HookCall::Publish, 0, &publish).unwrap())
        .unwrap();
    assert!(matches!(
        rx.try_recv(),
        Ok(MediaEvent::PublishStarted { .. })
    ));
    let end = nginx_body("publish_done", 5, "r1.7", query(&url));
    m.hook(nginx_hook(HookCall::PublishDone, 0, &end).unwrap())
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), stopped);
}

#[test]
fn forged_expired_and_wrong_kind_urls_are_refused() {
    let (m, mut rx) = media(MediaEngine::NginxRtmp);
    let s = signer();
    let push = s.push_url("r1", 7, now());
    let play = s.play_urls("r1", 7, 8, now()).rtmp;
    let expired = s.push_url("r1", 7, now() - 120);
    let forged = push.replace("&s=", "&s=A");
    let try_ = |call, url: &str| {
        let h = nginx_hook(call, 0, &nginx_body("x", 1, "r1.7", query(url))).unwrap();
        m.hook(h).unwrap_err().code()
    };
    assert_eq!(try_(HookCall::Publish, &forged), "media.url_bad_signature");
    assert_eq!(try_(HookCall::Publish, &expired), "media.url_expired");
    assert_eq!(try_(HookCall::Publish, &play), "media.url_wrong_kind");
    assert_eq!(try_(HookCall::Play, &push), "media.url_wrong_kind");
    assert_eq!(try_(HookCall::Play, "x?k=play"), "media.url_malformed");
    assert!(rx.try_recv().is_err(), "no event for a refusal");
}

#[test]
fn plays_pass_the_gate_and_are_tracked_per_node_and_client() {
    let (m, mut rx) = media(MediaEngine::NginxRtmp);
    m.set_play_gate(Arc::new(|room, viewer| room == "r1" && viewer == 8));
    let s = signer();
    let hook = |node, client, viewer| {
        let url = s.play_urls("r1", 7, viewer, now()).rtmp;
        nginx_hook(
            HookCall::Play,
            node,
            &nginx_body("play", client, "r1.7", query(&url)),
        )
        .unwrap()
    };
    m.hook(hook(1, 4, 8)).unwrap();
    let started = MediaEvent::PlayStarted {
        room: "r1".into(),
        uid: 7,
        viewer: 8,
    };
    assert_eq!(rx.try_recv().unwrap(), started);
    assert_eq!(
        m.hook(hook(1, 5, 9)),
        Err(HookRefusal::Admission(AdmissionError::Revoked))
    );
    // The same client id at another node is another connection.
    let mut done = hook(0, 4, 8);
    done.call = HookCall::PlayDone;
    m.hook(done).unwrap();
    assert!(rx.try_recv().is_err());
    let mut done = hook(1, 4, 8);
    done.call = HookCall::PlayDone;
    m.hook(done).unwrap();
    assert_eq!(
        rx.try_recv().unwrap(),
        MediaEvent::PlayStopped {
            room: "r1".into(),
            uid: 7,
            viewer: 8
        }
    );
}

#[test]
fn edges_pull_by_the_hook_secret_and_take_no_publishers() {
    let (m, mut rx) = media(MediaEngine::NginxRtmp);
    // Captured: the edge's pull registering at the edge, and playing at the origin.
    let local = "app=&flashver=ngx-local-relay&swfurl=&tcurl=&pageurl=&addr=127.0.0.1:19350/live&clientid=3&call=publish&name=r1.7&type=";
    let h = nginx_hook(HookCall::Publish, 1, local).unwrap();
    assert!(h.relay);
    m.hook(h).unwrap();
    let pull = |secret: &str| {
        format!("app=live&flashver=LNX.11,1,102,55&swfurl=&tcurl=rtmp://127.0.0.1:19350/live&pageurl={secret}&addr=127.0.0.1&clientid=3&call=play&name=r1.7&start=4294965296&duration=4294966296&reset=0")
    };
    m.hook(nginx_hook(HookCall::Play, 0, &pull(HOOK_SECRET)).unwrap())
        .unwrap();
    assert!(rx.try_recv().is_err(), "a relay is no viewer");
    // A wrong secret, or the right one presented at an edge, is a play without a URL.
    for (node, secret) in [(0, "guess"), (0, &HOOK_SECRET[1..]), (1, HOOK_SECRET)] {
        let h = nginx_hook(HookCall::Play, node, &pull(secret)).unwrap();
        assert_eq!(m.hook(h).unwrap_err().code(), "media.url_malformed");
    }
    // A client publishing at an edge, even with a valid push URL, is refused.
    let url = signer().push_url("r1", 7, now());
    let h = nginx_hook(
        HookCall::Publish,
        1,
        &nginx_body("publish", 5, "r1.7", query(&url)),
    )
    .unwrap();
    assert_eq!(m.hook(h), Err(HookRefusal::NotOrigin));
    // An empty application with another flashver is no relay.
    let h = local.replace("ngx-local-relay", "FMLE/3.0");
    assert_eq!(
        nginx_hook(HookCall::Publish, 1, &h),
        Err(HookRefusal::Malformed)
    );
}

#[test]
fn srs_bodies_of_v4_and_v5_parse() {
    let url = signer().push_url("r1", 7, now());
    let param = format!("?{}", query(&url));
    let v5 = serde_json::json!({
        "server_id": "vid-0xk989d", "action": "on_publish", "client_id": "341w361a",
        "ip": "127.0.0.1", "vhost": "__defaultVhost__", "app": "live",
        "tcUrl": "rtmp://127.0.0.1:1935/live?vhost=__defaultVhost__", "stream": "r1.7",
        "param": param, "stream_url": "video.test.com/live/r1.7", "stream_id": "vid-124q9y3"
    });
    let h = srs::parse(0, v5.to_string().as_bytes()).unwrap();
    assert_eq!(
        (h.call, h.client.as_str(), h.name.as_str()),
        (HookCall::Publish, "341w361a", "r1.7")
    );
    assert_eq!(h.query, query(&url));
    let mut v4 = v5.clone();
    v4["client_id"] = 107.into();
    v4["action"] = "on_stop".into();
    let h = srs::parse(0, v4.to_string().as_bytes()).unwrap();
    assert_eq!((h.call, h.client.as_str()), (HookCall::PlayDone, "107"));
    for (field, bad) in [
        ("client_id", serde_json::json!(-1)),
        ("client_id", serde_json::json!(1.5)),
        ("client_id", serde_json::json!("a/b")),
        ("client_id", serde_json::json!(null)),
        ("action", serde_json::json!("on_dvr")),
        ("app", serde_json::json!("../x")),
        ("stream", serde_json::json!("s".repeat(200))),
    ] {
        let mut b = v5.clone();
        b[field] = bad;
        assert_eq!(
            srs::parse(0, b.to_string().as_bytes()),
            Err(HookRefusal::Malformed),
            "{b}"
        );
    }
    assert_eq!(srs::parse(0, b"{"), Err(HookRefusal::Malformed));
}

#[test]
fn kicks_name_the_connection_at_its_engine() {
    assert_eq!(
        nginx::drop(false, "live", "r1.7", "12").path,
        "/drop/subscriber?app=live&name=r1.7&clientid=12"
    );
    assert_eq!(
        nginx::drop(true, "live", "r1.7", "3").path,
        "/drop/publisher?app=live&name=r1.7&clientid=3"
    );
    // A publisher another node admitted: by its name alone, in the configured base's app.
    assert_eq!(
        nginx::drop_publisher_named("live", "r1.7").path,
        "/drop/publisher?app=live&name=r1.7"
    );
    assert_eq!(
        media(MediaEngine::NginxRtmp).0.origin_app().as_deref(),
        Some("live")
    );
    let k = srs::kick("341w361a");
    assert_eq!(
        (k.method, k.path.as_str()),
        (hyper::Method::DELETE, "/api/v1/clients/341w361a")
    );
}

#[test]
fn the_hook_secret_is_compared_whole() {
    let (m, _rx) = media(MediaEngine::Srs);
    assert!(m.is_secret(HOOK_SECRET));
    assert!(!m.is_secret(&HOOK_SECRET[..HOOK_SECRET.len() - 1]));
    assert!(!m.is_secret(&format!("{HOOK_SECRET}x")));
    assert!(!m.is_secret(""));
    assert!(m.has_node(1) && !m.has_node(2));
}

/// Only names of the shape this server gives media rooms are looked up in a cluster's Redis
/// (`crate::cluster::hooks`); anything else a peer puts in a stream name is not.
#[test]
fn only_media_room_shaped_names_are_looked_up() {
    assert!(hooks::is_media_room("m0123456789abcdef01234567"));
    for hostile in [
        "",
        "m",
        "m*",
        "m0123456789abcdef0123456",
        "m0123456789abcdef012345678",
        "M0123456789abcdef01234567",
        "m0123456789ABCDEF01234567",
        "m0123456789abcdef0123456g",
        "m0123456789abcdef012345:*",
        "mprtc:owner:sec:roomxxxxx",
        "m0123456789abcdef012345\u{e9}",
    ] {
        assert!(!hooks::is_media_room(hostile), "{hostile:?}");
    }
}
