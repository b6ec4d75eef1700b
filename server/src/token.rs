//! Join tokens: HS256 JWTs signed with the app's secret, bound to a room and a uid.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// What a token lets its holder do in the room. Both default to allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privileges {
    #[serde(default = "yes")]
    pub publish: bool,
    #[serde(default = "yes")]
    pub subscribe: bool,
    /// Managing push tasks; when absent, broadcasters may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<bool>,
    /// Push tasks with `record: true` (writing to the server's disk); only when granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<bool>,
}

fn yes() -> bool {
    true
}

impl Default for Privileges {
    fn default() -> Self {
        Self {
            publish: true,
            subscribe: true,
            tasks: None,
            record: None,
        }
    }
}

/// The `room` of an app-wide token (`mprtc-server token --any-room`): it admits its member to
/// any room of its app. No room can have this name (rooms are `[A-Za-z0-9_-]`), so it never
/// means one room. ZEGO's tokens name only the user, so ZEGO apps that mint one token per user
/// need it; the trade-off (README, "Tokens") is that a leaked token opens every room of the app
/// to its holder until it expires.
pub const ANY_ROOM: &str = "*";

/// The claims of a join token. `uid` is a decimal string so that JS tooling that decodes tokens
/// never rounds a 64-bit uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The app key the token was issued for.
    pub app: String,
    /// The room it admits to, or [`ANY_ROOM`].
    pub room: String,
    /// The member: a decimal uid, or an app-chosen user id.
    pub uid: String,
    /// Issued at, in Unix seconds (a server-API kick refuses tokens issued at or before it).
    pub iat: u64,
    /// Expires at, in Unix seconds.
    pub exp: u64,
    #[serde(default)]
    pub privileges: Privileges,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a valid HS256 token for this app")]
    Invalid,
    #[error("token was issued for another app, room or uid")]
    Mismatch,
    #[error("token expired")]
    Expired,
}

impl From<TokenError> for mprtc::protocol::WireError {
    fn from(e: TokenError) -> Self {
        use mprtc::protocol::ErrorCode;
        let code = match e {
            TokenError::Expired => ErrorCode::TokenExpired,
            TokenError::Invalid | TokenError::Mismatch => ErrorCode::TokenInvalid,
        };
        Self::new(code, e.to_string())
    }
}

/// Mint a token valid for `ttl_secs` from `now_unix`.
pub fn mint(
    secret: &[u8],
    app: &str,
    room: &str,
    uid: u64,
    privileges: Privileges,
    now_unix: u64,
    ttl_secs: u64,
) -> String {
    let claims = Claims {
        app: app.to_owned(),
        room: room.to_owned(),
        uid: uid.to_string(),
        iat: now_unix,
        exp: now_unix.saturating_add(ttl_secs),
        privileges,
    };
    sign(secret, &claims)
}

/// Sign claims as they are. `uid` may be a decimal uid or an app-chosen user id (the member
/// then joins with that user id).
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing with an in-memory key cannot fail")
}

/// Check signature, binding and expiry. Expiry is checked against the caller's clock so that
/// tests can run in virtual time.
pub fn verify(
    secret: &[u8],
    token: &str,
    app: &str,
    room: &str,
    uid: u64,
    now_unix: u64,
) -> Result<Claims, TokenError> {
    verify_for(secret, token, app, room, uid, None, now_unix)
}

/// [`verify`] for a member that may have joined with an app-chosen user id: the token must
/// name the member as it joined, by that user id when it gave one, else by its decimal uid.
/// (A token for a decimal id never admits a user id whose uid happens to be that number.)
pub fn verify_for(
    secret: &[u8],
    token: &str,
    app: &str,
    room: &str,
    uid: u64,
    user: Option<&str>,
    now_unix: u64,
) -> Result<Claims, TokenError> {
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &v)
        .map_err(|_| TokenError::Invalid)?;
    let c = data.claims;
    let names_member = match user {
        Some(u) => c.uid == u,
        None => c.uid == uid.to_string(),
    };
    if c.app != app || (c.room != room && c.room != ANY_ROOM) || !names_member {
        return Err(TokenError::Mismatch);
    }
    if now_unix >= c.exp {
        return Err(TokenError::Expired);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An app-wide token admits its member to any room of its app, and to nothing else: not
    /// another app, not another member; a room token still admits only its room.
    #[test]
    fn an_app_wide_token_admits_to_any_room_of_its_app_only() {
        let c = Claims {
            app: "app".into(),
            room: ANY_ROOM.into(),
            uid: "anna".into(),
            iat: 1000,
            exp: 1060,
            privileges: Privileges::default(),
        };
        let t = sign(b"s3cret", &c);
        let uid = mprtc::protocol::names::uid_for_user("anna");
        for room in ["r1", "lobby", "x-2"] {
            assert!(verify_for(b"s3cret", &t, "app", room, uid, Some("anna"), 1059).is_ok());
        }
        let other_app = verify_for(b"s3cret", &t, "other", "r1", uid, Some("anna"), 1059);
        assert_eq!(other_app.unwrap_err(), TokenError::Mismatch);
        let other_user = verify_for(b"s3cret", &t, "app", "r1", 7, Some("ben"), 1059);
        assert_eq!(other_user.unwrap_err(), TokenError::Mismatch);
        let late = verify_for(b"s3cret", &t, "app", "r1", uid, Some("anna"), 1060);
        assert_eq!(late.unwrap_err(), TokenError::Expired);
        let one_room = mint(b"s3cret", "app", "r1", 42, Privileges::default(), 1000, 60);
        assert!(verify(b"s3cret", &one_room, "app", "r2", 42, 1001).is_err());
    }

    #[test]
    fn mint_and_verify() {
        let t = mint(b"s3cret", "app", "r1", 42, Privileges::default(), 1000, 60);
        assert!(verify(b"s3cret", &t, "app", "r1", 42, 1059).is_ok());
        let mut tampered = t.clone();
        tampered.push('x');
        // (key, token, app, room, uid, now, why refused): each wrong in one way.
        type Case<'a> = (&'a [u8], &'a str, &'a str, &'a str, u64, u64, TokenError);
        let bad: [Case; 7] = [
            (b"s3cret", &t, "app", "r1", 42, 1060, TokenError::Expired),
            (b"other", &t, "app", "r1", 42, 1000, TokenError::Invalid),
            (b"s3cret", &t, "app", "r2", 42, 1000, TokenError::Mismatch),
            (b"s3cret", &t, "app", "r1", 43, 1000, TokenError::Mismatch),
            (b"s3cret", &t, "app2", "r1", 42, 1000, TokenError::Mismatch),
            (
                b"s3cret",
                "garbage",
                "app",
                "r1",
                42,
                1000,
                TokenError::Invalid,
            ),
            (
                b"s3cret",
                &tampered,
                "app",
                "r1",
                42,
                1000,
                TokenError::Invalid,
            ),
        ];
        for (key, token, app, room, uid, now, want) in bad {
            assert_eq!(
                verify(key, token, app, room, uid, now),
                Err(want),
                "{app} {room} {uid} at {now}"
            );
        }
    }

    #[test]
    fn big_uids_survive() {
        let t = mint(
            b"k",
            "a",
            "r",
            u64::MAX,
            Privileges {
                publish: false,
                subscribe: true,
                tasks: None,
                record: None,
            },
            0,
            10,
        );
        let c = verify(b"k", &t, "a", "r", u64::MAX, 1).unwrap();
        assert_eq!(c.uid, "18446744073709551615");
        assert!(!c.privileges.publish);
    }
}
