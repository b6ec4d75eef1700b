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
//! The connection gets one end of a loopback TCP pair instead of the client socket;
//! a relay task copies bytes unchanged both ways. Until the session has a role
//! ([`Tap::Watch`]) the relay follows the client→server chunk stream with its own
//! [`ChunkDecoder`], which only tells it where chunks end. When a play is admitted
//! ([`Tap::Nudge`]), it writes one extra message at the next chunk boundary: an
//! Acknowledgement (which `rtmp-rs` ignores) on a chunk stream id clients do not use,
//! so it disturbs no client chunk stream's header compression. The nudge reaches the
//! connection after it consumed the `play`, so it ends the blind read at the latest;
//! if there was none it is a no-op. After that, or once a publish is admitted
//! ([`Tap::Off`]), bytes are only copied.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rtmp_rs::protocol::chunk::RtmpChunk;
use rtmp_rs::protocol::constants::{
    HANDSHAKE_SIZE, MSG_ABORT, MSG_ACKNOWLEDGEMENT, MSG_SET_CHUNK_SIZE,
};
use rtmp_rs::protocol::message::RtmpMessage;
use rtmp_rs::protocol::{ChunkDecoder, ChunkEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Chunk stream id of the nudge: the largest one (3-byte basic header). Clients use
/// small ids (ffmpeg and librtmp: 2 to 8).
const NUDGE_CSID: u32 = 65599;
/// How long the relay keeps flushing server→client bytes after the session ended
/// (e.g. a refusal's `onStatus`) before dropping a client that does not read.
const DRAIN: Duration = Duration::from_secs(2);
/// C0 + C1 + C2.
const HANDSHAKE_LEN: usize = 1 + 2 * HANDSHAKE_SIZE;

/// What the relay of one session does with client→server bytes, set by the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tap {
    /// No role yet: follow chunk boundaries.
    Watch,
    /// A play was admitted: slip in the nudge at the next chunk boundary, then stop.
    Nudge,
    /// Publisher (or nudged player): copy only.
    Off,
}

/// Puts a relay between `client` and the returned socket, which the `rtmp-rs`
/// connection should use instead. The relay ends when the connection closes its end,
/// or [`DRAIN`] after `ended` is cancelled; the client socket is closed then.
/// On error (no loopback socket), `client` is handed back untouched.
pub(super) async fn open(
    client: TcpStream,
    tap: watch::Receiver<Tap>,
    ended: CancellationToken,
) -> Result<TcpStream, (TcpStream, io::Error)> {
    let (ours, theirs) = match loopback_pair().await {
        Ok(pair) => pair,
        Err(e) => return Err((client, e)),
    };
    tokio::spawn(relay(client, ours, tap, ended));
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
) {
    let (client_rx, mut client_tx) = client.into_split();
    let (mut inner_rx, inner_tx) = inner.into_split();
    let down = async {
        let _ = tokio::io::copy(&mut inner_rx, &mut client_tx).await;
        let _ = client_tx.shutdown().await;
    };
    let up = pump_up(client_rx, inner_tx, tap);
    tokio::pin!(down, up);
    let flushed = tokio::select! {
        _ = &mut down => true,
        // The client stopped sending, so the connection sees EOF and ends; or the
        // session ended. Either way, pass on what the connection still writes.
        _ = &mut up => false,
        _ = ended.cancelled() => false,
    };
    if !flushed {
        let _ = tokio::time::timeout(DRAIN, &mut down).await;
    }
    // Dropping both sockets closes the client and the connection's end.
}

/// Client → connection.
async fn pump_up(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut tap: watch::Receiver<Tap>) {
    let mut follower = Some(Follower::new());
    let mut nudge = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            changed = tap.changed(), if follower.is_some() => {
                match changed.map(|()| *tap.borrow_and_update()) {
                    Ok(Tap::Watch) => {}
                    Ok(Tap::Nudge) => nudge = true,
                    Ok(Tap::Off) | Err(_) => follower = None,
                }
                0
            }
        };
        if n > 0 {
            if to.write_all(&buf[..n]).await.is_err() {
                break;
            }
            if let Some(f) = &mut follower {
                if !f.feed(&buf[..n]) {
                    follower = None;
                }
            }
        }
        if nudge && follower.as_ref().is_some_and(Follower::at_boundary) {
            follower = None;
            nudge = false;
            if to.write_all(&nudge_bytes()).await.is_err() {
                break;
            }
        }
    }
    let _ = to.shutdown().await;
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

/// Follows the client→server byte stream to know where chunks end, decoding it the
/// way the connection does (same decoder, same chunk size changes).
struct Follower {
    handshake_left: usize,
    buf: BytesMut,
    decoder: ChunkDecoder,
}

impl Follower {
    fn new() -> Self {
        Self {
            handshake_left: HANDSHAKE_LEN,
            buf: BytesMut::new(),
            decoder: ChunkDecoder::new(),
        }
    }

    /// Takes the next forwarded bytes; false once the stream cannot be followed
    /// (the connection will fail on it as well).
    fn feed(&mut self, data: &[u8]) -> bool {
        let skip = self.handshake_left.min(data.len());
        self.handshake_left -= skip;
        self.buf.extend_from_slice(&data[skip..]);
        loop {
            let before = self.buf.len();
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(chunk)) => {
                    if matches!(chunk.message_type, MSG_SET_CHUNK_SIZE | MSG_ABORT) {
                        match RtmpMessage::from_chunk(&chunk) {
                            Ok(RtmpMessage::SetChunkSize(size)) => {
                                self.decoder.set_chunk_size(size)
                            }
                            Ok(RtmpMessage::Abort { csid }) => self.decoder.abort(csid),
                            _ => return false,
                        }
                    }
                }
                // A non-final chunk of a longer message was consumed.
                Ok(None) if self.buf.len() < before => {}
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Whether everything forwarded so far ends on a chunk boundary.
    fn at_boundary(&self) -> bool {
        self.handshake_left == 0 && self.buf.is_empty()
    }
}

#[cfg(test)]
mod unit_tests {
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
    fn follower_finds_chunk_boundaries() {
        let mut f = Follower::new();
        assert!(f.feed(&vec![3u8; HANDSHAKE_LEN - 1]));
        assert!(!f.at_boundary());
        assert!(f.feed(&[0]));
        assert!(f.at_boundary());

        // A 300-byte command in 128-byte chunks: boundaries after each chunk only.
        let mut enc = ChunkEncoder::new();
        let cmd = encode(&mut enc, 8, 20, vec![7; 300]);
        assert_eq!(cmd.len(), 12 + 128 + 1 + 128 + 1 + 44);
        for (i, b) in cmd.iter().enumerate() {
            assert!(f.feed(&[*b]));
            let end = i + 1;
            assert_eq!(
                f.at_boundary(),
                end == 140 || end == 269 || end == cmd.len(),
                "after {end} bytes"
            );
        }

        // The client raises its chunk size: the follower keeps up.
        let mut set = encode(
            &mut enc,
            2,
            MSG_SET_CHUNK_SIZE,
            4096u32.to_be_bytes().to_vec(),
        );
        enc.set_chunk_size(4096);
        let big = encode(&mut enc, 8, 20, vec![1; 1000]);
        set.extend_from_slice(&big[..500]);
        assert!(f.feed(&set));
        assert!(!f.at_boundary());
        assert!(f.feed(&big[500..]));
        assert!(f.at_boundary());

        // The nudge itself is one complete chunk.
        assert!(f.feed(&nudge_bytes()));
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
}
