//! Media on an external engine (nginx-rtmp or SRS): the engine moves the media, and
//! mprtc-server admits each publisher and player through the engine's HTTP hooks and ends
//! them through its control interface.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`ExternalMedia`]: the admission decision, who publishes and plays where, kicks |
//! | `hooks.rs` | the hook routes: secret in the path, bounded bodies, the engines' answers |
//! | `nginx.rs` | nginx-rtmp's form bodies and `rtmp_control` drop paths |
//! | `srs.rs` | SRS's JSON bodies (string or integer `client_id`) and its client kick |
//! | `control.rs` | the outbound control call |
//!
//! Admission is the embedded server's: the URL's signature, kind and expiry
//! ([`MediaSigner::verify`]) and, for players, the play gate (`Hub::may_play`); an admitted
//! publisher or player becomes the same [`MediaEvent`] the embedded server sends, so members
//! hear `stream-added` / `stream-removed` as they do today. Publishers only at the origin
//! (node 0): edges only play. The engine allows one publisher per stream; a newer one this
//! adapter admits replaces one the engine never reported gone.
//!
//! Edges pull a stream from the origin when a viewer asks for it; the pull carries no signed
//! URL, so the origin admits it by the hook secret the edge presents as its RTMP `pageUrl`
//! (`deploy/nginx-rtmp/edge.conf`). Such a relay is no viewer: it raises no event and no kick
//! of a member ends it. At the edge, the pulled stream registers as a local publisher
//! (`on_publish` with no application): admitted, without events; any other publish at an
//! edge is refused.
//!
//! In a cluster, a hook about a room another node owns is answered by that node
//! ([`HookForward`], `crate::cluster::hooks`): only the owner's hub and tables know the room.

mod control;
mod hooks;
mod nginx;
mod srs;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use subtle::ConstantTimeEq;
use tokio::sync::mpsc::UnboundedSender;

pub use self::hooks::router;
use super::embedded::PlayGate;
use super::signing::{AdmissionError, MediaSigner, UrlKind};
use super::{MediaEvent, MediaServer};
use crate::config::{ExternalMediaConfig, MediaEngine};

/// Players tracked at most (over all nodes): a bound on what hooks can make the server hold.
pub const MAX_PLAYERS: usize = 100_000;

/// What a hook reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookCall {
    /// A client asks to publish.
    Publish,
    /// A client asks to play.
    Play,
    /// A publisher went away.
    PublishDone,
    /// A player went away.
    PlayDone,
    /// A publisher or a player went away (nginx-rtmp's `on_done`).
    Done,
}

/// One hook call, parsed: every field checked for shape, none trusted further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub call: HookCall,
    /// The engine node (0: the origin), from the hook URL.
    pub node: usize,
    /// The engine's id of the client connection (URL-safe, at most 64 characters).
    pub client: String,
    /// The engine application (URL-safe, at most 64 characters).
    pub app: String,
    /// The stream name without its query.
    pub name: String,
    /// The stream URL's query (`k=..&e=..&n=..&s=..`), rebuilt from the fields that carry it.
    pub query: String,
    /// What the client sent as its page URL (an edge's relay proof), if anything.
    pub page_url: Option<String>,
    /// An edge's own pull registering the stream it pulled as published there (nginx-rtmp
    /// calls `on_publish` for it at the edge).
    pub relay: bool,
}

/// Why a hook call is refused: the engine drops the connection. Stable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HookRefusal {
    /// The URL failed admission (malformed, signature, kind, expiry, play gate).
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    /// A body field is missing, repeated or not of the expected shape.
    #[error("hook body is malformed")]
    Malformed,
    /// A publish at an edge: only the origin takes publishers.
    #[error("publishing is only allowed at the origin")]
    NotOrigin,
    /// [`MAX_PLAYERS`] players are tracked already.
    #[error("too many players")]
    TooMany,
}

impl HookRefusal {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Admission(e) => e.code(),
            Self::Malformed => "media.hook_malformed",
            Self::NotOrigin => "media.hook_not_origin",
            Self::TooMany => "media.too_many_players",
        }
    }
}

/// A connection at an engine node: where it is, so that it can be dropped there.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Conn {
    node: usize,
    client: String,
    app: String,
}

/// An admitted player.
#[derive(Debug, Clone)]
struct Player {
    room: String,
    uid: u64,
    viewer: u64,
    app: String,
}

/// The adapter's view of the engine, built from the hooks alone.
#[derive(Default)]
struct Tables {
    /// Admitted publishers by (room, uid).
    publishers: HashMap<(String, u64), Conn>,
    /// Admitted players by (node, client id).
    players: HashMap<(usize, String), Player>,
    /// Publishers whose end this node reported, the newest [`MAX_ENDED_KEPT`]: a repeated
    /// end of one is not taken for a publisher this node never admitted.
    ended: std::collections::VecDeque<(String, u64)>,
}

/// Publisher ends remembered (see [`Tables::ended`]).
const MAX_ENDED_KEPT: usize = 4096;

impl Tables {
    /// Remembers that the publisher of `key` ended (the newest [`MAX_ENDED_KEPT`]).
    fn ended(&mut self, key: (String, u64)) {
        if self.ended.len() == MAX_ENDED_KEPT {
            self.ended.pop_front();
        }
        self.ended.push_back(key);
    }
}

/// What every clone of an [`ExternalMedia`] shares.
struct Inner {
    /// The engine, its nodes' control bases and the hook secret.
    cfg: ExternalMediaConfig,
    /// Verifies URLs (the same secret as the signer that issues them).
    signer: Arc<MediaSigner>,
    /// Signaling's answer to "may this viewer still play?", set once the hub exists.
    gate: RwLock<Option<PlayGate>>,
    /// Where [`MediaEvent`]s go (to the hub, in the order the hooks came).
    events: OnceLock<UnboundedSender<MediaEvent>>,
    /// Who publishes and plays where. Never held across an `.await`.
    tables: Mutex<Tables>,
    /// Where hooks about rooms another node owns go (set in a cluster only).
    forward: OnceLock<Arc<dyn HookForward>>,
}

/// A cluster's way to a room's owner for a hook this node may not be able to answer.
pub trait HookForward: Send + Sync {
    /// The owner's answer to `req`, a hook about media room `media_room` (already checked for
    /// shape), or `None` when this node answers it itself.
    fn forward(
        &self,
        media_room: String,
        req: axum::extract::Request,
    ) -> futures_util::future::BoxFuture<'static, Option<axum::response::Response>>;
}

/// The external engine as signaling sees it: admission through hooks, kicks through its
/// control interface. Cheap to clone.
#[derive(Clone)]
pub struct ExternalMedia {
    inner: Arc<Inner>,
}

impl ExternalMedia {
    /// An adapter for the engine `cfg` describes, verifying URLs with `signer`.
    pub fn new(cfg: ExternalMediaConfig, signer: Arc<MediaSigner>) -> Self {
        Self {
            inner: Arc::new(Inner {
                cfg,
                signer,
                gate: RwLock::new(None),
                events: OnceLock::new(),
                tables: Mutex::new(Tables::default()),
                forward: OnceLock::new(),
            }),
        }
    }

    /// The control bases that do not answer now, by node number, with why; empty: every
    /// node is reachable. Probed together, each within its deadline.
    pub async fn unreachable_nodes(&self) -> Vec<(usize, String)> {
        let probes = self.inner.cfg.control.iter().map(control::probe);
        futures_util::future::join_all(probes)
            .await
            .into_iter()
            .enumerate()
            .filter_map(|(node, r)| r.err().map(|e| (node, e)))
            .collect()
    }

    /// The engine this adapter talks to.
    pub fn engine(&self) -> MediaEngine {
        self.inner.cfg.engine
    }

    /// Where admitted and ended publishers and players are reported (set once).
    pub fn set_events(&self, tx: UnboundedSender<MediaEvent>) {
        let _ = self.inner.events.set(tx);
    }

    /// Hooks about rooms another node owns go through `f` (set once, in a cluster).
    pub fn set_forward(&self, f: Arc<dyn HookForward>) {
        let _ = self.inner.forward.set(f);
    }

    /// The forwarding of a cluster, if this node is part of one.
    fn forwarder(&self) -> Option<Arc<dyn HookForward>> {
        self.inner.forward.get().cloned()
    }

    /// From now on, a play URL admits only viewers `gate` allows (see `Hub::may_play`).
    pub fn set_play_gate(&self, gate: PlayGate) {
        *self.inner.gate.write().unwrap_or_else(|e| e.into_inner()) = Some(gate);
    }

    /// Whether `given` is the hook secret, compared in constant time.
    fn is_secret(&self, given: &str) -> bool {
        let want = self.inner.cfg.hook_secret.as_bytes();
        given.len() == want.len() && bool::from(given.as_bytes().ct_eq(want))
    }

    /// Whether a hook may come from `ip`: any address when no sources are configured.
    fn is_hook_source(&self, ip: std::net::IpAddr) -> bool {
        let sources = &self.inner.cfg.hook_sources;
        sources.is_empty() || sources.iter().any(|r| r.contains(ip))
    }

    /// Whether `node` is one of the configured engine nodes.
    fn has_node(&self, node: usize) -> bool {
        node < self.inner.cfg.control.len()
    }

    /// The tables, even after a panic under the lock (a hook must not take the server down).
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.inner.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reports `ev` to signaling; dropped if the server is not running (yet).
    fn emit(&self, ev: MediaEvent) {
        if let Some(tx) = self.inner.events.get() {
            let _ = tx.send(ev);
        }
    }

    /// Decides a hook call: `Ok` admits (or acknowledges an end), `Err` refuses.
    pub fn hook(&self, h: Hook) -> Result<(), HookRefusal> {
        match h.call {
            HookCall::Publish => self.publish(h),
            HookCall::Play => self.play(h),
            HookCall::PublishDone => {
                self.publish_done(&h);
                Ok(())
            }
            HookCall::PlayDone => {
                self.play_done(&h);
                Ok(())
            }
            HookCall::Done => {
                if !self.play_done(&h) {
                    self.publish_done(&h);
                }
                Ok(())
            }
        }
    }

    /// A publisher at the origin with a valid push URL is admitted and reported; the hub kicks it (through [`MediaServer::kick_publisher`]) if its member
    /// is not publishing, exactly as with the embedded server.
    fn publish(&self, h: Hook) -> Result<(), HookRefusal> {
        if h.node != 0 {
            // At an edge only its own pull from the origin publishes; clients may not.
            return if h.relay {
                Ok(())
            } else {
                Err(HookRefusal::NotOrigin)
            };
        }
        let a = self
            .inner
            .signer
            .verify(UrlKind::Push, &h.name, &h.query, unix_now())?;
        let conn = Conn {
            node: h.node,
            client: h.client,
            app: h.app,
        };
        let replaced = {
            // A new publisher of the stream: its end is news again.
            let mut t = self.lock();
            let key = (a.room.clone(), a.uid);
            t.ended.retain(|k| *k != key);
            t.publishers.insert(key, conn.clone())
        };
        match replaced {
            // The same connection asking again: nothing new.
            Some(old) if old == conn => return Ok(()),
            // The engine never said the older one went (a lost `publish_done`, a restarted
            // node). The newer URL holder wins: the older connection is dropped, by its client
            // id, so a stale entry can never lock the member out of publishing. A live older
            // one is refused by the engine itself (nginx-rtmp: "already publishing").
            Some(old) => {
                tracing::warn!(
                    room = a.room,
                    uid = a.uid,
                    "replacing an unreported publisher"
                );
                let call = self.drop_call(&old, &format!("{}.{}", a.room, a.uid), true);
                self.call(old.node, call);
            }
            None => {}
        }
        tracing::info!(room = a.room, uid = a.uid, "external publish admitted");
        self.emit(MediaEvent::PublishStarted {
            room: a.room,
            uid: a.uid,
        });
        Ok(())
    }

    /// A player with a valid play URL whose viewer may still play is admitted and tracked by
    /// node and client id, so a kick can name its connection; an edge's pull is admitted at
    /// the origin by the hook secret.
    fn play(&self, h: Hook) -> Result<(), HookRefusal> {
        if h.node == 0
            && h.query.is_empty()
            && h.page_url.as_deref().is_some_and(|p| self.is_secret(p))
        {
            // An edge pulling for its viewers, who were admitted at the edge.
            tracing::debug!(name = h.name, "edge relay admitted at the origin");
            return Ok(());
        }
        let a = self
            .inner
            .signer
            .verify(UrlKind::Play, &h.name, &h.query, unix_now())?;
        let viewer = a.viewer.ok_or(AdmissionError::Malformed)?;
        let gate = self
            .inner
            .gate
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if gate.is_some_and(|may_play| !may_play(&a.room, viewer)) {
            return Err(AdmissionError::Revoked.into());
        }
        {
            let mut t = self.lock();
            let key = (h.node, h.client);
            if !t.players.contains_key(&key) && t.players.len() >= MAX_PLAYERS {
                return Err(HookRefusal::TooMany);
            }
            let player = Player {
                room: a.room.clone(),
                uid: a.uid,
                viewer,
                app: h.app,
            };
            if let Some(old) = t.players.insert(key, player) {
                // The same connection playing again: its old play ended.
                self.emit(MediaEvent::PlayStopped {
                    room: old.room,
                    uid: old.uid,
                    viewer: old.viewer,
                });
            }
        }
        tracing::info!(
            room = a.room,
            uid = a.uid,
            viewer,
            node = h.node,
            "external play admitted"
        );
        self.emit(MediaEvent::PlayStarted {
            room: a.room,
            uid: a.uid,
            viewer,
        });
        Ok(())
    }

    /// Ends the publisher `h` names if it is the one admitted; whether it was.
    fn publish_done(&self, h: &Hook) -> bool {
        let ended = {
            let mut t = self.lock();
            let found = t
                .publishers
                .iter()
                .find(|(_, c)| c.node == h.node && c.client == h.client)
                .map(|(k, _)| k.clone());
            found.inspect(|k| {
                t.publishers.remove(k);
                t.ended(k.clone());
            })
        };
        let Some((room, uid)) = ended.or_else(|| self.taken_over_publisher(h)) else {
            return false;
        };
        tracing::info!(room, uid, "external publish ended");
        self.emit(MediaEvent::PublishStopped { room, uid });
        true
    }

    /// The member whose publisher `h` (a `publish_done` at the origin) ended, when this node
    /// never admitted it: in a cluster this node took the room over from the node that did,
    /// and the engine's publisher outlived that node. The engine repeats the push URL's query
    /// in the hook: only a correctly signed push URL names the member (expired or not: the
    /// publisher was admitted while it was valid), and only while no publisher of that
    /// stream is known here and none ended here since it last published. The hub ignores it
    /// if that member is not pushing.
    fn taken_over_publisher(&self, h: &Hook) -> Option<(String, u64)> {
        if h.node != 0 || h.relay {
            return None;
        }
        let a = self
            .inner
            .signer
            .verify(UrlKind::Push, &h.name, &h.query, 0);
        let a = a.ok()?;
        let key = (a.room, a.uid);
        let mut t = self.lock();
        if t.publishers.contains_key(&key) || t.ended.contains(&key) {
            return None;
        }
        t.ended(key.clone());
        Some(key)
    }

    /// Ends the player `h` names; whether there was one.
    fn play_done(&self, h: &Hook) -> bool {
        let Some(p) = self.lock().players.remove(&(h.node, h.client.clone())) else {
            return false;
        };
        self.emit(MediaEvent::PlayStopped {
            room: p.room,
            uid: p.uid,
            viewer: p.viewer,
        });
        true
    }

    /// The control call that drops `conn`, playing or publishing `name`.
    fn drop_call(&self, conn: &Conn, name: &str, publisher: bool) -> control::ControlCall {
        match self.inner.cfg.engine {
            MediaEngine::Srs => srs::kick(&conn.client),
            _ => nginx::drop(publisher, &conn.app, name, &conn.client),
        }
    }

    /// The RTMP application pushers publish in: the last path segment of the configured RTMP
    /// base (`rtmp://host/live` -> `live`), if it is a URL-safe name.
    fn origin_app(&self) -> Option<String> {
        let app = self
            .inner
            .cfg
            .rtmp_base
            .trim_end_matches('/')
            .rsplit('/')
            .next()?;
        mprtc::protocol::names::is_url_safe(app, 64).then(|| app.to_owned())
    }

    /// Sends `call` to `node`'s control base (configured; never a peer's address).
    fn call(&self, node: usize, call: control::ControlCall) {
        if let Some(base) = self.inner.cfg.control.get(node) {
            control::spawn_call(base, call);
        }
    }
}

impl MediaServer for ExternalMedia {
    fn rtmp_addr(&self) -> Option<SocketAddr> {
        None
    }

    fn flv_addr(&self) -> Option<SocketAddr> {
        None
    }

    /// Drops the publisher at the origin; its `publish_done` hook then ends the stream. One
    /// this node never admitted (a cluster's room owner admitted it, then died, and this node
    /// took the room over) is dropped at nginx-rtmp's origin by its stream name; SRS kicks by
    /// client id only, so there its URL's refusal must do.
    fn kick_publisher(&self, room: &str, uid: u64) {
        let name = format!("{room}.{uid}");
        let known = self.lock().publishers.get(&(room.to_owned(), uid)).cloned();
        let by_name = known.is_none();
        let (node, call) = match known {
            Some(conn) => (conn.node, self.drop_call(&conn, &name, true)),
            None => match (self.inner.cfg.engine, self.origin_app()) {
                (MediaEngine::NginxRtmp, Some(app)) => {
                    (0, nginx::drop_publisher_named(&app, &name))
                }
                _ => return,
            },
        };
        tracing::info!(room, uid, by_name, "kicking external publisher");
        self.call(node, call);
    }

    fn is_publishing(&self, room: &str, uid: u64) -> bool {
        self.lock().publishers.contains_key(&(room.to_owned(), uid))
    }

    /// Drops every play of `viewer` in `room`, at whichever node it plays.
    fn kick_viewer(&self, room: &str, viewer: u64) {
        let plays: Vec<(Conn, String)> = self
            .lock()
            .players
            .iter()
            .filter(|(_, p)| p.room == room && p.viewer == viewer)
            .map(|((node, client), p)| {
                let conn = Conn {
                    node: *node,
                    client: client.clone(),
                    app: p.app.clone(),
                };
                (conn, format!("{}.{}", p.room, p.uid))
            })
            .collect();
        for (conn, name) in plays {
            tracing::info!(room, viewer, node = conn.node, "kicking external player");
            let call = self.drop_call(&conn, &name, false);
            self.call(conn.node, call);
        }
    }
}

/// Wall-clock Unix seconds, for URL expiry.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
