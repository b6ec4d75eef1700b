//! The RTMP chunk guard: a header-only reader of the client→server chunk stream that
//! refuses a connection before `rtmp-rs` can be made to reserve memory it should not.
//!
//! # Why
//!
//! `rtmp-rs` 0.6.0's `ChunkDecoder` reserves the whole declared length of a message
//! (up to 16 MB) on the message's first chunk, for each of up to 65 599 chunk stream
//! ids, and keeps that capacity after an Abort. Right after the handshake, with no
//! credential, a few hundred bytes of chunk headers therefore made the server reserve
//! gigabytes, and ~18 MB of traffic aborted the process (security review, finding 2).
//! The library offers no knob for this, so every byte a client sends passes this
//! guard first (in the relay of [`super::pipe`]) and the connection is closed before
//! a header that breaks a limit reaches the library.
//!
//! # What it checks
//!
//! It parses basic headers (1-, 2- and 3-byte chunk stream ids), message headers
//! (fmt 0 to 3, extended timestamps) and the two control messages that change how
//! later chunks are framed (Set Chunk Size, Abort), exactly as `rtmp-rs` frames them,
//! and skips payloads without keeping them. It refuses ([`FrontError`]):
//!
//! * a declared message length above the cap ([`FrontLimits`]: small before the
//!   session is admitted as a publisher or player, commands fit in a few KB; larger
//!   after, for keyframes);
//! * more distinct chunk streams than the cap (the library keeps state for each one
//!   forever);
//! * a per-connection budget: the sum over chunk streams of the largest message
//!   declared on each, which bounds what the library may hold reserved at once
//!   (Abort clears a message but not its reserved capacity);
//! * a Set Chunk Size of 0 or with the high bit set, and the chunk stream id the
//!   relay reserves for its own nudge;
//! * a fmt 0/1 header that changes the length of a message still in progress (where
//!   `rtmp-rs` would frame the rest of it inconsistently).
//!
//! It keeps running after admission: an admitted publisher is a peer to distrust too.
//! It also tells the relay where chunks end ([`ChunkGuard::at_boundary`]).

use rtmp_rs::protocol::constants::{MSG_ABORT, MSG_SET_CHUNK_SIZE};

/// C0 + C1 + C2: the client's part of the handshake, skipped unread.
pub const HANDSHAKE_LEN: usize = 1 + 2 * 1536;
/// `rtmp-rs` clamps chunk sizes to this (all larger sizes are equivalent, RTMP 5.4.1).
const MAX_CHUNK_SIZE: u32 = 0xFF_FFFF;
/// A 24-bit timestamp field of all ones announces a 4-byte extended timestamp.
const EXTENDED_TIMESTAMP: u32 = 0xFF_FFFF;
/// Longest chunk header: 3-byte basic header, 11-byte message header, extended timestamp.
const MAX_HEADER: usize = 3 + 11 + 4;

/// Limits of one connection's chunk stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontLimits {
    /// Largest message before admission: `connect`, `createStream` and `publish` /
    /// `play` with a signed stream name are a few hundred bytes.
    pub message_before: u32,
    /// Largest message after admission: a video keyframe. Keyframes of phones and
    /// ffmpeg at 1080p are well under 1 MiB; 4 MiB leaves room (10 s of a 3 Mbit/s
    /// stream in one frame). `rtmp-rs`' own limit is 16 MiB.
    pub message_after: u32,
    /// Budget before admission (sum over chunk streams of the largest message each
    /// declared).
    pub budget_before: u64,
    /// Budget after admission.
    pub budget_after: u64,
    /// Distinct chunk stream ids a connection may use (ffmpeg and librtmp use 2 to 8).
    pub chunk_streams: usize,
    /// The chunk stream id a client may not use (the relay's own nudge).
    pub reserved_csid: u32,
}

impl Default for FrontLimits {
    fn default() -> Self {
        Self {
            message_before: 64 * 1024,
            message_after: 4 * 1024 * 1024,
            budget_before: 256 * 1024,
            budget_after: 8 * 1024 * 1024,
            chunk_streams: 32,
            reserved_csid: 65_599,
        }
    }
}

/// Why the guard refused a connection's chunk stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontError {
    #[error("chunk stream {csid} declares a message of {len} bytes, over the limit of {cap}")]
    MessageTooLarge { csid: u32, len: u32, cap: u32 },
    #[error("more than {cap} chunk streams")]
    TooManyChunkStreams { cap: usize },
    #[error("messages declared on this connection would reserve {total} bytes, over the budget of {budget}")]
    OverBudget { total: u64, budget: u64 },
    #[error("Set Chunk Size {0} is outside 1..=2147483647")]
    BadChunkSize(u32),
    #[error("control message of type {0} shorter than 4 bytes")]
    ShortControl(u8),
    #[error("chunk stream {0} is reserved")]
    ReservedChunkStream(u32),
    #[error("chunk stream {csid} changes the length of a message in progress")]
    HeaderMidMessage { csid: u32 },
}

impl FrontError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MessageTooLarge { .. } => "rtmp.message_too_large",
            Self::TooManyChunkStreams { .. } => "rtmp.too_many_chunk_streams",
            Self::OverBudget { .. } => "rtmp.over_budget",
            Self::BadChunkSize(_) => "rtmp.bad_chunk_size",
            Self::ShortControl(_) => "rtmp.short_control_message",
            Self::ReservedChunkStream(_) => "rtmp.reserved_chunk_stream",
            Self::HeaderMidMessage { .. } => "rtmp.header_mid_message",
        }
    }

    /// Whether admission would have allowed it (a client that sends media right
    /// after its `publish`, before the admission reached the relay).
    pub fn size_limited(&self) -> bool {
        matches!(self, Self::MessageTooLarge { .. } | Self::OverBudget { .. })
    }
}

/// A refusal, and how many bytes of the refused input were accepted before it. After
/// a size-limited refusal ([`FrontError::size_limited`]) the guard's state is as it was
/// right after those bytes, so a caller may forward them, raise the limits
/// ([`ChunkGuard::admit`]) and feed the rest again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// Bytes of the input accepted before the refusal.
    pub accepted: usize,
    /// Why the rest was refused.
    pub error: FrontError,
}

/// What the guard remembers of one chunk stream: what `rtmp-rs` needs to frame the
/// next chunk on it, plus the largest message it declared.
#[derive(Debug, Clone, Copy, Default)]
struct Stream {
    csid: u32,
    message_length: u32,
    message_type: u8,
    extended: bool,
    /// Bytes of the message in progress received so far (0: none in progress).
    received: u32,
    /// Length of the message in progress.
    expected: u32,
    /// Largest message declared on this chunk stream.
    high_water: u32,
    /// First payload bytes of a control message in progress.
    control: [u8; 4],
}

/// Where the guard is in the byte stream.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// Between chunks (or inside a header, see `header_len`).
    Header,
    /// Inside the payload of a chunk of stream `index`: `left` bytes to go.
    Payload { index: usize, left: u32 },
}

/// Follows one connection's client→server bytes; see the module docs.
#[derive(Debug, Clone)]
pub struct ChunkGuard {
    limits: FrontLimits,
    admitted: bool,
    handshake_left: usize,
    chunk_size: u32,
    streams: Vec<Stream>,
    /// Sum of `high_water` over `streams`.
    reserved: u64,
    header: [u8; MAX_HEADER],
    header_len: usize,
    place: Place,
}

/// A complete chunk header, parsed but not yet applied.
struct Header {
    fmt: u8,
    csid: u32,
    /// Length of the basic header (1 to 3).
    basic: usize,
    /// Whether an extended timestamp follows the message header.
    extended: bool,
}

impl ChunkGuard {
    /// A guard for a new connection, before its handshake.
    pub fn new(limits: FrontLimits) -> Self {
        Self {
            limits,
            admitted: false,
            handshake_left: HANDSHAKE_LEN,
            chunk_size: 128,
            streams: Vec::new(),
            reserved: 0,
            header: [0; MAX_HEADER],
            header_len: 0,
            place: Place::Header,
        }
    }

    /// The session was admitted as a publisher or player: the larger limits apply.
    pub fn admit(&mut self) {
        self.admitted = true;
    }

    /// Whether everything fed so far ends on a chunk boundary (after the handshake).
    pub fn at_boundary(&self) -> bool {
        self.handshake_left == 0 && self.header_len == 0 && matches!(self.place, Place::Header)
    }

    /// The largest message declared on any chunk stream, and the budget used (tests).
    #[cfg(test)]
    pub(crate) fn declared(&self) -> (u32, u64) {
        let largest = self.streams.iter().map(|s| s.high_water).max().unwrap_or(0);
        (largest, self.reserved)
    }

    /// Takes the next client bytes. On `Err`, only `accepted` of them were taken.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Stop> {
        let mut at = self.handshake_left.min(data.len());
        self.handshake_left -= at;
        while at < data.len() {
            match self.place {
                Place::Payload { index, left } => {
                    let take = (left as usize).min(data.len() - at);
                    self.payload(index, &data[at..at + take]);
                    at += take;
                    if take == left as usize {
                        let done = self.end_chunk(index);
                        if let Err(error) = done {
                            // The whole chunk was taken; the refusal is about its effect.
                            return Err(Stop {
                                accepted: at,
                                error,
                            });
                        }
                    } else {
                        self.place = Place::Payload {
                            index,
                            left: left - take as u32,
                        };
                    }
                }
                Place::Header => {
                    let had = self.header_len;
                    // Copy header bytes until the header is complete or input runs out.
                    let mut complete = None;
                    while complete.is_none() && at < data.len() {
                        self.header[self.header_len] = data[at];
                        self.header_len += 1;
                        at += 1;
                        complete = self.header_complete();
                    }
                    let Some(h) = complete else {
                        return Ok(());
                    };
                    if let Err(error) = self.start_chunk(&h) {
                        // Give back the header bytes taken from this input.
                        let taken = self.header_len - had;
                        self.header_len = had;
                        return Err(Stop {
                            accepted: at - taken,
                            error,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// If `header[..header_len]` is a whole chunk header, its shape.
    fn header_complete(&self) -> Option<Header> {
        let b = &self.header[..self.header_len];
        let fmt = b[0] >> 6;
        let (csid, basic) = match b[0] & 0x3F {
            0 => (64 + u32::from(*b.get(1)?), 2),
            1 => (64 + u32::from(*b.get(1)?) + 256 * u32::from(*b.get(2)?), 3),
            n => (u32::from(n), 1),
        };
        let extended = if fmt == 3 {
            self.find(csid).is_some_and(|i| self.streams[i].extended)
        } else {
            if b.len() < basic + 3 {
                return None;
            }
            be24(&b[basic..basic + 3]) >= EXTENDED_TIMESTAMP
        };
        let len = basic + message_header_len(fmt) + if extended { 4 } else { 0 };
        (b.len() >= len).then_some(Header {
            fmt,
            csid,
            basic,
            extended,
        })
    }

    fn find(&self, csid: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.csid == csid)
    }

    /// Checks a complete header against the limits and, if it passes, applies it.
    /// On `Err` nothing changed.
    fn start_chunk(&mut self, h: &Header) -> Result<(), FrontError> {
        if h.csid == self.limits.reserved_csid {
            return Err(FrontError::ReservedChunkStream(h.csid));
        }
        let index = self.find(h.csid);
        if index.is_none() && self.streams.len() >= self.limits.chunk_streams {
            return Err(FrontError::TooManyChunkStreams {
                cap: self.limits.chunk_streams,
            });
        }
        let mut s = index.map_or(
            Stream {
                csid: h.csid,
                ..Stream::default()
            },
            |i| self.streams[i],
        );
        let b = &self.header[h.basic..];
        if h.fmt <= 1 {
            let len = be24(&b[3..6]);
            if s.received > 0 && len != s.expected {
                return Err(FrontError::HeaderMidMessage { csid: h.csid });
            }
            s.message_length = len;
            s.message_type = b[6];
        }
        s.extended = h.extended;
        if s.received == 0 {
            s.expected = s.message_length;
        }
        let cap = if self.admitted {
            self.limits.message_after
        } else {
            self.limits.message_before
        };
        if s.expected > cap {
            return Err(FrontError::MessageTooLarge {
                csid: h.csid,
                len: s.expected,
                cap,
            });
        }
        let reserved =
            self.reserved - u64::from(s.high_water) + u64::from(s.high_water.max(s.expected));
        let budget = if self.admitted {
            self.limits.budget_after
        } else {
            self.limits.budget_before
        };
        if reserved > budget {
            return Err(FrontError::OverBudget {
                total: reserved,
                budget,
            });
        }
        // Accepted: apply.
        s.high_water = s.high_water.max(s.expected);
        self.reserved = reserved;
        let index = match index {
            Some(i) => {
                self.streams[i] = s;
                i
            }
            None => {
                self.streams.push(s);
                self.streams.len() - 1
            }
        };
        self.header_len = 0;
        let left = (s.expected - s.received).min(self.chunk_size);
        if left == 0 {
            // A zero-length message ends with its header.
            return self.end_chunk(index);
        }
        self.place = Place::Payload { index, left };
        Ok(())
    }

    /// Takes payload bytes of the current chunk; keeps the first 4 of a control message.
    fn payload(&mut self, index: usize, bytes: &[u8]) {
        let s = &mut self.streams[index];
        if matches!(s.message_type, MSG_SET_CHUNK_SIZE | MSG_ABORT) {
            for (i, b) in bytes.iter().enumerate() {
                let pos = s.received as usize + i;
                if pos < 4 {
                    s.control[pos] = *b;
                }
            }
        }
        s.received += bytes.len() as u32;
    }

    /// The current chunk's payload is complete: end the message if it is.
    fn end_chunk(&mut self, index: usize) -> Result<(), FrontError> {
        self.place = Place::Header;
        let s = self.streams[index];
        if s.received < s.expected {
            return Ok(());
        }
        self.streams[index].received = 0;
        match s.message_type {
            MSG_SET_CHUNK_SIZE => {
                if s.expected < 4 {
                    return Err(FrontError::ShortControl(MSG_SET_CHUNK_SIZE));
                }
                let size = u32::from_be_bytes(s.control);
                if size == 0 || size > 0x7FFF_FFFF {
                    return Err(FrontError::BadChunkSize(size));
                }
                self.chunk_size = size.min(MAX_CHUNK_SIZE);
            }
            MSG_ABORT => {
                if s.expected < 4 {
                    return Err(FrontError::ShortControl(MSG_ABORT));
                }
                let csid = u32::from_be_bytes(s.control);
                if let Some(i) = self.find(csid) {
                    self.streams[i].received = 0;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Message header length of chunk header type `fmt` (0 to 3).
fn message_header_len(fmt: u8) -> usize {
    [11, 7, 3, 0][usize::from(fmt & 3)]
}

fn be24(b: &[u8]) -> u32 {
    u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guard past the handshake.
    fn guard() -> ChunkGuard {
        let mut g = ChunkGuard::new(FrontLimits::default());
        g.feed(&[3; HANDSHAKE_LEN]).unwrap();
        g
    }

    /// A fmt 0 header on `csid` (1- or 3-byte basic header) declaring `len` bytes.
    fn header(csid: u32, len: u32, kind: u8) -> Vec<u8> {
        let mut h = if csid < 64 {
            vec![csid as u8]
        } else {
            vec![1, ((csid - 64) & 0xFF) as u8, ((csid - 64) >> 8) as u8]
        };
        h.extend([0, 0, 0]);
        h.extend(&len.to_be_bytes()[1..]);
        h.push(kind);
        h.extend([1, 0, 0, 0]);
        h
    }

    fn message(csid: u32, payload: &[u8], kind: u8) -> Vec<u8> {
        let mut m = header(csid, payload.len() as u32, kind);
        m.extend(payload);
        m
    }

    #[test]
    fn message_caps_before_and_after_admission() {
        let l = FrontLimits::default();
        let mut g = guard();
        let ok = header(4, l.message_before, 9);
        g.feed(&ok).unwrap();
        let mut g = guard();
        let big = header(4, l.message_before + 1, 9);
        let stop = g.feed(&big).unwrap_err();
        assert_eq!(stop.accepted, 0);
        assert_eq!(stop.error.code(), "rtmp.message_too_large");
        assert!(stop.error.size_limited());
        // Nothing changed: admitted, the same header passes.
        g.admit();
        g.feed(&big).unwrap();
        let huge = header(5, l.message_after + 1, 9);
        let mut g = guard();
        g.admit();
        assert_eq!(
            g.feed(&huge).unwrap_err().error.code(),
            "rtmp.message_too_large"
        );
    }

    #[test]
    fn chunk_stream_cap() {
        let mut g = guard();
        let cap = FrontLimits::default().chunk_streams as u32;
        let ok: Vec<u8> = (3..3 + cap).flat_map(|c| message(c, &[0; 4], 3)).collect();
        g.feed(&ok).unwrap();
        let more = message(3 + cap, &[0; 4], 3);
        let stop = g.feed(&more).unwrap_err();
        assert_eq!(
            stop.error,
            FrontError::TooManyChunkStreams { cap: cap as usize }
        );
        // Streams already in use still are.
        g.feed(&message(3, &[0; 4], 3)).unwrap();
    }

    #[test]
    fn budget_counts_the_largest_message_per_stream_even_after_abort() {
        let l = FrontLimits::default();
        let mut g = guard();
        let per = l.message_before;
        // n full-size messages fit the budget exactly; the aborts' own 4 bytes tip it.
        let n = (l.budget_before / u64::from(per)) as u32;
        for c in 0..n - 1 {
            g.feed(&header(4 + c, per, 9)).unwrap();
            g.feed(&[0; 128]).unwrap();
            // Abort it: the library keeps the reservation, so the budget does too.
            let mut abort = message(2, &(4 + c).to_be_bytes(), 2);
            abort[0] = 2;
            g.feed(&abort).unwrap();
        }
        let stop = g.feed(&header(4 + n, per, 9)).unwrap_err();
        assert_eq!(stop.error.code(), "rtmp.over_budget");
        // A small message on a new stream still fits.
        g.feed(&header(5 + n, 1000, 9)).unwrap();
    }

    #[test]
    fn bad_control_messages_and_reserved_stream() {
        for size in [0u32, 0x8000_0000] {
            let mut g = guard();
            let stop = g.feed(&message(2, &size.to_be_bytes(), 1)).unwrap_err();
            assert_eq!(stop.error, FrontError::BadChunkSize(size));
        }
        let mut g = guard();
        assert_eq!(
            g.feed(&message(2, &[0, 1], 1)).unwrap_err().error,
            FrontError::ShortControl(1)
        );
        let mut g = guard();
        assert_eq!(
            g.feed(&message(2, &[0, 1], 2)).unwrap_err().error,
            FrontError::ShortControl(2)
        );
        let mut g = guard();
        let stop = g.feed(&message(65_599, &[0; 4], 3)).unwrap_err();
        assert_eq!(stop.error, FrontError::ReservedChunkStream(65_599));
    }

    #[test]
    fn a_new_length_in_the_middle_of_a_message_is_refused() {
        let mut g = guard();
        g.feed(&header(4, 300, 9)).unwrap();
        g.feed(&[0; 128]).unwrap();
        let stop = g.feed(&header(4, 200, 9)).unwrap_err();
        assert_eq!(stop.error, FrontError::HeaderMidMessage { csid: 4 });
        // The same length again is how some clients continue: accepted.
        g.feed(&header(4, 300, 9)).unwrap();
    }

    #[test]
    fn a_refused_header_split_over_feeds_never_completes() {
        let mut g = guard();
        let big = header(4, 0xFF_FFFF, 9);
        g.feed(&big[..5]).unwrap();
        let stop = g.feed(&big[5..]).unwrap_err();
        assert_eq!(stop.accepted, 0);
        assert!(!g.at_boundary());
    }
}
