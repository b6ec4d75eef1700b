//! Bounded fuzzing (property tests) of the RTMP chunk guard ([`super::front`]), the way
//! the wire decoders are fuzzed: arbitrary bytes, and well-formed chunk streams (several
//! messages interleaved, header compression, extended timestamps, Set Chunk Size,
//! Abort) under arbitrary limits, fed in arbitrary pieces.
//!
//! Properties: the guard never panics; it refuses exactly at the header of the first
//! message a model of the limits says must be refused (so no declared length above the
//! cap ever passes), with that refusal's code; and wherever it accepted the input, it
//! agrees with `rtmp-rs`' own `ChunkDecoder` (fed the same accepted bytes, with the same
//! chunk size changes and aborts) about where chunks end.
//!
//! Cases per property: `MPRTC_FUZZ_CASES` (default 256); failures are not persisted;
//! `PROPTEST_RNG_SEED=<u64>` makes a run repeatable.

use std::collections::HashMap;

use bytes::BytesMut;
use mprtc::protocol::arbitrary::config;
use proptest::prelude::*;
use rtmp_rs::protocol::message::RtmpMessage;
use rtmp_rs::protocol::ChunkDecoder;

use super::front::{ChunkGuard, FrontError, FrontLimits, HANDSHAKE_LEN};

/// `rtmp-rs`' decoder driven the way its connection drives it: where chunks end.
struct Reference {
    handshake_left: usize,
    buf: BytesMut,
    decoder: ChunkDecoder,
    /// The decoder failed: it no longer says anything.
    broken: bool,
}

impl Reference {
    fn new() -> Self {
        Self {
            handshake_left: HANDSHAKE_LEN,
            buf: BytesMut::new(),
            decoder: ChunkDecoder::new(),
            broken: false,
        }
    }

    fn feed(&mut self, data: &[u8]) {
        let skip = self.handshake_left.min(data.len());
        self.handshake_left -= skip;
        self.buf.extend_from_slice(&data[skip..]);
        while !self.broken {
            let before = self.buf.len();
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(chunk)) => match RtmpMessage::from_chunk(&chunk) {
                    Ok(RtmpMessage::SetChunkSize(size)) => self.decoder.set_chunk_size(size),
                    Ok(RtmpMessage::Abort { csid }) => self.decoder.abort(csid),
                    Ok(_) => {}
                    Err(_) => self.broken = true,
                },
                Ok(None) if self.buf.len() < before => {}
                Ok(None) => break,
                Err(_) => self.broken = true,
            }
        }
    }

    fn at_boundary(&self) -> bool {
        self.handshake_left == 0 && self.buf.is_empty()
    }
}

/// Feeds `bytes` in pieces (split at `cuts`) to a guard and the reference; checks that
/// they agree on chunk boundaries after each accepted piece. Returns how many bytes
/// the guard accepted and its refusal, if any.
fn run(limits: FrontLimits, bytes: &[u8], cuts: &[usize]) -> (usize, Option<FrontError>) {
    let mut guard = ChunkGuard::new(limits);
    let mut reference = Reference::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(bytes.len());
    points.sort_unstable();
    let mut at = 0;
    for p in points {
        let piece = &bytes[at..p];
        match guard.feed(piece) {
            Ok(()) => {
                reference.feed(piece);
                at = p;
                if !reference.broken {
                    assert_eq!(
                        guard.at_boundary(),
                        reference.at_boundary(),
                        "boundary after {at} bytes"
                    );
                }
            }
            Err(stop) => {
                assert!(stop.accepted <= piece.len());
                return (at + stop.accepted, Some(stop.error));
            }
        }
    }
    (at, None)
}

// ---- well-formed chunk streams ---------------------------------------------------------------

/// One step of a generated client.
#[derive(Debug, Clone)]
enum Step {
    /// Start a message on chunk stream `csid` (unless one is in progress there).
    Start {
        csid: u32,
        kind: u8,
        len: u32,
        delta: u32,
        stream: u32,
    },
    /// Send the next chunk of the `n`-th message in progress.
    Continue(usize),
    /// Send a whole Set Chunk Size.
    ChunkSize(u32),
    /// Abort the `n`-th message in progress.
    Abort(usize),
}

fn csid() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 3u32..=12,
        2 => 13u32..=63,
        2 => 64u32..=319,
        1 => 320u32..=65_598,
    ]
}

fn len() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 0u32..=600,
        2 => 600u32..=6_000,
        1 => 6_000u32..=40_000,
        1 => 40_000u32..=300_000,
        1 => 300_000u32..=0xFF_FFFF,
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (csid(), prop::sample::select(vec![8u8, 9, 18, 20, 3, 4, 5]), len(),
              prop_oneof![4 => 0u32..100, 1 => 0xFF_FFF0u32..=0x1FF_FFFF],
              prop_oneof![3 => Just(1u32), 1 => 0u32..3])
            .prop_map(|(csid, kind, len, delta, stream)| Step::Start { csid, kind, len, delta, stream }),
        8 => (0usize..8).prop_map(Step::Continue),
        1 => prop_oneof![3 => 1u32..=300, 2 => 300u32..=70_000, 1 => Just(0x7FFF_FFFF)].prop_map(Step::ChunkSize),
        1 => (0usize..8).prop_map(Step::Abort),
    ]
}

fn limits() -> impl Strategy<Value = (FrontLimits, bool)> {
    (
        0u32..=70_000,
        0u32..=300_000,
        0u64..=400_000,
        0u64..=900_000,
        1usize..=40,
        any::<bool>(),
    )
        .prop_map(|(mb, ma, bb, ba, cs, admitted)| {
            (
                FrontLimits {
                    message_before: mb,
                    message_after: ma,
                    budget_before: bb,
                    budget_after: ba,
                    chunk_streams: cs,
                    reserved_csid: 65_599,
                },
                admitted,
            )
        })
}

/// Writes chunks as a client does; knows which header the limits must refuse.
struct Client {
    limits: FrontLimits,
    admitted: bool,
    out: Vec<u8>,
    chunk_size: u32,
    /// Last header per chunk stream: (len, kind, stream, delta, extended).
    last: HashMap<u32, (u32, u8, u32, u32, bool)>,
    /// Messages in progress: (csid, bytes left, extended, control payload).
    open: Vec<(u32, u32, bool, Option<[u8; 4]>)>,
    high_water: HashMap<u32, u32>,
    /// Where the first header the guard must refuse starts and ends, and why.
    refusal: Option<(usize, usize, &'static str)>,
}

impl Client {
    fn new(limits: FrontLimits, admitted: bool) -> Self {
        Self {
            limits,
            admitted,
            out: vec![3; HANDSHAKE_LEN],
            chunk_size: 128,
            last: HashMap::new(),
            open: Vec::new(),
            high_water: HashMap::new(),
            refusal: None,
        }
    }

    fn basic(&mut self, fmt: u8, csid: u32) {
        match csid {
            2..=63 => self.out.push(fmt << 6 | csid as u8),
            64..=319 => self.out.extend([fmt << 6, (csid - 64) as u8]),
            _ => self
                .out
                .extend([fmt << 6 | 1, (csid - 64) as u8, ((csid - 64) >> 8) as u8]),
        }
    }

    /// The header of a new message; records the refusal the limits call for.
    fn start(
        &mut self,
        csid: u32,
        kind: u8,
        len: u32,
        delta: u32,
        stream: u32,
        control: Option<[u8; 4]>,
    ) {
        let at = self.out.len();
        let new_stream = !self.last.contains_key(&csid);
        let (cap, budget) = if self.admitted {
            (self.limits.message_after, self.limits.budget_after)
        } else {
            (self.limits.message_before, self.limits.budget_before)
        };
        let reserved: u64 = self
            .high_water
            .iter()
            .map(|(c, h)| u64::from(if *c == csid { (*h).max(len) } else { *h }))
            .sum::<u64>()
            + if self.high_water.contains_key(&csid) {
                0
            } else {
                u64::from(len)
            };
        let why = if new_stream && self.last.len() >= self.limits.chunk_streams {
            Some("rtmp.too_many_chunk_streams")
        } else if len > cap {
            Some("rtmp.message_too_large")
        } else if reserved > budget {
            Some("rtmp.over_budget")
        } else {
            None
        };
        let extended = delta >= 0xFF_FFFF;
        let field = delta.min(0xFF_FFFF);
        let ts = field.to_be_bytes();
        let lenb = len.to_be_bytes();
        match self.last.get(&csid).copied() {
            Some((l, k, s, d, _))
                if s == stream && l == len && k == kind && d == delta && !extended =>
            {
                self.basic(3, csid);
            }
            Some((l, k, s, _, _)) if s == stream && l == len && k == kind => {
                self.basic(2, csid);
                self.out.extend(&ts[1..]);
            }
            Some((_, _, s, _, _)) if s == stream => {
                self.basic(1, csid);
                self.out.extend(&ts[1..]);
                self.out.extend(&lenb[1..]);
                self.out.push(kind);
            }
            _ => {
                self.basic(0, csid);
                self.out.extend(&ts[1..]);
                self.out.extend(&lenb[1..]);
                self.out.push(kind);
                self.out.extend(stream.to_le_bytes());
            }
        }
        if extended {
            self.out.extend(delta.to_be_bytes());
        }
        // A fmt 3 header repeats the previous extended timestamp, if there was one.
        let ext = match self.last.get(&csid) {
            Some(&(l, k, s, d, e))
                if s == stream && l == len && k == kind && d == delta && !extended =>
            {
                if e {
                    self.out.extend(d.to_be_bytes());
                }
                e
            }
            _ => extended,
        };
        if let Some(why) = why {
            let end = self.out.len();
            self.refusal.get_or_insert((at, end, why));
        }
        self.last.insert(csid, (len, kind, stream, delta, ext));
        let h = self.high_water.entry(csid).or_insert(0);
        *h = (*h).max(len);
        self.open.push((csid, len, ext, control));
        self.body(self.open.len() - 1);
    }

    /// The payload of the next chunk of open message `i` (after its header).
    fn body(&mut self, i: usize) {
        let (csid, left, ext, control) = self.open[i];
        let n = left.min(self.chunk_size);
        match control {
            // Control messages are 4 bytes long.
            Some(payload) => {
                let from = 4 - left as usize;
                self.out.extend(&payload[from..from + n as usize]);
            }
            None => self.out.resize(self.out.len() + n as usize, 0x11),
        }
        if n == left {
            self.open.remove(i);
        } else {
            self.open[i] = (csid, left - n, ext, control);
        }
    }

    fn next_chunk(&mut self, i: usize) {
        let (csid, _, ext, _) = self.open[i];
        self.basic(3, csid);
        if ext {
            let d = self.last[&csid].3;
            self.out.extend(d.to_be_bytes());
        }
        self.body(i);
    }

    /// A whole control message on chunk stream 2 (never used for anything else).
    fn control(&mut self, kind: u8, value: u32) {
        self.start(2, kind, 4, 0, 0, Some(value.to_be_bytes()));
        while let Some(i) = self.open.iter().position(|o| o.0 == 2) {
            self.next_chunk(i);
        }
        if self.refusal.is_none() && kind == 1 {
            self.chunk_size = value.min(0xFF_FFFF);
        }
    }

    fn apply(&mut self, step: &Step) {
        // A control message is always written whole, so none is ever open here.
        match *step {
            // One message at a time per chunk stream.
            Step::Start {
                csid,
                kind,
                len,
                delta,
                stream,
            } if !self.open.iter().any(|o| o.0 == csid) => {
                self.start(csid, kind, len, delta, stream, None);
            }
            Step::Continue(n) if !self.open.is_empty() => self.next_chunk(n % self.open.len()),
            Step::ChunkSize(size) => self.control(1, size),
            Step::Abort(n) if !self.open.is_empty() => {
                let (csid, ..) = self.open.remove(n % self.open.len());
                self.control(2, csid);
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes: no panic, and boundaries agree while the guard accepts.
    #[test]
    fn arbitrary_bytes(
        head in prop::collection::vec(any::<u8>(), 0..64),
        body in prop::collection::vec(any::<u8>(), 0..2_000),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
        (limits, admitted) in limits(),
    ) {
        // Usually a complete handshake first, so the chunk parser sees the body.
        let mut bytes = if head.len() % 4 == 0 { head } else { vec![3; HANDSHAKE_LEN] };
        bytes.extend(body);
        let mut guard = ChunkGuard::new(limits);
        if admitted {
            guard.admit();
        }
        let _ = guard.feed(&bytes);
        // Nothing over the limits was ever taken in.
        let (cap, budget) = if admitted {
            (limits.message_after, limits.budget_after)
        } else {
            (limits.message_before, limits.budget_before)
        };
        let (largest, reserved) = guard.declared();
        prop_assert!(largest <= cap && reserved <= budget);
        run(FrontLimits::default(), &bytes, &cuts);
    }

    /// Well-formed chunk streams: refused exactly where the limits say, and boundaries
    /// agree with `rtmp-rs` up to there.
    #[test]
    fn well_formed_streams(
        steps in prop::collection::vec(step(), 0..60),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
        (limits, admitted) in limits(),
    ) {
        let mut client = Client::new(limits, admitted);
        for s in &steps {
            if client.refusal.is_some() || client.out.len() > 600_000 {
                break;
            }
            client.apply(s);
        }
        let mut guard_limits = limits;
        if admitted {
            // Admitted from the start: the admitted limits apply throughout.
            guard_limits.message_before = limits.message_after;
            guard_limits.budget_before = limits.budget_after;
        }
        let (accepted, refusal) = run(guard_limits, &client.out, &cuts);
        match client.refusal {
            None => {
                prop_assert_eq!(refusal, None);
                prop_assert_eq!(accepted, client.out.len());
            }
            Some((start, end, code)) => {
                prop_assert_eq!(refusal.map(|e| e.code()), Some(code));
                // Never the whole refused header: at most the part of it fed earlier.
                prop_assert!(start <= accepted && accepted < end, "{} not in {}..{}", accepted, start, end);
            }
        }
    }
}

#[test]
fn refusals_happen_before_the_header_that_breaks_a_limit() {
    let limits = FrontLimits::default();
    let mut c = Client::new(limits, false);
    c.start(3, 20, 300, 0, 0, None);
    c.start(4, 9, 0xFF_FFFF, 0, 1, None);
    let (accepted, refusal) = run(limits, &c.out, &[]);
    assert_eq!(refusal.map(|e| e.code()), Some("rtmp.message_too_large"));
    assert_eq!(Some(accepted), c.refusal.map(|r| r.0));
}
