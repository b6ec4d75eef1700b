//! What the operator console reads of the hub (`hub/overview.rs`), driven through the hub's
//! own clock: the overview's caps and what it says of a member, the preview URL only for a
//! stream the media server receives, and the console's play admission, which a member cannot
//! borrow by joining with the console's viewer id.

use std::collections::HashMap;
use std::sync::Arc;

use mprtc::protocol::ErrorCode;
use mprtc_server::config::AppConfig;
use mprtc_server::media::{MediaEvent, MediaSigner, UrlKind};
use mprtc_server::signaling::hub::{COMPOSITOR_VIEWER, CONSOLE_VIEWER, RECORDER_VIEWER};
use mprtc_server::signaling::{Hub, Limits, SessionId};

use crate::common;
use crate::support::*;

const T0: u64 = 1_700_000_000_000;

fn signer() -> Arc<MediaSigner> {
    Arc::new(MediaSigner::new(
        b"m".to_vec(),
        "rtmp://h/live",
        "http://h/live",
        60,
    ))
}

/// A hub of two insecure apps that may hold many rooms.
fn hub() -> Hub {
    let apps: HashMap<String, AppConfig> = ["a", "b"]
        .iter()
        .map(|key| {
            let app = AppConfig {
                key: (*key).into(),
                secret: None,
                insecure: true,
                max_rooms: Some(1000),
                webhooks: Vec::new(),
                webhook_queue: None,
            };
            ((*key).to_owned(), app)
        })
        .collect();
    Hub::new(apps, signer(), 4096, common::seed(7)).with_limits(Limits::default())
}

fn join(hub: &mut Hub, app: &str, room: &str, uid: u64, now: u64) -> SessionId {
    let sid = hub.connect();
    let (mine, _) = raw(hub, sid, &join_frame(1, app, room, uid, None, None), now);
    assert!(
        matches!(mine[0], mprtc::protocol::ServerFrame::Ok { .. }),
        "{mine:?}"
    );
    sid
}

/// 201 rooms list as 200 and say so; 101 members as 100 with the count; the app filter keeps
/// one app's rooms.
#[test]
fn the_overview_is_capped_and_says_what_it_left_out() {
    let mut h = hub();
    for i in 0..201 {
        join(&mut h, "a", &format!("r{i:03}"), 1, T0);
    }
    for uid in 2..=101 {
        join(&mut h, "a", "r000", uid, T0);
    }
    join(&mut h, "b", "other", 1, T0);
    let (rooms, truncated) = h.overview(None, T0);
    assert_eq!(rooms.len(), 200);
    assert!(truncated);
    assert_eq!(
        (rooms[0].app.as_str(), rooms[0].room.as_str()),
        ("a", "r000")
    );
    assert_eq!(rooms[0].member_count, 101);
    assert_eq!(rooms[0].members.len(), 100);
    let (rooms, truncated) = h.overview(Some("b"), T0);
    assert!(!truncated);
    assert_eq!(
        rooms.iter().map(|r| r.room.as_str()).collect::<Vec<_>>(),
        ["other"]
    );
}

/// A member as the console shows it: role, declared and live kinds, how long in the room,
/// connected or waiting for a resume.
#[test]
fn a_member_shows_what_it_publishes_and_how_long_it_has_been_in() {
    let mut h = hub();
    let sid = join(&mut h, "a", "r", 7, T0);
    raw(
        &mut h,
        sid,
        r#"{"v":1,"id":2,"type":"publish","body":{"audio":true,"video":true}}"#,
        T0 + 10,
    );
    let media = h.media_id("a", "r").unwrap().to_owned();
    let view = |h: &Hub, now| {
        let (rooms, _) = h.overview(None, now);
        serde_json::to_value(&rooms[0].members[0]).unwrap()
    };
    let v = view(&h, T0 + 5_000);
    assert_eq!(v["uid"], "7");
    assert_eq!(v["role"], "broadcaster");
    assert_eq!(
        v["published"],
        serde_json::json!({"audio": true, "video": true})
    );
    assert_eq!(
        v["live"],
        serde_json::json!({"audio": false, "video": false})
    );
    assert_eq!(v["inRoomMs"], 5_000);
    assert_eq!(v["connected"], true);
    // No preview before the media server receives the stream.
    let e = h.console_preview("a", "r", 7, T0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSuchMember);
    let mut out = Vec::new();
    h.media_event(
        MediaEvent::PublishStarted {
            room: media.clone(),
            uid: 7,
        },
        T0 + 20,
        &mut out,
    );
    assert_eq!(
        view(&h, T0 + 6_000)["live"],
        serde_json::json!({"audio": true, "video": true})
    );
    // The preview URL is a play URL for the console's viewer that the media server accepts.
    let url = h.console_preview("a", "r", 7, T0).unwrap();
    let (path, query) = url.split_once('?').unwrap();
    let name = path
        .rsplit('/')
        .next()
        .unwrap()
        .strip_suffix(".flv")
        .unwrap();
    let admitted = signer()
        .verify(UrlKind::Play, name, query, T0 / 1000)
        .unwrap();
    assert_eq!(
        (admitted.room.as_str(), admitted.uid, admitted.viewer),
        (media.as_str(), 7, Some(CONSOLE_VIEWER))
    );
    // The connection drops: the member waits for a resume, and the console says so.
    h.disconnect(sid, T0 + 7_000, &mut out);
    assert_eq!(view(&h, T0 + 8_000)["connected"], false);
    let e = h.console_preview("a", "nope", 7, T0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSuchRoom);
}

/// The console plays in an open room only, and no member can hold the console's viewer id as
/// its uid (its play URLs would name the same viewer, admitted by what the console may do, and
/// stay admitted after a kick): joins with any of the server's own viewer uids are refused.
#[test]
fn the_console_plays_only_in_open_rooms_no_member_can_borrow_its_admission() {
    let mut h = hub();
    join(&mut h, "a", "open", 1, T0);
    let open = h.media_id("a", "open").unwrap().to_owned();
    assert!(h.console_may_play(&open));
    assert!(!h.console_may_play("no-such-media-room"));
    // No member can hold the console's uid (nor the recorder's or the compositor's): the join
    // is refused, so no room of its own lends it an admission.
    for uid in [RECORDER_VIEWER, CONSOLE_VIEWER, COMPOSITOR_VIEWER] {
        let sid = h.connect();
        let (mine, _) = raw(
            &mut h,
            sid,
            &join_frame(1, "a", "borrowed", uid, None, None),
            T0,
        );
        assert_eq!(
            refusal(&mine[0]),
            (Some(1), ErrorCode::InvalidParams),
            "uid {uid}"
        );
        assert!(h.media_id("a", "borrowed").is_none(), "uid {uid}");
    }
    // The uid just below them is an ordinary member's.
    join(&mut h, "a", "below", RECORDER_VIEWER - 1, T0);
    let mut out = Vec::new();
    h.api_close_room("a", "open", T0, &mut out).unwrap();
    assert!(!h.console_may_play(&open));
}
