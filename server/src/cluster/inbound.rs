//! Calls from other nodes: `GET /cluster/relay` (a member relayed to this node, the room's
//! owner) and forwarded server-API calls. Each must carry the cluster secret and name this
//! node's id; anything else is refused with a typed error and never served.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::{Cluster, ClusterError};
use crate::signaling::ws::{Hop, Signaling, HARD_FRAME_LIMIT, READ_BUFFER};

/// Carries the cluster secret on node-to-node calls.
pub const CLUSTER_AUTH_HEADER: &str = "x-mprtc-cluster-secret";
/// Names the node a node-to-node call is for.
pub const CLUSTER_NODE_HEADER: &str = "x-mprtc-cluster-node";

impl IntoResponse for ClusterError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::WrongNode => StatusCode::MISDIRECTED_REQUEST,
            Self::BadRedisUrl(_) | Self::BadState(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Relay(_) => StatusCode::BAD_GATEWAY,
            Self::Store(_) | Self::OwnerGone | Self::BadNodeAddress(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let body = serde_json::json!({ "ok": false, "code": self.code(), "msg": self.to_string() });
        (status, Json(body)).into_response()
    }
}

impl Cluster {
    /// Whether `headers` carry the cluster secret and this node's id.
    pub fn check_call(&self, headers: &HeaderMap) -> Result<(), ClusterError> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if !self.authentic(get(CLUSTER_AUTH_HEADER)) {
            return Err(ClusterError::Unauthorized);
        }
        if get(CLUSTER_NODE_HEADER) != Some(self.node.as_str()) {
            return Err(ClusterError::WrongNode);
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Inbound {
    cluster: Arc<Cluster>,
    signaling: Signaling,
}

/// `GET /cluster/relay`.
pub fn router(cluster: Arc<Cluster>, signaling: Signaling) -> Router {
    Router::new()
        .route("/cluster/relay", get(relay))
        .with_state(Inbound { cluster, signaling })
}

async fn relay(State(s): State<Inbound>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if let Err(e) = s.cluster.check_call(&headers) {
        tracing::info!(code = e.code(), "relay refused");
        return e.into_response();
    }
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |sock| s.signaling.serve(sock, Hop::Relayed))
}
