//! A socket wrapper that fails writes which make no progress for too long.
//!
//! A client that stops reading (its receive window closed) blocks the server's writes
//! forever: an HTTP-FLV response, a WebSocket, an RTMP player's relay. Reads are
//! bounded elsewhere (header timeout, heartbeats, admission deadline), writes were
//! not. With [`Stall`], a write or flush that stays pending for [`WRITE_STALL`] fails
//! with `TimedOut`, which ends the connection like any socket error.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a write may stay blocked on a client that does not read.
pub const WRITE_STALL: Duration = Duration::from_secs(30);

/// `io` whose writes fail after `limit` without progress, holding `guard` (e.g. a
/// connection permit) for as long as the socket lives.
pub struct Stall<T, G = ()> {
    io: T,
    limit: Duration,
    /// Armed while a write or flush is pending.
    timer: Option<Pin<Box<Sleep>>>,
    /// Dropped with the socket: hyper hands the wrapper on to an upgraded connection,
    /// so whatever must live as long as the connection travels in here.
    _guard: G,
}

impl<T> Stall<T> {
    /// Wraps `io`; a write or flush pending for `limit` without progress fails.
    pub fn new(io: T, limit: Duration) -> Self {
        Self::guarded(io, limit, ())
    }
}

impl<T, G> Stall<T, G> {
    /// [`Stall::new`] that also keeps `guard` until the socket is dropped.
    pub fn guarded(io: T, limit: Duration, guard: G) -> Self {
        Self {
            io,
            limit,
            timer: None,
            _guard: guard,
        }
    }

    /// The wrapped I/O.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Turns a pending write into an error once the timer ran out.
    fn pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timer = None;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client stopped reading",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn done<R>(&mut self, r: Poll<io::Result<R>>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match r {
            Poll::Pending => self.pending(cx),
            ready => {
                self.timer = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin, G: Unpin> AsyncRead for Stall<T, G> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin, G: Unpin> AsyncWrite for Stall<T, G> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.done(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.done(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.done(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.done(r, cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn writes_with_progress_pass_and_a_blocked_write_fails() {
        let (a, mut b) = tokio::io::duplex(16);
        let mut s = Stall::new(a, Duration::from_secs(1));
        // The peer reads: 64 KiB through a 16-byte pipe, each write pending a moment.
        let reader = tokio::spawn(async move {
            let mut buf = vec![0; 64 * 1024];
            b.read_exact(&mut buf).await.unwrap();
            b
        });
        s.write_all(&vec![1; 64 * 1024]).await.unwrap();
        let _b = reader.await.unwrap();
        // The peer stops reading: the write fails once the limit passed.
        s.write_all(&[1; 16]).await.unwrap();
        let e = tokio::time::timeout(Duration::from_secs(10), s.write_all(&[1; 16]))
            .await
            .expect("fails within the bound")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
