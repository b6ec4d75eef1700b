//! Checking what the app passes in, before anything is sent.

use super::error::Error;
use crate::protocol::{Media, Role};

/// Room names become part of media stream names and URLs, so they are kept to a URL-safe set.
pub const MAX_ROOM_LEN: usize = 64;

pub fn check_room(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_ROOM_LEN {
        return Err(Error::invalid(format!(
            "channelName must be 1 to {MAX_ROOM_LEN} characters"
        )));
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
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_SAFE_INTEGER as f64 {
        Ok(n as u64)
    } else {
        Err(Error::invalid(
            "uid must be a non-negative integer up to 2^53-1, or a decimal string",
        ))
    }
}

/// A uid given as a decimal string (the only exact form above 2^53).
pub fn uid_from_str(s: &str) -> Result<u64, Error> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("uid string must be decimal digits"));
    }
    t.parse::<u64>()
        .map_err(|_| Error::invalid("uid must fit in 64 bits"))
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
        Some(other) => Err(Error::invalid(format!(
            "mediaType must be 'audio' or 'video', not {other:?}"
        ))),
    }
}

pub fn role(s: &str) -> Result<Role, Error> {
    match s {
        "broadcaster" | "host" => Ok(Role::Broadcaster),
        "audience" => Ok(Role::Audience),
        other => Err(Error::invalid(format!(
            "role must be 'broadcaster' or 'audience', not {other:?}"
        ))),
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
