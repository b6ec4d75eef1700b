//! A streaming FLV tag reader for the HTTP-FLV viewers: it sees each tag's type, timestamp
//! and size, and skips the payloads without keeping them, so a viewer holds a few bytes of
//! state however large the tags are (a viewer of a 1 Mbit/s stream must cost next to nothing,
//! or the load generator, not the server, sets the largest number of viewers).

/// A tag's header: what the viewers count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// 8 audio, 9 video, 18 script data.
    pub kind: u8,
    /// Milliseconds: the 24-bit timestamp with its extension byte as the top 8 bits.
    pub ts: u32,
    /// Payload bytes.
    pub size: u32,
}

/// Why a stream is not FLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlvError {
    /// The first bytes are not `FLV` version 1.
    NotFlv,
}

/// The FLV file header (9 bytes) and PreviousTagSize0 (4).
const HEAD: usize = 13;
/// A tag header.
const TAG_HEAD: usize = 11;
/// The PreviousTagSize after each tag.
const TRAILER: usize = 4;

/// Reads tags from the bytes of an FLV stream as they arrive, in pieces of any size.
#[derive(Default)]
pub struct FlvReader {
    /// Header bytes gathered so far (the file header, then each tag header).
    head: Vec<u8>,
    /// Whether the file header has been read.
    started: bool,
    /// Payload and trailer bytes of the current tag still to pass over.
    skip: usize,
}

impl FlvReader {
    /// Feeds `bytes`; calls `on_tag` for every tag header completed by them.
    pub fn push(&mut self, mut bytes: &[u8], mut on_tag: impl FnMut(Tag)) -> Result<(), FlvError> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let want = if self.started { TAG_HEAD } else { HEAD };
            let n = (want - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.head.len() < want {
                break;
            }
            if self.started {
                let h = &self.head;
                let size = u32::from_be_bytes([0, h[1], h[2], h[3]]);
                let ts = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
                on_tag(Tag {
                    kind: h[0] & 0x1f,
                    ts,
                    size,
                });
                self.skip = size as usize + TRAILER;
            } else {
                if &self.head[..4] != b"FLV\x01" {
                    return Err(FlvError::NotFlv);
                }
                self.started = true;
            }
            self.head.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An FLV stream: the header, then `tags` as (kind, ts, payload size).
    fn stream(tags: &[(u8, u32, usize)]) -> Vec<u8> {
        let mut v = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        for &(kind, ts, size) in tags {
            let s = (size as u32).to_be_bytes();
            let t = ts.to_be_bytes();
            v.extend_from_slice(&[kind, s[1], s[2], s[3], t[1], t[2], t[3], t[0], 0, 0, 0]);
            v.extend(std::iter::repeat_n(0xAB, size));
            v.extend_from_slice(&((size + TAG_HEAD) as u32).to_be_bytes());
        }
        v
    }

    fn read_in_pieces(bytes: &[u8], piece: usize) -> Vec<Tag> {
        let mut r = FlvReader::default();
        let mut seen = Vec::new();
        for chunk in bytes.chunks(piece) {
            r.push(chunk, |t| seen.push(t)).unwrap();
        }
        seen
    }

    #[test]
    fn every_tag_is_seen_however_the_bytes_are_cut() {
        let tags = [
            (18, 0, 40),
            (9, 0, 3000),
            (8, 23, 200),
            (9, 40, 0),
            (9, 0x0123_4567, 17),
        ];
        let bytes = stream(&tags);
        let want: Vec<Tag> = tags
            .iter()
            .map(|&(kind, ts, size)| Tag {
                kind,
                ts,
                size: size as u32,
            })
            .collect();
        for piece in [1, 2, 7, 11, 13, 64, 4096, bytes.len()] {
            assert_eq!(read_in_pieces(&bytes, piece), want, "pieces of {piece}");
        }
    }

    #[test]
    fn the_extension_byte_is_the_top_of_the_timestamp() {
        let bytes = stream(&[(9, 0xFF00_0001, 1)]);
        assert_eq!(read_in_pieces(&bytes, 5)[0].ts, 0xFF00_0001);
    }

    #[test]
    fn a_stream_that_is_not_flv_is_refused() {
        let mut r = FlvReader::default();
        assert_eq!(
            r.push(b"HTTP/1.1 200 OK\r\n", |_| {}),
            Err(FlvError::NotFlv)
        );
    }

    #[test]
    fn a_huge_declared_tag_is_skipped_without_being_kept() {
        // 16 MiB - 1 declared, 3 bytes sent: nothing is allocated for the payload.
        let mut bytes = stream(&[]);
        bytes.extend_from_slice(&[9, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3]);
        let mut r = FlvReader::default();
        let mut seen = Vec::new();
        r.push(&bytes, |t| seen.push(t)).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].size, 0xFF_FFFF);
        assert!(r.head.capacity() <= HEAD.max(TAG_HEAD) * 2);
        assert_eq!(r.skip, 0xFF_FFFF + TRAILER - 3);
    }
}
