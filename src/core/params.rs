//! Checking what the app passes in, before anything is sent.

use super::error::Error;
use crate::protocol::{Media, Role};
use crate::text::{cat, num, quoted};

/// Room names become part of media stream names and URLs, so they are kept to a URL-safe set.
pub const MAX_ROOM_LEN: usize = 64;

pub fn check_room(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_ROOM_LEN {
        return Err(Error::invalid(cat(&[
            "channelName must be 1 to ",
            &num(MAX_ROOM_LEN as u64),
            " characters",
        ])));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::invalid(
            "channelName may contain only letters, digits, '_' and '-'",
        ));
    }
    Ok(())
}

/// The largest integer a JS number holds exactly; uids above it travel as strings.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A uid given as a JS number.
pub fn uid_from_f64(n: f64) -> Result<u64, Error> {
    // `n as u64` leaves a whole number in range unchanged (`f64::fract` needs std).
    if n >= 0.0 && n <= MAX_SAFE_INTEGER as f64 && (n as u64) as f64 == n {
        Ok(n as u64)
    } else {
        Err(Error::invalid(
            "uid must be a non-negative integer up to 2^53-1, or a decimal string",
        ))
    }
}

/// A uid given as a decimal string (the only exact form above 2^53).
pub fn uid_from_str(s: &str) -> Result<u64, Error> {
    let t = s.trim_ascii();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("uid string must be decimal digits"));
    }
    t.bytes()
        .try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or_else(|| Error::invalid("uid must fit in 64 bits"))
}

/// `mediaType` as the NetEase API takes it: `'audio'`, `'video'`, or nothing for both.
pub fn media_type(s: Option<&str>) -> Result<Media, Error> {
    match s {
        None | Some("") => Ok(Media::BOTH),
        Some("audio") => Ok(Media {
            audio: true,
            video: false,
        }),
        Some("video") => Ok(Media {
            audio: false,
            video: true,
        }),
        Some(other) => Err(Error::invalid(cat(&[
            "mediaType must be 'audio' or 'video', not ",
            &quoted(other),
        ]))),
    }
}

pub fn role(s: &str) -> Result<Role, Error> {
    match s {
        "broadcaster" | "host" => Ok(Role::Broadcaster),
        "audience" => Ok(Role::Audience),
        other => Err(Error::invalid(cat(&[
            "role must be 'broadcaster' or 'audience', not ",
            &quoted(other),
        ]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms() {
        assert!(check_room("room_1-a").is_ok());
        assert!(check_room("").is_err());
        assert!(check_room("a b").is_err());
        assert!(check_room("../x").is_err());
        assert!(check_room(&"a".repeat(64)).is_ok());
        assert!(check_room(&"a".repeat(65)).is_err());
    }

    #[test]
    fn uids() {
        assert_eq!(uid_from_f64(100.0), Ok(100));
        assert!(uid_from_f64(-1.0).is_err());
        assert!(uid_from_f64(1.5).is_err());
        assert!(uid_from_f64(f64::NAN).is_err());
        assert!(uid_from_f64(9007199254740992.0).is_err());
        assert_eq!(uid_from_str("18446744073709551615"), Ok(u64::MAX));
        assert!(uid_from_str("18446744073709551616").is_err());
        assert!(uid_from_str("-3").is_err());
        assert!(uid_from_str("").is_err());
        assert!(uid_from_str("1e3").is_err());
    }

    #[test]
    fn media_and_roles() {
        assert_eq!(media_type(None), Ok(Media::BOTH));
        assert!(media_type(Some("audio")).unwrap().audio);
        assert!(media_type(Some("screen")).is_err());
        assert_eq!(role("audience"), Ok(Role::Audience));
        assert!(role("king").is_err());
    }
}

/// Stream ids become part of events the other members read; kept to a URL-safe set.
pub const MAX_STREAM_ID_LEN: usize = 256;

/// A stream id the app chose (ZEGO's `streamID`): 1 to 256 of letters, digits, `_`, `-`.
pub fn check_stream_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= MAX_STREAM_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "streamID must be 1 to 256 letters, digits, '_' or '-'",
        ))
    }
}

pub const MAX_USER_ID_LEN: usize = 64;

/// A user id the app chose (ZEGO's `userID`): 1 to 64 printable ASCII characters, no spaces.
pub fn check_user_id(id: &str) -> Result<(), Error> {
    let ok =
        !id.is_empty() && id.len() <= MAX_USER_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "userID must be 1 to 64 printable ASCII characters without spaces",
        ))
    }
}

/// The numeric uid that stands for an app-chosen user id: the number itself when the id is a
/// decimal below 2^63 (so ids shared with NetEase-style apps line up), else a 63-bit FNV-1a
/// hash with the top bit set. The two ranges never meet, so no user id can take the uid of a
/// decimal one (a decimal id of 2^63 or more is hashed like any other text). Two hashed ids
/// may still collide; the server never lets one replace the other (4025 `uid_in_use`).
pub fn uid_for_user(id: &str) -> u64 {
    if let Ok(n) = uid_from_str(id) {
        if n >> 63 == 0 && (!id.starts_with('0') || id == "0") {
            return n;
        }
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h | (1 << 63)
}

/// NetEase `join` options beyond room, uid and token, as flags (the vendor's docs pass 0/1,
/// booleans or '0'/'1').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JoinExtras {
    /// `liveEnable`: interactive live streaming. mprtc rooms always allow push tasks, so both
    /// values are honoured as they are.
    pub live_enable: bool,
    /// `recordAudio` / `recordVideo` / `rtmpRecord`: server-side recording of member streams.
    pub record: bool,
    /// `isHostSpeaker`: NetEase's host-speaker audio mode.
    pub host_speaker: bool,
    /// `splitMode` given.
    pub split_mode: bool,
}

/// Refuse what is asked for but not provided, rather than drop it silently.
pub fn check_join_extras(x: JoinExtras) -> Result<(), Error> {
    let unsupported = |what: &str| {
        Err(Error::new(
            crate::protocol::ErrorCode::Unsupported,
            cat(&[what, " is not supported by mprtc"]),
        ))
    };
    if x.record {
        return unsupported(
            "server-side recording of member streams (recordAudio/recordVideo/rtmpRecord); \
             record with a push task (record: true)",
        );
    }
    if x.host_speaker {
        return unsupported("isHostSpeaker");
    }
    if x.split_mode {
        return unsupported("splitMode");
    }
    Ok(())
}
