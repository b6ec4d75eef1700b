//! Lost connections: a member who does not come back leaves, and a request repeated after a resume
//! is answered from the cache.

use mprtc::core::{AppEvent, MediaKind, OpValue};
use mprtc::protocol::json::{Json, RawJson};
use mprtc::protocol::{LeaveReason, Role};
use mprtc_server::media::MediaEvent;
use mprtc_server::signaling::{Hub, HubOut};

use crate::common::{self, AUDIO, VIDEO};
use crate::support::*;

#[test]
fn dropped_connection_is_seen_as_leave_and_media_follows_signaling() {
    let mut net = Net::new(2).no_reconnect(0);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    let url = net.publish(0, VIDEO);
    let (mroom, _) = media_room_of(&url);
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    net.events(1);
    // adding audio while pushing is announced at once
    net.run(0, |c, now| c.publish(now, AUDIO)).unwrap();
    assert_eq!(
        net.events(1),
        vec![AppEvent::StreamAdded {
            uid: 1,
            media: MediaKind::Audio
        }]
    );
    // the pusher drops: the stream goes, the member stays
    net.media(MediaEvent::PublishStopped {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(net.events(1), streams_removed(1));
    // a pusher for a member who is not publishing is kicked
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 2,
    });
    assert_eq!(net.kicks, vec![(mroom.clone(), 2)]);
    // A's socket dies, and A does not come back: B sees A leave once the resume window is over.
    net.cut(0);
    assert!(net.hub.is_detached("dbg", "r", 1));
    net.advance(29_000);
    assert_eq!(net.events(1), vec![], "A may still resume");
    net.advance(1_000);
    assert_eq!(
        net.events(1),
        vec![AppEvent::ClientLeave {
            uid: 1,
            reason: LeaveReason::ConnectionLost
        }]
    );
    assert!(net.events(0).contains(&AppEvent::Disconnect {
        code: 1006,
        reason: "connection closed (1006 )".into()
    }));
    // a second life: the room's media id is still valid while B is there
    assert_eq!(net.join(0, "r", 1), Ok(OpValue::Done));
}

/// A request the client sends again after a resume (same id, because its answer was lost) is
/// answered from the server's cache, not done twice: a second `add-tasks` with the same task
/// would otherwise be refused (4026) and start nothing new.
#[test]
fn a_request_repeated_after_a_resume_is_answered_not_redone() {
    use mprtc::protocol::frame::{decode_server, encode_request};
    use mprtc::protocol::{JoinReq, RequestKind, Resume, ServerFrame};
    let (mut hub, _) = common::hub();
    let now = 1_700_000_000_000;
    let mut out = Vec::new();
    let ask = |hub: &mut Hub, sid, f: String, out: &mut Vec<HubOut>| {
        out.clear();
        hub.handle_frame(sid, &f, now, out);
        out.iter()
            .filter_map(|o| match o {
                HubOut::Send(s, t) if *s == sid => Some(t.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let join = |resume| JoinReq {
        appkey: "dbg".into(),
        room: "r".into(),
        uid: 1,
        token: None,
        role: Role::Broadcaster,
        sdk: String::new(),
        resume,
        user: None,
        record: mprtc::protocol::Media::NONE,
    };
    let sid = hub.connect();
    let joined = ask(
        &mut hub,
        sid,
        encode_request(1, RequestKind::Join, &join(None)),
        &mut out,
    );
    let session = match decode_server(&joined[0]).unwrap() {
        ServerFrame::Ok { body, .. } => body
            .get("session")
            .and_then(Json::as_str)
            .unwrap()
            .to_owned(),
        f => panic!("{f:?}"),
    };
    let add = encode_request(5, RequestKind::AddTasks, &RawJson(&tasks_req("t1", &[1])));
    let first = ask(&mut hub, sid, add.clone(), &mut out);
    let started = |out: &Vec<HubOut>| {
        out.iter()
            .filter(|o| matches!(o, HubOut::TaskApply { .. }))
            .count()
    };
    assert_eq!(started(&out), 1);
    // The answer is lost with the connection; the client resumes and asks again.
    hub.disconnect(sid, now, &mut out);
    let sid2 = hub.connect();
    let resume = Some(Resume {
        session,
        last_seq: 0,
    });
    let rejoined = ask(
        &mut hub,
        sid2,
        encode_request(6, RequestKind::Join, &join(resume)),
        &mut out,
    );
    assert!(rejoined[0].contains(r#""resumed":true"#), "{rejoined:?}");
    let again = ask(&mut hub, sid2, add.clone(), &mut out);
    assert_eq!(again, first, "the same answer");
    assert_eq!(started(&out), 0, "nothing started twice");
    // A new id is a new request: now the task exists.
    let add7 = encode_request(7, RequestKind::AddTasks, &RawJson(&tasks_req("t1", &[1])));
    let refused = ask(&mut hub, sid2, add7, &mut out);
    assert!(refused[0].contains("4026"), "{refused:?}");
}

/// A rejoin that names a live session with another user id is refused (4025) and leaves the
/// member as it was: its connection stays open and attached (before, the server closed it
/// first and the member stayed a ghost with no connection, never expiring).
#[test]
fn a_rejoin_under_another_user_id_leaves_the_member_alone() {
    use mprtc::protocol::frame::encode_request;
    use mprtc::protocol::{ErrorCode, JoinReq, RequestKind, Resume, UserTag};
    let mut net = Net::new(2).joined(2);
    let session = net.peers[0].core.session().unwrap().to_owned();
    let req = JoinReq {
        appkey: "dbg".into(),
        room: "r".into(),
        uid: 1,
        token: None,
        role: Role::Broadcaster,
        sdk: String::new(),
        resume: Some(Resume {
            session,
            last_seq: 0,
        }),
        user: Some(UserTag {
            id: "1".into(),
            name: String::new(),
        }),
        record: mprtc::protocol::Media::NONE,
    };
    let sid = net.hub.connect();
    let frame = encode_request(9, RequestKind::Join, &req);
    let (mine, rest) = raw(&mut net.hub, sid, &frame, net.now);
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(refusal(&mine[0]), (Some(9), ErrorCode::UidInUse));
    assert!(
        !rest.iter().any(|o| matches!(o, HubOut::Close { .. })),
        "the member's own connection is not touched: {rest:?}"
    );
    assert!(!net.hub.is_detached("dbg", "r", 1));
    // It goes on as before: its requests are answered, and nobody saw it leave.
    assert!(matches!(
        net.run(0, |c, now| c.publish(now, VIDEO)),
        Ok(OpValue::PushUrl(_))
    ));
    assert_eq!(net.events(1), vec![]);
}
