//! Outbound calls to an engine's control interface: one HTTP/1.1 request per kick, to a
//! configured control base only, with a deadline.
//!
//! The method and path are built by [`super::nginx`] / [`super::srs`] from values that were
//! checked when the hook reported them (stream names, client ids), so nothing a peer sent
//! reaches the request unchecked; the host is the operator's, never a peer's.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::{HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::HttpBase;

/// How long one control call may take in all (connect, send, answer).
const CONTROL_DEADLINE: Duration = Duration::from_secs(5);

/// A control call to make: method and path under a node's control base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlCall {
    /// `GET` (nginx-rtmp `rtmp_control`) or `DELETE` (SRS's client kick).
    pub method: hyper::Method,
    /// The path and query after the base's path prefix (starts with `/`).
    pub path: String,
}

/// Sends `call` to `base` in the background; the outcome is only logged: a kick that fails
/// leaves the peer connected, which the next kick (or the URL's expiry) ends.
pub fn spawn_call(base: &HttpBase, call: ControlCall) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(path = %call.path, "no runtime for a media control call");
        return;
    };
    let base = base.clone();
    rt.spawn(async move {
        let path = format!("{}{}", base.path, call.path);
        match tokio::time::timeout(CONTROL_DEADLINE, send(&base.authority, &call.method, &path))
            .await
        {
            Ok(Ok(status)) => tracing::info!(%path, status, "media control call"),
            Ok(Err(e)) => tracing::warn!(%path, error = %e, "media control call failed"),
            Err(_) => tracing::warn!(%path, "media control call timed out"),
        }
    });
}

/// How long a readiness probe of a control base may take.
const PROBE_DEADLINE: Duration = Duration::from_secs(2);

/// Whether `base` answers HTTP at all (`GET` of its path, any status): for `/readyz`,
/// which asks whether the engine can be reached, not whether it likes the request.
pub async fn probe(base: &HttpBase) -> Result<(), String> {
    let path = if base.path.is_empty() {
        "/"
    } else {
        &base.path
    };
    match tokio::time::timeout(
        PROBE_DEADLINE,
        send(&base.authority, &hyper::Method::GET, path),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("no answer within 2 s".to_owned()),
    }
}

/// One request on a fresh connection; the answer's status.
async fn send(authority: &str, method: &hyper::Method, path: &str) -> Result<u16, String> {
    let tcp = TcpStream::connect(authority)
        .await
        .map_err(|e| e.to_string())?;
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
    // Driven until the answer is read; the task ends with the connection.
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method.clone())
        .uri(path)
        .header(HOST, authority)
        .header(USER_AGENT, "mprtc-server")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let resp = tx.send_request(req).await.map_err(|e| e.to_string())?;
    Ok(resp.status().as_u16())
}
