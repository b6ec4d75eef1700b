//! The hook routes an engine calls, on the signaling listener:
//!
//! ```text
//! POST /hooks/nginx-rtmp/{secret}/{node}/{event}   form body; 2xx admits, 403 drops
//! POST /hooks/srs/{secret}/{node}                  JSON body; {"code":0} admits, non-zero refuses
//! ```
//!
//! Anyone who reaches the signaling port reaches these, so: calls from outside the configured
//! hook sources (if any) are 403, the hook secret is part of the path (compared in constant time; a wrong one is 403 before the body is read), `node` must
//! be a configured engine node (its number picks the control base kicks go to), bodies are
//! capped at [`HOOK_BODY_LIMIT`] bytes, and every field is parsed as hostile
//! ([`super::nginx`], [`super::srs`]). The path is never logged: it holds the secret. Only the
//! configured engine's routes exist.
//!
//! In a cluster, a hook that passed those checks and names a room another node owns is sent
//! on to that node, which checks it again and decides ([`forwarded`]); a call that came that
//! way (it carries the cluster secret, checked by `crate::cluster::forward_layer`) is answered
//! here, never sent on again.

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::{nginx, srs, ExternalMedia, Hook, HookRefusal};
use crate::config::MediaEngine;

/// Largest hook body read (nginx-rtmp's are a few hundred bytes, SRS's under one KiB).
pub const HOOK_BODY_LIMIT: usize = 4096;

/// The hook routes of `media`'s engine.
pub fn router(media: ExternalMedia) -> Router {
    let r = match media.engine() {
        MediaEngine::Srs => Router::new().route("/hooks/srs/{secret}/{node}", post(srs_hook)),
        _ => Router::new().route(
            "/hooks/nginx-rtmp/{secret}/{node}/{event}",
            post(nginx_hook),
        ),
    };
    r.layer(DefaultBodyLimit::max(HOOK_BODY_LIMIT))
        .with_state(media)
}

/// The node number if the call comes from an allowed source, `secret` is the hook secret and
/// `node` a configured node.
fn authorize(
    media: &ExternalMedia,
    peer: SocketAddr,
    secret: &str,
    node: &str,
) -> Result<usize, StatusCode> {
    if !media.is_hook_source(peer.ip()) {
        tracing::warn!(%peer, "media hook from a source not allowed refused");
        return Err(StatusCode::FORBIDDEN);
    }
    if !media.is_secret(secret) {
        tracing::warn!("media hook with a wrong secret refused");
        return Err(StatusCode::FORBIDDEN);
    }
    match node.parse::<usize>() {
        Ok(n) if media.has_node(n) && node == n.to_string() => Ok(n),
        _ => Err(StatusCode::NOT_FOUND),
    }
}

/// The room owner's answer to a hook this node received from the engine, when another node
/// owns the hook's room; `None`: this node answers. The media room is the stream name's part
/// before its first `.`, taken only if it has the shape this server gives media rooms.
async fn forwarded(
    media: &ExternalMedia,
    hook: &Result<Hook, HookRefusal>,
    (uri, headers, peer): (&Uri, &HeaderMap, SocketAddr),
    body: &Bytes,
) -> Option<Response> {
    let fwd = media.forwarder()?;
    if headers.contains_key(crate::cluster::CLUSTER_AUTH_HEADER) {
        return None;
    }
    let name = &hook.as_ref().ok()?.name;
    let room = name.split('.').next().filter(|m| is_media_room(m))?;
    let mut req = Request::post(uri.clone());
    if let Some(v) = headers.get(header::CONTENT_TYPE) {
        req = req.header(header::CONTENT_TYPE, v);
    }
    let mut req = req.body(axum::body::Body::from(body.clone())).ok()?;
    req.extensions_mut().insert(ConnectInfo(peer));
    fwd.forward(room.to_owned(), req).await
}

/// Whether `m` looks like a media room id this server makes: `m` and 24 lowercase hex digits.
pub fn is_media_room(m: &str) -> bool {
    m.len() == 25
        && m.starts_with('m')
        && m[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Decides `hook`, logging a refusal by its code.
fn decide(media: &ExternalMedia, hook: Result<Hook, HookRefusal>) -> Result<(), HookRefusal> {
    let r = hook.and_then(|h| media.hook(h));
    if let Err(e) = &r {
        tracing::warn!(code = e.code(), "media hook refused");
    }
    r
}

async fn nginx_hook(
    State(media): State<ExternalMedia>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((secret, node, event)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let node = match authorize(&media, peer, &secret, &node) {
        Ok(n) => n,
        Err(s) => return s.into_response(),
    };
    let Some(call) = nginx::call_for(&event) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let hook = std::str::from_utf8(&body)
        .map_err(|_| HookRefusal::Malformed)
        .and_then(|b| nginx::parse(call, node, b));
    if let Some(r) = forwarded(&media, &hook, (&uri, &headers, peer), &body).await {
        return r;
    }
    match decide(&media, hook) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::FORBIDDEN, e.code()).into_response(),
    }
}

async fn srs_hook(
    State(media): State<ExternalMedia>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((secret, node)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let node = match authorize(&media, peer, &secret, &node) {
        Ok(n) => n,
        Err(s) => return s.into_response(),
    };
    let hook = srs::parse(node, &body);
    if let Some(r) = forwarded(&media, &hook, (&uri, &headers, peer), &body).await {
        return r;
    }
    match decide(&media, hook) {
        Ok(()) => Json(serde_json::json!({"code": 0})).into_response(),
        Err(e) => Json(serde_json::json!({"code": 403, "reason": e.code()})).into_response(),
    }
}
