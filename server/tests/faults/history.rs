//! Each client's whole event history against the server's record of its session.
//!
//! "The last event arrived" (`last_seq == member_seq`) says nothing about the middle: a resume
//! that lost a role change between two stream events would pass it. So the simulation keeps
//! two records, both in `seq` terms:
//!
//! - the server's: every event frame the hub handed the network, per session, recorded at the
//!   server's edge (before the network, or an injected fault, can lose it);
//! - each client's: every event its core applied (the frames after which its `last_seq` moved
//!   to the frame's `seq`), in the order applied, with the session the core was in.
//!
//! The check: per session, the client applied events 1, 2, 3 … in order, none twice and none
//! missing in the middle, each the very event the server sent under that number; only a
//! session's final `kicked` / `roomClosed` may come past a hole (the server keeps just that
//! frame for an ended session). A session the server ended must show its final event to the
//! client, unless the client lost the session otherwise first (it gave up reconnecting, was
//! refused, rejoined afresh, or left). A client still in the room has the session's last event.

use std::collections::{BTreeMap, HashMap, HashSet};

use mprtc::protocol::frame::{body, decode_request, decode_server, ServerFrame};
use mprtc::protocol::{Event, JoinOk, RequestKind};
use mprtc_server::signaling::SessionId;

use crate::Sim;

/// The events the hub sent, per server session, by `seq`.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// Session → seq → event, as sent.
    pub(crate) sent: HashMap<String, BTreeMap<u64, Event>>,
    /// The session each connection carries: from its join answer, or, before that (a
    /// rejoin's final frame of an ended session comes before the refusal), the session the
    /// rejoin named.
    pub(crate) session_of: HashMap<SessionId, String>,
    /// Two different events sent under one seq of one session.
    pub(crate) conflicts: Vec<String>,
}

/// What one client applied and how its sessions ended, as the app saw it.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// (session, seq, event) in the order the core applied them.
    pub(crate) events: Vec<(String, u64, Event)>,
    /// The session the core was last seen in, and the one before it.
    pub(crate) session: Option<String>,
    pub(crate) prev: Option<String>,
    /// Every session the core was seen in.
    pub(crate) all: HashSet<String>,
    /// Sessions the client lost in a way that excuses a missing final event.
    pub(crate) excused: HashSet<String>,
}

/// A session's final event: the server keeps only it once the session has ended.
pub(crate) fn is_final(e: &Event) -> bool {
    matches!(e, Event::Kicked { .. } | Event::RoomClosed {})
}

/// The wire name of an event's kind, for traces and for the injection test.
pub(crate) fn kind(e: &Event) -> &'static str {
    e.wire_name()
}

impl Applied {
    /// The core is in session `s` now (if any).
    pub(crate) fn note(&mut self, s: Option<&str>) {
        if let Some(s) = s {
            if self.session.as_deref() != Some(s) {
                self.prev = self.session.replace(s.to_owned());
                self.all.insert(s.to_owned());
            }
        }
    }
}

impl Record {
    /// A frame the hub sends on connection `sid`: a join answer names the connection's
    /// session, an event goes into that session's record. Returns the event, if it was one.
    pub(crate) fn sent(&mut self, sid: SessionId, frame: &str) -> Option<(u64, Event)> {
        match decode_server(frame) {
            Ok(ServerFrame::Ok { body: b, .. }) => {
                if let Ok(ok) = body::<JoinOk>(&b) {
                    self.session_of.insert(sid, ok.session);
                }
                None
            }
            Ok(ServerFrame::Event { seq, event }) => {
                let session = self.session_of.get(&sid).cloned().unwrap_or_default();
                let kept = self.sent.entry(session.clone()).or_default();
                match kept.get(&seq) {
                    Some(e) if *e != event => self.conflicts.push(format!(
                        "session {session} seq {seq}: {e:?} and then {event:?}"
                    )),
                    _ => {
                        kept.insert(seq, event.clone());
                    }
                }
                Some((seq, event))
            }
            _ => None,
        }
    }

    /// A frame a client sends on `sid`: a rejoin that names its session ties the connection
    /// to it until the answer says otherwise.
    pub(crate) fn up(&mut self, sid: SessionId, frame: &str, session: Option<&str>) {
        if let (Ok((_, RequestKind::Join, _)), Some(s)) = (decode_request(frame), session) {
            self.session_of.insert(sid, s.to_owned());
        }
    }
}

impl Sim {
    /// Hand peer `i`'s core a frame from the server, noting the event it applied, if any.
    pub(crate) fn feed(&mut self, i: usize, frame: &str) {
        let now = self.now;
        let p = &mut self.peers[i];
        let before = (p.core.session().map(str::to_owned), p.core.last_seq());
        let was_in = p.core.is_joined();
        p.core.handle_socket_message(now, frame);
        p.applied.note(p.core.session());
        let Ok(ServerFrame::Event { seq, event }) = decode_server(frame) else {
            return;
        };
        let Some(session) = before.0 else {
            return;
        };
        let moved = p.core.session() == Some(session.as_str()) && p.core.last_seq() == seq;
        let ended = is_final(&event) && was_in && !p.core.is_joined();
        if seq > before.1 && (moved || ended) {
            p.applied.events.push((session, seq, event));
        }
    }

    /// The whole-history check of every client; `Err` says what broke.
    pub(crate) fn check_history(&self) -> Result<(), String> {
        if let Some(c) = self.record.conflicts.first() {
            return Err(format!("the server sent two events under one seq: {c}"));
        }
        for p in &self.peers {
            let me = p.uid;
            let mut by_session: Vec<(&str, Vec<(u64, &Event)>)> = Vec::new();
            for (s, seq, e) in &p.applied.events {
                match by_session.iter_mut().find(|(k, _)| k == s) {
                    Some((_, v)) => v.push((*seq, e)),
                    None => by_session.push((s, vec![(*seq, e)])),
                }
            }
            for (s, got) in &by_session {
                let sent = self.record.sent.get(*s);
                for (n, (seq, e)) in got.iter().enumerate() {
                    let want = n as u64 + 1;
                    let last = n + 1 == got.len();
                    if *seq != want && !(last && is_final(e) && *seq > want) {
                        return Err(format!(
                            "uid {me} session {s}: applied seq {seq} where {want} was due"
                        ));
                    }
                    if sent.and_then(|m| m.get(seq)) != Some(*e) {
                        return Err(format!(
                            "uid {me} session {s} seq {seq}: applied {e:?}, the server sent {:?}",
                            sent.and_then(|m| m.get(seq))
                        ));
                    }
                }
            }
            // A session the server ended must end with its final event for the client.
            for (s, sent) in &self.record.sent {
                let Some((_, fin)) = sent.iter().next_back().filter(|(_, e)| is_final(e)) else {
                    continue;
                };
                let mine = by_session.iter().find(|(k, _)| k == s);
                let seen = mine.is_some_and(|(_, v)| v.last().is_some_and(|(_, e)| *e == fin));
                if p.applied.all.contains(s) && !seen && !p.applied.excused.contains(s) {
                    return Err(format!(
                        "uid {me} session {s}: ended by the server ({}) without telling it",
                        kind(fin)
                    ));
                }
            }
            // Still in the room: everything the session was sent, to the last.
            if let (true, Some(s)) = (p.core.is_joined(), p.core.session()) {
                let last = self
                    .record
                    .sent
                    .get(s)
                    .and_then(|m| m.keys().next_back().copied())
                    .unwrap_or(0);
                let applied = by_session
                    .iter()
                    .find(|(k, _)| *k == s)
                    .and_then(|(_, v)| v.last().map(|(q, _)| *q))
                    .unwrap_or(0);
                if applied != last {
                    return Err(format!(
                        "uid {me} session {s}: applied up to {applied}, sent up to {last}"
                    ));
                }
            }
        }
        Ok(())
    }
}
