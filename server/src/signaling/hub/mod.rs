//! Rooms, members and their streams: the signaling logic, sans-IO.
//!
//! The hub takes frames, disconnects and media events with the current time and answers with
//! [`HubOut`]s for the network shell to carry out. Everything happens under one lock in the
//! shell, so per-session `seq` numbers and event order are exact.
//!
//! # Where things are
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Hub`], [`HubOut`], [`Limits`], the constructors, queries and entry points: [`Hub::handle_frame`] (rate limit, reply cache, dispatch), [`Hub::disconnect`], [`Hub::closed_by_client`], [`Hub::tick`] |
//! | `join.rs` | `join` (admission, snapshot) and the resume of a dropped session |
//! | `members.rs` | the member, room and session state; `leave`, removal, expiry of detached members, broadcast |
//! | `streams.rs` | `publish`, `unpublish`, `subscribe`, `unsubscribe`, `mute`, roles and privileges |
//! | `media.rs` | [`Hub::media_event`]: pushers admitted or gone |
//! | `rate.rs` | the per-connection token bucket |
//! | `admin.rs` | sessions the server ends: replaced, kicked, room closed, token expired; `renew-token` |
//! | `tasks.rs` | push tasks: rules, status, what they compose |
//! | `overview.rs` | what the operator console reads: rooms, members, tasks, preview URLs |
//! | `cluster.rs` | what a cluster node asks: rooms held, joined or not, a room given up to another node |
//! | `messages.rs` | room messages (`send-message`): numbering, limits, delivery |
//! | `extra_info.rs` | stream and room extra info (`set-extra-info`), told to joiners |
//! | `persist.rs` | a room's state as a cluster node writes it to Redis and reads it back on a takeover |
//!
//! # Why an out-parameter and a tick, when the client queues and has `poll_timeout`
//!
//! The SDK's [`mprtc::core`] client keeps its outputs in a queue drained by `poll_output` and
//! says when it next needs time with `poll_timeout`, as quinn-proto and str0m do: it has one
//! connection, a handful of exact deadlines (request timeouts, heartbeat, reconnect back-off),
//! and a host (JS through wasm) that drives it with one timer and one boundary call per drain.
//!
//! The hub is shared by every connection of the server under one lock, so each call hands what
//! it caused straight back in `out: &mut Vec<HubOut>`: the shell carries out exactly the outputs
//! of its own call, nothing waits in the hub for another task to drain, and one buffer serves
//! every call. Its deadlines are coarse and many — a token's expiry warning (seconds), the
//! resume window of each detached member, the kick memory — so the shell calls [`Hub::tick`]
//! once a second and the hub sweeps them, rather than tracking the earliest of thousands.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use mprtc::protocol::frame::{
    body, decode_request, encode_err, encode_event_body, encode_ok, event_frame,
};
use mprtc::protocol::json::Empty;
use mprtc::protocol::names::{check_room, check_stream_id, check_user_id, uid_for_user};
use mprtc::protocol::*;

use crate::config::{AppConfig, Secret};
use crate::media::{MediaEvent, MediaSigner};
use crate::tasks::{TaskKey, TaskSpec};
use crate::token::{self, Privileges};

mod admin;
mod cluster;
mod counters;
mod extra_info;
mod join;
mod media;
mod members;
mod messages;
mod overview;
mod persist;
mod rate;
mod recording;
mod streams;
mod tasks;

use admin::TOKEN_WARNING_SECS;
pub use cluster::ROOM_MOVED_CLOSE_CODE;
pub use counters::HubCounters;
use extra_info::RoomInfo;
use members::{Ended, Member, Room, RoomKey, Session};
use messages::RoomMessages;
pub use overview::{RoomView, CONSOLE_VIEWER};
pub use persist::{
    Kicks, RestoreError, RoomDelta, Written, MAX_ENDED_PERSISTED, MAX_REPLY_BYTES, MAX_ROOM_BYTES,
    TAKEOVER_MESSAGE_ID_GAP,
};
use rate::{RoomRates, Take, TokenBucket};

use mprtc::protocol::tasks::DeleteTasksReq;
pub use recording::RECORDER_VIEWER;

/// The lowest of the uids the server plays streams as itself ([`RECORDER_VIEWER`], the
/// console's [`CONSOLE_VIEWER`], [`COMPOSITOR_VIEWER`]: the top three of `u64`). A member may
/// not hold one: those viewers are admitted by what they are, so a member holding one would
/// keep a player admitted after a kick. Joins and minted tokens refuse them.
pub const FIRST_RESERVED_UID: u64 = RECORDER_VIEWER;
pub use tasks::{shape_error, TaskInfo, TaskOp, TaskRules, COMPOSITOR_VIEWER};
use tasks::{task_body, RoomTask};

/// A connection as the hub knows it, from [`Hub::connect`]. Not the session id a member
/// is given at join (that one is random, and survives a resume onto a new connection).
pub type SessionId = u64;

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubOut {
    /// Send this text frame on this connection.
    Send(SessionId, String),
    /// Start a push task, or replace the running one's spec.
    TaskApply { key: TaskKey, spec: TaskSpec },
    /// Stop a push task (deleted, or its room ended).
    TaskStop { key: TaskKey },
    /// Close this connection (its session was ended by the server).
    Close {
        sid: SessionId,
        code: u16,
        reason: String,
    },
    /// Stop the pusher of this media stream (its member left or stopped publishing).
    KickPublisher { media_room: String, uid: u64 },
    /// End every play of this viewer in this media room (it left, was kicked, or may no
    /// longer subscribe); [`Hub::may_play`] refuses its URLs from now on.
    KickViewer { media_room: String, viewer: u64 },
    /// Tell the app's backend (its webhooks, if it has any) what happened in a room.
    Hook(crate::webhooks::HookEvent),
    /// Record `tracks` of member `uid` of `app`/`room`, reading its stream at `url`.
    RecordMember {
        app: String,
        room: String,
        uid: u64,
        tracks: Media,
        url: String,
    },
    /// Stop recording member `uid` of `app`/`room`.
    RecordStop { app: String, room: String, uid: u64 },
}

/// Events kept per member for a resume: a client that comes back having missed more than
/// this many gets a fresh session and a snapshot instead.
pub const RESUME_EVENTS: usize = 512;

/// The signaling state of the whole server: apps, rooms, members, sessions and push tasks.
pub struct Hub {
    apps: HashMap<String, AppConfig>,
    signer: Arc<MediaSigner>,
    max_frame_bytes: usize,
    /// Draws session and media-room ids: members see theirs, so they must tell nothing about
    /// anyone else's (no counters, no shared salt).
    rng: StdRng,
    next_sid: SessionId,
    /// Rooms per app, for the per-app room limit.
    rooms_of_app: HashMap<String, usize>,
    /// Kicks by the server API, `(room, uid) -> unix second of the kick`: a token issued at or
    /// before then no longer admits that uid, so a kick is not undone by replaying the token.
    kicked: HashMap<(RoomKey, u64), u64>,
    sessions: HashMap<SessionId, Session>,
    rooms: HashMap<RoomKey, Room>,
    by_media: HashMap<String, RoomKey>,
    ping_interval_ms: u64,
    ping_timeout_ms: u64,
    limits: Limits,
    /// How long a member whose connection dropped stays in its room for a resume.
    resume_window_ms: u64,
    /// Sessions the server ended, with the member they were for, the final event frame a late
    /// rejoin of that member is shown, and until when it is kept.
    ended: HashMap<String, Ended>,
    /// What push tasks may do (see `tasks.rs` here).
    task_rules: TaskRules,
    /// Joins, resumes and refusals so far, for `/metrics` (see `counters.rs` here).
    counters: HubCounters,
    /// Whether the shell records members (see `recording.rs` here).
    member_recording: bool,
    /// Room messages: ids and rate budgets per room (see `messages.rs` here).
    messages: HashMap<RoomKey, RoomMessages>,
    /// Stream and room extra info per room (see `extra_info.rs` here).
    infos: HashMap<RoomKey, RoomInfo>,
    /// Whether media goes to an external engine, whose pushers outlive this node (a room
    /// taken over keeps their streams: see `persist.rs` here).
    external_media: bool,
}

/// How long a server-API kick keeps refusing the tokens issued before it.
pub const KICK_MEMORY_MS: u64 = 24 * 3600 * 1000;
/// Kicks remembered at most; the oldest is forgotten first.
const MAX_KICKS_KEPT: usize = 100_000;

/// Bounds that keep one client (or one busy app) from hurting everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rooms the server holds at once; a join that would open one more is refused (4029).
    pub max_rooms: usize,
    /// Members one room holds; a join into a full room is refused (4029).
    pub max_members_per_room: usize,
    /// Sustained requests per second per connection (bursts up to the same number).
    pub max_requests_per_sec: u32,
    /// Bytes the server holds for one connection that does not read them; beyond this the
    /// connection is cut and its client resumes (see [`super::ws::SLOW_CONSUMER_CLOSE_CODE`]).
    pub max_queued_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_rooms: 10_000,
            max_members_per_room: 1_000,
            max_requests_per_sec: 50,
            max_queued_bytes: 4 << 20,
        }
    }
}

fn err(code: ErrorCode, msg: impl Into<String>) -> WireError {
    WireError::new(code, msg)
}

impl Hub {
    /// `seed` seeds the generator of session and media-room ids: 32 bytes from the OS in a
    /// server (they must be unguessable), anything in a test.
    pub fn new(
        apps: HashMap<String, AppConfig>,
        signer: Arc<MediaSigner>,
        max_frame_bytes: usize,
        seed: [u8; 32],
    ) -> Self {
        let signer_base = signer.rtmp_base.clone();
        Self {
            apps,
            signer,
            max_frame_bytes,
            rng: StdRng::from_seed(seed),
            next_sid: 1,
            rooms_of_app: HashMap::new(),
            kicked: HashMap::new(),
            sessions: HashMap::new(),
            rooms: HashMap::new(),
            by_media: HashMap::new(),
            ping_interval_ms: 10_000,
            ping_timeout_ms: 20_000,
            limits: Limits::default(),
            resume_window_ms: 30_000,
            ended: HashMap::new(),
            task_rules: TaskRules::new(Default::default(), &signer_base),
            counters: HubCounters::default(),
            member_recording: false,
            messages: HashMap::new(),
            infos: HashMap::new(),
            external_media: false,
        }
    }

    /// How long a member whose connection dropped keeps its place (streams, tasks, missed
    /// events) for a rejoin to resume. 0: a drop is a leave.
    pub fn with_resume_window(mut self, ms: u64) -> Self {
        self.resume_window_ms = ms;
        self
    }

    /// Heartbeat told to clients at join: ping every `interval_ms`; a ping unanswered for
    /// `timeout_ms` means the connection is dead. The shell drops a connection silent for
    /// `interval_ms + timeout_ms`.
    pub fn with_heartbeat(mut self, interval_ms: u64, timeout_ms: u64) -> Self {
        self.ping_interval_ms = interval_ms;
        self.ping_timeout_ms = timeout_ms;
        self
    }

    /// Bounds on rooms, members, request rate and unread bytes (default [`Limits::default`]).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The bounds this hub applies (the shell reads `max_queued_bytes` from them).
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// `(ping interval, ping timeout)` in milliseconds, as told to clients at join.
    pub fn heartbeat(&self) -> (u64, u64) {
        (self.ping_interval_ms, self.ping_timeout_ms)
    }

    /// A new connection: the shell calls this once per accepted WebSocket and names the
    /// returned id in every later call about it, ending with [`Hub::disconnect`] or
    /// [`Hub::closed_by_client`].
    pub fn connect(&mut self) -> SessionId {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.sessions.insert(sid, Session::default());
        sid
    }

    /// Rooms open now.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The members of a room as the server sees them, in uid order.
    pub fn snapshot(&self, app: &str, room: &str) -> Vec<MemberInfo> {
        self.rooms
            .get(&(app.to_owned(), room.to_owned()))
            .map(|r| r.members.iter().map(|(uid, m)| m.info(*uid)).collect())
            .unwrap_or_default()
    }

    /// Connections the hub knows now, joined or not.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Members in all rooms now, detached ones (waiting for a resume) included.
    pub fn member_count(&self) -> usize {
        self.rooms.values().map(|r| r.members.len()).sum()
    }

    /// What happened so far: joins, resumes, members given up, refused joins by code.
    pub fn counters(&self) -> &HubCounters {
        &self.counters
    }

    /// One text frame from `sid`. Exactly one response goes back for every attributable request.
    pub fn handle_frame(&mut self, sid: SessionId, text: &str, now_ms: u64, out: &mut Vec<HubOut>) {
        let rate = f64::from(self.limits.max_requests_per_sec);
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        if let Take::Refused { first } = session.rate.take(rate, now_ms) {
            // Said once per excess: answering every frame of a flood would make the server
            // write as fast as the client sends, into a peer that may not read.
            if first {
                let e = err(
                    ErrorCode::LimitExceeded,
                    format!(
                        "more than {rate} requests per second on this connection; \
                         frames are dropped unanswered until the rate falls"
                    ),
                );
                out.push(HubOut::Send(sid, encode_err(None, &e)));
            }
            return;
        }
        if text.len() > self.max_frame_bytes {
            let e = err(
                ErrorCode::FrameTooLarge,
                format!(
                    "frame of {} bytes exceeds the limit of {}",
                    text.len(),
                    self.max_frame_bytes
                ),
            );
            out.push(HubOut::Send(sid, encode_err(None, &e)));
            return;
        }
        let (id, kind, b) = match decode_request(text) {
            Ok(x) => x,
            Err((re, e)) => {
                out.push(HubOut::Send(sid, encode_err(re, &e)));
                return;
            }
        };
        let cacheable = !matches!(
            kind,
            RequestKind::Join | RequestKind::Ping | RequestKind::Leave
        );
        if cacheable {
            if let Some(frame) = self.cached_reply(sid, id) {
                out.push(HubOut::Send(sid, frame));
                return;
            }
        }
        // Frames that must follow the answer (a resume's missed events).
        let mut after = Vec::new();
        let reply = match kind {
            RequestKind::Join => {
                body(&b).and_then(|r| self.join(sid, r, now_ms, id, out, &mut after))
            }
            RequestKind::Leave => self.leave(sid, now_ms, out).map(|_| encode_ok(id, &Empty)),
            RequestKind::Publish => {
                body::<PublishReq>(&b).and_then(|r| self.publish(sid, r, now_ms, id, out))
            }
            RequestKind::Mute => body::<MuteReq>(&b).and_then(|r| self.mute(sid, r, id, out)),
            RequestKind::SetExtraInfo => body::<SetExtraInfoReq>(&b)
                .and_then(|r| self.set_extra_info(sid, r, id, now_ms, out)),
            RequestKind::SendMessage => {
                body::<SendMessageReq>(&b).and_then(|r| self.send_message(sid, r, id, now_ms, out))
            }
            RequestKind::Unpublish => {
                body::<UnpublishReq>(&b).and_then(|r| self.unpublish(sid, r.media, id, out))
            }
            RequestKind::Subscribe => {
                body::<SubscribeReq>(&b).and_then(|r| self.subscribe(sid, r, now_ms, id))
            }
            RequestKind::Unsubscribe => {
                body::<UnsubscribeReq>(&b).and_then(|r| self.unsubscribe(sid, r, id))
            }
            RequestKind::SetRole => {
                body::<SetRoleReq>(&b).and_then(|r| self.set_role(sid, r.role, id, out))
            }
            RequestKind::RenewToken => body::<RenewTokenReq>(&b)
                .and_then(|r| self.renew_token(sid, &r.token, now_ms, out))
                .map(|_| encode_ok(id, &Empty)),
            RequestKind::Ping => body::<PingReq>(&b).map(|p| {
                encode_ok(
                    id,
                    &PingOk {
                        ts: p.ts,
                        server_time_ms: now_ms,
                    },
                )
            }),
            RequestKind::AddTasks => task_body(&b)
                .and_then(|r| self.member_tasks(sid, TaskOp::Add(r), now_ms, out))
                .map(|_| encode_ok(id, &Empty)),
            RequestKind::UpdateTasks => task_body(&b)
                .and_then(|r| self.member_tasks(sid, TaskOp::Update(r), now_ms, out))
                .map(|_| encode_ok(id, &Empty)),
            RequestKind::DeleteTasks => body::<DeleteTasksReq>(&b)
                .and_then(|r| self.member_tasks(sid, TaskOp::Delete(r), now_ms, out))
                .map(|_| encode_ok(id, &Empty)),
        };
        if kind == RequestKind::Join {
            match &reply {
                Ok(_) => self.counters.joins += 1,
                Err(e) => {
                    *self
                        .counters
                        .refused_joins
                        .entry(e.code.as_u16())
                        .or_default() += 1
                }
            }
        }
        let frame = reply.unwrap_or_else(|e| encode_err(Some(id), &e));
        if cacheable {
            self.cache_reply(sid, id, &frame);
        }
        // A fresh session (not a resume, whose missed events replay) learns the room's extra
        // info right after its answer. JoinOk writes `resumed` only when true (a user name
        // holding the same text is escaped in the frame, so it cannot match).
        let fresh_join =
            kind == RequestKind::Join && reply_ok(&frame) && !frame.contains("\"resumed\":true");
        out.push(HubOut::Send(sid, frame));
        out.extend(after);
        if fresh_join {
            self.send_extra_info(sid, out);
        }
        // Publishing, roles and tasks change what push tasks compose (pings and messages do not).
        let joined = self.sessions.get(&sid).and_then(|s| s.joined.clone());
        let quiet = matches!(
            kind,
            RequestKind::Ping | RequestKind::SendMessage | RequestKind::SetExtraInfo
        );
        if let (Some((key, _)), false) = (joined, quiet) {
            self.refresh_tasks(&key, now_ms, out);
        }
    }

    /// Time passes: warn members whose token expires soon; end the sessions whose token expired.
    pub fn tick(&mut self, now_ms: u64, out: &mut Vec<HubOut>) {
        let now = now_ms / 1000;
        let mut expired = Vec::new();
        for (key, room) in self.rooms.iter_mut() {
            for (uid, m) in room.members.iter_mut() {
                if now >= m.token_exp {
                    expired.push((key.clone(), *uid));
                } else if !m.warned && now + TOKEN_WARNING_SECS >= m.token_exp {
                    m.warned = true;
                    let ev = Event::TokenWillExpire {
                        remaining_s: m.token_exp - now,
                    };
                    m.push(&ev, out);
                }
            }
        }
        for (key, uid) in expired {
            self.end_session(&key, uid, KickReason::TokenExpired, now_ms, out);
        }
        self.expire_detached(now_ms, out);
        self.sweep_messages();
        self.sweep_extra_info();
    }

    /// The connection of `sid` is gone. Its member stays for the resume window, detached:
    /// the others see nothing yet, its streams stay, its events are kept.
    pub fn disconnect(&mut self, sid: SessionId, now_ms: u64, out: &mut Vec<HubOut>) {
        let Some((key, uid)) = self.sessions.remove(&sid).and_then(|s| s.joined) else {
            return;
        };
        if self.resume_window_ms == 0 {
            self.remove_member(&key, uid, LeaveReason::ConnectionLost, false, now_ms, out);
            return;
        }
        if let Some(m) = self
            .rooms
            .get_mut(&key)
            .and_then(|r| r.members.get_mut(&uid))
        {
            m.attached = false;
            m.detached_ms = now_ms;
        }
    }

    /// The client closed its connection normally (close code 1000): it is not coming back, so
    /// its member leaves now rather than after the resume window.
    pub fn closed_by_client(&mut self, sid: SessionId, now_ms: u64, out: &mut Vec<HubOut>) {
        if let Some((key, uid)) = self.sessions.remove(&sid).and_then(|s| s.joined) {
            self.remove_member(&key, uid, LeaveReason::Left, false, now_ms, out);
        }
    }

    /// The seq of the last event sent to `uid` in `app`/`room`.
    pub fn member_seq(&self, app: &str, room: &str, uid: u64) -> Option<u64> {
        let r = self.rooms.get(&(app.to_owned(), room.to_owned()))?;
        r.members.get(&uid).map(|m| m.seq)
    }

    /// The media-server room id of `app`/`room`, while the room exists.
    pub fn media_id(&self, app: &str, room: &str) -> Option<&str> {
        let r = self.rooms.get(&(app.to_owned(), room.to_owned()))?;
        Some(r.media_id.as_str())
    }

    /// Whether `viewer` may play streams of media room `media_room` now: a member of that room
    /// whose token grants subscribing, or the room's own compositor. The media server asks at
    /// every play admission, so a signed URL stops working the moment its viewer leaves, is
    /// kicked, or loses the privilege, however long the URL had to live.
    pub fn may_play(&self, media_room: &str, viewer: u64) -> bool {
        let Some(room) = self
            .by_media
            .get(media_room)
            .and_then(|k| self.rooms.get(k))
        else {
            return false;
        };
        if viewer == COMPOSITOR_VIEWER {
            return !room.tasks.is_empty();
        }
        // Unless a member took the recorder's id as its uid: then its own privileges decide.
        if viewer == RECORDER_VIEWER && !room.members.contains_key(&RECORDER_VIEWER) {
            return Self::records_someone(room);
        }
        room.members
            .get(&viewer)
            .is_some_and(|m| m.privileges.subscribe)
    }

    /// Whether `uid` in `app`/`room` is in the room without a connection (waiting for a resume).
    pub fn is_detached(&self, app: &str, room: &str, uid: u64) -> bool {
        self.rooms
            .get(&(app.to_owned(), room.to_owned()))
            .and_then(|r| r.members.get(&uid))
            .is_some_and(|m| !m.attached)
    }
}

/// Whether an answer frame is a success (`encode_ok` writes `"ok":true` right after `re`).
fn reply_ok(frame: &str) -> bool {
    frame.contains(",\"ok\":true,")
}

fn not_in_room() -> WireError {
    err(ErrorCode::NotInRoom, "join a room first")
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rooms an insecure (token-less) app may hold at once unless its config says otherwise:
/// anyone can create them, so they must not be able to fill the server for the other apps.
pub const INSECURE_APP_MAX_ROOMS: usize = 100;
