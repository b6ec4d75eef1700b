//! Signed media URLs.
//!
//! The signaling side hands every pusher and player a URL that carries an HMAC over
//! *who* may do *what* on *which* stream and *until when*; the media server admits a
//! connection only if [`MediaSigner::verify`] accepts that URL. Nothing else is shared
//! between the two sides except the secret.
//!
//! Stream name: `{room}.{uid}`. Query: `k=push&e={expiry}&n={nonce}&s={sig}` or
//! `k=play&v={viewer}&e={expiry}&n={nonce}&s={sig}`, where `sig` is base64url (no padding) of
//! HMAC-SHA256(secret, canonical string) and the canonical string is
//! `mprtc-media-v1\n{kind}\n{room}\n{uid}\n{viewer or "-"}\n{expiry}`, followed by
//! `\n{nonce}` when the URL has one. The nonce makes every URL minted a new string, even
//! within one second: a page that gets a fresh URL for a component that gave up must see a
//! different `src`, or the component does not restart.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest room name the signaling side hands out.
pub const MAX_ROOM_LEN: usize = 64;

/// What a signed URL allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlKind {
    /// Publish (RTMP push) the stream `{room}.{uid}`.
    Push,
    /// Play the stream `{room}.{uid}` as viewer `v`.
    Play,
}

impl UrlKind {
    /// The value of the `k=` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            UrlKind::Push => "push",
            UrlKind::Play => "play",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "push" => Some(UrlKind::Push),
            "play" => Some(UrlKind::Play),
            _ => None,
        }
    }
}

impl fmt::Display for UrlKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Play URLs for one publisher/viewer pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayUrls {
    /// `{rtmp_base}/{room}.{uid}?k=play&v=..&e=..&s=..`
    pub rtmp: String,
    /// `{flv_base}/{room}.{uid}.flv?k=play&v=..&e=..&s=..`
    pub flv: String,
}

/// What a verified URL admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The media room the URL is for.
    pub room: String,
    /// The publisher's uid (the `{uid}` in the stream name).
    pub uid: u64,
    /// `Some(viewer)` for play URLs, `None` for push URLs.
    pub viewer: Option<u64>,
}

/// Why a media URL was refused. Messages never contain the URL, token or secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// The stream name or query is not of the form this server issues.
    #[error("malformed media URL: expected {{room}}.{{uid}} with k, e, s (and v for play) query parameters")]
    Malformed,
    /// The signature does not match the stream, kind, viewer and expiry.
    #[error("media URL signature is invalid")]
    BadSignature,
    /// The URL was valid but its expiry time has passed.
    #[error("media URL has expired")]
    Expired,
    /// A push URL used to play, or a play URL used to push.
    #[error("media URL is not valid for this operation (push URL used to play or vice versa)")]
    WrongKind,
    /// A valid play URL of a viewer who may no longer play: it left or was kicked, or its
    /// token no longer grants subscribing.
    #[error("this viewer may no longer play this stream")]
    Revoked,
}

impl AdmissionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AdmissionError::Malformed => "media.url_malformed",
            AdmissionError::BadSignature => "media.url_bad_signature",
            AdmissionError::Expired => "media.url_expired",
            AdmissionError::WrongKind => "media.url_wrong_kind",
            AdmissionError::Revoked => "media.play_revoked",
        }
    }
}

/// Issues and verifies signed media URLs.
///
/// `rtmp_base`/`flv_base` are only used to *build* URLs; [`MediaSigner::verify`]
/// depends on `secret` alone, so a media server may verify with a signer whose bases
/// are placeholders.
#[derive(Clone)]
pub struct MediaSigner {
    /// The HMAC-SHA256 key (the media secret). Never printed.
    pub secret: Vec<u8>,
    /// e.g. `rtmp://127.0.0.1:1935/live` (no trailing slash needed).
    pub rtmp_base: String,
    /// e.g. `http://127.0.0.1:8081/live` (no trailing slash needed).
    pub flv_base: String,
    /// Lifetime of issued URLs, in seconds.
    pub ttl_secs: u64,
    /// RTMP bases play URLs are spread over by viewer (an external engine's edges); empty:
    /// `rtmp_base`.
    pub play_bases: Vec<String>,
    /// The next URL's nonce (shared by clones, so URLs of one server never repeat).
    nonce: Arc<AtomicU64>,
}

impl fmt::Debug for MediaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaSigner")
            .field("secret", &"<redacted>")
            .field("rtmp_base", &self.rtmp_base)
            .field("flv_base", &self.flv_base)
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

impl MediaSigner {
    /// A signer with key `secret`, building URLs on `rtmp_base` and `flv_base` that live
    /// `ttl_secs` seconds.
    pub fn new(
        secret: impl Into<Vec<u8>>,
        rtmp_base: impl Into<String>,
        flv_base: impl Into<String>,
        ttl_secs: u64,
    ) -> Self {
        Self {
            secret: secret.into(),
            rtmp_base: rtmp_base.into(),
            flv_base: flv_base.into(),
            ttl_secs,
            play_bases: Vec::new(),
            nonce: Arc::new(AtomicU64::new(1)),
        }
    }

    /// This signer with play URLs on `bases`, viewer `v` on `bases[v % len]`: each viewer
    /// always lands on the same edge, and viewers spread evenly (empty: `rtmp_base`).
    pub fn with_play_bases(mut self, bases: Vec<String>) -> Self {
        self.play_bases = bases;
        self
    }

    /// The RTMP base `viewer` plays from.
    fn play_base(&self, viewer: u64) -> &str {
        match self.play_bases.len() {
            0 => &self.rtmp_base,
            n => &self.play_bases[(viewer % n as u64) as usize],
        }
    }

    /// A nonce no other URL of this server carries.
    fn next_nonce(&self) -> u64 {
        self.nonce.fetch_add(1, Ordering::Relaxed)
    }

    /// RTMP push URL for `uid` publishing into `room`.
    pub fn push_url(&self, room: &str, uid: u64, now_unix: u64) -> String {
        let e = now_unix.saturating_add(self.ttl_secs);
        let (n, s) = self.issue(UrlKind::Push, room, uid, None, e);
        format!(
            "{}/{room}.{uid}?k=push&e={e}&n={n}&s={s}",
            trim(&self.rtmp_base)
        )
    }

    /// RTMP and HTTP-FLV play URLs for `viewer` watching `publisher` in `room`.
    pub fn play_urls(&self, room: &str, publisher: u64, viewer: u64, now_unix: u64) -> PlayUrls {
        self.play_urls_until(room, publisher, viewer, now_unix, u64::MAX)
    }

    /// [`MediaSigner::play_urls`] expiring at `until` (unix seconds) if that comes before the
    /// usual lifetime ends.
    pub fn play_urls_until(
        &self,
        room: &str,
        publisher: u64,
        viewer: u64,
        now_unix: u64,
        until: u64,
    ) -> PlayUrls {
        let e = now_unix.saturating_add(self.ttl_secs).min(until);
        let (n, s) = self.issue(UrlKind::Play, room, publisher, Some(viewer), e);
        let q = format!("k=play&v={viewer}&e={e}&n={n}&s={s}");
        PlayUrls {
            rtmp: format!("{}/{room}.{publisher}?{q}", trim(self.play_base(viewer))),
            flv: format!("{}/{room}.{publisher}.flv?{q}", trim(&self.flv_base)),
        }
    }

    /// Checks a stream name (`{room}.{uid}`, without `.flv` or `?`) and its query
    /// string (without the `?`) for the operation `kind` at time `now_unix`.
    ///
    /// Checks run in the order: shape ([`AdmissionError::Malformed`]), signature
    /// over the kind the URL claims ([`AdmissionError::BadSignature`]), kind
    /// ([`AdmissionError::WrongKind`]), expiry ([`AdmissionError::Expired`]; a URL is
    /// valid up to and including second `e`). Unknown query parameters are ignored;
    /// repeated known ones are malformed.
    pub fn verify(
        &self,
        kind: UrlKind,
        stream_name: &str,
        query: &str,
        now_unix: u64,
    ) -> Result<Admitted, AdmissionError> {
        let (room, uid) = parse_stream_name(stream_name).ok_or(AdmissionError::Malformed)?;
        let q = Query::parse(query).ok_or(AdmissionError::Malformed)?;
        let claimed =
            q.k.and_then(UrlKind::parse)
                .ok_or(AdmissionError::Malformed)?;
        let fields = Fields {
            kind: claimed,
            room,
            uid,
            viewer: match (claimed, q.v) {
                (UrlKind::Play, Some(v)) => Some(parse_u64(v).ok_or(AdmissionError::Malformed)?),
                (UrlKind::Push, None) => None,
                _ => return Err(AdmissionError::Malformed),
            },
            expiry: q.e.and_then(parse_u64).ok_or(AdmissionError::Malformed)?,
            nonce: match q.n {
                Some(n) => Some(parse_u64(n).ok_or(AdmissionError::Malformed)?),
                None => None,
            },
        };
        let sig =
            q.s.and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
                .ok_or(AdmissionError::Malformed)?;

        self.mac_over(&fields)
            .verify_slice(&sig)
            .map_err(|_| AdmissionError::BadSignature)?;

        if claimed != kind {
            return Err(AdmissionError::WrongKind);
        }
        if now_unix > fields.expiry {
            return Err(AdmissionError::Expired);
        }
        Ok(Admitted {
            room: room.to_owned(),
            uid,
            viewer: fields.viewer,
        })
    }

    /// A fresh HMAC-SHA256 keyed with the media secret, fed the [`Fields::canonical`] text.
    fn mac_over(&self, fields: &Fields<'_>) -> HmacSha256 {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(fields.canonical().as_bytes());
        mac
    }

    /// A fresh nonce and the URL-safe base64 MAC over a new URL's fields.
    fn issue(
        &self,
        kind: UrlKind,
        room: &str,
        uid: u64,
        viewer: Option<u64>,
        expiry: u64,
    ) -> (u64, String) {
        let nonce = self.next_nonce();
        let fields = Fields {
            kind,
            room,
            uid,
            viewer,
            expiry,
            nonce: Some(nonce),
        };
        let mac = self.mac_over(&fields).finalize().into_bytes();
        (nonce, URL_SAFE_NO_PAD.encode(mac))
    }
}

/// A URL base without its trailing slashes.
fn trim(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// What a URL's signature covers; built by the signer when it issues a URL and again by
/// [`MediaSigner::verify`] from what the URL claims, so both sides sign the same text.
struct Fields<'a> {
    kind: UrlKind,
    room: &'a str,
    uid: u64,
    viewer: Option<u64>,
    expiry: u64,
    nonce: Option<u64>,
}

impl Fields<'_> {
    /// The text a URL's signature covers: a version tag, then kind, room, uid, viewer (`-`
    /// for none), expiry and the nonce if any, one a line. Changing it invalidates every
    /// URL issued.
    fn canonical(&self) -> String {
        let Self {
            kind,
            room,
            uid,
            viewer,
            expiry,
            nonce,
        } = self;
        let viewer = viewer.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let mut c = format!("mprtc-media-v1\n{kind}\n{room}\n{uid}\n{viewer}\n{expiry}");
        if let Some(n) = nonce {
            c.push_str(&format!("\n{n}"));
        }
        c
    }
}

/// True for room names the signaling side may issue: `[A-Za-z0-9_-]{1,64}`.
pub fn is_valid_room(room: &str) -> bool {
    mprtc::protocol::names::is_url_safe(room, MAX_ROOM_LEN)
}

/// Splits `{room}.{uid}`; `None` unless the room is valid and the uid is plain decimal.
pub fn parse_stream_name(name: &str) -> Option<(&str, u64)> {
    let (room, uid) = name.rsplit_once('.')?;
    if !is_valid_room(room) {
        return None;
    }
    Some((room, parse_u64(uid)?))
}

/// Plain decimal u64: digits only, no sign, no leading zeros except "0" itself.
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

#[derive(Default)]
struct Query<'a> {
    k: Option<&'a str>,
    v: Option<&'a str>,
    e: Option<&'a str>,
    n: Option<&'a str>,
    s: Option<&'a str>,
}

impl<'a> Query<'a> {
    fn parse(query: &'a str) -> Option<Self> {
        let mut q = Query::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=')?;
            let slot = match key {
                "k" => &mut q.k,
                "v" => &mut q.v,
                "e" => &mut q.e,
                "n" => &mut q.n,
                "s" => &mut q.s,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        Some(q)
    }
}

#[cfg(test)]
mod tests;
