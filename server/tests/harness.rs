//! Two-party harness in virtual time: real SDK cores ([`mprtc::core::Client`]) talking to the
//! real signaling logic ([`Hub`]) with frames passed in memory, so whole flows run in
//! microseconds and deterministically.

use std::collections::HashMap;
use std::sync::Arc;

use mprtc::core::{
    AppEvent, Client, ClientConfig, ComponentKind, Error, MediaKind, OpId, OpValue, Output,
    ReportEvent,
};
use mprtc::protocol::json::{Json, RawJson};
use mprtc::protocol::{ErrorCode, KickReason, LeaveReason, Media, Role};
use mprtc_server::media::{MediaEvent, MediaSigner, UrlKind};
use mprtc_server::signaling::{Hub, HubOut, SessionId};
use mprtc_server::tasks::{TaskKey, TaskSpec};
use mprtc_server::token::{self, Privileges};

mod common;
use common::SECRET;

struct Peer {
    core: Client,
    sid: Option<SessionId>,
    events: Vec<AppEvent>,
    phases: Vec<AppEvent>,
    results: HashMap<OpId, Result<OpValue, Error>>,
}

struct Net {
    hub: Hub,
    signer: Arc<MediaSigner>,
    peers: Vec<Peer>,
    kicks: Vec<(String, u64)>,
    tasks: Vec<(TaskKey, Option<TaskSpec>)>,
    closes: Vec<SessionId>,
    now: u64,
}

impl Net {
    fn new(n: usize) -> Self {
        let (hub, signer) = common::hub();
        let peers = (0..n)
            .map(|_| Peer {
                core: Client::new(ClientConfig::new("dbg", "ws://x/ws").unwrap()),
                sid: None,
                events: vec![],
                phases: vec![],
                results: HashMap::new(),
            })
            .collect();
        Net {
            hub,
            signer,
            peers,
            kicks: vec![],
            tasks: vec![],
            closes: vec![],
            now: 1_700_000_000_000,
        }
    }

    fn with_app(mut self, i: usize, key: &str) -> Self {
        self.peers[i].core = Client::new(ClientConfig::new(key, "ws://x/ws").unwrap());
        self
    }

    /// Carry every output until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            let mut hub_out = Vec::new();
            for p in self.peers.iter_mut() {
                while let Some(o) = p.core.poll_output() {
                    moved = true;
                    match o {
                        Output::Connect { .. } => {
                            p.sid = Some(self.hub.connect());
                            p.core.handle_socket_open(self.now);
                        }
                        Output::Send(f) => self.hub.handle_frame(
                            p.sid.expect("socket open"),
                            &f,
                            self.now,
                            &mut hub_out,
                        ),
                        Output::Close { code, reason } => {
                            if let Some(sid) = p.sid.take() {
                                self.hub.disconnect(sid, self.now, &mut hub_out);
                            }
                            p.core.handle_socket_close(self.now, code, &reason);
                        }
                        // Component phases and quality samples are read by the tests about
                        // them; the rest of the tests compare room events exactly.
                        Output::Event(
                            e @ (AppEvent::PusherState { .. }
                            | AppEvent::PlayerState { .. }
                            | AppEvent::Quality { .. }),
                        ) => p.phases.push(e),
                        Output::Event(e) => p.events.push(e),
                        Output::Resolve { op, value } => {
                            p.results.insert(op, Ok(value));
                        }
                        Output::Reject { op, error } => {
                            p.results.insert(op, Err(error));
                        }
                    }
                }
            }
            moved |= !hub_out.is_empty();
            self.carry(hub_out);
            if !moved {
                break;
            }
        }
    }

    fn run(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Client, u64) -> Result<OpId, Error>,
    ) -> Result<OpValue, Error> {
        let now = self.now;
        let op = f(&mut self.peers[i].core, now)?;
        self.pump();
        self.peers[i]
            .results
            .remove(&op)
            .expect("every op settles once the network is idle")
    }

    fn join(&mut self, i: usize, room: &str, uid: u64) -> Result<OpValue, Error> {
        self.run(i, |c, now| c.join(now, room, uid, None))
    }

    fn media(&mut self, ev: MediaEvent) {
        let mut out = Vec::new();
        self.hub.media_event(ev, self.now, &mut out);
        deliver(self, out);
    }

    /// Carry the hub's outputs: frames to the peers' cores, the rest into the records.
    fn carry(&mut self, out: Vec<HubOut>) {
        for o in out {
            match o {
                HubOut::Send(sid, text) => {
                    if let Some(p) = self.peers.iter_mut().find(|p| p.sid == Some(sid)) {
                        p.core.handle_socket_message(self.now, &text);
                    }
                }
                HubOut::KickPublisher { media_room, uid } => self.kicks.push((media_room, uid)),
                HubOut::KickViewer { .. } => {}
                HubOut::TaskApply { key, spec } => self.tasks.push((key, Some(spec))),
                HubOut::TaskStop { key } => self.tasks.push((key, None)),
                HubOut::Close { sid, .. } => self.closes.push(sid),
            }
        }
    }

    fn events(&mut self, i: usize) -> Vec<AppEvent> {
        std::mem::take(&mut self.peers[i].events)
    }

    /// Peer `i` does not reconnect: a lost connection ends its session.
    fn no_reconnect(mut self, i: usize) -> Self {
        let mut cfg = ClientConfig::new("dbg", "ws://x/ws").unwrap();
        cfg.reconnect.give_up_after_ms = 0;
        self.peers[i].core = Client::new(cfg);
        self
    }

    /// Peer `i`'s connection dies under both ends.
    fn cut(&mut self, i: usize) {
        let mut out = Vec::new();
        if let Some(sid) = self.peers[i].sid.take() {
            self.hub.disconnect(sid, self.now, &mut out);
        }
        self.peers[i].core.handle_socket_close(self.now, 1006, "");
        self.carry(out);
        self.pump();
    }

    /// Let `ms` pass: the hub's and every core's timers run.
    fn advance(&mut self, ms: u64) {
        self.now += ms;
        let mut out = Vec::new();
        self.hub.tick(self.now, &mut out);
        self.carry(out);
        for p in self.peers.iter_mut() {
            p.core.handle_timeout(self.now);
        }
        self.pump();
    }
}

fn media_room_of(url: &str) -> (String, u64) {
    let path = url.split('?').next().unwrap();
    let name = path.rsplit('/').next().unwrap();
    let (room, uid) = name.split_once('.').unwrap();
    (room.to_string(), uid.parse().unwrap())
}

#[test]
fn join_publish_subscribe_leave() {
    let mut net = Net::new(2);
    assert_eq!(net.join(0, "room1", 1), Ok(OpValue::Done));
    assert_eq!(net.events(0), vec![AppEvent::Open]);
    assert_eq!(net.join(1, "room1", 2), Ok(OpValue::Done));
    assert_eq!(
        net.events(1),
        vec![AppEvent::Open, AppEvent::ClientJoin { uid: 1 }]
    );
    assert_eq!(net.events(0), vec![AppEvent::ClientJoin { uid: 2 }]);

    let url = match net.run(0, |c, now| c.publish(now, Media::BOTH)) {
        Ok(OpValue::PushUrl(u)) => u,
        other => panic!("{other:?}"),
    };
    let (query_room, uid) = media_room_of(&url);
    assert_eq!(uid, 1);
    let query = url.split_once('?').unwrap().1;
    let admitted = net
        .signer
        .verify(
            UrlKind::Push,
            &format!("{query_room}.1"),
            query,
            net.now / 1000,
        )
        .unwrap();
    assert_eq!(admitted.uid, 1);
    // Nothing is announced until media really flows.
    assert_eq!(net.events(1), vec![]);
    net.media(MediaEvent::PublishStarted {
        room: query_room.clone(),
        uid: 1,
    });
    assert_eq!(
        net.events(1),
        vec![
            AppEvent::StreamAdded {
                uid: 1,
                media: MediaKind::Audio
            },
            AppEvent::StreamAdded {
                uid: 1,
                media: MediaKind::Video
            }
        ]
    );
    assert_eq!(
        net.events(0),
        vec![],
        "the publisher does not hear about its own stream"
    );

    let play = net
        .run(1, |c, now| {
            c.subscribe(
                now,
                1,
                Media {
                    audio: false,
                    video: true,
                },
            )
        })
        .unwrap();
    let OpValue::Play { url, flv_url } = play else {
        panic!("{play:?}")
    };
    let q = url.split_once('?').unwrap().1;
    let a = net
        .signer
        .verify(UrlKind::Play, &format!("{query_room}.1"), q, net.now / 1000)
        .unwrap();
    assert_eq!(a.viewer, Some(2));
    assert!(flv_url.contains(".flv?"));
    assert!(
        net.signer
            .verify(UrlKind::Push, &format!("{query_room}.1"), q, net.now / 1000)
            .is_err(),
        "a play URL cannot push"
    );

    // A third member arriving later sees the live stream in the snapshot.
    let mut net3 = net;
    net3.peers.push(Peer {
        core: Client::new(ClientConfig::new("dbg", "ws://x/ws").unwrap()),
        sid: None,
        events: vec![],
        phases: vec![],
        results: HashMap::new(),
    });
    assert_eq!(net3.join(2, "room1", 3), Ok(OpValue::Done));
    let ev = net3.events(2);
    assert!(
        ev.contains(&AppEvent::StreamAdded {
            uid: 1,
            media: MediaKind::Video
        }),
        "{ev:?}"
    );

    assert_eq!(net3.run(0, |c, now| c.leave(now)), Ok(OpValue::Done));
    assert_eq!(
        net3.events(1),
        vec![
            AppEvent::ClientJoin { uid: 3 },
            AppEvent::StreamRemoved {
                uid: 1,
                media: MediaKind::Audio
            },
            AppEvent::StreamRemoved {
                uid: 1,
                media: MediaKind::Video
            },
            AppEvent::ClientLeave {
                uid: 1,
                reason: LeaveReason::Left
            },
        ]
    );
    assert_eq!(
        net3.kicks,
        vec![(query_room, 1)],
        "the leaver's pusher is stopped"
    );
}

#[test]
fn refusals_are_typed() {
    let mut net = Net::new(3);
    net.join(0, "r", 1).unwrap();
    // subscribe to a member who publishes nothing
    net.join(1, "r", 2).unwrap();
    let e = net
        .run(1, |c, now| c.subscribe(now, 1, Media::BOTH))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotPublishing);
    let e = net
        .run(1, |c, now| c.subscribe(now, 99, Media::BOTH))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSuchMember);
    // audience cannot publish: the core refuses first, and so does the server
    net.run(1, |c, now| c.set_role(now, Role::Audience))
        .unwrap();
    assert_eq!(
        net.run(1, |c, now| c.publish(now, Media::BOTH))
            .unwrap_err()
            .code,
        ErrorCode::AudienceCannotPublish
    );
    let mut out = Vec::new();
    let sid = net.peers[1].sid.unwrap();
    net.hub.handle_frame(
        sid,
        r#"{"v":1,"id":77,"type":"publish","body":{"audio":true,"video":true}}"#,
        net.now,
        &mut out,
    );
    assert!(
        matches!(&out[..], [HubOut::Send(s, f)] if *s == sid && f.contains("\"re\":77") && f.contains("4022")),
        "{out:?}"
    );
    // the others see the role change
    assert!(net.events(0).contains(&AppEvent::RoleChanged {
        uid: 2,
        role: Role::Audience
    }));
}

#[test]
fn tokens_are_checked() {
    let mut net = Net::new(1).with_app(0, "sec");
    let now_s = net.now / 1000;
    assert_eq!(
        net.join(0, "r", 5).unwrap_err().code,
        ErrorCode::TokenRequired
    );
    let expired = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        5,
        Privileges::default(),
        now_s - 100,
        10,
    );
    assert_eq!(
        net.run(0, |c, now| c.join(now, "r", 5, Some(expired)))
            .unwrap_err()
            .code,
        ErrorCode::TokenExpired
    );
    let other_room = token::mint(
        SECRET.as_bytes(),
        "sec",
        "x",
        5,
        Privileges::default(),
        now_s,
        60,
    );
    assert_eq!(
        net.run(0, |c, now| c.join(now, "r", 5, Some(other_room)))
            .unwrap_err()
            .code,
        ErrorCode::TokenInvalid
    );
    let forged = token::mint(b"wrong", "sec", "r", 5, Privileges::default(), now_s, 60);
    assert_eq!(
        net.run(0, |c, now| c.join(now, "r", 5, Some(forged)))
            .unwrap_err()
            .code,
        ErrorCode::TokenInvalid
    );
    let watch_only = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        5,
        Privileges {
            publish: false,
            subscribe: true,
            tasks: None,
            record: None,
        },
        now_s,
        60,
    );
    assert_eq!(
        net.run(0, |c, now| c.join(now, "r", 5, Some(watch_only))),
        Ok(OpValue::Done)
    );
    assert_eq!(
        net.peers[0].core.role(),
        Role::Audience,
        "no publish privilege means audience"
    );
    assert_eq!(
        net.run(0, |c, now| c.set_role(now, Role::Broadcaster))
            .unwrap_err()
            .code,
        ErrorCode::PermissionDenied
    );
    assert_eq!(net.hub.session_count(), 1);
}

#[test]
fn dropped_connection_is_seen_as_leave_and_media_follows_signaling() {
    let mut net = Net::new(2).no_reconnect(0);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    let url = match net
        .run(0, |c, now| {
            c.publish(
                now,
                Media {
                    audio: false,
                    video: true,
                },
            )
        })
        .unwrap()
    {
        OpValue::PushUrl(u) => u,
        v => panic!("{v:?}"),
    };
    let (mroom, _) = media_room_of(&url);
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    net.events(1);
    // adding audio while pushing is announced at once
    net.run(0, |c, now| {
        c.publish(
            now,
            Media {
                audio: true,
                video: false,
            },
        )
    })
    .unwrap();
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
    assert_eq!(
        net.events(1),
        vec![
            AppEvent::StreamRemoved {
                uid: 1,
                media: MediaKind::Audio
            },
            AppEvent::StreamRemoved {
                uid: 1,
                media: MediaKind::Video
            }
        ]
    );
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

/// Components that give up get fresh URLs: A's `<live-pusher>` reports -1307 and B's
/// `<live-player>` of A reports -2301; each side re-requests through the real hub and gets a
/// `syncDone` with a URL the media server admits.
#[test]
fn components_that_give_up_get_fresh_urls() {
    let mut net = Net::new(2);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    let old_push = match net.run(0, |c, now| c.publish(now, Media::BOTH)).unwrap() {
        OpValue::PushUrl(u) => u,
        v => panic!("{v:?}"),
    };
    let (mroom, _) = media_room_of(&old_push);
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    assert!(net.events(1).ends_with(&[
        AppEvent::StreamAdded {
            uid: 1,
            media: MediaKind::Audio
        },
        AppEvent::StreamAdded {
            uid: 1,
            media: MediaKind::Video
        }
    ]));
    let old_play = match net
        .run(1, |c, now| c.subscribe(now, 1, Media::BOTH))
        .unwrap()
    {
        OpValue::Play { url, .. } => url,
        v => panic!("{v:?}"),
    };
    net.events(0);

    // A's network drops for good: the media server loses the pusher, the component gives up.
    net.now += 5_000;
    net.media(MediaEvent::PublishStopped {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(net.events(1).len(), 2, "stream-removed audio and video");
    let now = net.now;
    for _ in 0..2 {
        net.peers[0]
            .core
            .data_reporter(
                now,
                ComponentKind::Push,
                ReportEvent::StateChange,
                &Json::from(serde_json::json!({"code": -1307, "reason": ""})),
                None,
            )
            .unwrap();
    }
    net.pump();
    let evs = net.events(0);
    let [AppEvent::SyncDone { uid: 1, url }] = &evs[..] else {
        panic!("one syncDone for A's own uid: {evs:?}")
    };
    assert_ne!(url, &old_push, "a fresh URL");
    let (room, uid) = media_room_of(url);
    assert_eq!((room.as_str(), uid), (mroom.as_str(), 1));
    let query = url.split_once('?').unwrap().1;
    let admitted = net
        .signer
        .verify(UrlKind::Push, &format!("{mroom}.1"), query, net.now / 1000)
        .unwrap();
    assert_eq!(admitted.uid, 1);
    assert!(
        net.events(1).is_empty(),
        "a republish of the same media is no news"
    );
    // The page sets the URL, the pusher is back: B hears of it as usual.
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    assert_eq!(
        net.events(1),
        vec![
            AppEvent::StreamAdded {
                uid: 1,
                media: MediaKind::Audio
            },
            AppEvent::StreamAdded {
                uid: 1,
                media: MediaKind::Video
            }
        ]
    );

    // B's player of A gave up meanwhile (the NetEase sample passes no uid; B has one
    // subscription, so it is meant).
    let now = net.now;
    net.peers[1]
        .core
        .data_reporter(
            now,
            ComponentKind::Pull,
            ReportEvent::StateChange,
            &Json::from(serde_json::json!({"code": "-2301"})),
            None,
        )
        .unwrap();
    net.pump();
    let evs = net.events(1);
    let [AppEvent::SyncDone { uid: 1, url }] = &evs[..] else {
        panic!("one syncDone for the played uid: {evs:?}")
    };
    assert_ne!(url, &old_play);
    let q = url.split_once('?').unwrap().1;
    let a = net
        .signer
        .verify(UrlKind::Play, &format!("{mroom}.1"), q, net.now / 1000)
        .unwrap();
    assert_eq!(a.viewer, Some(2));
    assert!(
        net.signer
            .verify(UrlKind::Push, &format!("{mroom}.1"), q, net.now / 1000)
            .is_err(),
        "the new play URL cannot push"
    );
    assert!(net.events(0).is_empty());
}

/// Many seeded random sequences of API calls: afterwards every client's view of the room agrees
/// with every other's, and every operation settled exactly once.
#[test]
fn random_flows_converge() {
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _run in 0..300 {
        let mut net = Net::new(4);
        let mut rooms = HashMap::new();
        for _step in 0..40 {
            let i = (next() % 4) as usize;
            let uid = i as u64 + 1;
            let media = match next() % 3 {
                0 => Media {
                    audio: true,
                    video: false,
                },
                1 => Media {
                    audio: false,
                    video: true,
                },
                _ => Media::BOTH,
            };
            let _ = match next() % 8 {
                0 | 1 => net.join(i, "r", uid).map(|_| rooms.insert(i, ())),
                2 => net.run(i, |c, now| c.leave(now)).map(|_| rooms.remove(&i)),
                3 => net.run(i, |c, now| c.publish(now, media)).map(|_| None),
                4 => net.run(i, |c, now| c.unpublish(now, media)).map(|_| None),
                5 => {
                    let target = next() % 4 + 1;
                    net.run(i, |c, now| c.subscribe(now, target, media))
                        .map(|_| None)
                }
                6 => {
                    let role = if next() % 2 == 0 {
                        Role::Audience
                    } else {
                        Role::Broadcaster
                    };
                    net.run(i, |c, now| c.set_role(now, role)).map(|_| None)
                }
                _ => {
                    // media starts or stops for a random member of the room
                    let who = next() % 4 + 1;
                    let mroom = net.hub_media_room();
                    if let Some(m) = mroom {
                        if next() % 2 == 0 {
                            net.media(MediaEvent::PublishStarted { room: m, uid: who });
                        } else {
                            net.media(MediaEvent::PublishStopped { room: m, uid: who });
                        }
                    }
                    Ok(None)
                }
            };
            for p in &net.peers {
                assert!(p.results.is_empty(), "every op settled and was collected");
            }
        }
        // Every member's view of the others equals the server's truth: same members, same
        // live media, same roles.
        let truth: Vec<(u64, Role, Media)> = net
            .hub
            .snapshot("dbg", "r")
            .iter()
            .map(|m| (m.uid, m.role, m.live))
            .collect();
        for (i, p) in net.peers.iter().enumerate() {
            let me = i as u64 + 1;
            if !p.core.is_joined() {
                assert!(
                    truth.iter().all(|t| t.0 != me),
                    "uid {me} left but the server still has it"
                );
                continue;
            }
            let view: Vec<(u64, Role, Media)> =
                p.core.members().map(|(u, r)| (u, r.role, r.live)).collect();
            let expect: Vec<(u64, Role, Media)> =
                truth.iter().copied().filter(|t| t.0 != me).collect();
            assert_eq!(view, expect, "uid {me}'s view differs from the server's");
        }
    }
}

impl Net {
    /// The media id of room "r", read from a push URL minted for it (None when the room is empty).
    fn hub_media_room(&mut self) -> Option<String> {
        let i = self
            .peers
            .iter()
            .position(|p| p.core.is_joined() && p.core.role() == Role::Broadcaster)?;
        let url = match self.run(i, |c, now| {
            c.publish(
                now,
                Media {
                    audio: false,
                    video: true,
                },
            )
        }) {
            Ok(OpValue::PushUrl(u)) => u,
            _ => return None,
        };
        Some(media_room_of(&url).0)
    }
}

/// `{rtmpTasks: [...]}` as JSON text, the way the SDK forwards an app's object.
fn tasks_req(id: &str, uids: &[u64]) -> String {
    let users: Vec<serde_json::Value> = uids
        .iter()
        .enumerate()
        .map(|(i, u)| serde_json::json!({"uid": u, "x": 320 * i as u32, "y": 0, "width": 320, "height": 240}))
        .collect();
    serde_json::json!({"rtmpTasks": [{
        "taskId": id, "streamUrl": "rtmp://cdn/live/x",
        "layout": {"canvas": {"width": 1280, "height": 720, "color": 0}, "users": users}
    }]})
    .to_string()
}

/// The SDK forwards task objects as the app gave them: the server is where they are typed and
/// checked, and its refusal names the field, whether the shape or a rule is wrong.
#[test]
fn tasks_of_the_wrong_shape_or_breaking_a_rule_are_refused_by_the_server_with_the_field() {
    let mut net = Net::new(1);
    net.join(0, "r", 1).unwrap();
    let mut refuse = |f: &dyn Fn(&mut Client, u64) -> Result<OpId, Error>| {
        let e = net.run(0, f).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTask, "{e:?}");
        (e.field.unwrap_or_default(), e.message)
    };
    let mut wide: serde_json::Value = serde_json::from_str(&tasks_req("t1", &[1])).unwrap();
    wide["rtmpTasks"][0]["layout"]["canvas"]["width"] = serde_json::json!("1280px");
    assert_eq!(
        refuse(&|c, now| c.add_tasks(now, &wide.to_string())),
        (
            "rtmpTasks[0].layout.canvas.width".into(),
            "rtmpTasks[0].layout.canvas.width: expected an integer from 0 to 4294967295".into()
        )
    );
    let mut no_layout: serde_json::Value = serde_json::from_str(&tasks_req("t1", &[1])).unwrap();
    no_layout["rtmpTasks"][0]
        .as_object_mut()
        .unwrap()
        .remove("layout");
    assert_eq!(
        refuse(&|c, now| c.update_tasks(now, &no_layout.to_string())).0,
        "rtmpTasks[0].layout"
    );
    assert_eq!(
        refuse(&|c, now| c.add_tasks(now, r#"{"rtmpTasks": {}}"#)).0,
        "rtmpTasks"
    );
    let mut too_wide: serde_json::Value = serde_json::from_str(&tasks_req("t1", &[1])).unwrap();
    too_wide["rtmpTasks"][0]["layout"]["users"][0]["width"] = serde_json::json!(2000);
    assert_eq!(
        refuse(&|c, now| c.add_tasks(now, &too_wide.to_string())),
        (
            "rtmpTasks[0].layout.users[0].width".into(),
            "rtmpTasks[0].layout.users[0].width must be 1 to 1280 (the canvas width)".into()
        )
    );
    assert_eq!(
        refuse(&|c, now| c.delete_tasks(now, r#"{"taskIds": ["bad id"]}"#)).0,
        "taskIds[0]"
    );
    assert!(net.tasks.is_empty(), "nothing was started");
}

#[test]
fn tasks_follow_the_room() {
    use mprtc_server::tasks::{FailCode, Failure, TaskState};
    let mut net = Net::new(2);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    net.events(0);
    net.events(1);
    net.run(0, |c, now| c.add_tasks(now, &tasks_req("t1", &[1, 2])))
        .unwrap();
    let (key, spec) = net.tasks.pop().unwrap();
    assert_eq!((key.room.as_str(), key.task_id.as_str()), ("r", "t1"));
    assert!(
        spec.unwrap().inputs.is_empty(),
        "nobody is live yet: the canvas shows"
    );
    // a second add of the same id, an update of an unknown one
    assert_eq!(
        net.run(0, |c, now| c.add_tasks(now, &tasks_req("t1", &[1])))
            .unwrap_err()
            .code,
        ErrorCode::TaskExists
    );
    assert_eq!(
        net.run(0, |c, now| c.update_tasks(now, &tasks_req("t9", &[1])))
            .unwrap_err()
            .code,
        ErrorCode::NoSuchTask
    );
    // member 1 goes live: the task gets its stream
    let url = match net.run(0, |c, now| c.publish(now, Media::BOTH)).unwrap() {
        OpValue::PushUrl(u) => u,
        v => panic!("{v:?}"),
    };
    let (mroom, _) = media_room_of(&url);
    net.tasks.clear();
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    let (_, spec) = net.tasks.pop().expect("inputs changed");
    let spec = spec.unwrap();
    let users = &spec.task.layout.users;
    assert!(
        users[0].push_audio && users[0].push_video,
        "uid 1 is live with both"
    );
    assert!(
        !users[1].push_audio && !users[1].push_video,
        "uid 2 has nothing to mix"
    );
    let inputs = spec.inputs;
    assert_eq!(inputs.iter().map(|i| i.uid).collect::<Vec<_>>(), vec![1]);
    assert!(inputs[0].url.contains(&format!("{mroom}.1?k=play")));
    // update replaces the whole config
    net.run(0, |c, now| c.update_tasks(now, &tasks_req("t1", &[2])))
        .unwrap();
    let (_, spec) = net.tasks.pop().unwrap();
    let spec = spec.unwrap();
    assert_eq!(spec.task.layout.users.len(), 1);
    assert!(spec.inputs.is_empty(), "uid 2 is not live");
    // statuses reach every member once, in order
    let mut out = Vec::new();
    net.hub.task_state(
        &key,
        TaskState::Failed(Failure::new(FailCode::ConnectFailed, "no route")),
        &mut out,
    );
    net.hub.task_state(&key, TaskState::Pushing, &mut out);
    net.hub.task_state(&key, TaskState::Pushing, &mut out);
    deliver(&mut net, out);
    for i in 0..2 {
        let codes: Vec<u16> = net
            .events(i)
            .into_iter()
            .filter_map(|e| match e {
                AppEvent::RtmpTasksStatus { code, .. } => Some(code),
                _ => None,
            })
            .collect();
        assert_eq!(codes, vec![506, 505], "peer {i}");
    }
    // an audience member may not manage tasks
    net.run(1, |c, now| c.set_role(now, Role::Audience))
        .unwrap();
    assert_eq!(
        net.run(1, |c, now| c.delete_tasks(now, r#"{"taskIds": ["t1"]}"#))
            .unwrap_err()
            .code,
        ErrorCode::PermissionDenied
    );
    // the room ends: its tasks end with it
    net.tasks.clear();
    net.run(0, |c, now| c.leave(now)).unwrap();
    net.run(1, |c, now| c.leave(now)).unwrap();
    assert_eq!(net.tasks, vec![(key, None)]);
}

#[test]
fn the_server_ends_sessions_replaced_kicked_and_closed() {
    let mut net = Net::new(3);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    for i in 0..2 {
        net.events(i);
    }
    // uid 1 joins again on another connection: the old session is told and closed.
    let old_sid = net.peers[0].sid.unwrap();
    assert_eq!(net.join(2, "r", 1), Ok(OpValue::Done));
    let ev = net.events(0);
    assert!(
        ev.contains(&AppEvent::Kicked {
            reason: KickReason::Replaced
        }),
        "{ev:?}"
    );
    assert!(
        !ev.iter().any(|e| matches!(e, AppEvent::Disconnect { .. })),
        "not a disconnect: {ev:?}"
    );
    assert!(!net.peers[0].core.is_joined());
    assert!(net.closes.contains(&old_sid));
    assert_eq!(
        net.events(1),
        vec![
            AppEvent::ClientLeave {
                uid: 1,
                reason: LeaveReason::Kicked
            },
            AppEvent::ClientJoin { uid: 1 },
        ]
    );
    // The server API kicks uid 2.
    let mut out = Vec::new();
    assert_eq!(
        net.hub
            .api_kick("dbg", "r", 99, net.now, &mut out)
            .unwrap_err()
            .code,
        ErrorCode::NoSuchMember
    );
    net.hub.api_kick("dbg", "r", 2, net.now, &mut out).unwrap();
    deliver(&mut net, out);
    assert!(net.events(1).contains(&AppEvent::Kicked {
        reason: KickReason::Kicked
    }));
    assert!(net.events(2).contains(&AppEvent::ClientLeave {
        uid: 2,
        reason: LeaveReason::Kicked
    }));
    // The server API closes the room with a task in it: members hear it, the task ends.
    net.run(2, |c, now| c.add_tasks(now, &tasks_req("t1", &[1])))
        .unwrap();
    net.tasks.clear();
    let mut out = Vec::new();
    net.hub
        .api_close_room("dbg", "r", net.now, &mut out)
        .unwrap();
    deliver(&mut net, out);
    assert!(net.events(2).contains(&AppEvent::LiveRoomClose));
    assert!(!net.peers[2].core.is_joined());
    assert_eq!(net.tasks.len(), 1);
    assert_eq!(net.hub.room_count(), 0);
    let mut out = Vec::new();
    assert_eq!(
        net.hub
            .api_close_room("dbg", "r", net.now, &mut out)
            .unwrap_err()
            .code,
        ErrorCode::NoSuchRoom
    );
    // The room can be joined afresh.
    assert_eq!(net.join(1, "r", 2), Ok(OpValue::Done));
}

/// Carry the hub's outputs, then let the network settle.
fn deliver(net: &mut Net, out: Vec<HubOut>) {
    net.carry(out);
    net.pump();
}

#[test]
fn tokens_warn_renew_and_expire() {
    let mut net = Net::new(2).with_app(0, "sec");
    let t0 = net.now / 1000;
    let tok = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        5,
        Privileges::default(),
        t0,
        60,
    );
    net.run(0, |c, now| c.join(now, "r", 5, Some(tok))).unwrap();
    net.peers[1].core = Client::new(ClientConfig::new("sec", "ws://x/ws").unwrap());
    let tok6 = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        6,
        Privileges::default(),
        t0,
        3600,
    );
    net.run(1, |c, now| c.join(now, "r", 6, Some(tok6)))
        .unwrap();
    net.events(0);
    net.events(1);
    let tick = |net: &mut Net, secs: u64| {
        net.now += secs * 1000;
        let mut out = Vec::new();
        net.hub.tick(net.now, &mut out);
        deliver(net, out);
    };
    tick(&mut net, 20);
    assert_eq!(net.events(0), vec![], "not yet");
    tick(&mut net, 15);
    assert_eq!(
        net.events(0),
        vec![AppEvent::TokenWillExpire { remaining_s: 25 }]
    );
    tick(&mut net, 1);
    assert_eq!(net.events(0), vec![], "warned once");
    // a token for another uid is refused; a fresh one for this uid is taken
    let wrong = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        6,
        Privileges::default(),
        net.now / 1000,
        120,
    );
    assert_eq!(
        net.run(0, |c, now| c.renew_token(now, wrong))
            .unwrap_err()
            .code,
        ErrorCode::TokenInvalid
    );
    let fresh = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        5,
        Privileges::default(),
        net.now / 1000,
        120,
    );
    assert_eq!(
        net.run(0, |c, now| c.renew_token(now, fresh)),
        Ok(OpValue::Done)
    );
    tick(&mut net, 60);
    assert_eq!(
        net.events(0),
        vec![],
        "the renewed token holds past the old expiry"
    );
    // never renewed again: warned, then the session ends with a typed reason
    tick(&mut net, 40);
    assert!(matches!(
        net.events(0)[..],
        [AppEvent::TokenWillExpire { .. }]
    ));
    tick(&mut net, 30);
    let ev = net.events(0);
    assert_eq!(
        ev,
        vec![AppEvent::Kicked {
            reason: KickReason::TokenExpired
        }]
    );
    assert!(!net.peers[0].core.is_joined());
    assert_eq!(
        net.events(1),
        vec![AppEvent::ClientLeave {
            uid: 5,
            reason: LeaveReason::Kicked
        }]
    );
    assert!(
        net.peers[1].core.is_joined(),
        "the other member's token is still good"
    );
}

#[test]
fn a_lone_host_replacing_its_session_keeps_the_room_and_its_tasks() {
    let mut net = Net::new(2);
    net.join(0, "r", 1).unwrap();
    net.run(0, |c, now| c.add_tasks(now, &tasks_req("t1", &[1])))
        .unwrap();
    net.tasks.clear();
    // The page is reopened: the same uid joins on a new connection while the old one lingers.
    assert_eq!(net.join(1, "r", 1), Ok(OpValue::Done));
    assert!(net.events(0).contains(&AppEvent::Kicked {
        reason: KickReason::Replaced
    }));
    assert!(
        net.tasks.iter().all(|(_, spec)| spec.is_some()),
        "no task was stopped: {:?}",
        net.tasks
    );
    assert_eq!(net.hub.api_list_tasks("dbg", "r").unwrap().len(), 1);
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

/// The ZEGO dialect's ids and NetEase's mute travel through the real hub: a member joins
/// with its own user id, publishes under its own stream id, mutes; the other sees all of it.
#[test]
fn user_ids_stream_ids_and_mutes_reach_the_others() {
    use mprtc::protocol::names::uid_for_user;
    use mprtc::protocol::UserTag;
    let mut net = Net::new(3);
    let alice = uid_for_user("alice");
    let tag = UserTag {
        id: "alice".into(),
        name: "Alice".into(),
    };
    net.run(0, |c, now| {
        c.join_as(now, "r", alice, None, Some(tag.clone()))
    })
    .unwrap();
    net.join(1, "r", 2).unwrap();
    let url = match net
        .run(0, |c, now| {
            c.publish_as(now, Media::BOTH, Some("alice-cam".into()))
        })
        .unwrap()
    {
        OpValue::PushUrl(u) => u,
        v => panic!("{v:?}"),
    };
    net.events(1);
    net.media(MediaEvent::PublishStarted {
        room: media_room_of(&url).0,
        uid: alice,
    });
    let evs = net.events(1);
    assert_eq!(
        evs[0],
        AppEvent::Identity {
            uid: alice,
            user: Some(tag.clone()),
            stream: Some("alice-cam".into())
        }
    );
    assert_eq!(net.peers[1].core.uid_of_stream("alice-cam"), Some(alice));
    assert_eq!(net.peers[1].core.uid_of_user("alice"), Some(alice));
    // Mute: the other hears it per kind; muting again changes nothing.
    let audio = Media {
        audio: true,
        video: false,
    };
    net.run(0, |c, now| c.mute(now, audio)).unwrap();
    net.run(0, |c, now| c.mute(now, audio)).unwrap();
    let names: Vec<&str> = net.events(1).iter().map(AppEvent::name).collect();
    assert_eq!(names, ["mute-audio"]);
    // A late joiner sees ids and the mute in its snapshot.
    net.join(2, "r", 3).unwrap();
    let names: Vec<&str> = net.events(2).iter().map(AppEvent::name).collect();
    assert_eq!(
        names,
        [
            "open",
            "clientJoin",
            "identity",
            "clientJoin",
            "stream-added",
            "stream-added",
            "mute-audio"
        ]
    );
    // The stream id is the member's own: nobody else may publish under it.
    let taken = net.run(1, |c, now| {
        c.publish_as(now, Media::BOTH, Some("alice-cam".into()))
    });
    assert_eq!(taken.unwrap_err().code, ErrorCode::InvalidParams);
    // A user id must match the uid it claims.
    let mut bad = Net::new(1);
    let forged = UserTag {
        id: "mallory".into(),
        name: String::new(),
    };
    let r = bad.run(0, |c, now| c.join_as(now, "r", alice, None, Some(forged)));
    assert_eq!(r.unwrap_err().code, ErrorCode::InvalidParams);
}

/// A token may name the member by its app-chosen user id.
#[test]
fn a_token_may_name_the_user_id() {
    use mprtc::protocol::names::uid_for_user;
    use mprtc::protocol::UserTag;
    let mut net = Net::new(1).with_app(0, "sec");
    let t0 = net.now / 1000;
    let claims_for = |who: &str| {
        let c = token::Claims {
            app: "sec".into(),
            room: "r".into(),
            uid: who.into(),
            iat: t0,
            exp: t0 + 600,
            privileges: Privileges::default(),
        };
        token::sign(SECRET.as_bytes(), &c)
    };
    let tag = UserTag {
        id: "carol".into(),
        name: String::new(),
    };
    let uid = uid_for_user("carol");
    let wrong = claims_for("dave");
    let r = net.run(0, |c, now| {
        c.join_as(now, "r", uid, Some(wrong), Some(tag.clone()))
    });
    assert_eq!(r.unwrap_err().code, ErrorCode::TokenInvalid);
    let right = claims_for("carol");
    net.run(0, |c, now| {
        c.join_as(now, "r", uid, Some(right), Some(tag.clone()))
    })
    .unwrap();
}
