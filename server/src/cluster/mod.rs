//! Several `mprtc-server` nodes as one service, over Redis (`redis_url`).
//!
//! Without `redis_url` none of this runs: one node holds every room, as always.
//!
//! # The design
//!
//! - **One owner per room.** A room is served by exactly one node, its owner: the only node
//!   that runs the room's hub state, its events, seqs, resumes, push tasks and webhooks.
//!   Ownership is a Redis key `mprtc:owner:{app}:{room}` = `{node}:{epoch}`, set with `NX`
//!   and a lease (`PX`), the epoch from `INCR`, renewed by the owner only (`store.rs`).
//! - **Relay.** A member may connect to any node. The node reads the connection's first
//!   join (it names the app and the room): if it owns the room, or claims it because nobody
//!   does, it serves the member itself; otherwise it opens a WebSocket to the owner's
//!   registered internal address (`/cluster/relay`, authenticated by the cluster secret)
//!   and pipes frames both ways, closes and close codes included (`relay.rs`). Members of
//!   one room on different nodes are members of one hub: the same events in the same order.
//! - **The server API on any node** is forwarded to the room's owner (`forward.rs`).
//! - **Addresses come from the registry only.** A node connects only to an address a node
//!   registered under `mprtc:node:{id}` (its `cluster_advertise`), never to one named by a
//!   request; a relay or forwarded call names the node it is for, and a node refuses calls
//!   for any other id (`inbound.rs`).
//!
//! # Why a split brain cannot deliver contradictory events
//!
//! A node serves a room only while it believes it holds the room's lease, and it believes
//! that for at most two thirds of the lease after Redis last confirmed it (`lease.rs`):
//! renewals run every third of the lease with a script that renews only if the key still
//! holds this node's `{node}:{epoch}`; a renewal that finds another value, or no answer for
//! two thirds of the lease, makes the node drop the room at once, silently, closing its
//! sockets with [`crate::signaling::hub::ROOM_MOVED_CLOSE_CODE`]. Another node can claim the
//! room only after the key expired, a full lease after the last renewal, so the old owner
//! has stopped speaking for the room a third of a lease before the new one can start
//! (clocks need only run at the same rate, not agree). Members of a dropped room reconnect
//! through the same address and are routed to the new owner.
//!
//! # What survives an owner
//!
//! The owner writes each room's state (members with their seqs and last events, tasks,
//! kicks) to Redis behind the same fence (`state.rs`, `commit.rs`); a node that claims a
//! room with a new epoch reads it back first, and the members resume there. A member may
//! resume only up to what was written: one that heard more from the dead owner rejoins from
//! a snapshot, so the two owners' stories never mix.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Cluster`], [`ClusterConfig`], [`ClusterError`] and where a join goes ([`Cluster::route`]) |
//! | `store.rs` | the Redis keys and scripts: registry, ownership, fencing |
//! | `lease.rs` | the lease loop: registry entry, renewals, rooms given up |
//! | `relay.rs` | the relay: frames piped to and from the owner |
//! | `inbound.rs` | `/cluster/relay` and forwarded calls: the secret and the node id checked |
//! | `forward.rs` | the server API reaching a node that does not own the room |
//! | `hooks.rs` | an external media engine's hooks reaching a node that does not own the room |
//! | `state.rs` | a room's state in Redis: the fenced write, the bounded read |
//! | `commit.rs` | the committer writing the owned rooms' changes, and the takeover reading them |

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use rand::RngCore;
use tokio::time::Instant;

use crate::config::Secret;
use crate::signaling::hub::ROOM_MOVED_CLOSE_CODE;
use crate::signaling::ws::Hop;

mod commit;
mod forward;
mod hooks;
mod inbound;
mod kicks;
mod lease;
pub mod relay;
mod state;
mod store;

pub use forward::forward_layer;
pub use hooks::{hook_forward, MediaRecords};
pub use inbound::{router, CLUSTER_AUTH_HEADER, CLUSTER_NODE_HEADER};
use store::Store;

/// A room: `(app, room)`.
pub type RoomKey = (String, String);

/// A cluster node's settings (all required once `redis_url` is set).
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// `redis://[user:password@]host:port[/db]`; prints redacted (it may hold a password).
    pub redis_url: Secret,
    /// `host:port` other nodes reach this node's signaling listener at (from
    /// `cluster_advertise`, `http://host:port`).
    pub advertise: String,
    /// Authenticates node-to-node calls (at least 32 bytes).
    pub secret: Secret,
    /// How long a node's registry entry and its rooms' ownership live without a renewal.
    pub lease_ms: u64,
}

/// Why a cluster operation failed; each with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The Redis URL does not parse.
    #[error("redis_url is invalid: {0}")]
    BadRedisUrl(String),
    /// Redis did not answer, or answered with an error.
    #[error("redis: {0}")]
    Store(String),
    /// The room's owner has no registry entry (it died; its lease has not run out yet).
    #[error("the node that owns this room is gone; retry shortly")]
    OwnerGone,
    /// A registry entry that is not `host:port`.
    #[error("node {0:?} registered an address that is not host:port")]
    BadNodeAddress(String),
    /// The owner could not be reached.
    #[error("cannot reach the room's node: {0}")]
    Relay(String),
    /// A node-to-node call without the cluster secret, or with a wrong one.
    #[error("node-to-node call without a valid cluster secret")]
    Unauthorized,
    /// A node-to-node call for another node id.
    #[error("this call is for another node")]
    WrongNode,
    /// A room's state in Redis that cannot be used (corrupt, oversized); the room starts
    /// empty.
    #[error("room state refused: {0}")]
    BadState(&'static str),
}

impl ClusterError {
    /// The stable code of this error (`cluster.*`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRedisUrl(_) => "cluster.bad_redis_url",
            Self::Store(_) => "cluster.store_unreachable",
            Self::OwnerGone => "cluster.owner_gone",
            Self::BadNodeAddress(_) => "cluster.bad_node_address",
            Self::Relay(_) => "cluster.relay_failed",
            Self::Unauthorized => "cluster.unauthorized",
            Self::WrongNode => "cluster.wrong_node",
            Self::BadState(_) => "cluster.bad_state",
        }
    }
}

/// A room this node owns: the value of its owner key, when Redis last confirmed it, and
/// how many lease rounds in a row it was not in the hub (it is released after two).
#[derive(Debug, Clone)]
struct Owned {
    value: String,
    confirmed: Instant,
    absent: u8,
}

/// Where a member's join goes.
#[derive(Debug)]
pub enum Route {
    /// This node owns the room: the hub here serves it.
    Here,
    /// Node `node` at internal `host:port` `authority` owns it: relay there.
    Owner { node: String, authority: String },
}

/// What the shell does with a connection's frame (see [`Cluster::admit`]).
pub enum Admit {
    /// Hand it to the hub here, as on a single node.
    Here,
    /// Pipe the connection to the room's owner over this WebSocket.
    Relay(Box<relay::Upstream>),
    /// Close the connection with this code and reason (the client reconnects and is routed
    /// anew).
    Refuse(u16, &'static str),
}

/// Frames longer than this are not looked into: no join is this long, and the hub answers
/// an oversized frame itself.
const MAX_PEEK: usize = 64 * 1024;

/// This node's part in the cluster.
pub struct Cluster {
    /// This process's node id: random per start, so a restarted node is a new node and
    /// never mistakes an older epoch for its own.
    pub node: String,
    advertise: String,
    secret: Secret,
    lease_ms: u64,
    store: Store,
    /// The app keys this server knows: a join for another key is the hub's to refuse,
    /// and never touches Redis.
    apps: HashSet<String>,
    owned: Mutex<HashMap<RoomKey, Owned>>,
    /// Whether the last Redis call went through, for `/readyz`.
    reachable: AtomicBool,
    /// The addresses of the live nodes, as the registry last listed them: their connections
    /// here (one per relayed member) are not held to the per-address cap.
    peers: RwLock<HashSet<IpAddr>>,
    /// The media room ids of the rooms owned here, as recorded in Redis (`hooks.rs`).
    media: hooks::MediaRecords,
    /// The shell, once the lease loop started: a takeover puts the room's state into its hub.
    signaling: std::sync::OnceLock<crate::signaling::ws::Signaling>,
    /// Held from a claim with a new epoch until the room's state is in the hub, so that no
    /// join is served in between (it would find the room empty).
    taking: tokio::sync::Mutex<()>,
    /// Commit rounds ended so far, and the call for one at once (`commit.rs`): the server
    /// API's kicks and room closes answer once what they did is written.
    commits: tokio::sync::watch::Sender<u64>,
    commit_now: tokio::sync::Notify,
}

impl Cluster {
    /// This node in a cluster configured by `cfg`, serving `apps`.
    pub fn new(cfg: &ClusterConfig, apps: HashSet<String>) -> Result<Self, ClusterError> {
        let mut id = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut id);
        Ok(Self {
            node: id.iter().map(|b| format!("{b:02x}")).collect(),
            advertise: cfg.advertise.clone(),
            secret: cfg.secret.clone(),
            lease_ms: cfg.lease_ms,
            store: Store::open(cfg.redis_url.expose())?,
            apps,
            owned: Mutex::default(),
            reachable: AtomicBool::new(false),
            peers: RwLock::default(),
            media: hooks::MediaRecords::default(),
            signaling: std::sync::OnceLock::new(),
            taking: tokio::sync::Mutex::new(()),
            commits: tokio::sync::watch::Sender::new(0),
            commit_now: tokio::sync::Notify::new(),
        })
    }

    fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// Whether Redis answered the last call made to it.
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Notes whether a Redis call went through; passes its result on.
    fn seen<T>(&self, r: Result<T, ClusterError>) -> Result<T, ClusterError> {
        let up = !matches!(r, Err(ClusterError::Store(_)));
        self.reachable.store(up, Ordering::Relaxed);
        r
    }

    /// Whether `app` is one of this server's app keys and `room` a valid room name: only
    /// then is a request worth a Redis call (anything else is refused by the hub or the API
    /// as on one node).
    pub fn routable(&self, app: &str, room: &str) -> bool {
        self.apps.contains(app) && mprtc::protocol::names::check_room(room).is_ok()
    }

    /// Where a join into `app`/`room` goes: here if this node owns the room or claims it now,
    /// else to its owner's registered address.
    pub async fn route(&self, app: &str, room: &str) -> Result<Route, ClusterError> {
        let key: RoomKey = (app.to_owned(), room.to_owned());
        let fresh = self.lease() / 3;
        {
            let owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            if owned
                .get(&key)
                .is_some_and(|o| o.confirmed.elapsed() < fresh)
            {
                return Ok(Route::Here);
            }
        }
        if self.full_for(&key) {
            // A node at its room limit claims nothing: a room someone owns is relayed there,
            // and a room nobody owns is refused here by the hub as on any full node (4029),
            // so the member goes elsewhere through the load balancer, and a dead owner's
            // room is taken over, state and all, by a node with room for it.
            return match self.seen(self.store.owner(app, room).await)? {
                Some(value) => self.owner_route(key, value, None).await,
                None => Ok(Route::Here),
            };
        }
        let now = Instant::now();
        let value = self.seen(self.store.claim(app, room, &self.node, self.lease_ms).await)?;
        if self.newly_ours(&key, &value) {
            let _taking = self.taking.lock().await;
            if self.newly_ours(&key, &value) && !self.take_over(&key, &value).await {
                // Refused for the room limit (reached since the check above): the claim is
                // given back, the state kept, and the hub refuses the join.
                return Ok(Route::Here);
            }
            return self.owner_route(key, value, Some(now)).await;
        }
        self.owner_route(key, value, Some(now)).await
    }

    /// Whether this node's hub is at its room limit for `key`'s app and does not hold `key`.
    fn full_for(&self, key: &RoomKey) -> bool {
        self.signaling.get().is_some_and(|sig| {
            sig.api(|h, _| h.media_id(&key.0, &key.1).is_none() && h.at_room_limit(&key.0))
        })
    }

    /// Whether `value` is this node's and not yet known here: a claim with a new epoch.
    fn newly_ours(&self, key: &RoomKey, value: &str) -> bool {
        let node = value.rsplit_once(':').map_or(value, |(n, _)| n);
        let owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
        node == self.node && owned.get(key).is_none_or(|o| o.value != value)
    }

    /// Where a call about `app`/`room` goes, without claiming it: `None` if nobody owns it.
    pub async fn owner_of(&self, app: &str, room: &str) -> Result<Option<Route>, ClusterError> {
        let Some(value) = self.seen(self.store.owner(app, room).await)? else {
            return Ok(None);
        };
        let key = (app.to_owned(), room.to_owned());
        // A read renews nothing: it confirms no lease.
        self.owner_route(key, value, None).await.map(Some)
    }

    /// The route an owner value stands for. When it is this node's and the call that read it
    /// also set or renewed it (`renewed_at`: when that call was made), the lease is confirmed
    /// as of then: Redis extended it after that instant.
    async fn owner_route(
        &self,
        key: RoomKey,
        value: String,
        renewed_at: Option<Instant>,
    ) -> Result<Route, ClusterError> {
        let node = value.rsplit_once(':').map_or(value.as_str(), |(n, _)| n);
        if node == self.node {
            if let Some(asked) = renewed_at {
                let mut owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
                let fresh = owned.insert(
                    key,
                    Owned {
                        value,
                        confirmed: asked,
                        absent: 0,
                    },
                );
                if fresh.is_none() {
                    self.media.claimed();
                }
            }
            return Ok(Route::Here);
        }
        let node = node.to_owned();
        let authority = self
            .seen(self.store.node_addr(&node).await)?
            .ok_or(ClusterError::OwnerGone)?;
        if !valid_authority(&authority) {
            return Err(ClusterError::BadNodeAddress(node));
        }
        Ok(Route::Owner { node, authority })
    }

    /// Where a connection's frame `text` goes. Only the first join of a connection not yet
    /// in a room (`joined` false) is routed; a connection relayed here (`hop`) is served here
    /// or refused, never relayed again, so no frame travels in circles.
    pub async fn admit(&self, joined: bool, hop: Hop, text: &str) -> Admit {
        if joined || text.len() > MAX_PEEK {
            return Admit::Here;
        }
        let Some((app, room)) = join_target(text) else {
            return Admit::Here;
        };
        if !self.routable(&app, &room) {
            return Admit::Here;
        }
        let refuse = |e: ClusterError| {
            tracing::info!(code = e.code(), error = %e, %app, %room, "join not routed");
            Admit::Refuse(ROOM_MOVED_CLOSE_CODE, e.code())
        };
        match self.route(&app, &room).await {
            Ok(Route::Here) => Admit::Here,
            Ok(Route::Owner { .. }) if hop == Hop::Relayed => {
                Admit::Refuse(ROOM_MOVED_CLOSE_CODE, "cluster.room_moved")
            }
            Ok(Route::Owner { node, authority }) => {
                match self.connect_owner(&node, &authority).await {
                    Ok(up) => Admit::Relay(Box::new(up)),
                    Err(e) => refuse(e),
                }
            }
            Err(e) => refuse(e),
        }
    }

    /// Whether `ip` is the address of a live node (only nodes that advertise an IP address,
    /// not a name, are known by their address).
    pub fn is_peer(&self, ip: IpAddr) -> bool {
        self.peers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&ip)
    }

    /// Takes the registry's list of live nodes' `host:port`s.
    fn set_peers(&self, nodes: &[String]) {
        let ips = nodes
            .iter()
            .filter_map(|a| a.rsplit_once(':'))
            .filter_map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']').parse().ok())
            .collect();
        *self.peers.write().unwrap_or_else(|p| p.into_inner()) = ips;
    }

    /// Whether `given` is the cluster secret (compared in constant time).
    pub fn authentic(&self, given: Option<&str>) -> bool {
        use subtle::ConstantTimeEq;
        given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(self.secret.as_bytes())))
    }
}

/// The app key and room of a join frame; `None` for any other frame.
fn join_target(text: &str) -> Option<(String, String)> {
    use mprtc::protocol::frame::{body, decode_request};
    let (_, kind, b) = decode_request(text).ok()?;
    if kind != mprtc::protocol::RequestKind::Join {
        return None;
    }
    let r: mprtc::protocol::JoinReq = body(&b).ok()?;
    Some((r.appkey, r.room))
}

/// `host:port` with a numeric port and a host of letters, digits, `.`, `-` or an IPv6 literal
/// in brackets: what a registry entry must be before this node connects to it.
fn valid_authority(a: &str) -> bool {
    let Some((host, port)) = a.rsplit_once(':') else {
        return false;
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && (host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            || (host.starts_with('[') && host.ends_with(']')));
    host_ok && port.parse::<u16>().is_ok_and(|p| p != 0)
}
