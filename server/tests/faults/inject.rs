//! The history check has teeth: for each kind of event the server sends, one scripted run
//! drops exactly one event of that kind on a resume, at the server → client edge.
//!
//! - Visible (the event vanishes, its `seq` with it): the next event shows a hole, the
//!   client resumes from its last contiguous event and the server sends the lost one again:
//!   the history is complete and the check passes.
//! - Hidden (every later event of the session renumbered one down, so no hole shows): the
//!   client cannot know, and the history check must fail.
//!
//! `kicked` and `roomClosed` are a session's last event: nothing follows them to show a
//! hole, and the server keeps only that frame. Dropping one leaves the client out of the
//! room without knowing why, and the check fails either way.

use mprtc::protocol::frame::{encode_event_body, event_frame};
use mprtc::protocol::{Event, KickReason};
use mprtc_server::media::MediaEvent;
use mprtc_server::signaling::SessionId;
use mprtc_server::tasks::TaskState;

use crate::common::{AUDIO, VIDEO};
use crate::history::{is_final, kind};
use crate::Sim;

/// Every kind of event the server sends. The fault runs fail if they apply one not listed
/// here, so a new kind cannot join the protocol without a script below.
pub(crate) const KINDS: [&str; 10] = [
    "member-joined",
    "member-left",
    "stream-added",
    "stream-removed",
    "mute-changed",
    "role-changed",
    "task-status",
    "token-will-expire",
    "kicked",
    "room-closed",
];

/// An event to drop on a resume.
#[derive(Debug)]
pub(crate) struct Inject {
    /// Its kind.
    kind: &'static str,
    /// Renumber the session's later events so that no hole shows.
    hidden: bool,
    /// Drop that event from every replay, not just the first: a hole the server cannot fill.
    every: bool,
    /// The session and seq dropped, once it was.
    done: Option<(String, u64)>,
}

impl Sim {
    /// A frame the hub sends on `sid` reaches the network, or is dropped (`None`), or is
    /// renumbered, as the injection says. `ev` is the event it carries, if any.
    pub(crate) fn edge(
        &mut self,
        sid: SessionId,
        frame: String,
        ev: Option<(u64, Event)>,
    ) -> Option<String> {
        let (Some(inj), Some((seq, e))) = (self.inject.as_mut(), ev) else {
            return Some(frame);
        };
        let session = self.record.session_of.get(&sid).cloned();
        let session = session.unwrap_or_default();
        match &inj.done {
            None if self.replaying == Some(sid) && kind(&e) == inj.kind => {
                inj.done = Some((session, seq));
                None
            }
            Some((s, q))
                if inj.every && self.replaying == Some(sid) && (s, q) == (&session, &seq) =>
            {
                None
            }
            Some((s, q)) if inj.hidden && *s == session && seq > *q => {
                Some(event_frame(seq - 1, &encode_event_body(&e)))
            }
            _ => Some(frame),
        }
    }

    /// Deliver every frame in flight until nothing moves; no time passes.
    fn settle(&mut self) {
        let mut moved = true;
        while moved {
            moved = false;
            for i in 0..self.peers.len() {
                // What the core asked for reaches its link first.
                self.drive(i);
                while self.deliver_up(i) | self.deliver_down(i) {
                    moved = true;
                }
                self.drive(i);
            }
        }
    }

    /// The media server sees uid `uid`'s pusher start (or stop).
    fn pusher(&mut self, uid: u64, started: bool) {
        let room = self.hub.media_id(self.app, "r").unwrap().to_owned();
        let ev = if started {
            MediaEvent::PublishStarted { room, uid }
        } else {
            MediaEvent::PublishStopped { room, uid }
        };
        let mut out = Vec::new();
        self.hub.media_event(ev, self.now, &mut out);
        self.route(out);
    }

    /// Peer 0 (uid 1) in the secure app's room with uids 2 and 3, its connection cut while
    /// one event of `what` and then a mute of uid 2 happen; then it comes back and resumes.
    /// Returns the run, healed, with the injection `inject` (if any) applied on the way.
    fn scripted(what: &'static str, inject: Option<Inject>) -> Sim {
        let mut sim = Sim::new(2);
        assert_eq!(sim.app, "sec");
        sim.faulty = false;
        // uid 1's token is due for its expiry warning 3 s after the start.
        let ttl = if what == "token-will-expire" {
            33
        } else {
            3_600
        };
        for i in 0..3 {
            let t = sim.mint(i, if i == 0 { ttl } else { 3_600 }, true);
            sim.join_with(i, Some(t));
            sim.open_now(i);
        }
        // What must be there before: a live stream to remove, a task to report on.
        match what {
            "stream-removed" => {
                sim.call(1, "publish", |c, now| c.publish(now, AUDIO));
                sim.settle();
                sim.pusher(2, true);
            }
            "task-status" => {
                let body = crate::actions::tasks_req("t0", &[2]);
                sim.call(1, "addTasks", |c, now| c.add_tasks(now, &body));
            }
            _ => {}
        }
        sim.settle();
        assert!((0..3).all(|i| sim.peers[i].core.is_joined()));
        // The cut; the client's retry waits for time to pass, which it does not until the
        // events below have happened.
        let now = sim.now;
        let sid = sim.peers[0].link.sid.take().unwrap();
        sim.peers[0].link = Default::default();
        sim.server_drop(sid);
        sim.peers[0].core.handle_socket_close(now, 1006, "cut");
        sim.drive(0);
        sim.inject = inject;
        let mut out = Vec::new();
        match what {
            "member-joined" => {
                let t = sim.mint(3, 3_600, true);
                sim.join_with(3, Some(t));
                sim.open_now(3);
            }
            "member-left" => sim.call(2, "leave", |c, now| c.leave(now)),
            "stream-added" => {
                sim.call(1, "publish", |c, now| c.publish(now, VIDEO));
                sim.settle();
                sim.pusher(2, true);
            }
            "stream-removed" => sim.pusher(2, false),
            "mute-changed" => sim.call(1, "mute", |c, now| c.mute(now, VIDEO)),
            "role-changed" => sim.call(1, "setRole", |c, now| {
                c.set_role(now, mprtc::protocol::Role::Audience)
            }),
            "task-status" => {
                let key = sim.task_keys[0].clone();
                sim.hub.task_state(&key, TaskState::Pushing, &mut out);
            }
            "token-will-expire" => {
                // Only the server's clock moves: the client's retry still waits.
                sim.now += 3_000;
                sim.hub.tick(sim.now, &mut out);
            }
            "kicked" => sim.hub.api_kick(sim.app, "r", 1, now, &mut out).unwrap(),
            "room-closed" => sim.hub.api_close_room(sim.app, "r", now, &mut out).unwrap(),
            other => panic!("no script for {other}"),
        }
        sim.route(out);
        sim.settle();
        // The event that shows a hole behind the one dropped (uid 3 mutes; uid 2 when it
        // is uid 3 that left).
        if !matches!(what, "kicked" | "room-closed") {
            let by = if what == "member-left" { 1 } else { 2 };
            sim.call(by, "mute", |c, now| c.mute(now, AUDIO));
            sim.settle();
        }
        // Back: uid 1 resumes (and resumes again if it finds a hole).
        for _ in 0..30 {
            sim.advance(500);
            sim.settle();
        }
        assert!(!sim.peers[0].core.is_reconnecting());
        sim
    }

    /// Open the socket peer `i` asked for at once, and let the frames settle.
    fn open_now(&mut self, i: usize) {
        if self.peers[i].link.opening_at.take().is_some() {
            self.peers[i].link.sid = Some(self.hub.connect());
            self.peers[i].core.handle_socket_open(self.now);
            self.drive(i);
        }
        self.settle();
    }
}

/// Was an event of `what` with this seq applied by uid 1 in that session?
fn recovered(sim: &Sim, session: &str, seq: u64, what: &str) -> bool {
    sim.peers[0]
        .applied
        .events
        .iter()
        .any(|(s, q, e)| s == session && *q == seq && kind(e) == what)
}

#[test]
fn a_dropped_event_of_any_kind_is_recovered_when_seen_and_caught_when_hidden() {
    for what in KINDS {
        // Unharmed, the run passes every check.
        let sim = Sim::scripted(what, None);
        sim.check(0);
        sim.check_history()
            .unwrap_or_else(|e| panic!("{what}, no fault: {e}"));

        for hidden in [false, true] {
            let inject = Inject {
                kind: what,
                hidden,
                every: false,
                done: None,
            };
            let sim = Sim::scripted(what, Some(inject));
            let (session, seq) = sim
                .inject
                .as_ref()
                .unwrap()
                .done
                .clone()
                .unwrap_or_else(|| {
                    panic!("{what}: no event of that kind came on the resume to drop")
                });
            let verdict = sim.check_history();
            let terminal = matches!(what, "kicked" | "room-closed");
            if hidden || terminal {
                assert!(
                    verdict.is_err(),
                    "{what} dropped (hidden: {hidden}): the history check did not notice"
                );
                assert_eq!(sim.gaps, 0, "{what}: nothing showed the client a hole");
            } else {
                assert_eq!(sim.gaps, 1, "{what}: the client saw the hole once");
                verdict.unwrap_or_else(|e| panic!("{what}, dropped in view: {e}"));
                assert!(
                    recovered(&sim, &session, seq, what),
                    "{what}: seq {seq} was never applied"
                );
                sim.check(0);
            }
        }
    }
}

/// Regression: a member of an app with tokens, kicked by the API while its connection was
/// down, rejoins with a token issued before the kick. The hub used to answer with the kick
/// memory's 4012 before looking at the ended session, so the final `kicked` never reached
/// the client (it saw a bare `disconnect`).
#[test]
fn a_member_kicked_while_away_hears_kicked_on_its_rejoin() {
    let sim = Sim::scripted("kicked", None);
    let last = sim.peers[0]
        .applied
        .events
        .last()
        .map(|(_, _, e)| e.clone());
    assert_eq!(
        last,
        Some(Event::Kicked {
            reason: KickReason::Kicked
        })
    );
    assert!(is_final(&last.unwrap()));
    assert!(!sim.peers[0].core.is_joined());
}

/// A hole the server cannot fill (the same event missing from every replay): the client
/// resumes once, sees the hole again, and joins afresh; the snapshot brings the room as the
/// server has it, and the abandoned session needs nothing more.
#[test]
fn a_hole_that_comes_back_ends_in_a_fresh_session_that_agrees_with_the_server() {
    for what in [
        "member-joined",
        "stream-added",
        "role-changed",
        "task-status",
    ] {
        let inject = Inject {
            kind: what,
            hidden: false,
            every: true,
            done: None,
        };
        let sim = Sim::scripted(what, Some(inject));
        let (session, _) = sim.inject.as_ref().unwrap().done.clone().unwrap();
        let p = &sim.peers[0];
        assert!(p.core.is_joined(), "{what}: still in the room");
        assert_ne!(
            p.core.session(),
            Some(session.as_str()),
            "{what}: a new session"
        );
        sim.check(0);
        sim.check_history()
            .unwrap_or_else(|e| panic!("{what}, a hole that stays: {e}"));
    }
}
