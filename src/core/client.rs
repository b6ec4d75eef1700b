//! The client state machine: connection lifecycle, request/response correlation with
//! per-request deadlines, room membership and the streams of every member.
//!
//! Sans-IO: every method takes the current time in milliseconds (any monotonic origin) and
//! returns at once; the effects queue up as [`Output`]s for the driver to carry out, and
//! [`Client::poll_timeout`] says when [`Client::handle_timeout`] must be called next.

use alloc::collections::VecDeque;

use crate::prelude::*;

use super::component::{
    self, ComponentError, ComponentKind, ComponentState, NetStatus, ReportEvent,
};
use super::component::{PlayerState, PusherState};
use super::error::Error;
use super::output::{AppEvent, MediaKind, OpId, OpValue, Output, Phase};
use super::reconnect::{next_retry, DropCause, GiveUpReason, ReconnectPolicy, Retry, Rng};
use super::uid_map::UidMap;
use crate::protocol::frame::{self, decode_server, encode_request};
use crate::protocol::json::{self, Empty, Json, RawJson, ToJson};
use crate::protocol::names;
use crate::protocol::*;
use crate::text::{cat, num};

/// The close code the client uses (and reports in `disconnect`) when heartbeats go unanswered.
pub const HEARTBEAT_CLOSE_CODE: u16 = 4408;

/// The close code of a socket the client drops in order to open another: the server keeps
/// the session for a resume (a normal close, 1000, means the client is gone for good).
pub const RECONNECT_CLOSE_CODE: u16 = 4000;

/// How long a reconnect waits for the old socket's close event before opening the new one
/// anyway (WeChat allows 5 sockets per mini-program; a close that never reports must not
/// wedge reconnecting).
const CLOSE_GRACE_MS: u64 = 2_000;

/// Settings fixed for the client's life.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub appkey: String,
    /// `ws://` or `wss://` URL of the server's signaling endpoint.
    pub server: String,
    /// Deadline of every request, from the moment it is issued.
    pub request_timeout_ms: u64,
    /// How long opening the socket may take.
    pub connect_timeout_ms: u64,
    /// Sent to the server at join, for its logs.
    pub sdk: String,
    /// When to try a lost connection again; see [`super::reconnect`].
    pub reconnect: ReconnectPolicy,
    /// Seeds the reconnect jitter. Drivers pass real randomness; tests pass their seed.
    pub seed: u64,
}

impl ClientConfig {
    pub fn new(appkey: impl Into<String>, server: impl Into<String>) -> Result<Self, Error> {
        let appkey = appkey.into();
        let server = server.into();
        if appkey.is_empty() {
            return Err(Error::invalid("appkey is required"));
        }
        if !(server.starts_with("ws://") || server.starts_with("wss://")) {
            return Err(Error::invalid("server must be a ws:// or wss:// URL"));
        }
        Ok(Self {
            appkey,
            server,
            request_timeout_ms: 10_000,
            connect_timeout_ms: 10_000,
            sdk: concat!("mprtc/", env!("CARGO_PKG_VERSION")).into(),
            reconnect: ReconnectPolicy::default(),
            seed: 0,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Idle,
    Connecting {
        deadline: u64,
    },
    Open,
    /// We asked for the socket to close; its close event is expected, not news.
    Closing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pend {
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
}

#[derive(Debug)]
struct Pending {
    req: u32,
    op: OpId,
    what: Pend,
    deadline: u64,
    /// The frame as sent, to send again (same id) on the next connection if no answer came:
    /// the server answers a repeated id from its cache instead of acting twice.
    frame: String,
}

/// The connection is lost and the core is getting the session back.
#[derive(Debug, Clone, Copy)]
struct Reconnecting {
    /// Retries made so far.
    attempt: u32,
    /// When the connection was lost.
    since: u64,
    /// When to open the next socket; `None` while an attempt is under way.
    next_at: Option<u64>,
    /// When the core last asked a socket to close (the next one waits for its close event).
    close_asked: Option<u64>,
}

/// A remote member as this client knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub role: Role,
    pub live: Media,
    /// The kinds it muted.
    pub muted: Media,
    /// Its app-chosen user id and name, when it joined with one.
    pub user: Option<UserTag>,
    /// The app's id for its stream, when it published with one.
    pub stream: Option<String>,
}

/// How often quality samples of one component reach the app at most.
pub const QUALITY_INTERVAL_MS: u64 = 1_000;

#[derive(Debug)]
struct Joined {
    room: String,
    uid: u64,
    role: Role,
    /// The join token, for rejoins (replaced by a successful `renewToken`).
    token: Option<String>,
    /// A `renewToken` in flight.
    next_token: Option<String>,
    session: String,
    last_seq: u64,
    members: UidMap<Remote>,
    published: Media,
    /// The app's id for this member's stream (given at publish), for recoveries.
    stream: Option<String>,
    /// The kinds this member muted (restored after a fresh rejoin).
    muted: Media,
    /// The app's user id and name given at join.
    user: Option<UserTag>,
    ping_interval: u64,
    ping_timeout: u64,
    next_ping: u64,
    // The next three are a handful of entries at most; plain vectors keep the wasm small.
    /// What this client subscribed to, per remote uid (what a recovery re-subscribes).
    subs: Vec<(u64, Media)>,
    /// A republish for a failed `<live-pusher>` is in flight.
    push_recovering: bool,
    /// Resubscribes for failed `<live-player>`s in flight, by remote uid.
    pull_recovering: Vec<u64>,
    /// What pages reported about their components, per (kind, uid).
    components: Vec<(ComponentKey, ComponentStatus)>,
}

type ComponentKey = (ComponentKind, Option<u64>);

impl Joined {
    fn sub(&self, uid: u64) -> Option<Media> {
        self.subs.iter().find(|(u, _)| *u == uid).map(|(_, m)| *m)
    }
    fn set_sub(&mut self, uid: u64, media: Media) {
        self.subs.retain(|(u, _)| *u != uid);
        if !media.is_empty() {
            self.subs.push((uid, media));
        }
    }
    fn component(&self, key: ComponentKey) -> Option<&ComponentStatus> {
        self.components
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, c)| c)
    }
    fn component_mut(&mut self, key: ComponentKey) -> &mut ComponentStatus {
        let i = match self.components.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.components.push((key, ComponentStatus::default()));
                self.components.len() - 1
            }
        };
        &mut self.components[i].1
    }
    fn forget_member(&mut self, uid: u64) {
        self.subs.retain(|(u, _)| *u != uid);
        self.pull_recovering.retain(|u| *u != uid);
        self.components
            .retain(|(k, _)| *k != (ComponentKind::Pull, Some(uid)));
    }
}

/// What the page last reported about one `<live-pusher>` or `<live-player>`
/// (see [`Client::data_reporter`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComponentStatus {
    /// The last `bindstatechange` code.
    pub state: Option<ComponentState>,
    /// The last `bindnetstatus` info.
    pub net: Option<NetStatus>,
    /// The last `binderror`.
    pub error: Option<ComponentError>,
    /// When any of them was last reported (the `now` of that call).
    pub updated_ms: u64,
    /// When a quality sample of this component last reached the app.
    pub quality_sent_ms: Option<u64>,
    /// The phase last announced (`pusher-state` / `player-state`).
    pub phase: Option<Phase>,
}

/// The SDK client. One per mini-program page is typical; it owns at most one socket.
#[derive(Debug)]
pub struct Client {
    cfg: ClientConfig,
    conn: Conn,
    next_req: u32,
    next_op: OpId,
    pending: Vec<Pending>,
    joining: bool,
    /// The token of a join in progress.
    join_token: Option<String>,
    /// The user tag of a join in progress.
    join_user: Option<UserTag>,
    reconnect: Option<Reconnecting>,
    rng: Rng,
    /// The mini-program is in the background (`wx.onAppHide`).
    hidden: bool,
    joined: Option<Joined>,
    role: Role,
    out: VecDeque<Output>,
    /// Server frames that could not be read (kept for diagnostics, never fatal).
    pub bad_frames: u64,
    /// The last heartbeat round trip, in milliseconds.
    pub rtt_ms: Option<u64>,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Self {
        Self {
            conn: Conn::Idle,
            next_req: 1,
            next_op: 1,
            pending: Vec::new(),
            joining: false,
            join_token: None,
            join_user: None,
            reconnect: None,
            rng: Rng::new(cfg.seed),
            hidden: false,
            joined: None,
            role: Role::Broadcaster,
            out: VecDeque::new(),
            bad_frames: 0,
            rtt_ms: None,
            cfg,
        }
    }

    // ---- API calls -------------------------------------------------------------------------

    /// Join `room` as `uid`. `token` may be omitted for app keys the server runs in debug mode.
    pub fn join(
        &mut self,
        now: u64,
        room: &str,
        uid: u64,
        token: Option<String>,
    ) -> Result<OpId, Error> {
        self.join_as(now, room, uid, token, None)
    }

    /// [`Client::join`] with the app's own user id and name (ZEGO's `userID`, `userName`),
    /// which the others see with the member.
    pub fn join_as(
        &mut self,
        now: u64,
        room: &str,
        uid: u64,
        token: Option<String>,
        user: Option<UserTag>,
    ) -> Result<OpId, Error> {
        if self.joining || self.joined.is_some() {
            return Err(Error::new(
                ErrorCode::AlreadyJoined,
                "already joined or joining a room; leave first",
            ));
        }
        names::check_room(room)?;
        let token = token.filter(|t| !t.is_empty());
        self.join_token = token.clone();
        self.join_user = user.clone();
        let req = JoinReq {
            appkey: self.cfg.appkey.clone(),
            room: room.to_owned(),
            uid,
            token,
            role: self.role,
            sdk: self.cfg.sdk.clone(),
            resume: None,
            user,
        };
        if matches!(self.conn, Conn::Idle | Conn::Closing) {
            self.conn = Conn::Connecting {
                deadline: now + self.cfg.connect_timeout_ms,
            };
            self.out.push_back(Output::Connect {
                url: self.cfg.server.clone(),
            });
        }
        self.joining = true;
        Ok(self.request(now, RequestKind::Join, &req, Pend::Join))
    }

    /// Leave the room. Resolves at once when not in a room.
    pub fn leave(&mut self, now: u64) -> Result<OpId, Error> {
        let op = self.op();
        if self.joined.is_some() && self.conn == Conn::Open {
            let (req, frame) = self.send(RequestKind::Leave, &Empty);
            self.pending.push(Pending {
                req,
                op,
                what: Pend::Leave,
                deadline: now + self.cfg.request_timeout_ms,
                frame,
            });
            return Ok(op);
        }
        // Not joined, or joining, or the socket is gone: leaving is local.
        self.teardown(ErrorCode::Cancelled, "left the room");
        self.out.push_back(Output::Resolve {
            op,
            value: OpValue::Done,
        });
        Ok(op)
    }

    /// Publish `media`; resolves with the push URL for `<live-pusher>`.
    pub fn publish(&mut self, now: u64, media: Media) -> Result<OpId, Error> {
        self.publish_as(now, media, None)
    }

    /// [`Client::publish`] naming the stream with the app's own id (ZEGO's `streamID`); the
    /// others see the id with the stream.
    pub fn publish_as(
        &mut self,
        now: u64,
        media: Media,
        stream: Option<String>,
    ) -> Result<OpId, Error> {
        let j = self.joined_ref()?;
        if let Some(s) = &stream {
            names::check_stream_id(s)?;
            if j.stream.as_ref().is_some_and(|old| old != s) && !j.published.is_empty() {
                return Err(Error::invalid(
                    "this member already publishes under another stream id; unpublish first",
                ));
            }
        }
        if j.role == Role::Audience {
            return Err(Error::new(
                ErrorCode::AudienceCannotPublish,
                "an audience member cannot publish; setRole('broadcaster') first",
            ));
        }
        let stream = stream.or_else(|| j.stream.clone());
        if let Some(j) = self.joined.as_mut() {
            j.stream = stream.clone();
        }
        Ok(self.request(
            now,
            RequestKind::Publish,
            &PublishReq { media, stream },
            Pend::Publish,
        ))
    }

    /// Stop sending `media` without unpublishing (the others get `mute-audio` / `mute-video`).
    pub fn mute(&mut self, now: u64, media: Media) -> Result<OpId, Error> {
        self.set_muted(now, media, true)
    }

    /// Send `media` again after [`Client::mute`].
    pub fn unmute(&mut self, now: u64, media: Media) -> Result<OpId, Error> {
        self.set_muted(now, media, false)
    }

    fn set_muted(&mut self, now: u64, media: Media, muted: bool) -> Result<OpId, Error> {
        self.joined_ref()?;
        if media.is_empty() {
            return Err(Error::invalid("mute needs 'audio', 'video' or both"));
        }
        Ok(self.request(
            now,
            RequestKind::Mute,
            &MuteReq { media, muted },
            Pend::Mute { media, muted },
        ))
    }

    pub fn unpublish(&mut self, now: u64, media: Media) -> Result<OpId, Error> {
        self.joined_ref()?;
        Ok(self.request(
            now,
            RequestKind::Unpublish,
            &UnpublishReq { media },
            Pend::Unpublish(media),
        ))
    }

    /// Subscribe to `uid`'s stream; resolves with its play URLs.
    pub fn subscribe(&mut self, now: u64, uid: u64, media: Media) -> Result<OpId, Error> {
        let j = self.joined_ref()?;
        if uid == j.uid {
            return Err(Error::invalid("cannot subscribe to yourself"));
        }
        Ok(self.request(
            now,
            RequestKind::Subscribe,
            &SubscribeReq { uid, media },
            Pend::Subscribe { uid, media },
        ))
    }

    pub fn unsubscribe(&mut self, now: u64, uid: u64, media: Media) -> Result<OpId, Error> {
        self.joined_ref()?;
        Ok(self.request(
            now,
            RequestKind::Unsubscribe,
            &UnsubscribeReq { uid, media },
            Pend::Unsubscribe { uid, media },
        ))
    }

    /// Before join this sets the role to join with; in a room it asks the server.
    pub fn set_role(&mut self, now: u64, role: Role) -> Result<OpId, Error> {
        if self.joined.is_none() {
            if self.joining {
                return Err(Error::new(
                    ErrorCode::NotJoined,
                    "setRole while join is in progress; wait for join",
                ));
            }
            self.role = role;
            let op = self.op();
            self.out.push_back(Output::Resolve {
                op,
                value: OpValue::Done,
            });
            return Ok(op);
        }
        Ok(self.request(
            now,
            RequestKind::SetRole,
            &SetRoleReq { role },
            Pend::SetRole(role),
        ))
    }

    /// Replace the session's join token (after `tokenWillExpire`).
    pub fn renew_token(&mut self, now: u64, token: String) -> Result<OpId, Error> {
        self.joined_ref()?;
        if token.is_empty() {
            return Err(Error::invalid("token is required"));
        }
        let op = self.request(
            now,
            RequestKind::RenewToken,
            &RenewTokenReq {
                token: token.clone(),
            },
            Pend::RenewToken,
        );
        if let Some(j) = self.joined.as_mut() {
            j.next_token = Some(token);
        }
        Ok(op)
    }

    /// Start push tasks. `body` is the JSON text of NetEase's `{rtmpTasks: [...]}`.
    ///
    /// The SDK checks only that it is a JSON object and forwards it as it is: the server types
    /// it and checks every rule (`protocol::tasks::check_tasks`), and a break comes back as
    /// 4005 `invalid_task` naming the field. Typing and checking tasks here as well would add
    /// about 15 KB to the wasm every phone downloads, for an error one round trip sooner.
    pub fn add_tasks(&mut self, now: u64, body: &str) -> Result<OpId, Error> {
        self.tasks_request(now, RequestKind::AddTasks, body, "addTasks")
    }

    /// Replace the whole configuration of existing push tasks (`body` as for
    /// [`add_tasks`](Self::add_tasks)).
    pub fn update_tasks(&mut self, now: u64, body: &str) -> Result<OpId, Error> {
        self.tasks_request(now, RequestKind::UpdateTasks, body, "updateTasks")
    }

    /// Stop push tasks: `body` is the JSON text of `{taskIds: [...]}`.
    pub fn delete_tasks(&mut self, now: u64, body: &str) -> Result<OpId, Error> {
        self.tasks_request(now, RequestKind::DeleteTasks, body, "deleteTasks")
    }

    fn tasks_request(
        &mut self,
        now: u64,
        kind: RequestKind,
        body: &str,
        name: &'static str,
    ) -> Result<OpId, Error> {
        self.joined_ref()?;
        if !json::parse(body).is_ok_and(|v| v.is_object()) {
            return Err(Error::new(
                ErrorCode::InvalidTask,
                cat(&[name, " needs a plain object"]),
            ));
        }
        Ok(self.request(now, kind, &RawJson(body), Pend::Plain(name)))
    }

    /// What the page forwards from its `<live-pusher>` (`Push`) or a `<live-player>` (`Pull`):
    /// `report` is the event's `e.detail` (or `e.detail.info` for netstatus), read leniently by
    /// [`component`]; odd contents are ignored, never an error. `uid` names the remote member a
    /// player plays (for `Pull` it may be left out while exactly one member is subscribed); for
    /// `Push` it is this member.
    ///
    /// The core acts on fatal states a fresh URL cures: `<live-pusher>` -1307 re-publishes
    /// what is published and `<live-player>` -2301 re-subscribes what was subscribed from that
    /// member; the new URL comes out as [`AppEvent::SyncDone`]. One recovery per component at a
    /// time: reports of the same failure while it is in flight change nothing.
    pub fn data_reporter(
        &mut self,
        now: u64,
        kind: ComponentKind,
        event: ReportEvent,
        report: &Json,
        uid: Option<u64>,
    ) -> Result<(), Error> {
        let j = self.joined.as_mut().ok_or_else(|| {
            Error::new(
                ErrorCode::NotJoined,
                "dataReporter needs a joined room; join first",
            )
        })?;
        let key = component_key(j, kind, uid);
        let entry = j.component_mut((kind, key));
        entry.updated_ms = now;
        let mut recover = false;
        let mut phase = None;
        match event {
            ReportEvent::StateChange => {
                let state = match kind {
                    ComponentKind::Push => component::parse_pusher_state(report).map(|s| {
                        recover = s.needs_new_url();
                        phase = match s {
                            PusherState::PushBegin => Some((Phase::Active, s.code())),
                            _ if s.is_fatal() => Some((Phase::Failed, s.code())),
                            _ => None,
                        };
                        ComponentState::Pusher(s)
                    }),
                    ComponentKind::Pull => component::parse_player_state(report).map(|s| {
                        recover = s.needs_new_url();
                        phase = match s {
                            PlayerState::PlayBegin => Some((Phase::Active, s.code())),
                            _ if s.is_fatal() => Some((Phase::Failed, s.code())),
                            _ => None,
                        };
                        ComponentState::Player(s)
                    }),
                };
                if state.is_some() {
                    entry.state = state;
                }
            }
            ReportEvent::NetStatus => {
                if let Some(n) = component::parse_net_status(report) {
                    // Pages forward every sample (about one a second per component, more on
                    // some phones); the app gets at most one per second per component.
                    let due = entry
                        .quality_sent_ms
                        .is_none_or(|t| now.saturating_sub(t) >= QUALITY_INTERVAL_MS);
                    if due && !n.is_empty() {
                        if let Some(uid) = key {
                            entry.quality_sent_ms = Some(now);
                            self.out.push_back(Output::Event(AppEvent::Quality {
                                kind,
                                uid,
                                net: n.clone(),
                            }));
                        }
                    }
                    entry.net = Some(n);
                }
            }
            ReportEvent::Error => {
                if let Some(e) = component::parse_component_error(report) {
                    entry.error = Some(e);
                }
            }
        }
        if let (Some((phase, code)), Some(uid)) = (phase, key) {
            let entry = self
                .joined
                .as_mut()
                .expect("joined above")
                .component_mut((kind, key));
            if entry.phase != Some(phase) || phase == Phase::Failed {
                entry.phase = Some(phase);
                self.out.push_back(Output::Event(match kind {
                    ComponentKind::Push => AppEvent::PusherState { phase, code },
                    ComponentKind::Pull => AppEvent::PlayerState { uid, phase, code },
                }));
            }
        }
        if recover {
            match kind {
                ComponentKind::Push => self.recover_push(now),
                ComponentKind::Pull => {
                    if let Some(uid) = key {
                        self.recover_pull(now, uid);
                    }
                }
            }
        }
        Ok(())
    }

    /// Abandon everything: pending calls are rejected and the socket closes.
    pub fn destroy(&mut self) {
        self.teardown(ErrorCode::Cancelled, "client destroyed");
    }

    /// The mini-program went to the background (`wx.onAppHide`). WeChat suspends it a few
    /// seconds later and may close its sockets; nothing to do until it comes back.
    pub fn app_hidden(&mut self, _now: u64) {
        self.hidden = true;
    }

    /// The mini-program is in the foreground again (`wx.onAppShow`). A reconnect waiting for
    /// its timer goes at once, and an open socket is checked with a ping now rather than at
    /// the next heartbeat: after a suspension it is often dead without having said so.
    pub fn app_shown(&mut self, now: u64) {
        if !::core::mem::replace(&mut self.hidden, false) {
            return;
        }
        self.check_connection_now(now);
    }

    /// The phone's network changed (`wx.onNetworkStatusChange`). When it is connected again,
    /// a reconnect waiting for its backoff timer goes at once, and an open socket is checked
    /// with a ping now: after a Wi-Fi to 4G switch it is often dead without having said so.
    pub fn network_changed(&mut self, now: u64, connected: bool) {
        if connected {
            self.check_connection_now(now);
        }
    }

    fn check_connection_now(&mut self, now: u64) {
        if let Some(r) = self.reconnect.as_mut() {
            if r.next_at.is_some() {
                r.next_at = Some(now);
            }
        } else if let Some(j) = self.joined.as_mut() {
            j.next_ping = now;
        }
        self.handle_timeout(now);
    }

    /// Whether the app is in the background, as last told.
    pub fn is_hidden(&self) -> bool {
        self.hidden
    }

    // ---- socket and time inputs --------------------------------------------------------------

    pub fn handle_socket_open(&mut self, _now: u64) {
        if let Conn::Connecting { .. } = self.conn {
            self.conn = Conn::Open;
            self.out.push_back(Output::Event(AppEvent::Open));
            // The (re)join goes first; then whatever is unanswered, in the order it was asked
            // (`pending` is in that order: requests are appended and removed, never moved).
            for first in [true, false] {
                for p in &self.pending {
                    if matches!(p.what, Pend::Join | Pend::Rejoin) == first {
                        self.out.push_back(Output::Send(p.frame.clone()));
                    }
                }
            }
        }
    }

    pub fn handle_socket_message(&mut self, now: u64, text: &str) {
        if self.conn != Conn::Open {
            return;
        }
        match decode_server(text) {
            Ok(ServerFrame::Ok { re, body }) => {
                if let Some(p) = self.take_pending(re) {
                    self.on_ok(now, p, body);
                }
            }
            Ok(ServerFrame::Err { re: Some(re), err }) => {
                if let Some(p) = self.take_pending(re) {
                    self.on_err(now, p, err.into());
                }
            }
            Ok(ServerFrame::Err { re: None, .. }) => self.bad_frames += 1,
            Ok(ServerFrame::Event { seq, event }) => self.on_event(seq, event),
            Err(_) => self.bad_frames += 1,
        }
    }

    /// The socket closed (or failed to open). `code`/`reason` are the close frame's, if any.
    pub fn handle_socket_close(&mut self, now: u64, code: u16, reason: &str) {
        match self.conn {
            Conn::Idle => {}
            Conn::Closing => {
                self.conn = Conn::Idle;
                if let Some(r) = self.reconnect.as_mut() {
                    r.close_asked = None;
                }
                self.handle_timeout(now);
            }
            Conn::Connecting { .. } | Conn::Open => {
                self.conn = Conn::Idle;
                let msg = cat(&["connection closed (", &num(code.into()), " ", reason, ")"]);
                self.connection_lost(now, DropCause::Closed(code), code, &msg);
            }
        }
    }

    /// A socket error. While connecting it means the connection failed; once open, the close
    /// event that follows carries the news.
    pub fn handle_socket_error(&mut self, now: u64, message: &str) {
        if let Conn::Connecting { .. } = self.conn {
            self.handle_socket_close(now, 1006, message);
        }
    }

    pub fn handle_timeout(&mut self, now: u64) {
        if let Conn::Connecting { deadline } = self.conn {
            if now >= deadline {
                self.close_socket_with(RECONNECT_CLOSE_CODE, "connect timeout");
                let ms = self.cfg.connect_timeout_ms;
                let msg = cat(&["could not connect within ", &num(ms), " ms"]);
                self.connection_lost(now, DropCause::ConnectTimeout, 1006, &msg);
                return;
            }
        }
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
        self.maybe_reconnect(now);
        self.maybe_ping(now);
    }

    fn maybe_ping(&mut self, now: u64) {
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

    /// When [`Client::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        let c = match self.conn {
            Conn::Connecting { deadline } => Some(deadline),
            _ => None,
        };
        let ping = match (&self.joined, self.conn, &self.reconnect) {
            (Some(j), Conn::Open, None) => Some(j.next_ping),
            _ => None,
        };
        let retry = self
            .reconnect
            .and_then(|r| match (r.next_at, r.close_asked) {
                (Some(at), Some(asked)) if self.conn == Conn::Closing => {
                    Some(at.max(asked + CLOSE_GRACE_MS))
                }
                (at, _) => at,
            });
        self.pending
            .iter()
            .map(|p| p.deadline)
            .chain(c)
            .chain(ping)
            .chain(retry)
            .min()
    }

    /// Whether the core is getting a lost connection back (between `willreconnect` and
    /// `reconnected` or `disconnect`).
    pub fn is_reconnecting(&self) -> bool {
        self.reconnect.is_some()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    // ---- state the app (and tests) may read --------------------------------------------------

    pub fn is_joined(&self) -> bool {
        self.joined.is_some()
    }
    pub fn role(&self) -> Role {
        self.joined.as_ref().map_or(self.role, |j| j.role)
    }
    pub fn room(&self) -> Option<&str> {
        self.joined.as_ref().map(|j| j.room.as_str())
    }
    pub fn session(&self) -> Option<&str> {
        self.joined.as_ref().map(|j| j.session.as_str())
    }
    pub fn last_seq(&self) -> u64 {
        self.joined.as_ref().map_or(0, |j| j.last_seq)
    }
    pub fn members(&self) -> impl Iterator<Item = (u64, &Remote)> + '_ {
        self.joined
            .iter()
            .flat_map(|j| j.members.iter().map(|(u, r)| (*u, r)))
    }
    /// The member that publishes the stream the app named `stream`.
    pub fn uid_of_stream(&self, stream: &str) -> Option<u64> {
        let j = self.joined.as_ref()?;
        if j.stream.as_deref() == Some(stream) {
            return Some(j.uid);
        }
        j.members
            .iter()
            .find(|(_, m)| m.stream.as_deref() == Some(stream))
            .map(|(u, _)| *u)
    }
    /// The member that joined with the app's user id `user`.
    pub fn uid_of_user(&self, user: &str) -> Option<u64> {
        let j = self.joined.as_ref()?;
        j.members
            .iter()
            .find(|(_, m)| m.user.as_ref().is_some_and(|t| t.id == user))
            .map(|(u, _)| *u)
    }
    /// This member's uid.
    pub fn uid(&self) -> Option<u64> {
        self.joined.as_ref().map(|j| j.uid)
    }
    /// The kinds this member has muted.
    pub fn muted(&self) -> Media {
        self.joined.as_ref().map_or(Media::NONE, |j| j.muted)
    }
    pub fn published(&self) -> Media {
        self.joined.as_ref().map_or(Media::NONE, |j| j.published)
    }
    /// What this client is subscribed to, per remote uid.
    pub fn subscriptions(&self) -> impl Iterator<Item = (u64, Media)> + '_ {
        self.joined.iter().flat_map(|j| j.subs.iter().copied())
    }
    /// What the page last reported about a component (`uid` as for [`Client::data_reporter`]).
    pub fn component(&self, kind: ComponentKind, uid: Option<u64>) -> Option<&ComponentStatus> {
        let j = self.joined.as_ref()?;
        j.component((kind, component_key(j, kind, uid)))
    }
    /// The last `bindnetstatus` of a component (`uid` as for [`Client::data_reporter`]).
    pub fn quality(&self, kind: ComponentKind, uid: Option<u64>) -> Option<&NetStatus> {
        self.component(kind, uid)?.net.as_ref()
    }
    /// The last `bindnetstatus` of this member's `<live-pusher>`.
    pub fn push_quality(&self) -> Option<&NetStatus> {
        self.quality(ComponentKind::Push, None)
    }
    /// The last `bindnetstatus` of the `<live-player>` playing `uid`.
    pub fn pull_quality(&self, uid: u64) -> Option<&NetStatus> {
        self.quality(ComponentKind::Pull, Some(uid))
    }
    /// Whether a recovery (republish, or resubscribe of that uid) is in flight.
    pub fn recovering(&self, kind: ComponentKind, uid: Option<u64>) -> bool {
        let Some(j) = self.joined.as_ref() else {
            return false;
        };
        match (kind, component_key(j, kind, uid)) {
            (ComponentKind::Push, _) => j.push_recovering,
            (ComponentKind::Pull, Some(u)) => j.pull_recovering.contains(&u),
            (ComponentKind::Pull, None) => false,
        }
    }

    // ---- internals ---------------------------------------------------------------------------

    fn op(&mut self) -> OpId {
        let op = self.next_op;
        self.next_op = self.next_op.wrapping_add(1).max(1);
        op
    }

    fn joined_ref(&self) -> Result<&Joined, Error> {
        self.joined
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::NotJoined, "join a room first"))
    }

    /// `<live-pusher>` gave up: ask for a fresh push URL for what is published.
    fn recover_push(&mut self, now: u64) {
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        if j.push_recovering || j.published.is_empty() || j.role == Role::Audience {
            return;
        }
        j.push_recovering = true;
        let req = PublishReq {
            media: j.published,
            stream: j.stream.clone(),
        };
        self.internal_request(now, RequestKind::Publish, &req, Pend::Republish);
    }

    /// The `<live-player>` playing `uid` gave up: ask for a fresh play URL.
    fn recover_pull(&mut self, now: u64, uid: u64) {
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        let Some(media) = j.sub(uid) else {
            return;
        };
        if j.pull_recovering.contains(&uid) {
            return;
        }
        j.pull_recovering.push(uid);
        self.internal_request(
            now,
            RequestKind::Subscribe,
            &SubscribeReq { uid, media },
            Pend::Resubscribe { uid },
        );
    }

    /// A request the core makes on its own: no op, the app never sees its outcome directly.
    fn internal_request(&mut self, now: u64, kind: RequestKind, body: &dyn ToJson, what: Pend) {
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
    fn send(&mut self, kind: RequestKind, body: &dyn ToJson) -> (u32, String) {
        let req = self.next_req;
        self.next_req = self.next_req.wrapping_add(1).max(1);
        let f = encode_request(req, kind, body);
        if self.conn == Conn::Open {
            self.out.push_back(Output::Send(f.clone()));
        }
        (req, f)
    }

    fn request(&mut self, now: u64, kind: RequestKind, body: &dyn ToJson, what: Pend) -> OpId {
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

    fn take_pending(&mut self, re: u32) -> Option<Pending> {
        let i = self.pending.iter().position(|p| p.req == re)?;
        Some(self.pending.remove(i))
    }

    fn resolve(&mut self, op: OpId, value: OpValue) {
        self.out.push_back(Output::Resolve { op, value });
    }

    fn on_ok(&mut self, now: u64, p: Pending, body: Json) {
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
                    self.out
                        .push_back(Output::Event(AppEvent::SyncDone { uid, url: ok.url }));
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
                    self.out
                        .push_back(Output::Event(AppEvent::SyncDone { uid, url: ok.url }));
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

    fn on_err(&mut self, now: u64, p: Pending, err: Error) {
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
        self.out.push_back(Output::Reject {
            op: p.op,
            error: err,
        });
    }

    fn joined_ok(&mut self, now: u64, op: OpId, ok: JoinOk) {
        self.joining = false;
        let members = member_map(&ok.members);
        self.joined = Some(Joined {
            room: ok.room,
            uid: ok.uid,
            role: ok.role,
            token: self.join_token.take(),
            next_token: None,
            session: ok.session,
            last_seq: ok.seq,
            members: members.clone(),
            published: Media::NONE,
            stream: None,
            muted: Media::NONE,
            user: self.join_user.take(),
            ping_interval: heartbeat_ms(ok.ping_interval_ms),
            ping_timeout: heartbeat_ms(ok.ping_timeout_ms),
            next_ping: now.saturating_add(heartbeat_ms(ok.ping_interval_ms)),
            subs: Vec::new(),
            push_recovering: false,
            pull_recovering: Vec::new(),
            components: Vec::new(),
        });
        self.role = ok.role;
        self.resolve(op, OpValue::Done);
        // Those already in the room appear to the app just as later arrivals do.
        for (uid, m) in members {
            self.identity(uid, &m);
            self.out
                .push_back(Output::Event(AppEvent::ClientJoin { uid }));
            self.stream_events(uid, m.live, true);
            self.mute_events(uid, m.muted, true);
        }
    }

    // ---- losing the connection and getting it back -------------------------------------------

    /// The connection is gone (`conn` is already `Idle` or `Closing`). Out of a room this fails
    /// whatever was asked; in a room the core keeps the room's state and reconnects, unless the
    /// policy says to stop.
    fn connection_lost(&mut self, now: u64, cause: DropCause, code: u16, msg: &str) {
        self.pending
            .retain(|p| !matches!(p.what, Pend::Ping { .. } | Pend::Rejoin));
        if self.joined.is_none() {
            self.fail_all(ErrorCode::ConnectionLost, msg);
            return;
        }
        if let Some(i) = self.pending.iter().position(|p| p.what == Pend::Leave) {
            // Leaving anyway: the server drops the session when it notices.
            let p = self.pending.remove(i);
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
    fn maybe_reconnect(&mut self, now: u64) {
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
            resume: Some(Resume {
                session: j.session.clone(),
                last_seq: j.last_seq,
            }),
            user: j.user.clone(),
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
    fn rejoined(&mut self, now: u64, ok: JoinOk) {
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
        if ok.resumed {
            return;
        }
        let new = member_map(&ok.members);
        let old = ::core::mem::replace(&mut j.members, new.clone());
        j.session = ok.session;
        j.last_seq = ok.seq;
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
        let republish =
            (!j.published.is_empty() && j.role == Role::Broadcaster).then_some(j.published);
        if republish.is_none() {
            j.published = Media::NONE;
        }
        let subs: Vec<(u64, Media)> = ::core::mem::take(&mut j.subs)
            .into_iter()
            .filter(|(uid, _)| new.contains_key(uid))
            .collect();
        j.subs = subs.clone();
        let muted = j.muted;
        if let Some(media) = republish {
            j.push_recovering = true;
            let req = PublishReq {
                media,
                stream: j.stream.clone(),
            };
            self.internal_request(now, RequestKind::Publish, &req, Pend::Republish);
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
            if let Some(j) = self.joined.as_mut() {
                j.pull_recovering.push(uid);
            }
            self.internal_request(
                now,
                RequestKind::Subscribe,
                &SubscribeReq { uid, media },
                Pend::Resubscribe { uid },
            );
        }
    }

    /// The server refused the rejoin (or did not answer it).
    fn rejoin_failed(&mut self, now: u64, err: Error) {
        match err.code {
            // The session's final event came just before; it already ended everything.
            ErrorCode::SessionEnded => {
                if self.joined.is_some() {
                    self.teardown(ErrorCode::Cancelled, "the session was ended by the server");
                }
            }
            ErrorCode::Timeout => {
                self.close_socket_with(RECONNECT_CLOSE_CODE, "rejoin timeout");
                self.connection_lost(now, DropCause::RejoinTimeout, 1006, &err.message);
            }
            ErrorCode::LimitExceeded | ErrorCode::Internal => {
                self.close_socket_with(RECONNECT_CLOSE_CODE, "rejoin refused");
                let cause = DropCause::RejoinRefused(err.code.as_u16());
                self.connection_lost(now, cause, 1006, &err.message);
            }
            ErrorCode::TokenExpired => {
                self.teardown(ErrorCode::TokenExpired, &err.message);
                self.out.push_back(Output::Event(AppEvent::Kicked {
                    reason: KickReason::TokenExpired,
                }));
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

    fn on_event(&mut self, seq: u64, ev: Event) {
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        if seq <= j.last_seq {
            return; // already applied
        }
        j.last_seq = seq;
        match ev {
            Event::MemberJoined { uid, role, user } => {
                if user.is_some() {
                    self.out.push_back(Output::Event(AppEvent::Identity {
                        uid,
                        user: user.clone(),
                        stream: None,
                    }));
                }
                j.members.insert(
                    uid,
                    Remote {
                        role,
                        live: Media::NONE,
                        muted: Media::NONE,
                        user,
                        stream: None,
                    },
                );
                self.out
                    .push_back(Output::Event(AppEvent::ClientJoin { uid }));
            }
            Event::MemberLeft { uid, reason } => {
                if let Some(m) = j.members.remove(&uid) {
                    j.forget_member(uid);
                    self.stream_events(uid, m.live, false);
                    self.out
                        .push_back(Output::Event(AppEvent::ClientLeave { uid, reason }));
                }
            }
            Event::StreamAdded { uid, media, stream } => {
                let m = j.members.get_or_insert(
                    uid,
                    Remote {
                        role: Role::Broadcaster,
                        live: Media::NONE,
                        muted: Media::NONE,
                        user: None,
                        stream: None,
                    },
                );
                if stream.is_some() && stream != m.stream {
                    m.stream = stream;
                    self.out.push_back(Output::Event(AppEvent::Identity {
                        uid,
                        user: m.user.clone(),
                        stream: m.stream.clone(),
                    }));
                }
                let new = media.minus(m.live);
                m.live = m.live.union(media);
                self.stream_events(uid, new, true);
            }
            Event::StreamRemoved { uid, media } => {
                if let Some(m) = j.members.get_mut(&uid) {
                    let gone = m.live.intersect(media);
                    m.live = m.live.minus(media);
                    self.stream_events(uid, gone, false);
                }
            }
            Event::TaskStatus {
                task_id,
                code,
                msg,
                stream_url,
            } => {
                self.out.push_back(Output::Event(AppEvent::RtmpTasksStatus {
                    task_id,
                    code,
                    msg,
                    stream_url,
                }));
            }
            Event::Kicked { reason } => {
                self.session_over("kicked by the server");
                self.out
                    .push_back(Output::Event(AppEvent::Kicked { reason }));
            }
            Event::TokenWillExpire { remaining_s } => {
                self.out
                    .push_back(Output::Event(AppEvent::TokenWillExpire { remaining_s }));
            }
            Event::RoomClosed {} => {
                self.session_over("the room was closed");
                self.out.push_back(Output::Event(AppEvent::LiveRoomClose));
            }
            Event::MuteChanged { uid, media, muted } => {
                if let Some(m) = j.members.get_mut(&uid) {
                    let changed = if muted {
                        media.minus(m.muted)
                    } else {
                        media.intersect(m.muted)
                    };
                    m.muted = if muted {
                        m.muted.union(media)
                    } else {
                        m.muted.minus(media)
                    };
                    self.mute_events(uid, changed, muted);
                }
            }
            Event::RoleChanged { uid, role } => {
                if let Some(m) = j.members.get_mut(&uid) {
                    m.role = role;
                }
                self.out
                    .push_back(Output::Event(AppEvent::RoleChanged { uid, role }));
            }
        }
    }

    /// Tell the app a member's own ids, when it has any.
    fn identity(&mut self, uid: u64, m: &Remote) {
        if m.user.is_some() || m.stream.is_some() {
            self.out.push_back(Output::Event(AppEvent::Identity {
                uid,
                user: m.user.clone(),
                stream: m.stream.clone(),
            }));
        }
    }

    /// Announce a component's phase if it changed.
    fn set_phase(&mut self, kind: ComponentKind, uid: Option<u64>, phase: Phase) {
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        let key = component_key(j, kind, uid);
        let Some(who) = key else {
            return;
        };
        let entry = j.component_mut((kind, key));
        if entry.phase == Some(phase) {
            return;
        }
        entry.phase = Some(phase);
        self.out.push_back(Output::Event(match kind {
            ComponentKind::Push => AppEvent::PusherState { phase, code: 0 },
            ComponentKind::Pull => AppEvent::PlayerState {
                uid: who,
                phase,
                code: 0,
            },
        }));
    }

    fn mute_events(&mut self, uid: u64, media: Media, muted: bool) {
        for (on, kind) in [
            (media.audio, MediaKind::Audio),
            (media.video, MediaKind::Video),
        ] {
            if on {
                self.out.push_back(Output::Event(AppEvent::MuteChanged {
                    uid,
                    media: kind,
                    muted,
                }));
            }
        }
    }

    fn stream_events(&mut self, uid: u64, media: Media, added: bool) {
        for (on, kind) in [
            (media.audio, MediaKind::Audio),
            (media.video, MediaKind::Video),
        ] {
            if on {
                let ev = if added {
                    AppEvent::StreamAdded { uid, media: kind }
                } else {
                    AppEvent::StreamRemoved { uid, media: kind }
                };
                self.out.push_back(Output::Event(ev));
            }
        }
    }

    /// Close the socket for good: the server takes a normal close as goodbye and lets the
    /// member go at once.
    fn close_socket(&mut self, reason: &str) {
        self.close_socket_with(1000, reason);
    }

    fn close_socket_with(&mut self, code: u16, reason: &str) {
        if matches!(self.conn, Conn::Open | Conn::Connecting { .. }) {
            self.conn = Conn::Closing;
            self.out.push_back(Output::Close {
                code,
                reason: reason.into(),
            });
        }
    }

    fn fail_all(&mut self, code: ErrorCode, msg: &str) {
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

    /// A heartbeat went unanswered: the connection is dead even if the socket says nothing.
    fn connection_dead(&mut self, now: u64) {
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
    fn session_over(&mut self, why: &str) {
        self.fail_all(ErrorCode::Cancelled, why);
        self.close_socket(why);
    }

    fn teardown(&mut self, code: ErrorCode, msg: &str) {
        self.fail_all(code, msg);
        self.close_socket(msg);
    }
}

/// A heartbeat period from the server, kept within what makes sense whatever it sent.
fn heartbeat_ms(v: u64) -> u64 {
    v.clamp(100, 600_000)
}

fn member_map(members: &[MemberInfo]) -> UidMap<Remote> {
    members
        .iter()
        .map(|m| {
            (
                m.uid,
                Remote {
                    role: m.role,
                    live: m.live,
                    muted: m.muted,
                    user: m.user.clone(),
                    stream: m.stream.clone(),
                },
            )
        })
        .collect()
}

fn protocol_violation(what: &str, e: WireError) -> Error {
    Error::new(
        ErrorCode::ProtocolViolation,
        cat(&["unreadable ", what, " response: ", &e.msg]),
    )
}

fn pend_name(p: Pend) -> &'static str {
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
    }
}

/// Which component entry a report is about: the pusher is always this member's; a player is the
/// given uid, or the only subscribed member when the page left the uid out.
fn component_key(j: &Joined, kind: ComponentKind, uid: Option<u64>) -> Option<u64> {
    match kind {
        ComponentKind::Push => Some(j.uid),
        ComponentKind::Pull => uid.or_else(|| match j.subs[..] {
            [(only, _)] => Some(only),
            _ => None,
        }),
    }
}
