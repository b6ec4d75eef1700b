//! RTMP side: one task per accepted connection, run by `rtmp-rs` behind the loopback
//! relay of [`crate::media::pipe`], and the handler that admits `publish` / `play`
//! (see the [module docs](super) for what a refused peer sees).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rtmp_rs::amf::AmfValue;
use rtmp_rs::media::flv::FlvTag;
use rtmp_rs::protocol::message::{PlayParams, PublishParams};
use rtmp_rs::registry::{BroadcastFrame, StreamKey};
use rtmp_rs::server::connection::Connection;
use rtmp_rs::server::handler::MediaDeliveryMode;
use rtmp_rs::session::{SessionContext, StreamContext};
use rtmp_rs::{AuthResult, RtmpHandler, ServerConfig};
use tokio::sync::watch;

use super::fanout::metadata_frame;
use super::relay::relay;
use super::state::{Mirror, Role, Session, Shared};
use crate::listen::ConnPermit;
use crate::media::pipe::{self, Guarding, Tap};
use crate::media::signing::UrlKind;
use crate::media::MediaEvent;

/// Mirror "publisher" ids live above this bit so they never collide with sessions.
const MIRROR_ID_BIT: u64 = 1 << 63;

/// Runs one accepted RTMP connection; `permit` (its place under the connection caps)
/// is held until the connection has ended.
pub(super) fn spawn_rtmp_session(
    id: u64,
    socket: tokio::net::TcpStream,
    peer: SocketAddr,
    config: ServerConfig,
    handler: &Arc<Handler>,
    shared: &Arc<Shared>,
    permit: ConnPermit,
) {
    // Until it is admitted, the connection is held to the front guard's pre-admission limits
    // and must be admitted by the deadline (see `crate::media::front`).
    let guarding = Guarding {
        session: id,
        peer,
        limits: shared.limits.front,
        admit_by: tokio::time::Instant::now() + shared.limits.admission_timeout,
    };
    let cancel = shared.stop.child_token();
    let (tap, tap_rx) = watch::channel(Tap::Watch);
    shared.lock().sessions.insert(
        id,
        Session {
            cancel: cancel.clone(),
            role: Role::Idle,
            tap,
            feeds: None,
        },
    );
    let _ = socket.set_nodelay(true);
    let handler = Arc::clone(handler);
    let shared = Arc::clone(shared);
    let registry = Arc::clone(&shared.registry);
    tokio::spawn(async move {
        let _permit = permit;
        let socket = match pipe::open(
            socket,
            tap_rx,
            cancel.clone(),
            guarding,
            shared.bytes.clone(),
        )
        .await
        {
            Ok(inner) => inner,
            Err((_socket, e)) => {
                // Never serve a client without its guard (see `crate::media::front`).
                tracing::warn!(session = id, %peer, error = %e, "RTMP loopback relay unavailable; connection closed");
                shared.end_session(id, false).await;
                return;
            }
        };
        let cancelled = {
            let mut conn = Connection::new(id, socket, peer, config, handler, registry);
            tokio::select! {
                // Biased: let the connection flush a pending refusal before the
                // cancellation that follows it drops the socket.
                biased;
                r = conn.run() => {
                    if let Err(e) = r {
                        tracing::debug!(session = id, %peer, error = %e, "RTMP connection ended with error");
                    }
                    false
                }
                _ = cancel.cancelled() => true,
            }
        };
        // Lets the relay close the client once it has flushed what the connection wrote.
        cancel.cancel();
        shared.end_session(id, cancelled).await;
    });
}

/// The `rtmp-rs` callbacks: the library speaks the protocol, these decide who may publish
/// and play. Decisions go through [`Shared`], the state HTTP-FLV uses too, so "one publisher
/// per stream" and viewer revocation hold across both.
pub(super) struct Handler {
    pub(super) shared: Arc<Shared>,
}

impl Handler {
    /// Ends connection `id` from outside its task. The relay closes the client only after
    /// flushing what the connection wrote, so a refusal still reaches it.
    fn cancel_session(&self, id: u64) {
        if let Some(s) = self.shared.lock().sessions.get(&id) {
            s.cancel.cancel();
        }
    }

    /// Checks a play request and sets up what it plays. `rtmp-rs` serves a player the registry
    /// entry named in its play command, which is the signed name with its query; so each
    /// distinct play URL gets a *mirror* entry under that name, fed from the publisher's by a
    /// [`relay`] task and shared by the players of that URL. A mirror ends with its publisher
    /// (its stop token is a child of the stream's) or its last player.
    async fn admit_play(&self, ctx: &SessionContext, params: &PlayParams) -> Result<(), String> {
        let id = ctx.session_id;
        let (name, query) = split_query(&params.stream_name);
        let a = self.shared.verify(UrlKind::Play, name, query).map_err(|e| {
            tracing::warn!(session = id, peer = %ctx.peer_addr, stream = name, code = e.code(), "RTMP play refused");
            e.to_string()
        })?;
        let viewer = a.viewer.unwrap_or_default();
        let (fanout, ended) = self.shared.stream(&a.room, a.uid).ok_or_else(|| {
            tracing::info!(
                session = id,
                stream = name,
                "RTMP play refused: stream not published"
            );
            format!("stream {name} is not being published")
        })?;
        let mirror = StreamKey::new(ctx.app.clone(), params.stream_name.clone());

        // Claim the session role and, if new, the mirror — atomically.
        let new_mirror = {
            let mut state = self.shared.lock();
            let Some(session) = state.sessions.get_mut(&id) else {
                return Err("connection closing".into());
            };
            if !matches!(session.role, Role::Idle) {
                return Err("one stream per connection".into());
            }
            session.role = Role::Player {
                room: a.room.clone(),
                uid: a.uid,
                viewer,
                mirror: mirror.clone(),
            };
            match state.mirrors.get_mut(&mirror) {
                Some(m) => {
                    m.players += 1;
                    None
                }
                None => {
                    let stop = ended.child_token();
                    state.mirrors.insert(
                        mirror.clone(),
                        Mirror {
                            players: 1,
                            stop: stop.clone(),
                        },
                    );
                    Some(stop)
                }
            }
        };

        if let Some(stop) = new_mirror {
            // Claim the mirror's name; the relay feeds it the fan-out's cache once the player
            // has subscribed, so the first player starts on a key frame, with sound.
            let started = async {
                let mirror_id =
                    MIRROR_ID_BIT | self.shared.next_mirror.fetch_add(1, Ordering::Relaxed);
                if self
                    .shared
                    .registry
                    .register_publisher(&mirror, mirror_id)
                    .await
                    .is_err()
                {
                    return None;
                }
                let (start, rx) = fanout.subscribe();
                let registry = Arc::clone(&self.shared.registry);
                tokio::spawn(relay(
                    registry,
                    start,
                    rx,
                    mirror.clone(),
                    mirror_id,
                    stop.clone(),
                    self.shared.limits.admission_timeout,
                ));
                Some(())
            };
            if started.await.is_none() {
                // Undo the claim: the next player of this URL tries afresh.
                let mut state = self.shared.lock();
                stop.cancel();
                state.mirrors.remove(&mirror);
                if let Some(s) = state.sessions.get_mut(&id) {
                    s.role = Role::Idle;
                }
                return Err(format!("stream {name} is not available"));
            }
        }

        tracing::info!(
            session = id,
            room = a.room,
            uid = a.uid,
            viewer,
            "RTMP play started"
        );
        self.shared.emit(MediaEvent::PlayStarted {
            room: a.room,
            uid: a.uid,
            viewer,
        });
        Ok(())
    }
}

impl RtmpHandler for Handler {
    /// Admits a publisher: a valid push URL, no other publisher of that `(room, uid)`, and
    /// no other role on this connection. Admitted, the connection's front guard moves to the
    /// limits of an admitted publisher ([`Tap::Off`]).
    async fn on_publish(&self, ctx: &SessionContext, params: &PublishParams) -> AuthResult {
        let id = ctx.session_id;
        let (name, query) = split_query(&params.stream_key);
        let a = match self.shared.verify(UrlKind::Push, name, query) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(session = id, peer = %ctx.peer_addr, stream = name, code = e.code(), "RTMP publish refused");
                return AuthResult::Reject(e.to_string());
            }
        };
        let admitted = self.shared.admit_publisher(
            id,
            &a.room,
            a.uid,
            StreamKey::new(ctx.app.clone(), params.stream_key.clone()),
        );
        let resumed = match admitted {
            Ok(resumed) => resumed,
            Err(reason) => {
                tracing::warn!(session = id, stream = name, reason, "RTMP publish refused");
                return AuthResult::Reject(reason.into());
            }
        };
        if resumed {
            // Signaling never heard the drop; nothing to tell it.
            tracing::info!(session = id, peer = %ctx.peer_addr, room = a.room, uid = a.uid, "RTMP publisher came back within the grace");
        } else {
            tracing::info!(session = id, peer = %ctx.peer_addr, room = a.room, uid = a.uid, "RTMP publish started");
            self.shared.emit(MediaEvent::PublishStarted {
                room: a.room,
                uid: a.uid,
            });
        }
        AuthResult::Accept
    }

    /// Every tag a publisher sends goes to its stream's fan-out (the library's own routing,
    /// by the publisher's exact stream name, has no subscribers).
    async fn on_media_tag(&self, ctx: &StreamContext, tag: &FlvTag) -> bool {
        if let Some(fanout) = self.shared.feeds(ctx.session.session_id) {
            fanout.push(
                BroadcastFrame::from_flv_tag(tag),
                tokio::time::Instant::now(),
            );
        }
        true
    }

    /// `@setDataFrame onMetaData` / `onMetaData`: forwarded to the stream's players (and kept
    /// for new ones), so they learn the size and frame rate before the first picture.
    async fn on_metadata(&self, ctx: &StreamContext, values: &HashMap<String, AmfValue>) {
        let Some(fanout) = self.shared.feeds(ctx.session.session_id) else {
            return;
        };
        match metadata_frame(values) {
            Some(frame) => fanout.push(frame, tokio::time::Instant::now()),
            None => tracing::debug!(
                session = ctx.session.session_id,
                "oversized onMetaData not forwarded"
            ),
        }
    }

    async fn on_unpublish(&self, ctx: &StreamContext) {
        // deleteStream: the publisher stopped on purpose; end the connection and the stream
        // at once (no grace).
        self.shared.publisher_stopping(ctx.session.session_id);
        self.cancel_session(ctx.session.session_id);
    }

    async fn on_play(&self, ctx: &SessionContext, params: &PlayParams) -> AuthResult {
        match self.admit_play(ctx, params).await {
            Ok(()) => {
                // The library may now sit in a socket read without forwarding media
                // (see `crate::media::pipe`); the relay nudges it out.
                if let Some(s) = self.shared.lock().sessions.get(&ctx.session_id) {
                    s.tap.send_replace(Tap::Nudge);
                }
                AuthResult::Accept
            }
            Err(reason) => {
                // rtmp-rs keeps the connection open after a refused play; close it
                // once the refusal has been written (see the biased select).
                self.cancel_session(ctx.session_id);
                AuthResult::Reject(reason)
            }
        }
    }

    fn media_delivery_mode(&self) -> MediaDeliveryMode {
        // We only route media; skip per-frame parsing callbacks.
        MediaDeliveryMode::RawFlv
    }
}

/// `name?query` → (`name`, `query`); the query is never logged.
fn split_query(s: &str) -> (&str, &str) {
    s.split_once('?').unwrap_or((s, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_query_keeps_name() {
        assert_eq!(split_query("r.1?k=push&s=x"), ("r.1", "k=push&s=x"));
        assert_eq!(split_query("r.1"), ("r.1", ""));
    }
}
