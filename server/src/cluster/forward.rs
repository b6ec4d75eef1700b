//! The server API on a node that does not own the room: the call is forwarded to the owner,
//! whose hub runs the room, and its answer carried back as it is.
//!
//! Only calls about a room that some node owns are forwarded, and only to the owner's
//! registered address. A forwarded call carries the cluster secret, the owner's node id and
//! the client's address; the owner checks the first two (a forged or absent secret is
//! refused, 401 `cluster.unauthorized`) and counts failed logins against the client's
//! address, not the forwarding node's. The caller's credentials travel unchanged: the owner
//! authenticates them as for any call.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

use super::{Cluster, ClusterError, Route, CLUSTER_AUTH_HEADER, CLUSTER_NODE_HEADER};

/// Names the client whose call a node forwards.
const CLIENT_HEADER: &str = "x-mprtc-cluster-client";
/// The largest request or answer body carried (task lists are the largest API bodies).
const MAX_BODY: usize = 1 << 20;
/// How long the owner has to answer.
const DEADLINE: Duration = Duration::from_secs(10);

/// The middleware over the `/api/v1` routes; see the module doc.
pub async fn forward_layer(
    State(c): State<Arc<Cluster>>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.headers().contains_key(CLUSTER_AUTH_HEADER) {
        if let Err(e) = c.check_call(req.headers()) {
            tracing::info!(code = e.code(), "forwarded call refused");
            return e.into_response();
        }
        let client = req
            .headers()
            .get(CLIENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<IpAddr>().ok());
        if let Some(ip) = client {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(ip, 0)));
        }
        return run_here(&c, req, next).await;
    }
    let Some((app, room)) = target(&req) else {
        return next.run(req).await;
    };
    if !c.routable(&app, &room) {
        return next.run(req).await;
    }
    match c.owner_of(&app, &room).await {
        Ok(None | Some(Route::Here)) => run_here(&c, req, next).await,
        Ok(Some(Route::Owner { node, authority })) => {
            match tokio::time::timeout(DEADLINE, c.send_to(&node, &authority, req)).await {
                Ok(Ok(resp)) => resp,
                Ok(Err(e)) => e.into_response(),
                Err(_) => ClusterError::Relay("no answer within 10 s".into()).into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

/// Runs a call about a room served here. A kick or a room close that went through answers
/// only once it is written to Redis ([`Cluster::committed`]): the owner dying right after the
/// answer must not bring the kicked member or the closed room back on the next owner.
async fn run_here(c: &Cluster, req: Request, next: Next) -> Response {
    let bars = ends_sessions(&req);
    let resp = next.run(req).await;
    if bars && resp.status().is_success() {
        c.committed().await;
    }
    resp
}

/// Whether `req` is the server API's kick (`POST .../members/{uid}/kick`) or room close
/// (`DELETE /api/v1/rooms/{room}`).
fn ends_sessions(req: &Request) -> bool {
    let Some(rest) = req.uri().path().strip_prefix("/api/v1/rooms/") else {
        return false;
    };
    let kick = req.method() == axum::http::Method::POST && rest.ends_with("/kick");
    let close = req.method() == axum::http::Method::DELETE && !rest.contains('/');
    kick || close
}

/// The app key (from the Basic credentials, unchecked) and the room a call is about.
fn target(req: &Request) -> Option<(String, String)> {
    let room = req.uri().path().strip_prefix("/api/v1/rooms/")?;
    let room = room.split('/').next()?.to_owned();
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (app, _) = decoded.split_once(':')?;
    Some((app.to_owned(), room))
}

impl Cluster {
    /// Sends `req` to node `node` at `authority` and returns its answer.
    pub(super) async fn send_to(
        &self,
        node: &str,
        authority: &str,
        req: Request,
    ) -> Result<Response, ClusterError> {
        let fail = |e: &dyn std::fmt::Display| ClusterError::Relay(e.to_string());
        let client = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let (parts, body) = req.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| fail(&e))?
            .to_bytes();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut out = hyper::Request::builder()
            .method(parts.method.clone())
            .uri(path)
            .header(header::HOST, authority)
            .header(CLUSTER_AUTH_HEADER, self.secret.expose())
            .header(CLUSTER_NODE_HEADER, node);
        for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
            if let Some(v) = parts.headers.get(&name) {
                out = out.header(name, v);
            }
        }
        if let Some(ip) = client {
            out = out.header(CLIENT_HEADER, ip);
        }
        let out = out.body(Full::new(body)).map_err(|e| fail(&e))?;
        let tcp = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| fail(&e))?;
        let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| fail(&e))?;
        let driver = tokio::spawn(conn);
        let resp = tx.send_request(out).await.map_err(|e| fail(&e));
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                driver.abort();
                return Err(e);
            }
        };
        let (parts, body) = resp.into_parts();
        let body: Bytes = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| fail(&e))?
            .to_bytes();
        driver.abort();
        let mut back = Response::new(Body::from(body));
        *back.status_mut() = parts.status;
        for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
            if let Some(v) = parts.headers.get(&name) {
                back.headers_mut().insert(name, v.clone());
            }
        }
        back.headers_mut().insert(
            "x-mprtc-served-by",
            HeaderValue::from_str(node).map_err(|e| fail(&e))?,
        );
        Ok(back)
    }
}
