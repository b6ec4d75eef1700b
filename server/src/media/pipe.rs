//! Loopback pipe between an RTMP client and its `rtmp-rs` connection, so that an
//! admitted RTMP player is never left waiting on a blind socket read.
//!
//! # Why
//!
//! Each turn of `rtmp-rs` 0.6.0's connection loop first decides whether to wait for
//! the socket *and* the player's broadcast frames, or for the socket only (nothing
//! subscribed yet), and then reads. A command whose message is split into several
//! chunks can be completed from bytes that an earlier turn already read: the decoder
//! stops after the first, non-final chunk and leaves the rest buffered for the next
//! turn. If that command is `play`, the connection subscribes in the middle of a
//! socket-only turn, sends the cached headers and GOP, and then blocks reading the
//! socket with nobody polling the subscription. Live media only flows once the
//! client sends another byte, and a player has nothing to send (ffmpeg acknowledges
//! only every 1.25 MB). ffmpeg writes commands in 128-byte chunks, so this hits
//! every `play` whose stream name is longer than about 100 bytes, which signed play
//! URLs reach with ordinary room names, uids and viewer ids: `slice12345.1001?k=play&
//! v=9007199254740993&e=..&s=..` is 100 bytes; the player decoded the cached
//! keyframe and then stalled.
//!
//! # How
//!
//! The connection gets one end of a loopback TCP pair instead of the client socket
//! (`rtmp-rs`' `Connection` takes a `TcpStream`, so an in-memory pipe cannot stand in);
//! a relay task copies bytes unchanged both ways. Every client→server byte first
//! passes the [`ChunkGuard`] of [`super::front`], which closes the connection when the
//! client breaks a limit and tells the relay where chunks end. When a play is admitted
//! ([`Tap::Nudge`]), the relay writes one extra message at the next chunk boundary: an
//! Acknowledgement (which `rtmp-rs` ignores) on a chunk stream id clients may not use
//! (the guard refuses it), so it disturbs no client chunk stream's header compression.
//! The nudge reaches the connection after it consumed the `play`, so it ends the blind
//! read at the latest; if there was none it is a no-op.
//!
//! # Limits before admission
//!
//! A session that is not admitted as a publisher or player ([`Tap::Watch`]) by its
//! deadline is closed: the handshake and a `connect` cost nothing to send, and an idle
//! connection costs three file descriptors. A client that sends media right after its
//! `publish` may get ahead of the admission: bytes over the pre-admission size limits
//! wait (within the deadline) for the session's tap to change before they are judged
//! again with the larger limits.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rtmp_rs::protocol::chunk::RtmpChunk;
use rtmp_rs::protocol::constants::MSG_ACKNOWLEDGEMENT;
use rtmp_rs::protocol::ChunkEncoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use super::front::{ChunkGuard, FrontLimits, Stop};
use super::MediaBytes;
use crate::listen::stall::{Stall, WRITE_STALL};
use crate::listen::Throttle;

/// Chunk stream id of the nudge: the largest one (3-byte basic header). Clients use
/// small ids (ffmpeg and librtmp: 2 to 8).
const NUDGE_CSID: u32 = 65599;
/// How long the relay keeps flushing server→client bytes after the session ended
/// (e.g. a refusal's `onStatus`) before dropping a client that does not read.
const DRAIN: Duration = Duration::from_secs(2);

/// Connections refused by the guard, and closed at the deadline: logged sparingly.
static REFUSED: Throttle = Throttle::new();
static LATE: Throttle = Throttle::new();

/// What the relay of one session does with client→server bytes, set by the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tap {
    /// No role yet: the pre-admission limits and the deadline apply.
    Watch,
    /// A play was admitted: slip in the nudge at the next chunk boundary.
    Nudge,
    /// A publish was admitted: the guard's admitted limits apply.
    Off,
}

/// What the relay of one session enforces.
#[derive(Debug, Clone, Copy)]
pub(super) struct Guarding {
    pub(super) session: u64,
    pub(super) peer: SocketAddr,
    pub(super) limits: FrontLimits,
    /// Close the connection unless it is admitted by then.
    pub(super) admit_by: Instant,
}

/// Puts a relay between `client` and the returned socket, which the `rtmp-rs`
/// connection should use instead. The relay ends when the connection closes its end,
/// or [`DRAIN`] after `ended` is cancelled, or at once when the client breaks a limit
/// (then `ended` is cancelled); the client socket is closed then. On error (no
/// loopback socket), `client` is handed back untouched.
pub(super) async fn open(
    client: TcpStream,
    tap: watch::Receiver<Tap>,
    ended: CancellationToken,
    guarding: Guarding,
    bytes: Arc<MediaBytes>,
) -> Result<TcpStream, (TcpStream, io::Error)> {
    let (ours, theirs) = match loopback_pair().await {
        Ok(pair) => pair,
        Err(e) => return Err((client, e)),
    };
    tokio::spawn(relay(client, ours, tap, ended, guarding, bytes));
    Ok(theirs)
}

/// A connected loopback TCP pair: (relay end, connection end).
async fn loopback_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let ours = TcpStream::connect(listener.local_addr()?).await?;
    let me = ours.local_addr()?;
    // Someone else may have raced to the fresh port; only our own connect counts.
    for _ in 0..8 {
        let (theirs, peer) = tokio::time::timeout(Duration::from_secs(2), listener.accept())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "loopback accept"))??;
        if peer == me {
            ours.set_nodelay(true)?;
            theirs.set_nodelay(true)?;
            return Ok((ours, theirs));
        }
    }
    Err(io::Error::other("loopback port taken over"))
}

async fn relay(
    client: TcpStream,
    inner: TcpStream,
    tap: watch::Receiver<Tap>,
    ended: CancellationToken,
    guarding: Guarding,
    bytes: Arc<MediaBytes>,
) {
    let (client_rx, client_tx) = client.into_split();
    // A player that stops reading would block the connection's writes for good.
    let mut client_tx = Stall::new(client_tx, WRITE_STALL);
    let (mut inner_rx, inner_tx) = inner.into_split();
    let down = async {
        // tokio::io::copy, counted as it goes (a play lasts hours: counting at its end would
        // show nothing until then).
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = inner_rx.read(&mut buf).await {
            if n == 0 || client_tx.write_all(&buf[..n]).await.is_err() {
                break;
            }
            bytes.add_out(n);
        }
        let _ = client_tx.shutdown().await;
    };
    let up = pump_up(client_rx, inner_tx, tap, guarding, &bytes);
    tokio::pin!(down, up);
    let drain = tokio::select! {
        _ = &mut down => false,
        // The client stopped sending, so the connection sees EOF and ends: pass on
        // what it still writes. A refused client gets nothing more.
        end = &mut up => end == UpEnd::ClientDone,
        _ = ended.cancelled() => true,
    };
    if drain {
        let _ = tokio::time::timeout(DRAIN, &mut down).await;
    } else {
        ended.cancel();
    }
    // Dropping both sockets closes the client and the connection's end.
}

/// Why the client→connection direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UpEnd {
    /// EOF or an error on either socket.
    ClientDone,
    /// The client broke a limit or was not admitted in time.
    Refused,
}

/// Client → connection, through the guard.
async fn pump_up(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut tap: watch::Receiver<Tap>,
    g: Guarding,
    bytes: &MediaBytes,
) -> UpEnd {
    let mut guard = ChunkGuard::new(g.limits);
    let mut admitted = false;
    let mut watching = true;
    let mut nudge = false;
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = tokio::time::sleep_until(g.admit_by);
    tokio::pin!(deadline);
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return UpEnd::ClientDone,
                Ok(n) => n,
            },
            changed = tap.changed(), if watching => {
                match changed.map(|()| *tap.borrow_and_update()) {
                    Ok(Tap::Watch) => {}
                    Ok(Tap::Nudge) => nudge = true,
                    Ok(Tap::Off) => {}
                    Err(_) => watching = false,
                }
                if !admitted && watching && *tap.borrow() != Tap::Watch {
                    admitted = true;
                    guard.admit();
                }
                0
            }
            () = &mut deadline, if !admitted => {
                if let Some(count) = LATE.hit() {
                    tracing::info!(session = g.session, peer = %g.peer, count, "RTMP connection closed: not publishing or playing in time (count since the last such line)");
                } else {
                    tracing::debug!(session = g.session, peer = %g.peer, "RTMP connection closed: not publishing or playing in time");
                }
                return UpEnd::Refused;
            }
        };
        if n > 0 {
            bytes.add_in(n);
            let mut data = &buf[..n];
            if let Err(Stop { accepted, error }) = guard.feed(data) {
                let mut refused = Some(error);
                if !admitted
                    && refused.as_ref().is_some_and(|e| e.size_limited())
                    && passes_admitted(&guard, &data[accepted..])
                {
                    // Maybe media right after `publish`: forward what passed, wait for
                    // the admission, then judge the rest with the admitted limits.
                    if to.write_all(&data[..accepted]).await.is_err() {
                        return UpEnd::ClientDone;
                    }
                    data = &data[accepted..];
                    if wait_admission(&mut tap, &mut deadline).await {
                        admitted = true;
                        guard.admit();
                        if matches!(*tap.borrow(), Tap::Nudge) {
                            nudge = true;
                        }
                        refused = guard.feed(data).err().map(|s| s.error);
                    }
                }
                if let Some(e) = refused {
                    if let Some(count) = REFUSED.hit() {
                        tracing::warn!(session = g.session, peer = %g.peer, code = e.code(), count, "RTMP connection refused: {e} (count since the last such line)");
                    } else {
                        tracing::debug!(session = g.session, peer = %g.peer, code = e.code(), "RTMP connection refused: {e}");
                    }
                    return UpEnd::Refused;
                }
            }
            if to.write_all(data).await.is_err() {
                return UpEnd::ClientDone;
            }
        }
        if nudge && guard.at_boundary() {
            nudge = false;
            if to.write_all(&nudge_bytes()).await.is_err() {
                return UpEnd::ClientDone;
            }
        }
    }
}

/// Whether `rest` would pass `guard` once the session is admitted (else waiting for
/// the admission is pointless).
fn passes_admitted(guard: &ChunkGuard, rest: &[u8]) -> bool {
    let mut probe = guard.clone();
    probe.admit();
    probe.feed(rest).is_ok()
}

/// Waits until the session is admitted (true) or the deadline passes or the session
/// ends (false).
async fn wait_admission(
    tap: &mut watch::Receiver<Tap>,
    deadline: &mut std::pin::Pin<&mut tokio::time::Sleep>,
) -> bool {
    loop {
        if *tap.borrow_and_update() != Tap::Watch {
            return true;
        }
        tokio::select! {
            changed = tap.changed() => if changed.is_err() { return false },
            () = deadline.as_mut() => return false,
        }
    }
}

/// One complete Acknowledgement message on [`NUDGE_CSID`] (full header).
fn nudge_bytes() -> BytesMut {
    let mut out = BytesMut::new();
    ChunkEncoder::new().encode(
        &RtmpChunk {
            csid: NUDGE_CSID,
            timestamp: 0,
            message_type: MSG_ACKNOWLEDGEMENT,
            stream_id: 0,
            payload: Bytes::from_static(&[0, 0, 0, 0]),
        },
        &mut out,
    );
    out
}

#[cfg(test)]
mod unit_tests {
    use rtmp_rs::protocol::constants::MSG_SET_CHUNK_SIZE;
    use rtmp_rs::protocol::message::RtmpMessage;
    use rtmp_rs::protocol::ChunkDecoder;

    use super::*;

    fn encode(enc: &mut ChunkEncoder, csid: u32, message_type: u8, payload: Vec<u8>) -> Vec<u8> {
        let mut out = BytesMut::new();
        enc.encode(
            &RtmpChunk {
                csid,
                timestamp: 0,
                message_type,
                stream_id: 0,
                payload: payload.into(),
            },
            &mut out,
        );
        out.to_vec()
    }

    #[test]
    fn guard_finds_chunk_boundaries() {
        let mut f = ChunkGuard::new(FrontLimits::default());
        let handshake = super::super::front::HANDSHAKE_LEN;
        assert!(f.feed(&vec![3u8; handshake - 1]).is_ok());
        assert!(!f.at_boundary());
        assert!(f.feed(&[0]).is_ok());
        assert!(f.at_boundary());

        // A 300-byte command in 128-byte chunks: boundaries after each chunk only.
        let mut enc = ChunkEncoder::new();
        let cmd = encode(&mut enc, 8, 20, vec![7; 300]);
        assert_eq!(cmd.len(), 12 + 128 + 1 + 128 + 1 + 44);
        for (i, b) in cmd.iter().enumerate() {
            assert!(f.feed(&[*b]).is_ok());
            let end = i + 1;
            assert_eq!(
                f.at_boundary(),
                end == 140 || end == 269 || end == cmd.len(),
                "after {end} bytes"
            );
        }

        // The client raises its chunk size: the guard keeps up.
        let mut set = encode(
            &mut enc,
            2,
            MSG_SET_CHUNK_SIZE,
            4096u32.to_be_bytes().to_vec(),
        );
        enc.set_chunk_size(4096);
        let big = encode(&mut enc, 8, 20, vec![1; 1000]);
        set.extend_from_slice(&big[..500]);
        assert!(f.feed(&set).is_ok());
        assert!(!f.at_boundary());
        assert!(f.feed(&big[500..]).is_ok());
        assert!(f.at_boundary());

        // The nudge's chunk stream is the relay's own: a client may not use it.
        let refused = f.feed(&nudge_bytes()).unwrap_err();
        assert_eq!(refused.accepted, 0);
        assert_eq!(refused.error.code(), "rtmp.reserved_chunk_stream");
        assert!(f.at_boundary());
    }

    #[test]
    fn nudge_is_a_lone_acknowledgement() {
        let mut dec = ChunkDecoder::new();
        let mut b = nudge_bytes();
        let chunk = dec.decode(&mut b).unwrap().expect("one complete message");
        assert!(b.is_empty());
        assert_eq!(chunk.csid, NUDGE_CSID);
        assert!(matches!(
            RtmpMessage::from_chunk(&chunk),
            Ok(RtmpMessage::Acknowledgement { .. })
        ));
    }

    /// A client socket, and the relay's output (what `rtmp-rs` would read) for it.
    async fn relayed(tap: watch::Receiver<Tap>, admit_in: Duration) -> (TcpStream, TcpStream) {
        let l = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server_side, peer) = l.accept().await.unwrap();
        let guarding = Guarding {
            session: 1,
            peer,
            limits: FrontLimits::default(),
            admit_by: Instant::now() + admit_in,
        };
        let inner = open(
            server_side,
            tap,
            CancellationToken::new(),
            guarding,
            Arc::default(),
        )
        .await
        .map_err(|(_, e)| e)
        .unwrap();
        (client, inner)
    }

    const BOUND: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn media_sent_right_after_publish_waits_for_the_admission() {
        let (tap, tap_rx) = watch::channel(Tap::Watch);
        let (mut client, mut inner) = relayed(tap_rx, BOUND).await;
        // A 100 KB keyframe: over the limit before admission, within it after.
        let mut sent = vec![3u8; super::super::front::HANDSHAKE_LEN];
        sent.extend(encode(&mut ChunkEncoder::new(), 6, 9, vec![0x17; 100_000]));
        client.write_all(&sent).await.unwrap();
        let mut got = vec![0u8; super::super::front::HANDSHAKE_LEN];
        tokio::time::timeout(BOUND, inner.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        tap.send_replace(Tap::Off);
        got.resize(sent.len(), 0);
        tokio::time::timeout(
            BOUND,
            inner.read_exact(&mut got[super::super::front::HANDSHAKE_LEN..]),
        )
        .await
        .expect("passed once admitted")
        .unwrap();
        assert_eq!(got, sent);
    }

    #[tokio::test]
    async fn a_session_never_admitted_is_closed_at_its_deadline() {
        let (_tap, tap_rx) = watch::channel(Tap::Watch);
        let (mut client, _inner) = relayed(tap_rx, Duration::from_millis(100)).await;
        let mut hello = vec![3u8; super::super::front::HANDSHAKE_LEN];
        hello.extend(encode(&mut ChunkEncoder::new(), 3, 20, vec![5; 200]));
        client.write_all(&hello).await.unwrap();
        let mut buf = [0u8; 64];
        let eof = tokio::time::timeout(BOUND, client.read(&mut buf))
            .await
            .expect("closed by the relay");
        assert!(matches!(eof, Ok(0) | Err(_)));
    }
}
