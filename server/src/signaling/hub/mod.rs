//! Rooms, members and their streams: the signaling logic, sans-IO.
//!
//! The hub takes frames, disconnects and media events with the current time and answers with
//! [`HubOut`]s for the network shell to carry out. Everything happens under one lock in the
//! shell, so per-session `seq` numbers and event order are exact.

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

use crate::config::AppConfig;
use crate::media::{MediaEvent, MediaSigner};
use crate::tasks::{TaskKey, TaskSpec};
use crate::token::{self, Privileges};

mod admin;
mod tasks;

use mprtc::protocol::tasks::DeleteTasksReq;
pub use tasks::{shape_error, TaskInfo, TaskOp, TaskRules, COMPOSITOR_VIEWER};
use tasks::{task_body, RoomTask};

pub type SessionId = u64;

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubOut {
    Send(SessionId, String),
    /// Start a push task, or replace the running one's spec.
    TaskApply {
        key: TaskKey,
        spec: TaskSpec,
    },
    /// Stop a push task (deleted, or its room ended).
    TaskStop {
        key: TaskKey,
    },
    /// Close this connection (its session was ended by the server).
    Close {
        sid: SessionId,
        code: u16,
        reason: String,
    },
    /// Stop the pusher of this media stream (its member left or stopped publishing).
    KickPublisher {
        media_room: String,
        uid: u64,
    },
    /// End every play of this viewer in this media room (it left, was kicked, or may no
    /// longer subscribe); [`Hub::may_play`] refuses its URLs from now on.
    KickViewer {
        media_room: String,
        viewer: u64,
    },
}

/// Events kept per member for a resume: a client that comes back having missed more than
/// this many gets a fresh session and a snapshot instead.
pub const RESUME_EVENTS: usize = 512;
/// Answers kept per member, so that a request the client sends again after a reconnect (same
/// id) is answered, not done twice.
const REPLY_CACHE: usize = 64;

#[derive(Debug)]
struct Member {
    /// The connection the member is on; while detached, the one it was on.
    sid: SessionId,
    /// The session id given at join, which a rejoin names to resume.
    session: String,
    /// Whether a connection carries this member now. A detached member stays in the room,
    /// streams and all, for the resume window.
    attached: bool,
    /// When the member's connection dropped.
    detached_ms: u64,
    /// The last events sent to the member, `(seq, frame)`, for a resume.
    ring: VecDeque<(u64, Arc<str>)>,
    /// The last answers to the member's requests, `(id, frame)`.
    replies: VecDeque<(u32, String)>,
    role: Role,
    privileges: Privileges,
    /// Kinds declared with `publish`.
    declared: Media,
    /// Kinds the member muted.
    muted: Media,
    /// The app's user id and name, if the member joined with one.
    user: Option<UserTag>,
    /// The app's id for the member's stream, if it published with one.
    stream: Option<String>,
    /// Whether the media server has an admitted pusher for this member.
    pushing: bool,
    /// The seq of the last event sent to this member.
    seq: u64,
    /// When the member's join token expires (unix seconds; `u64::MAX` in debug mode).
    token_exp: u64,
    /// Whether `token-will-expire` was sent for the current token.
    warned: bool,
}

impl Member {
    /// Send the member an event with its next seq, keeping it for a resume.
    fn push(&mut self, ev: &Event, out: &mut Vec<HubOut>) -> String {
        self.push_body(&Arc::from(encode_event_body(ev)), out)
    }

    /// [`Member::push`] for an event already encoded (once for everyone it goes to): the ring
    /// shares the encoding, so a busy room costs each member a pointer per event kept.
    fn push_body(&mut self, body: &Arc<str>, out: &mut Vec<HubOut>) -> String {
        self.seq += 1;
        if self.ring.len() == RESUME_EVENTS {
            self.ring.pop_front();
        }
        self.ring.push_back((self.seq, Arc::clone(body)));
        let frame = event_frame(self.seq, body);
        if self.attached {
            out.push(HubOut::Send(self.sid, frame.clone()));
        }
        frame
    }

    fn info(&self, uid: u64) -> MemberInfo {
        MemberInfo {
            uid,
            role: self.role,
            live: self.live(),
            muted: self.muted,
            user: self.user.clone(),
            stream: self.stream.clone(),
        }
    }

    fn live(&self) -> Media {
        if self.pushing {
            self.declared
        } else {
            Media::NONE
        }
    }
}

#[derive(Debug)]
struct Room {
    media_id: String,
    members: BTreeMap<u64, Member>,
    /// Push tasks, by task id. They belong to the room and end with it.
    tasks: BTreeMap<String, RoomTask>,
}

type RoomKey = (String, String);

#[derive(Debug, Default)]
struct Session {
    joined: Option<(RoomKey, u64)>,
    /// Request tokens left (a bucket refilled at `max_requests_per_sec`), and when last refilled.
    tokens: f64,
    refilled_ms: u64,
    /// The connection went over the rate and was told so: until the bucket refills, further
    /// frames are dropped unanswered, so a flood cannot make the server write for it.
    limited: bool,
}

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
    /// What push tasks may do (see `hub/tasks.rs`).
    task_rules: TaskRules,
}

#[derive(Debug)]
struct Ended {
    key: RoomKey,
    uid: u64,
    frame: String,
    until_ms: u64,
}

/// How long a server-API kick keeps refusing the tokens issued before it.
pub const KICK_MEMORY_MS: u64 = 24 * 3600 * 1000;
/// Kicks remembered at most; the oldest is forgotten first.
const MAX_KICKS_KEPT: usize = 100_000;

/// Bounds that keep one client (or one busy app) from hurting everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_rooms: usize,
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

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn heartbeat(&self) -> (u64, u64) {
        (self.ping_interval_ms, self.ping_timeout_ms)
    }

    pub fn connect(&mut self) -> SessionId {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.sessions.insert(sid, Session::default());
        sid
    }

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

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// One text frame from `sid`. Exactly one response goes back for every attributable request.
    pub fn handle_frame(&mut self, sid: SessionId, text: &str, now_ms: u64, out: &mut Vec<HubOut>) {
        let rate = f64::from(self.limits.max_requests_per_sec);
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        let elapsed = now_ms.saturating_sub(session.refilled_ms) as f64 / 1000.0;
        session.tokens = (session.tokens + elapsed * rate).min(rate);
        session.refilled_ms = now_ms;
        if session.tokens < 1.0 {
            // Said once per excess: answering every frame of a flood would make the server
            // write as fast as the client sends, into a peer that may not read.
            if !std::mem::replace(&mut session.limited, true) {
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
        session.limited = false;
        session.tokens -= 1.0;
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
        let frame = reply.unwrap_or_else(|e| encode_err(Some(id), &e));
        if cacheable {
            self.cache_reply(sid, id, &frame);
        }
        out.push(HubOut::Send(sid, frame));
        out.extend(after);
        // Publishing, roles and tasks change what push tasks compose.
        let joined = self.sessions.get(&sid).and_then(|s| s.joined.clone());
        if let (Some((key, _)), false) = (joined, kind == RequestKind::Ping) {
            self.refresh_tasks(&key, now_ms, out);
        }
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

    /// Members detached for longer than the resume window leave for good.
    fn expire_detached(&mut self, now_ms: u64, out: &mut Vec<HubOut>) {
        let window = self.resume_window_ms;
        let gone: Vec<(RoomKey, u64)> = self
            .rooms
            .iter()
            .flat_map(|(key, r)| {
                r.members
                    .iter()
                    .filter(|(_, m)| !m.attached && now_ms >= m.detached_ms + window)
                    .map(move |(uid, _)| (key.clone(), *uid))
            })
            .collect();
        for (key, uid) in gone {
            self.remove_member(&key, uid, LeaveReason::ConnectionLost, false, now_ms, out);
        }
        self.ended.retain(|_, e| e.until_ms > now_ms);
        self.kicked
            .retain(|_, at_s| at_s.saturating_mul(1000) + KICK_MEMORY_MS > now_ms);
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

    fn member_mut(&mut self, sid: SessionId) -> Option<&mut Member> {
        let (key, uid) = self.sessions.get(&sid)?.joined.clone()?;
        self.rooms.get_mut(&key)?.members.get_mut(&uid)
    }

    fn cached_reply(&mut self, sid: SessionId, id: u32) -> Option<String> {
        let m = self.member_mut(sid)?;
        m.replies
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, f)| f.clone())
    }

    fn cache_reply(&mut self, sid: SessionId, id: u32, frame: &str) {
        if let Some(m) = self.member_mut(sid) {
            if m.replies.len() == REPLY_CACHE {
                m.replies.pop_front();
            }
            m.replies.push_back((id, frame.to_owned()));
        }
    }

    pub fn media_event(&mut self, ev: MediaEvent, now_ms: u64, out: &mut Vec<HubOut>) {
        let media_room = match &ev {
            MediaEvent::PublishStarted { room, .. } | MediaEvent::PublishStopped { room, .. } => {
                Some(room.clone())
            }
            _ => None,
        };
        self.media_event_inner(ev, out);
        if let Some(key) = media_room.and_then(|m| self.by_media.get(&m).cloned()) {
            self.refresh_tasks(&key, now_ms, out);
        }
    }

    fn media_event_inner(&mut self, ev: MediaEvent, out: &mut Vec<HubOut>) {
        match ev {
            MediaEvent::PublishStarted { room, uid } => {
                let Some(key) = self.by_media.get(&room).cloned() else {
                    out.push(HubOut::KickPublisher {
                        media_room: room,
                        uid,
                    });
                    return;
                };
                let r = self
                    .rooms
                    .get_mut(&key)
                    .expect("by_media points at live rooms");
                match r.members.get_mut(&uid) {
                    Some(m) if !m.declared.is_empty() => {
                        if !m.pushing {
                            m.pushing = true;
                            let ev = Event::StreamAdded {
                                uid,
                                media: m.declared,
                                stream: m.stream.clone(),
                            };
                            Self::broadcast(r, Some(uid), &ev, out);
                        }
                    }
                    // A pusher with a still-valid URL whose member left or stopped publishing.
                    _ => out.push(HubOut::KickPublisher {
                        media_room: room,
                        uid,
                    }),
                }
            }
            MediaEvent::PublishStopped { room, uid } => {
                let Some(key) = self.by_media.get(&room) else {
                    return;
                };
                let r = self
                    .rooms
                    .get_mut(key)
                    .expect("by_media points at live rooms");
                if let Some(m) = r.members.get_mut(&uid) {
                    if m.pushing {
                        m.pushing = false;
                        let media = m.declared;
                        if !media.is_empty() {
                            Self::broadcast(
                                r,
                                Some(uid),
                                &Event::StreamRemoved { uid, media },
                                out,
                            );
                        }
                    }
                }
            }
            MediaEvent::PlayStarted { .. } | MediaEvent::PlayStopped { .. } => {}
        }
    }

    // ---- requests ----------------------------------------------------------------------------

    fn join(
        &mut self,
        sid: SessionId,
        r: JoinReq,
        now_ms: u64,
        id: u32,
        out: &mut Vec<HubOut>,
        after: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        if self.sessions[&sid].joined.is_some() {
            return Err(err(
                ErrorCode::AlreadyInRoom,
                "this connection already joined a room",
            ));
        }
        let app = self
            .apps
            .get(&r.appkey)
            .ok_or_else(|| err(ErrorCode::UnknownAppKey, "unknown appkey"))?;
        let (insecure, app_max_rooms) = (app.insecure, app.max_rooms);
        check_room(&r.room)?;
        if let Some(u) = &r.user {
            check_user_id(&u.id)?;
            if u.name.len() > 256 {
                return Err(err(
                    ErrorCode::InvalidParams,
                    "userName is longer than 256 bytes",
                ));
            }
            if uid_for_user(&u.id) != r.uid {
                return Err(err(
                    ErrorCode::InvalidParams,
                    "uid does not stand for this user id",
                ));
            }
        }
        let claims = match (&r.token, app.insecure, app.secret.as_deref()) {
            (Some(t), _, Some(secret)) => token::verify_for(
                secret.as_bytes(),
                t,
                &r.appkey,
                &r.room,
                r.uid,
                r.user.as_ref().map(|u| u.id.as_str()),
                now_ms / 1000,
            )
            .map_err(WireError::from)?,
            (None, true, _) | (Some(_), true, None) => token::Claims {
                app: r.appkey.clone(),
                room: r.room.clone(),
                uid: r.uid.to_string(),
                iat: 0,
                exp: u64::MAX,
                privileges: Privileges::default(),
            },
            (None, false, _) => {
                return Err(err(
                    ErrorCode::TokenRequired,
                    "this app key requires a token",
                ))
            }
            (Some(_), false, None) => return Err(err(ErrorCode::Internal, "app has no secret")),
        };
        let key: RoomKey = (r.appkey.clone(), r.room.clone());
        if let Some(&kicked_s) = self.kicked.get(&(key.clone(), r.uid)) {
            if claims.iat <= kicked_s && !insecure {
                return Err(err(
                    ErrorCode::TokenInvalid,
                    "this member was kicked; a token issued after the kick is needed",
                ));
            }
        }
        // Only now, with the token checked, may a rejoin learn how its session ended, and only
        // a rejoin of the member that session was for.
        let ended = r.resume.as_ref().and_then(|x| self.ended.get(&x.session));
        if let Some(e) = ended.filter(|e| e.key == key && e.uid == r.uid) {
            out.push(HubOut::Send(sid, e.frame.clone()));
            return Err(err(
                ErrorCode::SessionEnded,
                "the session was ended by the server",
            ));
        }
        if let Some(ok) = self.resume(sid, &key, &r, &claims, now_ms, out, after) {
            return Ok(encode_ok(id, &ok));
        }
        let app_rooms = self.rooms_of_app.get(&r.appkey).copied().unwrap_or(0);
        let app_max_rooms = app_max_rooms.unwrap_or(if insecure {
            INSECURE_APP_MAX_ROOMS.min(self.limits.max_rooms)
        } else {
            self.limits.max_rooms
        });
        match self.rooms.get(&key) {
            Some(room) if room.members.contains_key(&r.uid) => {
                let held_by = room.members[&r.uid].user.as_ref().map(|u| u.id.as_str());
                if held_by != r.user.as_ref().map(|u| u.id.as_str()) {
                    // Another identity whose uid is the same number (a decimal id beside a
                    // hashed one, or two hashed ids that collide): never a replacement.
                    return Err(err(
                        ErrorCode::UidInUse,
                        "another member of this room holds this uid",
                    ));
                }
                // The newest connection wins (the page was reopened, the phone switched
                // networks): the old session is told it was replaced and closed.
                self.end_session(&key, r.uid, KickReason::Replaced, now_ms, out);
            }
            Some(room) if room.members.len() >= self.limits.max_members_per_room => {
                return Err(err(
                    ErrorCode::LimitExceeded,
                    format!(
                        "a room holds at most {} members",
                        self.limits.max_members_per_room
                    ),
                ));
            }
            None if self.rooms.len() >= self.limits.max_rooms => {
                return Err(err(
                    ErrorCode::LimitExceeded,
                    "this server runs at its room limit",
                ));
            }
            None if app_rooms >= app_max_rooms => {
                return Err(err(
                    ErrorCode::LimitExceeded,
                    format!("this app holds at most {app_max_rooms} rooms at once"),
                ));
            }
            _ => {}
        }
        let privileges = claims.privileges;
        // A token without the publish privilege still joins, as audience.
        let role = if privileges.publish {
            r.role
        } else {
            Role::Audience
        };
        let room = match self.rooms.get_mut(&key) {
            Some(room) => room,
            None => {
                // 96 random bits: a member sees its room's id in its URLs, and must not be
                // able to name another room's streams from it.
                let mut bits = [0u8; 12];
                self.rng.fill_bytes(&mut bits);
                let media_id = format!("m{}", hex(&bits));
                *self.rooms_of_app.entry(key.0.clone()).or_default() += 1;
                self.by_media.insert(media_id.clone(), key.clone());
                self.rooms.entry(key.clone()).or_insert(Room {
                    media_id,
                    members: BTreeMap::new(),
                    tasks: BTreeMap::new(),
                })
            }
        };
        let members: Vec<MemberInfo> = room.members.iter().map(|(uid, m)| m.info(*uid)).collect();
        let joined = Event::MemberJoined {
            uid: r.uid,
            role,
            user: r.user.clone(),
        };
        Self::broadcast(room, None, &joined, out);
        let mut bits = [0u8; 16];
        self.rng.fill_bytes(&mut bits);
        let session = hex(&bits);
        room.members.insert(
            r.uid,
            Member {
                sid,
                session: session.clone(),
                attached: true,
                detached_ms: 0,
                ring: VecDeque::new(),
                replies: VecDeque::new(),
                role,
                privileges,
                declared: Media::NONE,
                muted: Media::NONE,
                user: r.user.clone(),
                stream: None,
                pushing: false,
                seq: 0,
                token_exp: claims.exp,
                warned: false,
            },
        );
        self.sessions.get_mut(&sid).expect("checked").joined = Some((key, r.uid));
        let ok = JoinOk {
            session,
            room: r.room,
            uid: r.uid,
            role,
            members,
            seq: 0,
            server_time_ms: now_ms,
            ping_interval_ms: self.ping_interval_ms,
            ping_timeout_ms: self.ping_timeout_ms,
            resumed: false,
        };
        Ok(encode_ok(id, &ok))
    }

    /// Hand a rejoin its old session back if the member is still here under that session and
    /// every event it missed is still kept. The missed events go in `after`, to follow the
    /// answer. `None`: join afresh.
    #[allow(clippy::too_many_arguments)]
    fn resume(
        &mut self,
        sid: SessionId,
        key: &RoomKey,
        r: &JoinReq,
        claims: &token::Claims,
        now_ms: u64,
        out: &mut Vec<HubOut>,
        after: &mut Vec<HubOut>,
    ) -> Option<JoinOk> {
        let want = r.resume.as_ref()?;
        let room = self.rooms.get_mut(key)?;
        let m = room.members.get_mut(&r.uid)?;
        let oldest_kept = m.seq - m.ring.len() as u64;
        if m.session != want.session || want.last_seq > m.seq || want.last_seq < oldest_kept {
            return None;
        }
        if m.attached && m.sid != sid {
            // The client gave up on a connection the server had not yet seen die.
            out.push(HubOut::Close {
                sid: m.sid,
                code: 1000,
                reason: "session resumed on another connection".into(),
            });
            if let Some(s) = self.sessions.get_mut(&m.sid) {
                s.joined = None;
            }
        }
        if m.user.as_ref().map(|u| &u.id) != r.user.as_ref().map(|u| &u.id) {
            return None;
        }
        m.sid = sid;
        m.attached = true;
        m.token_exp = claims.exp;
        m.warned = false;
        let last_seq_before = m.seq;
        // Events this causes (a demotion) are new: they follow the missed ones.
        let mut caused = Vec::new();
        Self::set_privileges(room, r.uid, claims.privileges, &mut caused);
        let m = room.members.get_mut(&r.uid)?;
        for (seq, body) in &m.ring {
            if *seq > want.last_seq && *seq <= last_seq_before {
                after.push(HubOut::Send(sid, event_frame(*seq, body)));
            }
        }
        after.extend(caused);
        let ok = JoinOk {
            session: m.session.clone(),
            room: r.room.clone(),
            uid: r.uid,
            role: m.role,
            members: Vec::new(),
            seq: want.last_seq,
            server_time_ms: now_ms,
            ping_interval_ms: self.ping_interval_ms,
            ping_timeout_ms: self.ping_timeout_ms,
            resumed: true,
        };
        let members = room
            .members
            .iter()
            .filter(|(u, _)| **u != r.uid)
            .map(|(uid, m)| m.info(*uid))
            .collect();
        self.sessions.get_mut(&sid).expect("checked").joined = Some((key.clone(), r.uid));
        Some(JoinOk { members, ..ok })
    }

    fn leave(
        &mut self,
        sid: SessionId,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        let (key, uid) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.joined.take())
            .ok_or_else(not_in_room)?;
        self.remove_member(&key, uid, LeaveReason::Left, false, now_ms, out);
        Ok(())
    }

    fn publish(
        &mut self,
        sid: SessionId,
        req: PublishReq,
        now_ms: u64,
        id: u32,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        let media = req.media;
        if media.is_empty() {
            return Err(err(
                ErrorCode::InvalidParams,
                "publish needs audio, video or both",
            ));
        }
        let signer = Arc::clone(&self.signer);
        let (room, uid) = self.member_of(sid)?;
        let m = room
            .members
            .get_mut(&uid)
            .expect("session points at member");
        if m.role == Role::Audience {
            return Err(err(
                ErrorCode::AudienceCannotPublish,
                "an audience member cannot publish",
            ));
        }
        if !m.privileges.publish {
            return Err(err(
                ErrorCode::PermissionDenied,
                "the token does not grant publishing",
            ));
        }
        if let Some(stream) = &req.stream {
            check_stream_id(stream)?;
            if m.stream.as_ref().is_some_and(|s| s != stream) && !m.declared.is_empty() {
                return Err(err(
                    ErrorCode::InvalidParams,
                    "this member already publishes under another stream id",
                ));
            }
        }
        if let Some(stream) = &req.stream {
            let taken = room
                .members
                .iter()
                .any(|(u, o)| *u != uid && o.stream.as_deref() == Some(stream.as_str()));
            if taken {
                return Err(err(
                    ErrorCode::InvalidParams,
                    "another member publishes under this stream id",
                ));
            }
        }
        let m = room
            .members
            .get_mut(&uid)
            .expect("session points at member");
        if req.stream.is_some() {
            m.stream = req.stream;
        }
        let added = media.minus(m.declared);
        m.declared = m.declared.union(media);
        let declared = m.declared;
        if m.pushing && !added.is_empty() {
            let ev = Event::StreamAdded {
                uid,
                media: added,
                stream: m.stream.clone(),
            };
            Self::broadcast(room, Some(uid), &ev, out);
        }
        let url = signer.push_url(&room.media_id, uid, now_ms / 1000);
        Ok(encode_ok(
            id,
            &PublishOk {
                url,
                media: declared,
            },
        ))
    }

    fn unpublish(
        &mut self,
        sid: SessionId,
        media: Media,
        id: u32,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        let (room, uid) = self.member_of(sid)?;
        let m = room
            .members
            .get_mut(&uid)
            .expect("session points at member");
        let removed = m.declared.intersect(media);
        m.declared = m.declared.minus(media);
        if m.declared.is_empty() {
            m.stream = None;
        }
        let (pushing, now_empty) = (m.pushing, m.declared.is_empty());
        if pushing && !removed.is_empty() {
            Self::broadcast(
                room,
                Some(uid),
                &Event::StreamRemoved {
                    uid,
                    media: removed,
                },
                out,
            );
        }
        if now_empty && pushing {
            out.push(HubOut::KickPublisher {
                media_room: room.media_id.clone(),
                uid,
            });
        }
        Ok(encode_ok(id, &Empty))
    }

    fn subscribe(
        &mut self,
        sid: SessionId,
        r: SubscribeReq,
        now_ms: u64,
        id: u32,
    ) -> Result<String, WireError> {
        let signer = Arc::clone(&self.signer);
        let (room, uid) = self.member_of(sid)?;
        if !room.members[&uid].privileges.subscribe {
            return Err(err(
                ErrorCode::PermissionDenied,
                "the token does not grant subscribing",
            ));
        }
        let target = room
            .members
            .get(&r.uid)
            .ok_or_else(|| err(ErrorCode::NoSuchMember, "no such uid in this room"))?;
        if target.declared.intersect(r.media).is_empty() {
            return Err(err(
                ErrorCode::NotPublishing,
                "that uid publishes none of the requested media",
            ));
        }
        // A URL outlives neither the token that got it (nor, through `may_play`, the member).
        let until = room.members[&uid].token_exp;
        let urls = signer.play_urls_until(&room.media_id, r.uid, uid, now_ms / 1000, until);
        Ok(encode_ok(
            id,
            &SubscribeOk {
                url: urls.rtmp,
                flv_url: urls.flv,
            },
        ))
    }

    fn unsubscribe(
        &mut self,
        sid: SessionId,
        r: UnsubscribeReq,
        id: u32,
    ) -> Result<String, WireError> {
        let (room, _) = self.member_of(sid)?;
        if !room.members.contains_key(&r.uid) {
            return Err(err(ErrorCode::NoSuchMember, "no such uid in this room"));
        }
        Ok(encode_ok(id, &Empty))
    }

    fn mute(
        &mut self,
        sid: SessionId,
        r: MuteReq,
        id: u32,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        if r.media.is_empty() {
            return Err(err(
                ErrorCode::InvalidParams,
                "mute needs audio, video or both",
            ));
        }
        let (room, uid) = self.member_of(sid)?;
        let m = room
            .members
            .get_mut(&uid)
            .expect("session points at member");
        let changed = if r.muted {
            r.media.minus(m.muted)
        } else {
            r.media.intersect(m.muted)
        };
        m.muted = if r.muted {
            m.muted.union(r.media)
        } else {
            m.muted.minus(r.media)
        };
        if !changed.is_empty() {
            let ev = Event::MuteChanged {
                uid,
                media: changed,
                muted: r.muted,
            };
            Self::broadcast(room, Some(uid), &ev, out);
        }
        Ok(encode_ok(id, &Empty))
    }

    fn set_role(
        &mut self,
        sid: SessionId,
        role: Role,
        id: u32,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        let (room, uid) = self.member_of(sid)?;
        let m = room
            .members
            .get_mut(&uid)
            .expect("session points at member");
        if m.role == role {
            return Ok(encode_ok(id, &Empty));
        }
        if role == Role::Broadcaster && !m.privileges.publish {
            return Err(err(
                ErrorCode::PermissionDenied,
                "the token does not grant publishing",
            ));
        }
        Self::change_role(room, uid, role, false, out);
        Ok(encode_ok(id, &Empty))
    }

    /// `uid` takes `role`: to audience, its streams end (the others see them removed) and its
    /// pusher is stopped; everyone else sees the change, and the member itself too when the
    /// server decided it (`tell_self`).
    fn change_role(room: &mut Room, uid: u64, role: Role, tell_self: bool, out: &mut Vec<HubOut>) {
        let Some(m) = room.members.get_mut(&uid) else {
            return;
        };
        m.role = role;
        let live = m.live();
        let pushing = m.pushing;
        if role == Role::Audience {
            m.declared = Media::NONE;
            if !live.is_empty() {
                Self::broadcast(
                    room,
                    Some(uid),
                    &Event::StreamRemoved { uid, media: live },
                    out,
                );
            }
            if pushing {
                out.push(HubOut::KickPublisher {
                    media_room: room.media_id.clone(),
                    uid,
                });
            }
        }
        let except = (!tell_self).then_some(uid);
        Self::broadcast(room, except, &Event::RoleChanged { uid, role }, out);
    }

    /// A new token (renewed, or presented on a resume) replaces the member's privileges, and
    /// what it no longer grants stops now: a broadcaster whose token denies publishing becomes
    /// audience (its push ends, and with it any task rights that came from the role).
    fn set_privileges(room: &mut Room, uid: u64, p: Privileges, out: &mut Vec<HubOut>) {
        let Some(m) = room.members.get_mut(&uid) else {
            return;
        };
        let could_subscribe = m.privileges.subscribe;
        m.privileges = p;
        if could_subscribe && !p.subscribe {
            out.push(HubOut::KickViewer {
                media_room: room.media_id.clone(),
                viewer: uid,
            });
        }
        let Some(m) = room.members.get_mut(&uid) else {
            return;
        };
        if !p.publish && m.role == Role::Broadcaster {
            Self::change_role(room, uid, Role::Audience, true, out);
        }
    }

    // ---- helpers -----------------------------------------------------------------------------

    fn member_of(&mut self, sid: SessionId) -> Result<(&mut Room, u64), WireError> {
        let (key, uid) = self
            .sessions
            .get(&sid)
            .and_then(|s| s.joined.clone())
            .ok_or_else(not_in_room)?;
        let room = self.rooms.get_mut(&key).ok_or_else(not_in_room)?;
        Ok((room, uid))
    }

    fn remove_member(
        &mut self,
        key: &RoomKey,
        uid: u64,
        reason: LeaveReason,
        keep_empty_room: bool,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) {
        let Some(room) = self.rooms.get_mut(key) else {
            return;
        };
        let Some(m) = room.members.remove(&uid) else {
            return;
        };
        if m.pushing {
            out.push(HubOut::KickPublisher {
                media_room: room.media_id.clone(),
                uid,
            });
        }
        out.push(HubOut::KickViewer {
            media_room: room.media_id.clone(),
            viewer: uid,
        });
        Self::broadcast(room, None, &Event::MemberLeft { uid, reason }, out);
        tasks::refresh(room, key, &self.signer, now_ms, out);
        if room.members.is_empty() && !keep_empty_room {
            tasks::end_all(room, key, out);
            let media_id = room.media_id.clone();
            self.drop_room(key);
            self.by_media.remove(&media_id);
        }
    }

    /// Forget a room (its members are gone or told), keeping the per-app count right.
    fn drop_room(&mut self, key: &RoomKey) -> Option<Room> {
        let room = self.rooms.remove(key)?;
        if let Some(n) = self.rooms_of_app.get_mut(&key.0) {
            *n -= 1;
            if *n == 0 {
                self.rooms_of_app.remove(&key.0);
            }
        }
        Some(room)
    }

    /// Send `ev` to every member but `except`, each with its own next seq. The event is
    /// encoded once; each member's frame only adds its envelope.
    fn broadcast(room: &mut Room, except: Option<u64>, ev: &Event, out: &mut Vec<HubOut>) {
        let body: Arc<str> = Arc::from(encode_event_body(ev));
        for (uid, m) in room.members.iter_mut() {
            if Some(*uid) != except {
                m.push_body(&body, out);
            }
        }
    }
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
