//! Losing the connection and getting it back: reconnect with backoff, rejoin asking to resume
//! the session, and restore what a fresh session does not know; also ending it for good.

use crate::prelude::*;

use super::requests::{Pend, Pending};
use super::room::{heartbeat_ms, member_map};
use super::{
    Client, Conn, HEARTBEAT_CLOSE_CODE, LEAVE_CLOSE_CODE, LOST_CLOSE_CODE, RECONNECT_CLOSE_CODE,
};
use crate::core::error::Error;
use crate::core::output::{AppEvent, OpValue, Output};
use crate::core::reconnect::{next_retry, DropCause, GiveUpReason, Retry};
use crate::protocol::*;
use crate::text::{cat, num};

/// How long a reconnect waits for the old socket's close event before opening the new one
/// anyway (WeChat allows 5 sockets per mini-program; a close that never reports must not
/// wedge reconnecting).
pub(super) const CLOSE_GRACE_MS: u64 = 2_000;

/// The connection is lost and the core is getting the session back.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reconnecting {
    /// Retries made so far.
    pub(super) attempt: u32,
    /// When the connection was lost.
    pub(super) since: u64,
    /// When to open the next socket; `None` while an attempt is under way.
    pub(super) next_at: Option<u64>,
    /// When the core last asked a socket to close (the next one waits for its close event).
    pub(super) close_asked: Option<u64>,
}

impl Client {
    pub(super) fn check_connection_now(&mut self, now: u64) {
        if let Some(r) = self.reconnect.as_mut() {
            if r.next_at.is_some() {
                r.next_at = Some(now);
            }
        } else if let Some(j) = self.joined.as_mut() {
            j.next_ping = now;
        }
        self.handle_timeout(now);
    }

    /// The connection is gone (`conn` is already `Idle` or `Closing`). Out of a room this fails
    /// whatever was asked; in a room the core keeps the room's state and reconnects, unless the
    /// policy says to stop.
    pub(super) fn connection_lost(&mut self, now: u64, cause: DropCause, code: u16, msg: &str) {
        self.pending
            .retain(|p| !matches!(p.what, Pend::Ping { .. } | Pend::Rejoin));
        if self.joined.is_none() {
            self.fail_all(ErrorCode::ConnectionLost, msg);
            return;
        }
        if let Some(p) = self.take_leave() {
            // Leaving anyway: the server drops the session when it notices.
            self.teardown(ErrorCode::Cancelled, "left the room");
            self.resolve(p.op, OpValue::Done);
            return;
        }
        let first = self.reconnect.is_none();
        let (attempt, since) = self
            .reconnect
            .map_or((0, now), |r| (r.attempt + 1, r.since));
        let retry = next_retry(
            &self.cfg.reconnect,
            attempt,
            now.saturating_sub(since),
            cause,
            self.rng.next_u32(),
        );
        match retry {
            Retry::After(delay) => {
                let close_asked = (self.conn == Conn::Closing).then_some(now);
                self.reconnect = Some(Reconnecting {
                    attempt,
                    since,
                    next_at: Some(now + delay),
                    close_asked,
                });
                if first {
                    // Component recoveries in flight are dropped: after a fresh rejoin the core
                    // republishes and resubscribes anyway, and after a resume the component's
                    // next failure report asks again.
                    if let Some(j) = self.joined.as_mut() {
                        j.push_recovering = false;
                        j.pull_recovering.clear();
                    }
                    self.pending
                        .retain(|p| !matches!(p.what, Pend::Republish | Pend::Resubscribe { .. }));
                }
                self.out.push_back(Output::Event(AppEvent::WillReconnect {
                    count: attempt + 1,
                    gap: cause == DropCause::EventGap,
                }));
            }
            Retry::GiveUp(GiveUpReason::Disabled) => {
                self.teardown(ErrorCode::ConnectionLost, msg);
                self.out.push_back(Output::Event(AppEvent::Disconnect {
                    code,
                    reason: msg.to_owned(),
                }));
            }
            Retry::GiveUp(why) => {
                let (attempts, elapsed_ms) = match why {
                    GiveUpReason::TimeUp {
                        attempts,
                        elapsed_ms,
                    } => (attempts, elapsed_ms),
                    _ => (attempt, now.saturating_sub(since)),
                };
                let text = cat(&[
                    "gave up reconnecting after ",
                    &num(attempts.into()),
                    " attempts in ",
                    &num(elapsed_ms),
                    " ms: ",
                    msg,
                ]);
                self.teardown(ErrorCode::ReconnectFailed, &text);
                self.out.push_back(Output::Event(AppEvent::ReconnectFailed {
                    attempts,
                    elapsed_ms,
                }));
                self.out
                    .push_back(Output::Event(AppEvent::Disconnect { code, reason: text }));
            }
        }
    }

    /// Open the next socket if a reconnect is due (and the last one has closed).
    pub(super) fn maybe_reconnect(&mut self, now: u64) {
        let Some(r) = self.reconnect else {
            return;
        };
        let Some(at) = r.next_at else {
            return;
        };
        let wait_close = match (self.conn, r.close_asked) {
            (Conn::Closing, Some(asked)) => asked + CLOSE_GRACE_MS,
            (Conn::Closing, None) => now,
            _ => 0,
        };
        if now < at.max(wait_close) || matches!(self.conn, Conn::Open | Conn::Connecting { .. }) {
            return;
        }
        let Some(j) = self.joined.as_ref() else {
            return;
        };
        let req = JoinReq {
            appkey: self.cfg.appkey.clone(),
            room: j.room.clone(),
            uid: j.uid,
            token: j.token.clone(),
            role: j.role,
            sdk: self.cfg.sdk.clone(),
            resume: (!j.fresh).then(|| Resume {
                session: j.session.clone(),
                last_seq: j.last_seq,
            }),
            user: j.user.clone(),
            record: self.join_record,
        };
        self.reconnect = Some(Reconnecting {
            next_at: None,
            close_asked: None,
            ..r
        });
        self.conn = Conn::Connecting {
            deadline: now + self.cfg.connect_timeout_ms,
        };
        self.out.push_back(Output::Connect {
            url: self.cfg.server.clone(),
        });
        let (req, frame) = self.send(RequestKind::Join, &req);
        self.pending.push(Pending {
            req,
            op: 0,
            what: Pend::Rejoin,
            deadline: now + self.cfg.connect_timeout_ms + self.cfg.request_timeout_ms,
            frame,
        });
    }

    /// The server answered the rejoin. Resumed: the missed events follow. A new session: the
    /// app sees the difference between what it knew and the snapshot as ordinary events, and
    /// the core restores the role (sent with the rejoin), publication and subscriptions.
    pub(super) fn rejoined(&mut self, now: u64, ok: JoinOk) {
        self.reconnect = None;
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        j.ping_interval = heartbeat_ms(ok.ping_interval_ms);
        j.ping_timeout = heartbeat_ms(ok.ping_timeout_ms);
        j.next_ping = now.saturating_add(j.ping_interval);
        self.out.push_back(Output::Event(AppEvent::Reconnected {
            resumed: ok.resumed,
        }));
        j.fresh = false;
        if ok.resumed {
            return;
        }
        let new = member_map(&ok.members);
        let old = ::core::mem::replace(&mut j.members, new.clone());
        j.session = ok.session;
        j.last_seq = ok.seq;
        j.gap_at = None;
        j.role = ok.role;
        self.role = ok.role;
        for (uid, o) in &old {
            if !new.contains_key(uid) {
                if let Some(j) = self.joined.as_mut() {
                    j.forget_member(*uid);
                }
                self.stream_events(*uid, o.live, false);
                self.out.push_back(Output::Event(AppEvent::ClientLeave {
                    uid: *uid,
                    reason: LeaveReason::ConnectionLost,
                }));
            }
        }
        for (uid, n) in &new {
            match old.get(uid) {
                None => {
                    self.identity(*uid, n);
                    self.out
                        .push_back(Output::Event(AppEvent::ClientJoin { uid: *uid }));
                    self.stream_events(*uid, n.live, true);
                    self.mute_events(*uid, n.muted, true);
                }
                Some(o) => {
                    if o.role != n.role {
                        self.out.push_back(Output::Event(AppEvent::RoleChanged {
                            uid: *uid,
                            role: n.role,
                        }));
                    }
                    self.stream_events(*uid, o.live.minus(n.live), false);
                    self.stream_events(*uid, n.live.minus(o.live), true);
                    self.mute_events(*uid, o.muted.minus(n.muted), false);
                    self.mute_events(*uid, n.muted.minus(o.muted), true);
                }
            }
        }
        // Restore what this member had: the new session knows none of it.
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        let republish = !j.published.is_empty() && j.role == Role::Broadcaster;
        if !republish {
            j.published = Media::NONE;
        }
        let subs: Vec<(u64, Media)> = ::core::mem::take(&mut j.subs)
            .into_iter()
            .filter(|(uid, _)| new.contains_key(uid))
            .collect();
        j.subs = subs.clone();
        let muted = j.muted;
        if republish {
            self.republish(now);
        }
        if !muted.is_empty() {
            let req = MuteReq {
                media: muted,
                muted: true,
            };
            self.internal_request(now, RequestKind::Mute, &req, Pend::Remute);
        }
        for (uid, media) in subs {
            // `subs` holds only uids `new` has (filtered above).
            if new
                .get(&uid)
                .is_none_or(|m| m.live.intersect(media).is_empty())
            {
                continue;
            }
            self.resubscribe(now, uid, media);
        }
    }

    /// The server refused the rejoin (or did not answer it).
    pub(super) fn rejoin_failed(&mut self, now: u64, err: Error) {
        match err.code {
            // The session's final event came just before; it already ended everything.
            ErrorCode::SessionEnded => {
                if self.joined.is_some() {
                    self.teardown(ErrorCode::Cancelled, "the session was ended by the server");
                }
            }
            ErrorCode::Timeout => {
                self.close_socket_with(RECONNECT_CLOSE_CODE, "rejoin timeout");
                self.connection_lost(now, DropCause::RejoinTimeout, LOST_CLOSE_CODE, &err.message);
            }
            ErrorCode::LimitExceeded | ErrorCode::Internal => {
                self.close_socket_with(RECONNECT_CLOSE_CODE, "rejoin refused");
                let cause = DropCause::RejoinRefused(err.code.as_u16());
                self.connection_lost(now, cause, LOST_CLOSE_CODE, &err.message);
            }
            ErrorCode::TokenExpired => {
                self.teardown(ErrorCode::TokenExpired, &err.message);
                self.kicked(KickReason::TokenExpired);
            }
            _ => {
                let text = cat(&["the server refused the rejoin: ", &err.message]);
                self.teardown(ErrorCode::ReconnectFailed, &text);
                self.out.push_back(Output::Event(AppEvent::Disconnect {
                    code: err.code.as_u16(),
                    reason: text,
                }));
            }
        }
    }

    /// Close the socket for good: the server takes a normal close as goodbye and lets the
    /// member go at once.
    pub(super) fn close_socket(&mut self, reason: &str) {
        self.close_socket_with(LEAVE_CLOSE_CODE, reason);
    }

    pub(super) fn close_socket_with(&mut self, code: u16, reason: &str) {
        if matches!(self.conn, Conn::Open | Conn::Connecting { .. }) {
            self.conn = Conn::Closing;
            self.out.push_back(Output::Close {
                code,
                reason: reason.into(),
            });
        }
    }

    /// An event skipped past the next `seq`: one in between was lost (on a resume's replay, or
    /// by a server that skipped one). The core drops the connection and resumes from the last
    /// event it applied, so the server sends the missing ones again. A second hole at the same
    /// place means the server cannot fill it (it no longer has the event): the next rejoin
    /// asks for a fresh session, whose snapshot the app sees as ordinary events.
    pub(super) fn event_gap(&mut self, now: u64) {
        if let Some(j) = self.joined.as_mut() {
            j.fresh = j.gap_at == Some(j.last_seq);
            j.gap_at = Some(j.last_seq);
        }
        self.close_socket_with(RECONNECT_CLOSE_CODE, "event gap");
        self.connection_lost(
            now,
            DropCause::EventGap,
            LOST_CLOSE_CODE,
            "a room event was missed",
        );
    }

    /// A heartbeat went unanswered: the connection is dead even if the socket says nothing.
    pub(super) fn connection_dead(&mut self, now: u64) {
        self.close_socket_with(RECONNECT_CLOSE_CODE, "heartbeat timeout");
        self.connection_lost(
            now,
            DropCause::HeartbeatTimeout,
            HEARTBEAT_CLOSE_CODE,
            "heartbeat timeout: the connection is dead",
        );
    }

    /// The server ended the session: nothing pending can succeed, and the socket's close that
    /// follows is expected, not a disconnect.
    pub(super) fn session_over(&mut self, why: &str) {
        self.fail_all(ErrorCode::Cancelled, why);
        self.close_socket(why);
    }

    pub(super) fn teardown(&mut self, code: ErrorCode, msg: &str) {
        self.fail_all(code, msg);
        self.close_socket(msg);
    }
}
