//! Checking what the app passes in, before anything is sent.

use super::error::Error;
use crate::protocol::{Media, Role};
use crate::text::{cat, quoted};

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

/// A role as the NetEase API names it (`'host'` is an old name for `'broadcaster'`).
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

/// NetEase `join` options beyond room, uid and token, as flags (the vendor's docs pass 0/1,
/// booleans or '0'/'1').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JoinExtras {
    /// `liveEnable`: interactive live streaming. mprtc rooms always allow push tasks, so both
    /// values are honoured as they are.
    pub live_enable: bool,
    /// `rtmpRecord`: the vendor's recording of the room's pushed mix (a push task records
    /// with `record: true`). `recordAudio` / `recordVideo` travel in the join instead.
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
            "rtmpRecord (recording of the pushed mix); record with a push task (record: true)",
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
