//! [`FromJson`](super::json::FromJson) and [`ToJson`](super::json::ToJson) for every type that
//! crosses the wire. Field names and defaults are the protocol: see `messages.rs` and `tasks.rs`
//! for what each field means. Writing leaves out what a reader would default anyway (empty
//! options), so frames stay short.
//!
//! Almost every codec is declared with [`wire_object!`] (objects), [`wire_events!`] (the
//! `Event` enum) or [`named_enum!`] (fieldless enums), so that each wire name is typed once and
//! the writer and the reader cannot drift apart. What is still written by hand says why.

mod messages;
mod tasks;
#[cfg(test)]
mod tests;

use super::json::{DecodeError, Fields, ObjOut};

/// An object type's members, written into an object being built and read from one. Separate
/// from [`ToJson`](super::json::ToJson) / [`FromJson`](super::json::FromJson) so that a type's
/// members can also be flattened into another object (`Media` into `publish`, a task into the
/// server's listing). Implemented by [`wire_object!`].
pub(crate) trait Members: Sized {
    /// Write the members, in wire order, into `o`.
    fn write_members<'a, 'b>(&self, o: &'a mut ObjOut<'b>) -> &'a mut ObjOut<'b>;
    /// Read the members from `f`; the first one that does not fit is the error.
    fn read_members(f: &Fields) -> Result<Self, DecodeError>;
}

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

/// The JSON object codec of a struct, each member declared once: [`Members`], `ToJson` and
/// `FromJson` for it, writing and reading the members in the order listed.
///
/// Why a macro: written by hand, every member's wire name was typed twice (once to write, once
/// to read) and nothing kept the two in step. The expansion is the calls the hand-written codecs
/// made (`ObjOut::field`, `Fields::req`, ...), so the wasm does not grow.
///
/// ```text
/// wire_object!(RtmpTask {
///     task_id "taskId": req,      // Rust name, then the wire name where it differs
///     record: or(false),
///     host_uid "hostUid": opt,
///     config: or_default,
///     extra_info "extraInfo": omit_empty,
/// });
/// ```
///
/// How each member is written and read (absent and `null` are the same to the reader):
///
/// | kind | written | read when absent or `null` |
/// | --- | --- | --- |
/// | `req` | always | refused, naming the member |
/// | `opt` (an `Option`) | when `Some` | `None` |
/// | `or(value)` | always | `value` |
/// | `or_default` | always | `Default::default()` |
/// | `omit_empty` | unless `is_empty()` | `Default::default()` (empty) |
/// | `when_true` (a `bool`) | only `true` | `false` |
/// | `flatten` (a [`Members`] type) | its members, inline | its members, from this object |
///
/// A value that is there but does not fit its type is always refused, with the member's name
/// in the error's path; members not listed are ignored. To add a type: list its members in
/// wire order with their kinds, in `messages.rs` or `tasks.rs` here, and add a complete object
/// of it to the golden test (`tests.rs`).
macro_rules! wire_object {
    ($t:ident { $($f:ident $($wire:literal)?: $kind:ident $(($def:expr))?),* $(,)? }) => {
        impl $crate::protocol::codec::Members for $t {
            fn write_members<'a, 'b>(
                &self,
                o: &'a mut $crate::protocol::json::ObjOut<'b>,
            ) -> &'a mut $crate::protocol::json::ObjOut<'b> {
                $($crate::protocol::codec::wire_member!(
                    write o, $kind, $crate::protocol::codec::wire_member!(key $f $($wire)?),
                    &self.$f
                );)*
                o
            }
            fn read_members(
                f: &$crate::protocol::json::Fields,
            ) -> Result<Self, $crate::protocol::json::DecodeError> {
                Ok($t {$(
                    $f: $crate::protocol::codec::wire_member!(
                        read f, $kind $(($def))?,
                        $crate::protocol::codec::wire_member!(key $f $($wire)?)
                    ),
                )*})
            }
        }
        impl $crate::protocol::json::ToJson for $t {
            fn write_json(&self, out: &mut $crate::prelude::String) {
                use $crate::protocol::codec::Members;
                self.write_members(&mut $crate::protocol::json::ObjOut::start(out)).end()
            }
        }
        impl $crate::protocol::json::FromJson for $t {
            fn from_json(
                v: &$crate::protocol::json::Json,
            ) -> Result<Self, $crate::protocol::json::DecodeError> {
                use $crate::protocol::codec::Members;
                $crate::protocol::json::Fields::of(v).and_then(|f| Self::read_members(&f))
            }
        }
    };
}
use wire_object;

/// One member of [`wire_object!`] or [`wire_events!`]: its wire name (`key`), how it is
/// written into the `ObjOut` `o` from `&value` (`write`), and read from the `Fields` `f`
/// (`read`). The kinds are those of the table at [`wire_object!`].
macro_rules! wire_member {
    (key $f:ident) => {
        stringify!($f)
    };
    (key $f:ident $wire:literal) => {
        $wire
    };

    (write $o:ident, req, $k:expr, $v:expr) => {
        $o.field($k, $v)
    };
    (write $o:ident, opt, $k:expr, $v:expr) => {
        $o.opt($k, $v)
    };
    (write $o:ident, or, $k:expr, $v:expr) => {
        $o.field($k, $v)
    };
    (write $o:ident, or_default, $k:expr, $v:expr) => {
        $o.field($k, $v)
    };
    (write $o:ident, omit_empty, $k:expr, $v:expr) => {
        if !$v.is_empty() {
            $o.field($k, $v);
        }
    };
    (write $o:ident, when_true, $k:expr, $v:expr) => {
        if *$v {
            $o.field($k, &true);
        }
    };
    (write $o:ident, flatten, $k:expr, $v:expr) => {
        $crate::protocol::codec::Members::write_members($v, $o)
    };

    (read $f:ident, req, $k:expr) => {
        $f.req($k)?
    };
    (read $f:ident, opt, $k:expr) => {
        $f.opt($k)?
    };
    (read $f:ident, or($d:expr), $k:expr) => {
        $f.or($k, $d)?
    };
    (read $f:ident, or_default, $k:expr) => {
        $f.or_default($k)?
    };
    (read $f:ident, omit_empty, $k:expr) => {
        $f.or_default($k)?
    };
    (read $f:ident, when_true, $k:expr) => {
        $f.or($k, false)?
    };
    (read $f:ident, flatten, $k:expr) => {
        $crate::protocol::codec::Members::read_members($f)?
    };
}
use wire_member;

/// The codec of an enum of events, each variant's wire `type` and body members declared once:
/// `wire_name`, `write_body` and `from_wire` for it. Members take the kinds of
/// [`wire_object!`] (not `flatten`); their wire names are the Rust names.
///
/// ```text
/// wire_events!(Event {
///     MemberJoined "member-joined" { uid: req, role: req, user: opt },
///     RoomClosed "room-closed" {},
/// });
/// ```
///
/// To add an event: its variant (in `messages.rs`), a line here, and its body in the golden
/// test. A `type` this build does not know reads as `None`, which callers skip: a newer server
/// may send events an older SDK has never heard of.
macro_rules! wire_events {
    // `match $k { "name" => Variant { ... }, ... }`, the last variant taking `_`: `from_wire`
    // has ruled out unknown names already, and a fallback arm of its own would cost bytes.
    (@match $k:ident $f:ident $t:ident [$($arms:tt)*] $v:ident $name:literal $body:tt,
        $($rest:tt)+) => {
        $crate::protocol::codec::wire_events!(@match $k $f $t [
            $($arms)* $name => $crate::protocol::codec::wire_events!(@new $f $t $v $body),
        ] $($rest)+)
    };
    (@match $k:ident $f:ident $t:ident [$($arms:tt)*] $v:ident $name:literal $body:tt) => {
        match $k {
            $($arms)*
            _ => $crate::protocol::codec::wire_events!(@new $f $t $v $body),
        }
    };
    (@new $f:ident $t:ident $v:ident { $($m:ident: $kind:ident $(($def:expr))?),* }) => {
        $t::$v {$(
            $m: $crate::protocol::codec::wire_member!(
                read $f, $kind $(($def))?, $crate::protocol::codec::wire_member!(key $m)
            ),
        )*}
    };

    ($t:ident {
        $($v:ident $name:literal { $($f:ident: $kind:ident $(($def:expr))?),* $(,)? }),* $(,)?
    }) => {
        impl $t {
            /// The event's wire `type`.
            pub fn wire_name(&self) -> &'static str {
                match self {
                    $($t::$v { .. } => $name,)*
                }
            }

            /// The event's body object.
            pub fn write_body(&self, out: &mut $crate::prelude::String) {
                let mut o = $crate::protocol::json::ObjOut::start(out);
                match self {
                    $($t::$v { $($f),* } => {
                        $($crate::protocol::codec::wire_member!(
                            write o, $kind, $crate::protocol::codec::wire_member!(key $f), $f
                        );)*
                    })*
                }
                o.end()
            }

            /// Type an event from its wire `type` and `body`. `None` for a type this build does
            /// not know (a newer server's), decided before the body is looked at.
            pub fn from_wire(
                kind: &str,
                body: &$crate::protocol::json::Json,
            ) -> Option<Result<$t, $crate::protocol::json::DecodeError>> {
                const KNOWN: &[&str] = &[$($name),*];
                if !KNOWN.contains(&kind) {
                    return None;
                }
                #[allow(unused_variables)] // a variant with no members does not read `f`
                let typed = |f: $crate::protocol::json::Fields| {
                    Ok($crate::protocol::codec::wire_events!(@match kind f $t []
                        $($v $name { $($f: $kind $(($def))?),* }),*))
                };
                let f = $crate::protocol::json::Fields::of(body);
                Some(f.and_then(typed).map_err(|e| e.at("body")))
            }
        }
    };
}
use wire_events;
