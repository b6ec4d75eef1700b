//! The delivery worker of one (app, URL) queue: takes the oldest event, posts it signed, and
//! on a connect error, a timeout or a non-2xx answer tries again after a doubling pause, up to
//! [`MAX_ATTEMPTS`]; only then the next event, so that order holds.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use super::{Counts, Pending, Queue};
use crate::tasks::image::{bracket, path_and_query};
use crate::tasks::policy::host_port;

/// Attempts per event before it is given up (logged and counted).
pub const MAX_ATTEMPTS: u32 = 6;
/// The pause after the first failed attempt; it doubles after each (0.25 s … 4 s between the
/// six attempts), so a receiver that restarts catches up within seconds.
pub const BACKOFF_START: Duration = Duration::from_millis(250);
/// One attempt's limit, connect to status line: a receiver that never answers holds its
/// queue this long per attempt, never the room.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// `v1=<hex of HMAC-SHA256(secret, "{timestamp}.{body}")>`, the `X-Mprtc-Signature` value.
pub fn signature(secret: &[u8], timestamp: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v1={hex}")
}

/// Why one attempt failed, for the log.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("bad URL")]
    BadUrl,
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("http: {0}")]
    Http(String),
    #[error("answered {0}")]
    Status(u16),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

pub(super) struct Worker {
    pub(super) queue: Arc<Queue>,
    pub(super) counts: Arc<Counts>,
    pub(super) tls: tokio_rustls::TlsConnector,
}

impl Worker {
    /// Delivers until `stop`: events still queued then are not sent (the process is ending).
    pub(super) async fn run(self, stop: CancellationToken) {
        loop {
            let next = self
                .queue
                .items
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            // Taken off the queue while it is delivered: the queue's cap bounds what waits,
            // and the one in hand is not dropped by an overflow behind it.
            let Some(p) = next else {
                tokio::select! {
                    _ = self.queue.wake.notified() => continue,
                    _ = stop.cancelled() => return,
                }
            };
            // Shutdown does not wait for a slow backend: what is in hand is lost with the
            // process, as the README says (events live in memory only).
            tokio::select! {
                _ = self.deliver(&p) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Every attempt for one event, with the pauses between them.
    async fn deliver(&self, p: &Pending) {
        let mut pause = BACKOFF_START;
        for attempt in 1..=MAX_ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(pause).await;
                pause *= 2;
                self.counts.retries.fetch_add(1, Ordering::Relaxed);
            }
            let r = tokio::time::timeout(TIMEOUT, self.attempt(p))
                .await
                .unwrap_or(Err(AttemptError::Timeout(TIMEOUT)));
            match r {
                Ok(()) => {
                    self.counts.delivered.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    self.counts.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(url = %self.queue.shown, id = %p.id, attempt, error = %e, "webhook delivery failed");
                }
            }
        }
        self.counts.given_up.fetch_add(1, Ordering::Relaxed);
        tracing::error!(url = %self.queue.shown, id = %p.id, "webhook given up after {MAX_ATTEMPTS} attempts");
    }

    /// One signed POST; success is a 2xx. The answer's body is never read, and a redirect is
    /// a failure like any other non-2xx (never followed: the URL is the operator's choice).
    async fn attempt(&self, p: &Pending) -> Result<(), AttemptError> {
        let url = &self.queue.url;
        let https = url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        let (host, port) = host_port(url).ok_or(AttemptError::BadUrl)?;
        // A fresh connection per attempt: events are few next to the cost, and no pooled
        // connection carries a half-read answer or a restarted backend's dead socket into the
        // next event. The operator's URL is trusted, so its address is not vetted as layout
        // images' are (a backend on a private network is the usual case).
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(AttemptError::Connect)?;
        let authority = match (https, port) {
            (true, 443) | (false, 80) => bracket(&host),
            _ => format!("{}:{port}", bracket(&host)),
        };
        // The timestamp is this attempt's, not the event's (that is `time_ms` in the body): a
        // retry long after the event still passes a receiver's freshness check.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let req = hyper::Request::post(path_and_query(url))
            .header(HOST, authority)
            .header(USER_AGENT, "mprtc-server")
            .header(CONTENT_TYPE, "application/json")
            .header("x-mprtc-event-id", &*p.id)
            .header("x-mprtc-timestamp", now.to_string())
            .header(
                "x-mprtc-signature",
                signature(self.queue.secret.as_bytes(), now, &p.body),
            )
            .body(Full::new(Bytes::from(p.body.to_string())))
            .map_err(|_| AttemptError::BadUrl)?;
        let status = if https {
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| AttemptError::BadUrl)?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(AttemptError::Connect)?;
            send(TokioIo::new(tls), req).await?
        } else {
            send(TokioIo::new(tcp), req).await?
        };
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(AttemptError::Status(status))
        }
    }
}

/// Sends `req` on `io` and returns the status; the connection ends with this future.
async fn send<T>(io: T, req: hyper::Request<Full<Bytes>>) -> Result<u16, AttemptError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut tx, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| AttemptError::Http(e.to_string()))?;
    // The connection is driven only until the status line and headers are in; aborting it
    // then closes the socket, so the answer's body is never read, whatever its size.
    let driver = tokio::spawn(conn);
    let r = tx.send_request(req).await;
    driver.abort();
    r.map(|resp| resp.status().as_u16())
        .map_err(|e| AttemptError::Http(e.to_string()))
}
