//! `GET /readyz`: whether this node should be given traffic, for load balancers.
//!
//! `/healthz` says the process answers (liveness: restart it if not). `/readyz` says more:
//! the listeners are bound (it is answered on the signaling one; the media listeners are
//! bound before the server starts), the media engine can be reached (the embedded server
//! is running; an external engine's every control base answers HTTP), and the server is
//! not shutting down. 200 `{"ready": true}` or 503 `{"ready": false, "notReady": [...]}`
//! with what is not, each `{"what", "why"}`.
//!
//! It is anonymous, as `/healthz` is: it says only whether the node serves, and why not in
//! words of the operator's own config. Probing an external engine costs outbound
//! connections, so one probe's answer serves every request for [`PROBE_REUSE`]: asking
//! faster does not make the server connect faster.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::media::ExternalMedia;

/// How long one probe of an external engine answers for.
const PROBE_REUSE: Duration = Duration::from_secs(1);

/// What `/readyz` looks at.
#[derive(Clone)]
pub struct Readiness {
    media: MediaProbe,
    /// Cancelled when the server begins to stop: it should get no new traffic.
    shutdown: CancellationToken,
    /// The last probe of an external engine and when it was made; the lock also makes
    /// concurrent requests wait for one probe instead of each making its own.
    last: Arc<tokio::sync::Mutex<Option<Probed>>>,
    /// This node's cluster, whose Redis must answer; `None`: a single node.
    cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// When an external engine was probed, and what was found not ready.
type Probed = (Instant, Vec<NotReady>);

/// How the media engine is checked.
#[derive(Clone)]
pub enum MediaProbe {
    /// The embedded server: true while its `run` has not returned.
    Embedded(Arc<AtomicBool>),
    /// An external engine: its control bases must answer.
    External(ExternalMedia),
}

/// One thing that is not ready.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotReady {
    /// `media`, `media.node.<n>`, `redis` or `shutdown`.
    pub what: String,
    /// Why, in words.
    pub why: String,
}

impl Readiness {
    /// Readiness of a server whose media is checked by `media`, until `shutdown`.
    pub fn new(media: MediaProbe, shutdown: CancellationToken) -> Self {
        Self {
            media,
            shutdown,
            last: Arc::default(),
            cluster: None,
        }
    }

    /// Also not ready while `cluster`'s Redis does not answer: this node could neither
    /// claim a room nor find its owner.
    pub fn with_cluster(mut self, cluster: Arc<crate::cluster::Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// What is not ready now; empty: ready.
    pub async fn check(&self) -> Vec<NotReady> {
        let mut not = Vec::new();
        if self.shutdown.is_cancelled() {
            not.push(NotReady {
                what: "shutdown".into(),
                why: "the server is shutting down".into(),
            });
        }
        if self.cluster.as_ref().is_some_and(|c| !c.reachable()) {
            not.push(NotReady {
                what: "redis".into(),
                why: "the cluster's Redis did not answer this node's last call".into(),
            });
        }
        match &self.media {
            MediaProbe::Embedded(running) => {
                if !running.load(Ordering::Relaxed) {
                    not.push(NotReady {
                        what: "media".into(),
                        why: "the embedded media server is not running".into(),
                    });
                }
            }
            MediaProbe::External(ext) => {
                let mut last = self.last.lock().await;
                let fresh = last.as_ref().filter(|(at, _)| at.elapsed() < PROBE_REUSE);
                let found = match fresh {
                    Some((_, found)) => found.clone(),
                    None => {
                        let found: Vec<NotReady> = ext
                            .unreachable_nodes()
                            .await
                            .into_iter()
                            .map(|(node, why)| NotReady {
                                what: format!("media.node.{node}"),
                                why: format!("its control base does not answer: {why}"),
                            })
                            .collect();
                        *last = Some((Instant::now(), found.clone()));
                        found
                    }
                };
                not.extend(found);
            }
        }
        not
    }
}

/// `GET /readyz`, anonymous.
pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

async fn readyz(State(r): State<Readiness>) -> Response {
    let not = r.check().await;
    if not.is_empty() {
        Json(serde_json::json!({ "ready": true })).into_response()
    } else {
        let body = serde_json::json!({ "ready": false, "notReady": not });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}
