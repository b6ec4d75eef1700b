//! Requests in flight: ids, deadlines, the frame kept for a resend, and what an answer (or
//! its absence) does to the client.

use crate::prelude::*;

use super::{Client, Conn};
use crate::core::component::ComponentKind;
use crate::core::error::Error;
use crate::core::output::{AppEvent, OpId, OpValue, Output, Phase};
use crate::protocol::frame::{self, encode_request};
use crate::protocol::json::{Json, ToJson};
use crate::protocol::*;
use crate::text::{cat, num};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pend {
    Join,
    Leave,
    Publish,
    Unpublish(Media),
    Subscribe {
        uid: u64,
        media: Media,
    },
    Unsubscribe {
        uid: u64,
        media: Media,
    },
    SetRole(Role),
    Mute {
        media: Media,
        muted: bool,
    },
    /// A publish the core issued itself after `<live-pusher>` gave up; no op, ends in `syncDone`.
    Republish,
    /// A subscribe the core issued itself after a `<live-player>` gave up; ends in `syncDone`.
    Resubscribe {
        uid: u64,
    },
    /// A request that resolves with nothing; the name is for timeout messages.
    Plain(&'static str),
    /// `renew-token`; the token becomes the one rejoins use once the server accepts it.
    RenewToken,
    /// The core's own join after the connection was lost, asking to resume the session.
    Rejoin,
    /// The core's own mute after a fresh rejoin, restoring what the app had muted.
    Remute,
    /// A heartbeat; it has no op (the app never sees it) and `ts` is when it was sent.
    Ping {
        ts: u64,
    },
    /// `send-message`; resolves with the message's id and time.
    Message,
}

#[derive(Debug)]
pub(super) struct Pending {
    pub(super) req: u32,
    pub(super) op: OpId,
    pub(super) what: Pend,
    pub(super) deadline: u64,
    /// The frame as sent, to send again (same id) on the next connection if no answer came:
    /// the server answers a repeated id from its cache instead of acting twice.
    pub(super) frame: String,
}

impl Client {
    // ---- internals ---------------------------------------------------------------------------

    pub(super) fn op(&mut self) -> OpId {
        let op = self.next_op;
        self.next_op = self.next_op.wrapping_add(1).max(1);
        op
    }

    /// A request the core makes on its own: no op, the app never sees its outcome directly.
    pub(super) fn internal_request(
        &mut self,
        now: u64,
        kind: RequestKind,
        body: &dyn ToJson,
        what: Pend,
    ) {
        let (req, frame) = self.send(kind, body);
        self.pending.push(Pending {
            req,
            op: 0,
            what,
            deadline: now + self.cfg.request_timeout_ms,
            frame,
        });
    }

    /// Encode a request with the next id and send it if the socket is open; otherwise it goes
    /// out (from its [`Pending`]) when the next socket opens.
    pub(super) fn send(&mut self, kind: RequestKind, body: &dyn ToJson) -> (u32, String) {
        let req = self.next_req;
        self.next_req = self.next_req.wrapping_add(1).max(1);
        let f = encode_request(req, kind, body);
        if self.conn == Conn::Open {
            self.out.push_back(Output::Send(f.clone()));
        }
        (req, f)
    }

    pub(super) fn request(
        &mut self,
        now: u64,
        kind: RequestKind,
        body: &dyn ToJson,
        what: Pend,
    ) -> OpId {
        let op = self.op();
        let (req, frame) = self.send(kind, body);
        let mut deadline = now + self.cfg.request_timeout_ms;
        if let Conn::Connecting { deadline: c } = self.conn {
            deadline = deadline.max(c + self.cfg.request_timeout_ms);
        }
        self.pending.push(Pending {
            req,
            op,
            what,
            deadline,
            frame,
        });
        op
    }

    /// Take the request the answer `re` is for.
    pub(super) fn take_pending(&mut self, re: u32) -> Option<Pending> {
        let i = self.pending.iter().position(|p| p.req == re)?;
        Some(self.pending.remove(i))
    }

    /// Take a `leave` in flight, if there is one.
    pub(super) fn take_leave(&mut self) -> Option<Pending> {
        let i = self.pending.iter().position(|p| p.what == Pend::Leave)?;
        Some(self.pending.remove(i))
    }

    /// Fail every request whose deadline has passed, in the order they were made; the app
    /// also hears `sendCommandOverTime` for its own calls (not for `leave`, which cannot fail).
    pub(super) fn expire_requests(&mut self, now: u64) {
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].deadline <= now {
                let p = self.pending.remove(i);
                let name = pend_name(p.what);
                let err = Error::new(
                    ErrorCode::Timeout,
                    cat(&[
                        "no answer to ",
                        name,
                        " within ",
                        &num(self.cfg.request_timeout_ms),
                        " ms",
                    ]),
                );
                if p.op != 0 && p.what != Pend::Leave {
                    self.out
                        .push_back(Output::Event(AppEvent::SendCommandOverTime {
                            command: name,
                        }));
                }
                self.on_err(now, p, err);
            } else {
                i += 1;
            }
        }
    }

    pub(super) fn resolve(&mut self, op: OpId, value: OpValue) {
        self.out.push_back(Output::Resolve { op, value });
    }

    pub(super) fn on_ok(&mut self, now: u64, p: Pending, body: Json) {
        match p.what {
            Pend::Join => match frame::body::<JoinOk>(&body) {
                Ok(ok) => self.joined_ok(now, p.op, ok),
                Err(e) => self.on_err(now, p, protocol_violation("join", e)),
            },
            Pend::Rejoin => match frame::body::<JoinOk>(&body) {
                Ok(ok) => self.rejoined(now, ok),
                Err(e) => self.on_err(now, p, protocol_violation("join", e)),
            },
            Pend::Leave => {
                self.joined = None;
                self.close_socket("leave");
                self.resolve(p.op, OpValue::Done);
            }
            Pend::Publish => match frame::body::<PublishOk>(&body) {
                Ok(ok) => {
                    if let Some(j) = self.joined.as_mut() {
                        j.published = ok.media;
                    }
                    self.set_phase(ComponentKind::Push, None, Phase::Requesting);
                    self.resolve(p.op, OpValue::PushUrl(ok.url));
                }
                Err(e) => self.on_err(now, p, protocol_violation("publish", e)),
            },
            Pend::Unpublish(m) => {
                if let Some(j) = self.joined.as_mut() {
                    j.published = j.published.minus(m);
                }
                self.resolve(p.op, OpValue::Done);
            }
            Pend::Subscribe { uid, media } => match frame::body::<SubscribeOk>(&body) {
                Ok(ok) => {
                    if let Some(j) = self.joined.as_mut() {
                        if j.members.contains_key(&uid) {
                            let m = j.sub(uid).unwrap_or(Media::NONE).union(media);
                            j.set_sub(uid, m);
                        }
                    }
                    self.set_phase(ComponentKind::Pull, Some(uid), Phase::Requesting);
                    self.resolve(
                        p.op,
                        OpValue::Play {
                            url: ok.url,
                            flv_url: ok.flv_url,
                        },
                    )
                }
                Err(e) => self.on_err(now, p, protocol_violation("subscribe", e)),
            },
            Pend::Unsubscribe { uid, media } => {
                if let Some(j) = self.joined.as_mut() {
                    if let Some(m) = j.sub(uid) {
                        j.set_sub(uid, m.minus(media));
                    }
                }
                self.resolve(p.op, OpValue::Done)
            }
            Pend::Plain(_) => self.resolve(p.op, OpValue::Done),
            Pend::Message => match frame::body::<SendMessageOk>(&body) {
                Ok(ok) => self.resolve(
                    p.op,
                    OpValue::Message {
                        id: ok.id,
                        ts: ok.ts,
                    },
                ),
                Err(e) => self.on_err(now, p, protocol_violation("sendMessage", e)),
            },
            Pend::RenewToken => {
                if let Some(j) = self.joined.as_mut() {
                    if let Some(t) = j.next_token.take() {
                        j.token = Some(t);
                    }
                }
                self.resolve(p.op, OpValue::Done)
            }
            Pend::Republish => {
                let Some(j) = self.joined.as_mut() else {
                    return;
                };
                j.push_recovering = false;
                if let Ok(ok) = frame::body::<PublishOk>(&body) {
                    j.published = ok.media;
                    let uid = j.uid;
                    // No `requesting` phase here: the syncDone that follows says it, with the URL.
                    self.out.push_back(Output::Event(AppEvent::SyncDone {
                        kind: ComponentKind::Push,
                        uid,
                        url: ok.url,
                    }));
                } else {
                    self.bad_frames += 1;
                }
            }
            Pend::Resubscribe { uid } => {
                let Some(j) = self.joined.as_mut() else {
                    return;
                };
                j.pull_recovering.retain(|u| *u != uid);
                if let Ok(ok) = frame::body::<SubscribeOk>(&body) {
                    self.out.push_back(Output::Event(AppEvent::SyncDone {
                        kind: ComponentKind::Pull,
                        uid,
                        url: ok.url,
                    }));
                } else {
                    self.bad_frames += 1;
                }
            }
            Pend::Ping { ts } => self.rtt_ms = Some(now.saturating_sub(ts)),
            Pend::Remute => {}
            Pend::Mute { media, muted } => {
                if let Some(j) = self.joined.as_mut() {
                    j.muted = if muted {
                        j.muted.union(media)
                    } else {
                        j.muted.minus(media)
                    };
                }
                self.resolve(p.op, OpValue::Done);
            }
            Pend::SetRole(role) => {
                self.role = role;
                if let Some(j) = self.joined.as_mut() {
                    j.role = role;
                    if role == Role::Audience {
                        j.published = Media::NONE;
                    }
                }
                self.resolve(p.op, OpValue::Done);
            }
        }
    }

    pub(super) fn on_err(&mut self, now: u64, p: Pending, err: Error) {
        match p.what {
            Pend::Ping { .. } => {
                if err.code == ErrorCode::Timeout {
                    self.connection_dead(now);
                }
                return;
            }
            // A failed recovery ends quietly; the component's next failure report tries again.
            Pend::Republish => {
                if let Some(j) = self.joined.as_mut() {
                    j.push_recovering = false;
                }
                return;
            }
            Pend::Resubscribe { uid } => {
                if let Some(j) = self.joined.as_mut() {
                    j.pull_recovering.retain(|u| *u != uid);
                }
                return;
            }
            Pend::RenewToken => {
                if let Some(j) = self.joined.as_mut() {
                    j.next_token = None;
                }
            }
            Pend::Rejoin => {
                self.rejoin_failed(now, err);
                return;
            }
            // Leaving cannot fail: with no answer (or a refusal) the client leaves on its own
            // and the server drops the session when the socket closes.
            Pend::Leave => {
                self.teardown(ErrorCode::Cancelled, "left the room");
                self.resolve(p.op, OpValue::Done);
                return;
            }
            _ => {}
        }
        if let Pend::Join = p.what {
            // A failed join leaves nothing behind: no half-open session, no socket.
            self.joining = false;
            self.joined = None;
            self.fail_all(ErrorCode::Cancelled, "join failed");
            self.close_socket("join failed");
        }
        // An internal request (op 0: the mute restored after a fresh rejoin) has no promise
        // to reject; the app hears nothing of it.
        if p.op != 0 {
            self.out.push_back(Output::Reject {
                op: p.op,
                error: err,
            });
        }
    }

    pub(super) fn maybe_ping(&mut self, now: u64) {
        if self.conn != Conn::Open
            || self.reconnect.is_some()
            || self
                .pending
                .iter()
                .any(|p| matches!(p.what, Pend::Ping { .. }))
        {
            return;
        }
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        if now < j.next_ping {
            return;
        }
        j.next_ping = now.saturating_add(j.ping_interval);
        let deadline = now.saturating_add(j.ping_timeout);
        let (req, frame) = self.send(RequestKind::Ping, &PingReq { ts: now });
        self.pending.push(Pending {
            req,
            op: 0,
            what: Pend::Ping { ts: now },
            deadline,
            frame,
        });
    }

    pub(super) fn fail_all(&mut self, code: ErrorCode, msg: &str) {
        self.joining = false;
        self.joined = None;
        self.join_token = None;
        self.reconnect = None;
        for p in ::core::mem::take(&mut self.pending) {
            if p.op == 0 {
                continue;
            }
            self.out.push_back(Output::Reject {
                op: p.op,
                error: Error::new(code, msg),
            });
        }
    }
}

/// An answer the core cannot read: a protocol violation naming what was expected.
pub(super) fn protocol_violation(what: &str, e: WireError) -> Error {
    Error::new(
        ErrorCode::ProtocolViolation,
        cat(&["unreadable ", what, " response: ", &e.msg]),
    )
}

/// The API call's name a pending request belongs to, as `sendCommandOverTime` reports it.
pub(super) fn pend_name(p: Pend) -> &'static str {
    match p {
        Pend::Join => "join",
        Pend::Leave => "leave",
        Pend::Publish => "publish",
        Pend::Unpublish(_) => "unpublish",
        Pend::Subscribe { .. } | Pend::Resubscribe { .. } => "subscribe",
        Pend::Unsubscribe { .. } => "unsubscribe",
        Pend::Republish => "publish",
        Pend::SetRole(_) => "setRole",
        Pend::Mute { muted: true, .. } => "mute",
        Pend::Mute { muted: false, .. } => "unmute",
        Pend::Plain(name) => name,
        Pend::RenewToken => "renewToken",
        Pend::Rejoin => "join",
        Pend::Remute => "mute",
        Pend::Ping { .. } => "ping",
        Pend::Message => "sendMessage",
    }
}
