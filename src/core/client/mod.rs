//! The client state machine: connection lifecycle, request/response correlation with
//! per-request deadlines, room membership and the streams of every member.
//!
//! Sans-IO, in quinn-proto's manner: every method takes the current time in milliseconds (any
//! monotonic origin) and returns at once; the effects queue up as [`Output`]s for the driver to
//! carry out, and [`Client::poll_timeout`] says when [`Client::handle_timeout`] must be called
//! next. The core never reads a clock, opens a socket or calls back into JavaScript, so every
//! decision it makes can be tested natively in virtual time.
//!
//! # Driving it
//!
//! After every input (an API call, a socket event, a timer, an app lifecycle event) the driver
//! drains [`Client::poll_output`] to the end, carries out each output in order, then sleeps until
//! [`Client::poll_timeout`] or the next socket event, whichever comes first:
//!
//! ```
//! use mprtc::core::{Client, ClientConfig, Output};
//!
//! let mut client = Client::new(ClientConfig::new("appkey", "wss://rtc.example.com/ws")?);
//! let now = 0; // ms from any monotonic origin: the core never reads a clock itself
//! let join = client.join(now, "room-1", 42, None)?;
//!
//! let mut drive = |client: &mut Client, frames: &mut Vec<String>| {
//!     while let Some(out) = client.poll_output() {
//!         match out {
//!             // Open a WebSocket; report what it does with `handle_socket_*`.
//!             Output::Connect { url } => assert!(url.starts_with("wss://")),
//!             Output::Send(text) => frames.push(text), // socket.send(text)
//!             Output::Close { .. } => {}               // socket.close(code, reason)
//!             Output::Event(_) => {}                   // the app's listeners
//!             Output::Resolve { op, .. } | Output::Reject { op, .. } => assert_eq!(op, join),
//!         }
//!     }
//! };
//! let mut frames = Vec::new();
//! drive(&mut client, &mut frames); // Connect: the join waits for the socket
//! client.handle_socket_open(now);
//! drive(&mut client, &mut frames); // the join goes out
//! assert_eq!(frames.len(), 1);
//!
//! // Nothing from the server: at the deadline, the join is rejected with a timeout.
//! let deadline = client.poll_timeout().expect("the join has a deadline");
//! client.handle_timeout(deadline);
//! drive(&mut client, &mut frames);
//! # Ok::<(), mprtc::core::Error>(())
//! ```
//!
//! # Where things are
//!
//! This file holds the [`Client`] and its surface: the `handle_*` inputs, the `poll_*` outputs
//! and the queries. The rest is split by concern, each file one more `impl Client` block:
//!
//! | file | holds |
//! |---|---|
//! | `config.rs` | [`ClientConfig`] |
//! | `commands.rs` | the API calls (join, publish, subscribe, tasks, destroy …) |
//! | `requests.rs` | requests in flight: ids, deadlines, answers, heartbeats |
//! | `room.rs` | room state ([`Remote`], members, streams) and the server's events |
//! | `resume.rs` | losing the connection: reconnect, rejoin, restore, teardown |
//! | `components.rs` | `<live-pusher>` / `<live-player>` reports and their recoveries |

use alloc::collections::VecDeque;

use crate::prelude::*;

use crate::core::component::{ComponentKind, NetStatus};
use crate::core::output::{AppEvent, OpId, Output};
use crate::core::reconnect::{DropCause, Rng};
use crate::protocol::frame::decode_server;
use crate::protocol::*;
use crate::text::{cat, num};

mod commands;
mod components;
mod config;
mod messages;
mod requests;
mod resume;
mod room;

pub use components::{ComponentStatus, QUALITY_INTERVAL_MS};
pub use config::ClientConfig;
pub use room::Remote;

use components::component_key;
use requests::{Pend, Pending};
use resume::{Reconnecting, CLOSE_GRACE_MS};
use room::Joined;

/// The close code the client uses (and reports in `disconnect`) when heartbeats go unanswered.
pub const HEARTBEAT_CLOSE_CODE: u16 = 4408;

/// The close code of a socket closed for good (`leave`, `destroy`, a session the server
/// ended): WebSocket's normal closure, which the server takes as goodbye.
pub const LEAVE_CLOSE_CODE: u16 = 1000;

/// The code of a close that came without a close frame (the socket failed, never opened, or
/// the core gave up on it): WebSocket's 1006, abnormal closure, as the browser reports it.
pub const LOST_CLOSE_CODE: u16 = 1006;

/// The close code of a socket the client drops in order to open another: the server keeps
/// the session for a resume (a normal close, 1000, means the client is gone for good).
pub const RECONNECT_CLOSE_CODE: u16 = 4000;

/// Where the one signaling socket stands. The socket's deadlines live here, the requests' in
/// [`Pending`], the heartbeat's in [`Joined`] and the reconnect's in [`Reconnecting`]:
/// [`Client::poll_timeout`] takes the earliest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// No socket, or the last one has reported its close.
    Idle,
    /// [`Output::Connect`] was asked for; the socket must open by `deadline`.
    Connecting { deadline: u64 },
    /// The socket is open: requests go out as they are made.
    Open,
    /// We asked for the socket to close; its close event is expected, not news.
    Closing,
}

/// The SDK client. One per mini-program page is typical; it owns at most one socket.
#[derive(Debug)]
pub struct Client {
    cfg: ClientConfig,
    conn: Conn,
    /// The id of the next request frame (never 0; the server caches answers by it).
    next_req: u32,
    /// The id of the next API call (never 0: internal requests use 0).
    next_op: OpId,
    /// Requests without an answer yet, in the order they were made.
    pending: Vec<Pending>,
    /// A join was asked for and not answered yet.
    joining: bool,
    /// The token of a join in progress.
    join_token: Option<String>,
    /// The user tag of a join in progress.
    join_user: Option<UserTag>,
    /// What the server records of this member's streams, asked at join (kept for rejoins).
    pub(crate) join_record: Media,
    /// Set while getting a lost connection back.
    reconnect: Option<Reconnecting>,
    /// The reconnect jitter.
    rng: Rng,
    /// The mini-program is in the background (`wx.onAppHide`).
    hidden: bool,
    /// The room, once the server accepted the join; kept while reconnecting.
    joined: Option<Joined>,
    /// The role to join with (the room's own is in `joined`).
    role: Role,
    /// What [`Client::poll_output`] hands out next.
    out: VecDeque<Output>,
    /// Server frames that could not be read (kept for diagnostics, never fatal).
    pub bad_frames: u64,
    /// The last heartbeat round trip, in milliseconds.
    pub rtt_ms: Option<u64>,
}

impl Client {
    /// A client with nothing to do yet: no socket opens before [`Client::join`].
    pub fn new(cfg: ClientConfig) -> Self {
        Self {
            conn: Conn::Idle,
            next_req: 1,
            next_op: 1,
            pending: Vec::new(),
            joining: false,
            join_token: None,
            join_user: None,
            join_record: Media::NONE,
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

    /// Whether the app is in the background, as last told.
    pub fn is_hidden(&self) -> bool {
        self.hidden
    }

    // ---- socket and time inputs --------------------------------------------------------------

    /// The socket asked for by [`Output::Connect`] opened. The (re)join queued while connecting
    /// goes out first, then every request still unanswered, so nothing asked offline is lost.
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

    /// A text frame from the server: an answer settles its request, an event updates the room.
    /// Frames that cannot be read are counted in [`Client::bad_frames`], never fatal: a newer
    /// server may send what this client does not know.
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
            Ok(ServerFrame::Event { seq, event }) => self.on_event(now, seq, event),
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
            self.handle_socket_close(now, LOST_CLOSE_CODE, message);
        }
    }

    /// Time passed: call it at (or after) the instant [`Client::poll_timeout`] gave. It fails
    /// the requests whose deadline has passed, gives up on a socket that did not open, opens
    /// the next socket of a reconnect and sends the heartbeat. Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: u64) {
        if let Conn::Connecting { deadline } = self.conn {
            if now >= deadline {
                self.close_socket_with(RECONNECT_CLOSE_CODE, "connect timeout");
                let ms = self.cfg.connect_timeout_ms;
                let msg = cat(&["could not connect within ", &num(ms), " ms"]);
                self.connection_lost(now, DropCause::ConnectTimeout, LOST_CLOSE_CODE, &msg);
                return;
            }
        }
        self.expire_requests(now);
        self.maybe_reconnect(now);
        self.maybe_ping(now);
    }

    /// When [`Client::handle_timeout`] must next be called, if ever (absolute ms, as `now`).
    /// Ask again after every input: any of them can move the next deadline.
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

    /// The next thing for the driver to do, in order. Drain it to `None` after every input
    /// and carry each out before the next input, so sends keep the order they were made in.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    // ---- state the app (and tests) may read --------------------------------------------------

    /// Whether the server accepted the join (and the room was not left since). Stays true
    /// while reconnecting: the room's state is kept for the rejoin.
    pub fn is_joined(&self) -> bool {
        self.joined.is_some()
    }
    /// The role in the room, or the one the next join will ask for.
    pub fn role(&self) -> Role {
        self.joined.as_ref().map_or(self.role, |j| j.role)
    }
    /// The room joined.
    pub fn room(&self) -> Option<&str> {
        self.joined.as_ref().map(|j| j.room.as_str())
    }
    /// The server's session id, which a rejoin offers to resume.
    pub fn session(&self) -> Option<&str> {
        self.joined.as_ref().map(|j| j.session.as_str())
    }
    /// The sequence number of the last room event applied: a resume asks for what follows it.
    pub fn last_seq(&self) -> u64 {
        self.joined.as_ref().map_or(0, |j| j.last_seq)
    }
    /// The other members of the room, by uid.
    pub fn members(&self) -> impl Iterator<Item = (u64, &Remote)> + '_ {
        self.joined
            .iter()
            .flat_map(|j| j.members.iter().map(|(u, r)| (*u, r)))
    }
    /// The member behind the stream the app named `stream` (ZEGO's stream id): the one that
    /// published under it (this member too), or a member that gave no stream id and whose uid
    /// in decimal it is, as a NetEase-style member's stream is named by its uid.
    pub fn uid_of_stream(&self, stream: &str) -> Option<u64> {
        let j = self.joined.as_ref()?;
        if j.stream.as_deref() == Some(stream) {
            return Some(j.uid);
        }
        j.members
            .iter()
            .find(|(u, m)| match &m.stream {
                Some(s) => s == stream,
                None => num(**u) == stream,
            })
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
    /// Whether this client speaks for the ZEGO engine (its members are named by user ids).
    pub fn is_zego(&self) -> bool {
        self.cfg.zego
    }
    /// This member's uid.
    pub fn uid(&self) -> Option<u64> {
        self.joined.as_ref().map(|j| j.uid)
    }
    /// The kinds this member has muted.
    pub fn muted(&self) -> Media {
        self.joined.as_ref().map_or(Media::NONE, |j| j.muted)
    }
    /// The kinds this member publishes, as the server confirmed them.
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
}
