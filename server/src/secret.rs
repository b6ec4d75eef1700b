//! [`Secret`]: a string that is never printed.
//!
//! App secrets sign join tokens and guard the server API; the media secret signs every push
//! and play URL. Holding them in a type whose `Debug` and `Display` print `<redacted>` lets the
//! config types derive `Debug` (a field added later cannot leak by being forgotten in a
//! hand-written impl), and makes every place that needs the value say so with
//! [`Secret::expose`] or [`Secret::as_bytes`].

use std::fmt;

use serde::Deserialize;

/// What `Debug` and `Display` print instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// A secret string. Read it with [`Secret::expose`] or [`Secret::as_bytes`]; it prints as
/// `<redacted>`. Deserializes from a plain string; comes from a flag or an environment
/// variable through `From<String>`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret's bytes (an HMAC key).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Its length in bytes: safe to show (config errors and warnings do).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty (a variable set to nothing).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_redacted_and_gives_the_value_on_request() {
        let s = Secret::from("hunter2-hunter2");
        for text in [format!("{s}"), format!("{s:?}"), format!("{:?}", Some(&s))] {
            assert!(
                text.contains(REDACTED) && !text.contains("hunter2"),
                "{text}"
            );
        }
        assert_eq!(s.expose(), "hunter2-hunter2");
        assert_eq!(s.as_bytes(), b"hunter2-hunter2");
        assert_eq!((s.len(), s.is_empty()), (15, false));
        let from_toml: Secret = toml::from_str::<toml::Table>("s = \"x\"").unwrap()["s"]
            .clone()
            .try_into()
            .unwrap();
        assert_eq!(from_toml, Secret::from("x"));
    }
}
