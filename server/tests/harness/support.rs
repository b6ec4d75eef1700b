//! The fixtures every harness test shares: a [`Net`] of real SDK cores ([`Peer`]s) around one
//! real [`Hub`], carried in memory and in virtual time, and the small helpers around it.

use std::collections::HashMap;
use std::sync::Arc;

use mprtc::core::{AppEvent, Client, ClientConfig, Error, MediaKind, OpId, OpValue, Output};
use mprtc::protocol::frame::{decode_server, encode_request};
use mprtc::protocol::{ErrorCode, JoinReq, Media, PingReq, RequestKind, Resume, Role, ServerFrame};
use mprtc_server::media::{MediaEvent, MediaSigner};
use mprtc_server::signaling::{Hub, HubOut, SessionId};
use mprtc_server::tasks::{TaskKey, TaskSpec};

use crate::common::{self, VIDEO};

pub(crate) struct Peer {
    pub(crate) core: Client,
    pub(crate) sid: Option<SessionId>,
    pub(crate) events: Vec<AppEvent>,
    pub(crate) phases: Vec<AppEvent>,
    pub(crate) results: HashMap<OpId, Result<OpValue, Error>>,
}

pub(crate) struct Net {
    pub(crate) hub: Hub,
    pub(crate) signer: Arc<MediaSigner>,
    pub(crate) peers: Vec<Peer>,
    pub(crate) kicks: Vec<(String, u64)>,
    pub(crate) tasks: Vec<(TaskKey, Option<TaskSpec>)>,
    pub(crate) closes: Vec<SessionId>,
    pub(crate) now: u64,
}

impl Peer {
    /// A core of the debug app, not connected yet.
    pub(crate) fn new() -> Self {
        Peer {
            core: Client::new(ClientConfig::new("dbg", "ws://x/ws").unwrap()),
            sid: None,
            events: vec![],
            phases: vec![],
            results: HashMap::new(),
        }
    }
}

impl Net {
    pub(crate) fn new(n: usize) -> Self {
        let (hub, signer) = common::hub();
        let peers = (0..n).map(|_| Peer::new()).collect();
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

    pub(crate) fn with_app(mut self, i: usize, key: &str) -> Self {
        self.peers[i].core = Client::new(ClientConfig::new(key, "ws://x/ws").unwrap());
        self
    }

    /// Carry every output until nothing moves.
    pub(crate) fn pump(&mut self) {
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

    pub(crate) fn run(
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

    pub(crate) fn join(&mut self, i: usize, room: &str, uid: u64) -> Result<OpValue, Error> {
        self.run(i, |c, now| c.join(now, room, uid, None))
    }

    /// Peer `i` publishes `media`: the push URL it is given (a refusal fails the test).
    pub(crate) fn publish(&mut self, i: usize, media: Media) -> String {
        match self.run(i, |c, now| c.publish(now, media)) {
            Ok(OpValue::PushUrl(u)) => u,
            other => panic!("{other:?}"),
        }
    }

    pub(crate) fn media(&mut self, ev: MediaEvent) {
        let mut out = Vec::new();
        self.hub.media_event(ev, self.now, &mut out);
        deliver(self, out);
    }

    /// Carry the hub's outputs: frames to the peers' cores, the rest into the records.
    pub(crate) fn carry(&mut self, out: Vec<HubOut>) {
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
                // Webhooks are checked through the binary (tests/webhooks.rs), member
                // recordings too (tests/member_recording.rs).
                HubOut::Hook(_) | HubOut::RecordMember { .. } | HubOut::RecordStop { .. } => {}
            }
        }
    }

    pub(crate) fn events(&mut self, i: usize) -> Vec<AppEvent> {
        std::mem::take(&mut self.peers[i].events)
    }

    /// Peer `i` does not reconnect: a lost connection ends its session.
    pub(crate) fn no_reconnect(mut self, i: usize) -> Self {
        let mut cfg = ClientConfig::new("dbg", "ws://x/ws").unwrap();
        cfg.reconnect.give_up_after_ms = 0;
        self.peers[i].core = Client::new(cfg);
        self
    }

    /// Peer `i`'s connection dies under both ends.
    pub(crate) fn cut(&mut self, i: usize) {
        let mut out = Vec::new();
        if let Some(sid) = self.peers[i].sid.take() {
            self.hub.disconnect(sid, self.now, &mut out);
        }
        self.peers[i].core.handle_socket_close(self.now, 1006, "");
        self.carry(out);
        self.pump();
    }

    /// Let `ms` pass: the hub's and every core's timers run.
    pub(crate) fn advance(&mut self, ms: u64) {
        self.now += ms;
        let mut out = Vec::new();
        self.hub.tick(self.now, &mut out);
        self.carry(out);
        for p in self.peers.iter_mut() {
            p.core.handle_timeout(self.now);
        }
        self.pump();
    }

    /// The media id of room "r", read from a push URL minted for it (None when the room is empty).
    pub(crate) fn hub_media_room(&mut self) -> Option<String> {
        let i = self
            .peers
            .iter()
            .position(|p| p.core.is_joined() && p.core.role() == Role::Broadcaster)?;
        let url = match self.run(i, |c, now| c.publish(now, VIDEO)) {
            Ok(OpValue::PushUrl(u)) => u,
            _ => return None,
        };
        Some(media_room_of(&url).0)
    }
}

/// The media room id and the uid a push or play URL names (`…/<room>.<uid>?…`).
pub(crate) fn media_room_of(url: &str) -> (String, u64) {
    let path = url.split('?').next().unwrap();
    let name = path.rsplit('/').next().unwrap();
    let (room, uid) = name.split_once('.').unwrap();
    (room.to_string(), uid.parse().unwrap())
}

/// What the others hear when `uid`'s audio and video start: audio first.
pub(crate) fn streams_added(uid: u64) -> Vec<AppEvent> {
    vec![
        AppEvent::StreamAdded {
            uid,
            media: MediaKind::Audio,
        },
        AppEvent::StreamAdded {
            uid,
            media: MediaKind::Video,
        },
    ]
}

/// What the others hear when `uid`'s audio and video stop: audio first.
pub(crate) fn streams_removed(uid: u64) -> Vec<AppEvent> {
    vec![
        AppEvent::StreamRemoved {
            uid,
            media: MediaKind::Audio,
        },
        AppEvent::StreamRemoved {
            uid,
            media: MediaKind::Video,
        },
    ]
}

/// `{rtmpTasks: [...]}` as JSON text, the way the SDK forwards an app's object.
pub(crate) fn tasks_req(id: &str, uids: &[u64]) -> String {
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

/// Carry the hub's outputs, then let the network settle.
pub(crate) fn deliver(net: &mut Net, out: Vec<HubOut>) {
    net.carry(out);
    net.pump();
}

impl Net {
    /// [`Net::new`] around a hub `tune` adjusted (limits, resume window), its signer kept.
    pub(crate) fn tuned(n: usize, tune: impl FnOnce(Hub) -> Hub) -> Self {
        let net = Net::new(n);
        Net {
            hub: tune(net.hub),
            ..net
        }
    }

    /// The first `k` peers join room "r" as uids 1, 2, ...; their events so far are read.
    pub(crate) fn joined(mut self, k: usize) -> Self {
        for i in 0..k {
            self.join(i, "r", i as u64 + 1).unwrap();
        }
        for i in 0..k {
            self.events(i);
        }
        self
    }

    /// Peer `i` publishes `media` and the media server admits its pusher: the media room id.
    /// What the others heard of it is left for the test to read.
    pub(crate) fn go_live(&mut self, i: usize, media: Media) -> String {
        let url = self.publish(i, media);
        let (room, uid) = media_room_of(&url);
        self.media(MediaEvent::PublishStarted {
            room: room.clone(),
            uid,
        });
        room
    }

    /// Peer `i` calls `f`, which must be refused: the code it was refused with.
    pub(crate) fn refused(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Client, u64) -> Result<OpId, Error>,
    ) -> ErrorCode {
        match self.run(i, f) {
            Err(e) => e.code,
            Ok(v) => panic!("expected a refusal, got {v:?}"),
        }
    }
}

/// One raw frame from connection `sid` straight into `hub` at `now`, the way a client that is
/// not the SDK would send it: the frames the hub wrote back to that connection, decoded, and
/// everything else it asked for.
pub(crate) fn raw(
    hub: &mut Hub,
    sid: SessionId,
    frame: &str,
    now: u64,
) -> (Vec<ServerFrame>, Vec<HubOut>) {
    let mut out = Vec::new();
    hub.handle_frame(sid, frame, now, &mut out);
    let mut mine = Vec::new();
    let mut rest = Vec::new();
    for o in out {
        match o {
            HubOut::Send(s, text) if s == sid => mine.push(decode_server(&text).unwrap()),
            o => rest.push(o),
        }
    }
    (mine, rest)
}

/// A `join` request frame for `app`/`room` as `uid` with `token`, resuming `resume` when given.
pub(crate) fn join_frame(
    id: u32,
    app: &str,
    room: &str,
    uid: u64,
    token: Option<String>,
    resume: Option<Resume>,
) -> String {
    let req = JoinReq {
        appkey: app.into(),
        room: room.into(),
        uid,
        token,
        role: Role::Broadcaster,
        sdk: String::new(),
        resume,
        user: None,
        record: Media::NONE,
    };
    encode_request(id, RequestKind::Join, &req)
}

/// A `ping` request frame.
pub(crate) fn ping_frame(id: u32) -> String {
    encode_request(id, RequestKind::Ping, &PingReq { ts: 1 })
}

/// The code of a refusal frame, and the request it answers (`None`: one the server could not
/// attribute, such as a rate-limit notice).
pub(crate) fn refusal(f: &ServerFrame) -> (Option<u32>, ErrorCode) {
    match f {
        ServerFrame::Err { re, err } => (*re, err.code),
        f => panic!("expected a refusal, got {f:?}"),
    }
}

/// Whether `f` is the successful answer to request `id`.
pub(crate) fn is_ok_to(f: &ServerFrame, id: u32) -> bool {
    matches!(f, ServerFrame::Ok { re, .. } if *re == id)
}
