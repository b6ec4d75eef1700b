//! The relay: a member connected to a node that does not own its room is carried to the
//! owner over one internal WebSocket per member, frames piped both ways as they are.
//!
//! The owner sees a connection like any other and does everything a node does for one
//! (heartbeat, rate limit, resume, close codes); the relaying node decides nothing. Closes
//! are mirrored: the client's close code reaches the owner (1000 leaves, anything else
//! detaches for a resume) and the owner's reaches the client. Both directions are bounded:
//! towards the client by the connection's own queue (a client that does not read is cut,
//! as on one node), towards the owner by the socket's back-pressure on a single frame.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitStream;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame as TCloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as TMessage, Utf8Bytes as TUtf8Bytes};

use super::{Cluster, ClusterError, CLUSTER_AUTH_HEADER, CLUSTER_NODE_HEADER};
use crate::signaling::hub::ROOM_MOVED_CLOSE_CODE;
use crate::signaling::ws::{ClientSink, HARD_FRAME_LIMIT, MAX_BURST_FRAMES, READ_BUFFER};

/// How long connecting to the owner may take.
const CONNECT_DEADLINE: Duration = Duration::from_secs(3);

/// The internal WebSocket to a room's owner.
pub type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Cluster {
    /// Opens the relay to node `node` at its registered `authority`.
    pub async fn connect_owner(
        &self,
        node: &str,
        authority: &str,
    ) -> Result<Upstream, ClusterError> {
        let fail = |e: &dyn std::fmt::Display| ClusterError::Relay(e.to_string());
        let mut req = format!("ws://{authority}/cluster/relay")
            .into_client_request()
            .map_err(|e| fail(&e))?;
        let h = req.headers_mut();
        h.insert(
            CLUSTER_AUTH_HEADER,
            self.secret.expose().parse().map_err(|e| fail(&e))?,
        );
        h.insert(CLUSTER_NODE_HEADER, node.parse().map_err(|e| fail(&e))?);
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .max_message_size(Some(HARD_FRAME_LIMIT))
            .max_frame_size(Some(HARD_FRAME_LIMIT));
        let connect = tokio_tungstenite::connect_async_with_config(req, Some(config), true);
        match tokio::time::timeout(CONNECT_DEADLINE, connect).await {
            Ok(Ok((ws, _))) => Ok(ws),
            Ok(Err(e)) => Err(fail(&e)),
            Err(_) => Err(fail(&"no answer within 3 s")),
        }
    }
}

/// Pipes `client` (whose first frame, `first`, was read already) to `up` and back until
/// either side closes.
pub async fn pipe(
    up: Box<Upstream>,
    first: &str,
    client: &mut SplitStream<WebSocket>,
    sink: ClientSink,
) {
    // Not split: one task reads and writes it, and a split's lock costs on every frame.
    let mut up = up;
    let cut = sink.cut();
    if up.send(TMessage::Text(first.into())).await.is_err() {
        sink.send(moved("the room's node went away: reconnect"));
        return;
    }
    loop {
        tokio::select! {
            m = client.next() => match upstream(&mut up, m, client).await {
                Step::Open => {}
                Step::Done => break,
                Step::OwnerGone => {
                    sink.send(moved("the room's node went away: reconnect"));
                    break;
                }
            },
            m = up.next() => match m {
                Some(Ok(TMessage::Text(t))) => {
                    if !sink.send(Message::Text(to_client_text(t))) {
                        let _ = up.send(TMessage::Close(None)).await;
                        break;
                    }
                }
                Some(Ok(TMessage::Close(f))) => {
                    sink.send(Message::Close(f.map(to_client)));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    sink.send(moved("the room's node went away: reconnect"));
                    break;
                }
            },
            () = cut.cancelled() => {
                // The client does not read: the owner detaches its member, which resumes.
                let _ = up.send(TMessage::Close(None)).await;
                break;
            }
        }
    }
}

/// Where the relay stands after carrying client frames to the owner.
enum Step {
    Open,
    /// The client closed (its close code went on to the owner) or went away.
    Done,
    /// The owner's socket failed.
    OwnerGone,
}

/// Carries the client's frame `first` to the owner with those that arrived with it (up to
/// [`MAX_BURST_FRAMES`]), fed into the socket and flushed once: one write for a burst.
async fn upstream(
    up: &mut Upstream,
    first: Option<Result<Message, axum::Error>>,
    client: &mut SplitStream<WebSocket>,
) -> Step {
    let mut next = Some(first);
    let mut frames = 0;
    while let Some(m) = next.take() {
        let fwd = match m {
            Some(Ok(Message::Text(t))) => Some(TMessage::Text(to_owner_text(t))),
            Some(Ok(Message::Binary(b))) => Some(TMessage::Binary(b)),
            Some(Ok(Message::Close(f))) => {
                let _ = up.send(TMessage::Close(f.map(to_upstream))).await;
                return Step::Done;
            }
            // Pings are answered by this node's socket; pongs are nobody's business.
            Some(Ok(_)) => None,
            // Gone without a close: the owner detaches the member for a resume.
            Some(Err(_)) | None => {
                let _ = up.send(TMessage::Close(None)).await;
                return Step::Done;
            }
        };
        if let Some(fwd) = fwd {
            if up.feed(fwd).await.is_err() {
                return Step::OwnerGone;
            }
        }
        frames += 1;
        if frames < MAX_BURST_FRAMES {
            next = client.next().now_or_never();
        }
    }
    match up.flush().await {
        Ok(()) => Step::Open,
        Err(_) => Step::OwnerGone,
    }
}

/// The close that sends a client back through the load balancer to the room's owner.
fn moved(reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: ROOM_MOVED_CLOSE_CODE,
        reason: reason.into(),
    }))
}

fn to_upstream(f: CloseFrame) -> TCloseFrame {
    TCloseFrame {
        code: CloseCode::from(f.code),
        reason: f.reason.as_str().into(),
    }
}

/// A client's text frame as the owner's socket takes it: the same bytes, not a copy.
fn to_owner_text(t: Utf8Bytes) -> TUtf8Bytes {
    let b = Bytes::from(t);
    TUtf8Bytes::try_from(b.clone()).unwrap_or_else(|_| String::from_utf8_lossy(&b).as_ref().into())
}

/// The owner's text frame as the client's socket takes it: the same bytes, not a copy.
fn to_client_text(t: TUtf8Bytes) -> Utf8Bytes {
    let b = Bytes::from(t);
    Utf8Bytes::try_from(b.clone()).unwrap_or_else(|_| String::from_utf8_lossy(&b).as_ref().into())
}

fn to_client(f: TCloseFrame) -> CloseFrame {
    CloseFrame {
        code: f.code.into(),
        reason: f.reason.as_str().into(),
    }
}
