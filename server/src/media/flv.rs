//! Minimal FLV container writer for HTTP-FLV play.
//!
//! RTMP audio/video message bodies already are FLV tag bodies, so turning them into
//! an FLV byte stream is framing only: a 9-byte file header, then for every tag an
//! 11-byte tag header, the body, and the 4-byte size of the tag just written
//! (FLV spec v10.1, annex E).

use bytes::{BufMut, Bytes, BytesMut};

/// FLV tag types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    Audio = 8,
    Video = 9,
    Script = 18,
}

/// Largest body a tag can carry (24-bit size field).
pub(crate) const MAX_TAG_BODY: usize = 0x00FF_FFFF;

/// File header (signature, version 1, audio+video flags, header size 9) followed by
/// `PreviousTagSize0 = 0`.
pub(crate) fn file_header() -> Bytes {
    Bytes::from_static(&[b'F', b'L', b'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0])
}

/// Appends one tag and its trailing `PreviousTagSize` to `out`. Returns `false`
/// (writing nothing) if the body is too large for a tag.
pub(crate) fn put_tag(out: &mut BytesMut, kind: TagKind, timestamp_ms: u32, body: &[u8]) -> bool {
    if body.len() > MAX_TAG_BODY {
        return false;
    }
    let size = body.len() as u32;
    out.reserve(11 + body.len() + 4);
    out.put_u8(kind as u8);
    out.put_uint(u64::from(size), 3);
    out.put_uint(u64::from(timestamp_ms & 0x00FF_FFFF), 3);
    out.put_u8((timestamp_ms >> 24) as u8); // TimestampExtended
    out.put_uint(0, 3); // StreamID, always 0
    out.put_slice(body);
    out.put_u32(11 + size);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses an FLV byte stream back into (kind, timestamp, body) triples,
    /// checking every PreviousTagSize on the way.
    pub(crate) fn parse(mut b: &[u8]) -> Vec<(u8, u32, Vec<u8>)> {
        assert_eq!(&b[..3], b"FLV");
        let header_len = u32::from_be_bytes(b[5..9].try_into().unwrap()) as usize;
        b = &b[header_len..];
        assert_eq!(&b[..4], &[0, 0, 0, 0]);
        b = &b[4..];
        let mut tags = Vec::new();
        while !b.is_empty() {
            let kind = b[0];
            let size = u32::from_be_bytes([0, b[1], b[2], b[3]]) as usize;
            let ts = u32::from_be_bytes([b[7], b[4], b[5], b[6]]);
            assert_eq!(&b[8..11], &[0, 0, 0]);
            let body = b[11..11 + size].to_vec();
            let prev = u32::from_be_bytes(b[11 + size..15 + size].try_into().unwrap());
            assert_eq!(prev as usize, 11 + size);
            tags.push((kind, ts, body));
            b = &b[15 + size..];
        }
        tags
    }

    #[test]
    fn header_bytes() {
        assert_eq!(
            &file_header()[..],
            b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
        );
    }

    #[test]
    fn tags_round_trip_with_extended_timestamp() {
        let mut out = BytesMut::new();
        out.extend_from_slice(&file_header());
        assert!(put_tag(&mut out, TagKind::Video, 0, &[0x17, 0x00, 1, 2, 3]));
        assert!(put_tag(
            &mut out,
            TagKind::Audio,
            0x0123_4567,
            &[0xAF, 0x01]
        ));
        assert!(put_tag(&mut out, TagKind::Script, 0xFF12_3456, &[]));
        assert_eq!(
            parse(&out),
            vec![
                (9, 0, vec![0x17, 0x00, 1, 2, 3]),
                (8, 0x0123_4567, vec![0xAF, 0x01]),
                (18, 0xFF12_3456, vec![]),
            ]
        );
        // Exact layout of one tag.
        let mut one = BytesMut::new();
        put_tag(&mut one, TagKind::Audio, 0x0102_0304, &[0xAA]);
        assert_eq!(
            &one[..],
            &[8, 0, 0, 1, 0x02, 0x03, 0x04, 0x01, 0, 0, 0, 0xAA, 0, 0, 0, 12]
        );
    }

    #[test]
    fn oversized_body_refused() {
        let mut out = BytesMut::new();
        let big = vec![0u8; MAX_TAG_BODY + 1];
        assert!(!put_tag(&mut out, TagKind::Video, 0, &big));
        assert!(out.is_empty());
    }
}
