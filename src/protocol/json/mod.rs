//! The JSON of the wire, read and written by this crate itself.
//!
//! Why not serde: the SDK core ships as wasm inside mini-programs, where every kilobyte is
//! downloaded by every phone. serde's derived visitors and serde_json cost about 70 KB of the
//! wasm for a protocol of a few dozen small objects; this module and the [`FromJson`] /
//! [`ToJson`] impls of `protocol::codec` (declared with its `wire_object!` macro, which
//! expands to plain calls of [`ObjOut`] and [`Fields`]) cost a small fraction of that. The
//! tests check both directions against serde_json (see `protocol::fuzz`), so the format is
//! still the one a standard JSON library reads and writes.
//!
//! Reading is two steps: [`parse`] builds a [`Json`] tree (strict RFC 8259 syntax, a nesting
//! limit, a repeated key keeps its last value), then [`FromJson`] types it, naming the path of
//! a field that does not fit. Writing goes straight to text, with no tree.

use crate::prelude::*;

/// Deeper nesting than this is refused: the wire's objects are at most a few levels deep, and
/// an unbounded depth would let one frame exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A JSON value. Objects keep their keys in order, repeats included (see [`Json::get`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`: for a typed member, the same as absent.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, integers kept exact.
    Num(Num),
    /// A string, escapes decoded.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, as its members in text order.
    Obj(Vec<(String, Json)>),
}

/// A JSON number: integers are kept exact (uids use all 64 bits), anything else is an `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// A non-negative integer that fits `u64`.
    U(u64),
    /// A negative integer that fits `i64`.
    I(i64),
    /// A fraction, an exponent, or an integer too big for the above.
    F(f64),
}

impl Num {
    /// The number as an `f64`, rounded when an integer is beyond 2^53.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::U(n) => n as f64,
            Num::I(n) => n as f64,
            Num::F(n) => n,
        }
    }
}

impl Json {
    /// A member of an object; a repeated key gives its last value (RFC 8259 leaves repeats to
    /// the reader; last-wins is what `JSON.parse` does).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(o) => o.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The number, if it is a non-negative integer that fits `u64` (no fraction, no exponent).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(Num::U(n)) => Some(*n),
            _ => None,
        }
    }
    /// The number, if it is an integer that fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Num(Num::U(n)) => i64::try_from(*n).ok(),
            Json::Num(Num::I(n)) => Some(*n),
            _ => None,
        }
    }
    /// Any number, as an `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(n.as_f64()),
            _ => None,
        }
    }
    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Obj(_))
    }
}

mod number;
mod read;
#[cfg(test)]
mod tests;
mod typed;
mod write;

pub use number::{number_in, write_i64, write_u64};
pub use read::{parse, SyntaxError};
pub use typed::{from_str, DecodeError, Fields, FromJson};
pub use write::{write_str, Empty, ObjOut, RawJson, ToJson};
