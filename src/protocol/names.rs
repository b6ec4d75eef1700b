//! Names on the wire: rooms, stream ids, user ids, and the uid a user id stands for.
//!
//! Both sides apply these rules — the SDK before it sends, the server when it receives — so they
//! live with the wire, not with either side. Each side turns a [`BadName`] into its own error
//! (the SDK's 1001 `invalid_argument`, the server's 4003 `invalid_params`).

use super::{ErrorCode, WireError};

/// Rooms become part of media stream names and URLs.
pub const MAX_ROOM_LEN: usize = 64;
/// Stream ids become part of events the other members read.
pub const MAX_STREAM_ID_LEN: usize = 256;
/// User ids (ZEGO's `userID`) are hashed into the uid and shown to the other members.
pub const MAX_USER_ID_LEN: usize = 64;

/// A name that breaks its rule; the text states the rule, in the apps' own field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadName(pub &'static str);

impl From<BadName> for WireError {
    fn from(e: BadName) -> Self {
        WireError::new(ErrorCode::InvalidParams, e.0)
    }
}

/// `[A-Za-z0-9_-]{1,max}`: the one set of characters every name that reaches a URL, a stream
/// name or a file name is kept to (rooms, stream ids, app keys, media rooms).
pub fn is_url_safe(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A room name (NetEase's `channelName`, ZEGO's `roomID`).
pub fn check_room(name: &str) -> Result<(), BadName> {
    if name.is_empty() || name.len() > MAX_ROOM_LEN {
        return Err(BadName("channelName must be 1 to 64 characters"));
    }
    if !is_url_safe(name, MAX_ROOM_LEN) {
        return Err(BadName(
            "channelName may contain only letters, digits, '_' and '-'",
        ));
    }
    Ok(())
}

/// A stream id the app chose (ZEGO's `streamID`).
pub fn check_stream_id(id: &str) -> Result<(), BadName> {
    if is_url_safe(id, MAX_STREAM_ID_LEN) {
        Ok(())
    } else {
        Err(BadName(
            "streamID must be 1 to 256 letters, digits, '_' or '-'",
        ))
    }
}

/// A user id the app chose (ZEGO's `userID`): 1 to 64 printable ASCII characters, no spaces.
pub fn check_user_id(id: &str) -> Result<(), BadName> {
    if !id.is_empty() && id.len() <= MAX_USER_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(BadName(
            "userID must be 1 to 64 printable ASCII characters without spaces",
        ))
    }
}

/// The numeric uid that stands for an app-chosen user id: the number itself when the id is a
/// canonical decimal below 2^63 (so ids shared with NetEase-style apps line up), else a 63-bit
/// FNV-1a hash with the top bit set. The two ranges never meet, so no user id can take the uid
/// of a decimal one (a decimal id of 2^63 or more is hashed like any other text). Two hashed
/// ids may still collide; the server never lets one replace the other (4025 `uid_in_use`).
pub fn uid_for_user(id: &str) -> u64 {
    let canonical = !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && (!id.starts_with('0') || id == "0");
    if canonical {
        let n = id.bytes().try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        if let Some(n) = n.filter(|n| n >> 63 == 0) {
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

    /// No user id takes the uid of another: a decimal id below 2^63 is its own uid, every other id
    /// (text, a leading zero, a decimal of 2^63 or more) lands at or above 2^63, where no decimal
    /// id's uid is. (An attacker holding a token for "15027151566004041991" once took alice's
    /// uid this way.)
    #[cfg(not(target_arch = "wasm32"))]
    mod uid_mapping {
        use super::{check_user_id, uid_for_user};
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn only_a_decimal_below_2_63_is_its_own_uid(id in "[!-~]{1,64}") {
                prop_assume!(check_user_id(&id).is_ok());
                let uid = uid_for_user(&id);
                if uid >> 63 == 0 {
                    prop_assert_eq!(uid.to_string(), id);
                }
            }

            #[test]
            fn decimals_from_2_63_up_are_hashed(n in (1u64 << 63)..=u64::MAX) {
                let uid = uid_for_user(&n.to_string());
                prop_assert!(uid >> 63 == 1);
                prop_assert_ne!(uid, n);
            }

            #[test]
            fn decimals_below_2_63_stand_for_themselves(n in 0u64..(1u64 << 63)) {
                prop_assert_eq!(uid_for_user(&n.to_string()), n);
            }
        }

        #[test]
        fn the_reported_collision_is_gone() {
            let alice = uid_for_user("alice");
            assert_eq!(alice, 15_027_151_566_004_041_991);
            assert_ne!(uid_for_user(&alice.to_string()), alice);
        }
    }
}
