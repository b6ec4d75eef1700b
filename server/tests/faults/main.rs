//! Fault injection in virtual time: real SDK cores against the real hub over a simulated
//! network whose frames are in flight (queued) until delivered, so a connection can die at any
//! point of any flow: between a request and its answer, halfway through a burst of events,
//! while a rejoin is on its way. Cuts are seen by both ends, or by neither (the path goes
//! silent and only heartbeats tell). Thousands of seeded runs; after the network heals:
//!
//! - every operation the app started has settled (resolved or rejected), none twice;
//! - the events each app saw are consistent when replayed (no member joins twice, no stream
//!   is added twice or removed when not there: an event delivered twice or lost shows up here),
//!   and they add up to exactly the room the server has;
//! - a client still in the room has applied every event the server sent its session;
//! - a client out of the room is out of it on the server too;
//! - each client's whole event history matches the server's record of its session: in
//!   order, none missing in the middle, none twice ([`history`]).
//!
//! The flows cover every event the server sends: joins and leaves, streams, mutes, roles,
//! push tasks and their statuses, token warnings, renewals and expiry, kicks and room closes,
//! in a debug app and in one whose members need tokens ([`actions`]). [`inject`] proves the
//! history check has teeth: it drops one event of each kind on a resume.
//!
//! This file is the simulated network and the run; [`oracle`] and [`history`] hold the checks.

mod actions;
#[path = "../common/mod.rs"]
mod common;
mod history;
mod inject;
mod oracle;

use std::collections::{BTreeMap, HashMap, VecDeque};

use common::{AUDIO, VIDEO};
use mprtc::core::{Client, ClientConfig, OpId, Output};
use mprtc::protocol::frame::decode_request;
use mprtc::protocol::{Media, RequestKind};
use mprtc_server::media::MediaEvent;
use mprtc_server::signaling::{Hub, HubOut, SessionId};
use mprtc_server::tasks::TaskKey;

/// A client's socket as the simulated network sees it.
#[derive(Debug, Default)]
struct Link {
    /// The server's session of the open socket.
    sid: Option<SessionId>,
    /// A socket being opened, and when it opens (or fails).
    opening_at: Option<u64>,
    /// Client → server frames in flight.
    up: VecDeque<String>,
    /// Server → client frames in flight.
    down: VecDeque<String>,
    /// The path went silent at this time: frames vanish and nobody is told.
    silent_since: Option<u64>,
    /// The server has dropped its end of this (silent) socket.
    server_gone: bool,
    /// The server closed the socket; the client hears of it once it has read what came
    /// before (frames it sends meanwhile are lost).
    closed_by_server: Option<(u16, String)>,
}

struct Peer {
    core: Client,
    uid: u64,
    link: Link,
    /// Server sessions of connections the client gave up on but the server has not yet seen
    /// die (it notices by silence), with when they went silent.
    zombies: Vec<(SessionId, u64)>,
    /// The room as the app would track it from events: uid → live media.
    view: BTreeMap<u64, Media>,
    /// What the app knows the others muted, from `mute-*` / `unmute-*` events.
    muted: BTreeMap<u64, Media>,
    /// Operations started and not yet settled.
    ops: HashMap<OpId, &'static str>,
    /// The phone has no network until then: connects fail.
    offline_until: u64,
    /// The events its core applied, and how its sessions ended.
    applied: history::Applied,
}

struct Sim {
    hub: Hub,
    /// The app the run is in: "dbg" (no tokens) or "sec" (tokens, kick memory, expiry).
    app: &'static str,
    /// Every event frame the hub sent, per session.
    record: history::Record,
    /// An event to drop on a resume (the injection test), and what was dropped.
    inject: Option<inject::Inject>,
    /// The connection whose join is being handled: events the hub sends it now are the
    /// resume's replay (or an ended session's final frame).
    replaying: Option<SessionId>,
    /// Push tasks the hub started, for the supervisor's status reports.
    task_keys: Vec<TaskKey>,
    peers: Vec<Peer>,
    now: u64,
    rng: u64,
    /// Faults are being injected (off while healing).
    faulty: bool,
    /// How long the server waits on a silent connection (ping interval + timeout).
    silence_ms: u64,
    /// `reconnected` events seen: resumed sessions, and new sessions.
    resumed: u64,
    fresh: u64,
    /// Connections lost while in the room.
    drops: u64,
    /// Reconnects a client made because it saw a hole in its events' `seq`.
    gaps: u64,
    restarts: u64,
    seed: u64,
    /// Print every output (`MPRTC_FAULT_SEED=n` runs one seed traced).
    trace: bool,
}

const RESUME_WINDOW_MS: u64 = 30_000;

impl Sim {
    fn new(seed: u64) -> Self {
        let (hub, _) = common::hub();
        let hub = hub
            .with_heartbeat(5_000, 5_000)
            .with_resume_window(RESUME_WINDOW_MS);
        // Every other run in an app whose members need tokens.
        let app = if seed.is_multiple_of(2) { "sec" } else { "dbg" };
        let peers = (1..=4)
            .map(|uid| {
                let mut cfg = ClientConfig::new(app, "ws://x/ws").unwrap();
                cfg.seed = seed ^ uid;
                Peer {
                    core: Client::new(cfg),
                    uid,
                    link: Link::default(),
                    zombies: Vec::new(),
                    view: BTreeMap::new(),
                    muted: BTreeMap::new(),
                    ops: HashMap::new(),
                    offline_until: 0,
                    applied: history::Applied::default(),
                }
            })
            .collect();
        Sim {
            hub,
            app,
            record: history::Record::default(),
            inject: None,
            replaying: None,
            task_keys: Vec::new(),
            peers,
            now: 1_700_000_000_000,
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            faulty: true,
            silence_ms: 10_000,
            resumed: 0,
            fresh: 0,
            drops: 0,
            gaps: 0,
            trace: false,
            restarts: 0,
            seed,
        }
    }

    fn rand(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }

    /// Carry out what peer `i`'s core asked for.
    fn drive(&mut self, i: usize) {
        self.drive_outputs(i);
        if let Some((code, reason)) = self.peers[i].link.closed_by_server.take() {
            self.peers[i].link = Link::default();
            self.peers[i]
                .core
                .handle_socket_close(self.now, code, &reason);
            self.drive_outputs(i);
        }
    }

    fn drive_outputs(&mut self, i: usize) {
        while let Some(o) = self.peers[i].core.poll_output() {
            let now = self.now;
            if self.trace {
                eprintln!("{now} uid {} core: {o:?}", self.peers[i].uid);
            }
            match o {
                Output::Connect { .. } => {
                    let l = &self.peers[i].link;
                    assert!(
                        l.sid.is_none() && l.opening_at.is_none(),
                        "seed {}: uid {}: a second socket while one is open",
                        self.seed,
                        self.peers[i].uid
                    );
                    let delay = 1 + self.rand(300);
                    self.peers[i].link.opening_at = Some(now + delay);
                }
                Output::Send(f) => {
                    let l = &mut self.peers[i].link;
                    if l.closed_by_server.is_some() {
                        continue;
                    }
                    assert!(
                        l.sid.is_some(),
                        "seed {}: sent on a socket that is not open",
                        self.seed
                    );
                    if l.silent_since.is_none() {
                        l.up.push_back(f);
                    }
                }
                Output::Close { code, .. } => self.client_closes(i, code),
                Output::Event(e) => self.app_event(i, e),
                Output::Resolve { op, .. } | Output::Reject { op, .. } => {
                    let p = &mut self.peers[i];
                    let name = p.ops.remove(&op);
                    assert!(
                        name.is_some(),
                        "seed {}: op {op} settled twice or unknown",
                        self.seed
                    );
                    if name == Some("leave") {
                        // Left: whatever the server said to the session after is moot.
                        if let Some(s) = p.applied.session.clone() {
                            p.applied.excused.insert(s);
                        }
                    }
                }
            }
        }
        let p = &mut self.peers[i];
        p.applied.note(p.core.session());
    }

    /// The client closed its socket. On a silent path the server does not hear of it.
    fn client_closes(&mut self, i: usize, code: u16) {
        let now = self.now;
        let l = std::mem::take(&mut self.peers[i].link);
        if let Some(sid) = l.sid {
            match l.silent_since {
                Some(_) if l.server_gone => {}
                Some(since) => self.peers[i].zombies.push((sid, since)),
                // A normal close is a goodbye the server acts on at once.
                None if code == 1000 => {
                    let mut out = Vec::new();
                    self.hub.closed_by_client(sid, now, &mut out);
                    self.route(out);
                }
                None => self.server_drop(sid),
            }
        }
        self.peers[i].core.handle_socket_close(now, 1000, "closed");
    }

    fn server_drop(&mut self, sid: SessionId) {
        let mut out = Vec::new();
        self.hub.disconnect(sid, self.now, &mut out);
        self.route(out);
    }

    /// The hub's outputs, onto the links.
    fn route(&mut self, out: Vec<HubOut>) {
        for o in out {
            if self.trace {
                eprintln!("{} hub: {o:?}", self.now);
            }
            match o {
                HubOut::Send(sid, f) => {
                    let ev = self.record.sent(sid, &f);
                    let Some(f) = self.edge(sid, f, ev) else {
                        continue;
                    };
                    if let Some(p) = self.peers.iter_mut().find(|p| p.link.sid == Some(sid)) {
                        if p.link.silent_since.is_none() {
                            p.link.down.push_back(f);
                        }
                    }
                }
                HubOut::Close { sid, code, reason } => {
                    if let Some(i) = self.peers.iter().position(|p| p.link.sid == Some(sid)) {
                        if self.peers[i].link.silent_since.is_none() {
                            // Frames already sent arrive before the close.
                            let down = std::mem::take(&mut self.peers[i].link.down);
                            for f in down {
                                self.feed(i, &f);
                            }
                            let p = &mut self.peers[i];
                            p.link.up.clear();
                            p.link.closed_by_server = Some((code, reason));
                        } else {
                            // The close is lost on the silent path; the client finds out
                            // by its heartbeat.
                            self.peers[i].link.server_gone = true;
                        }
                    }
                    for p in self.peers.iter_mut() {
                        p.zombies.retain(|(z, _)| *z != sid);
                    }
                }
                HubOut::TaskApply { key, .. } => {
                    if !self.task_keys.contains(&key) {
                        self.task_keys.push(key);
                    }
                }
                HubOut::KickPublisher { .. }
                | HubOut::KickViewer { .. }
                | HubOut::TaskStop { .. }
                | HubOut::Hook(_)
                | HubOut::RecordMember { .. }
                | HubOut::RecordStop { .. } => {}
            }
        }
    }

    fn deliver_up(&mut self, i: usize) -> bool {
        let Some(sid) = self.peers[i].link.sid else {
            return false;
        };
        let Some(f) = self.peers[i].link.up.pop_front() else {
            return false;
        };
        if self.trace {
            eprintln!("{} uid {} up: {f}", self.now, self.peers[i].uid);
        }
        let session = self.peers[i].core.session();
        self.record.up(sid, &f, session);
        let join = matches!(decode_request(&f), Ok((_, RequestKind::Join, _)));
        self.replaying = join.then_some(sid);
        let mut out = Vec::new();
        self.hub.handle_frame(sid, &f, self.now, &mut out);
        self.route(out);
        self.replaying = None;
        true
    }

    fn deliver_down(&mut self, i: usize) -> bool {
        let Some(f) = self.peers[i].link.down.pop_front() else {
            return false;
        };
        if self.trace {
            eprintln!("{} uid {} down: {f}", self.now, self.peers[i].uid);
        }
        self.feed(i, &f);
        true
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        let now = self.now;
        let mut out = Vec::new();
        self.hub.tick(now, &mut out);
        self.route(out);
        // The server drops connections that have been silent too long.
        for i in 0..self.peers.len() {
            let mut dead: Vec<SessionId> = Vec::new();
            let p = &mut self.peers[i];
            p.zombies.retain(|(sid, since)| {
                let gone = now >= since + self.silence_ms;
                if gone {
                    dead.push(*sid);
                }
                !gone
            });
            if let (Some(sid), Some(since)) = (p.link.sid, p.link.silent_since) {
                if now >= since + self.silence_ms && !p.link.server_gone {
                    // Its server end is gone; the client still believes in it.
                    p.link.server_gone = true;
                    dead.push(sid);
                }
            }
            for sid in dead {
                self.server_drop(sid);
            }
        }
        for i in 0..self.peers.len() {
            if let Some(at) = self.peers[i].link.opening_at {
                if now >= at {
                    self.peers[i].link.opening_at = None;
                    let offline = now < self.peers[i].offline_until;
                    if self.faulty && (offline || self.rand(5) == 0) {
                        self.peers[i]
                            .core
                            .handle_socket_close(now, 1006, "connect failed");
                    } else {
                        self.peers[i].link.sid = Some(self.hub.connect());
                        if self.trace {
                            eprintln!(
                                "{now} uid {} on sid {:?}",
                                self.peers[i].uid, self.peers[i].link.sid
                            );
                        }
                        self.peers[i].core.handle_socket_open(now);
                    }
                }
            }
            if self.peers[i].core.poll_timeout().is_some_and(|t| t <= now) {
                self.peers[i].core.handle_timeout(now);
            }
            self.drive(i);
        }
    }

    /// One random thing happens.
    fn step(&mut self) {
        let i = self.rand(4) as usize;
        let now = self.now;
        let media = match self.rand(3) {
            0 => AUDIO,
            1 => VIDEO,
            _ => Media::BOTH,
        };
        match self.rand(27) {
            0..=4 => {
                self.deliver_up(i);
            }
            5..=9 => {
                self.deliver_down(i);
            }
            10 | 11 => {
                let ms = 1 + self.rand(4_000);
                self.advance(ms);
            }
            12 | 13 => self.join(i),
            25 | 26 => self.more(i),
            14 => self.call(i, "leave", |c, now| c.leave(now)),
            15 => self.call(i, "publish", |c, now| c.publish(now, media)),
            16 => self.call(i, "unpublish", |c, now| c.unpublish(now, media)),
            17 => {
                let target = 1 + self.rand(4);
                self.call(i, "subscribe", |c, now| c.subscribe(now, target, media));
            }
            18 | 24 => {
                // The media server sees a pusher start or stop: mostly start for a member
                // that publishes (as a page's `<live-pusher>` would), mostly stop otherwise.
                let uid = 1 + self.rand(4);
                let publishes = !self.peers[uid as usize - 1].core.published().is_empty();
                if let Some(room) = self.hub.media_id(self.app, "r").map(str::to_owned) {
                    let ev = if (self.rand(4) == 0) != publishes {
                        MediaEvent::PublishStarted { room, uid }
                    } else {
                        MediaEvent::PublishStopped { room, uid }
                    };
                    let mut out = Vec::new();
                    self.hub.media_event(ev, now, &mut out);
                    self.route(out);
                }
            }
            19 => {
                // A cut both ends see.
                if let Some(sid) = self.peers[i].link.sid {
                    if self.peers[i].link.silent_since.is_none() {
                        self.peers[i].link = Link::default();
                        self.server_drop(sid);
                        self.peers[i].core.handle_socket_close(now, 1006, "cut");
                    }
                }
            }
            20 => {
                // The path goes silent.
                let l = &mut self.peers[i].link;
                if l.sid.is_some() && l.silent_since.is_none() {
                    l.silent_since = Some(now);
                    l.up.clear();
                    l.down.clear();
                }
            }
            _ => match self.rand(12) {
                0 => {
                    let uid = 1 + self.rand(4);
                    let mut out = Vec::new();
                    let _ = self.hub.api_kick(self.app, "r", uid, now, &mut out);
                    self.route(out);
                }
                1 => self.restart_server(),
                6 => self.call(i, "mute", |c, now| c.mute(now, media)),
                7 => self.call(i, "unmute", |c, now| c.unmute(now, media)),
                8..=10 => self.more(i),
                2..=5 => {
                    // The phone loses its network for a while (a tunnel, a lift).
                    let ms = self.rand(2 * RESUME_WINDOW_MS);
                    self.peers[i].offline_until = now + ms;
                    if let Some(sid) = self.peers[i].link.sid {
                        self.peers[i].link.silent_since.get_or_insert(now);
                        let _ = sid;
                    }
                }
                _ => {}
            },
        }
        for i in 0..self.peers.len() {
            self.drive(i);
        }
    }

    /// The server process restarts: every connection drops, every session is forgotten.
    fn restart_server(&mut self) {
        if self.trace {
            eprintln!("{} server restarts", self.now);
        }
        self.restarts += 1;
        // The new process numbers its connections from 1 again.
        self.record.session_of.clear();
        let (hub, _) = common::hub_with_salt(1000 + self.restarts);
        self.hub = hub
            .with_heartbeat(5_000, 5_000)
            .with_resume_window(RESUME_WINDOW_MS);
        for p in self.peers.iter_mut() {
            p.zombies.clear();
            let l = std::mem::take(&mut p.link);
            if l.sid.is_some() || l.opening_at.is_some() {
                p.core
                    .handle_socket_close(self.now, 1006, "server restarted");
            }
        }
    }

    fn call(
        &mut self,
        i: usize,
        name: &'static str,
        f: impl FnOnce(&mut Client, u64) -> Result<OpId, mprtc::core::Error>,
    ) {
        let now = self.now;
        if let Ok(op) = f(&mut self.peers[i].core, now) {
            self.peers[i].ops.insert(op, name);
        }
    }

    /// Stop injecting faults and let everything settle.
    fn heal(&mut self) {
        self.faulty = false;
        for _ in 0..200 {
            let mut moved = true;
            while moved {
                moved = false;
                for i in 0..self.peers.len() {
                    while self.deliver_up(i) | self.deliver_down(i) {
                        moved = true;
                    }
                    self.drive(i);
                }
            }
            self.advance(1_000);
        }
    }
}

#[test]
fn every_event_exactly_once_after_faults_at_every_point() {
    let runs: u64 = std::env::var("MPRTC_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let (mut resumed, mut fresh, mut drops) = (0, 0, 0);
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    let only: Option<u64> = std::env::var("MPRTC_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok());
    for seed in 1..=runs {
        if only.is_some_and(|o| o != seed) {
            continue;
        }
        let mut sim = Sim::new(seed);
        sim.trace = only.is_some();
        for _ in 0..200 {
            sim.step();
        }
        sim.heal();
        sim.check(seed);
        if let Err(e) = sim.check_history() {
            panic!("seed {seed}: {e}");
        }
        // The server numbers each session's events without holes and a resume replays
        // from the client's mark, so a client never has to recover from one here (the
        // injection test is where holes are made).
        assert_eq!(
            sim.gaps, 0,
            "seed {seed}: a client saw a hole in its events"
        );
        for p in &sim.peers {
            for (_, _, e) in &p.applied.events {
                *kinds.entry(history::kind(e)).or_insert(0u64) += 1;
            }
        }
        resumed += sim.resumed;
        fresh += sim.fresh;
        drops += sim.drops;
    }
    println!(
        "{runs} seeded runs healed and agreed: {drops} connections lost in a room, \
         {resumed} sessions resumed, {fresh} rejoined afresh"
    );
    println!("events applied, by kind: {kinds:?}");
    if only.is_some() {
        return;
    }
    // The runs must exercise both ways back, and every kind of event, or they prove little.
    assert!(
        resumed > runs / 10 && fresh > runs / 10,
        "resumed {resumed}, fresh {fresh}"
    );
    assert_eq!(
        kinds.len(),
        inject::KINDS.len(),
        "every kind of event was applied somewhere: {kinds:?}"
    );
}
