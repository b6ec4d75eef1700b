//! An HTTP/1 serving loop for an axum [`Router`], in place of `axum::serve`, which
//! offers neither connection caps nor a header-read timeout.
//!
//! Each accepted connection takes a [`ConnPermit`] first (over a cap it is closed
//! unread) and keeps it for its whole life, also after a WebSocket upgrade: the permit
//! travels inside the socket wrapper that hyper hands to the upgraded connection.
//!
//! hyper's header-read timeout starts whenever the connection waits for a request
//! head: when it opens and again after each response (an idle keep-alive), so a
//! silent connection, unfinished headers and an idle keep-alive are all closed after
//! `header_timeout`. It does not run while a response streams (HTTP-FLV) nor after an
//! upgrade (the signaling WebSocket has its own heartbeat). Writes to a client that
//! stopped reading fail after [`WRITE_STALL`], also after an upgrade.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower_service::Service;

use super::stall::{Stall, WRITE_STALL};
use super::{ConnLimiter, ConnPermit};

/// Pause after a failed accept (e.g. out of file descriptors) instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting,
/// lets open connections finish their current exchange and returns once all ended.
/// Handlers see the peer address as [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limiter: ConnLimiter,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut conns = JoinSet::new();
    let mut accept_errors = 0u64;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let Some(permit) = limiter.try_acquire(peer.ip()) else {
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let stop = stop_rx.clone();
                    conns.spawn(connection(tcp, permit, peer, router.clone(), header_timeout, stop));
                }
                Err(e) => {
                    accept_errors += 1;
                    if accept_errors.is_power_of_two() {
                        tracing::warn!(error = %e, count = accept_errors, "HTTP accept failed");
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while conns.join_next().await.is_some() {}
    Ok(())
}

async fn connection(
    tcp: TcpStream,
    permit: ConnPermit,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // The permit travels with the socket, also into an upgraded connection.
    let io = TokioIo::new(Stall::guarded(tcp, WRITE_STALL, permit));
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().call(req)
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(io, svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
        }
        () = async { drop(stop.wait_for(|s| *s).await) } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
