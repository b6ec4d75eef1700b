//! [`FromJson`](super::json::FromJson) and [`ToJson`](super::json::ToJson) for every type that
//! crosses the wire. Field names and defaults are the protocol: see `messages.rs` and `tasks.rs`
//! for what each field means. Writing leaves out what a reader would default anyway (empty
//! options), so frames stay short.

mod messages;
mod tasks;
#[cfg(test)]
mod tests;

/// Names for a fieldless enum, both ways.
macro_rules! named_enum {
    ($t:ty, $what:literal, { $($v:ident => $s:literal),* $(,)? }) => {
        impl $crate::protocol::json::ToJson for $t {
            fn write_json(&self, out: &mut $crate::prelude::String) {
                $crate::protocol::json::write_str(out, match self { $(Self::$v => $s),* })
            }
        }
        impl $crate::protocol::json::FromJson for $t {
            fn from_json(
                v: &$crate::protocol::json::Json,
            ) -> Result<Self, $crate::protocol::json::DecodeError> {
                match v.as_str() {
                    $(Some($s) => Ok(Self::$v),)*
                    _ => Err($crate::protocol::json::DecodeError::expected($what)),
                }
            }
        }
    };
}
use named_enum;
