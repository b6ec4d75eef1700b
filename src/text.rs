//! Building messages without `format!`: the `core::fmt` machinery costs the wasm several
//! kilobytes (and pulls in Unicode tables with `{:?}`), and the crate's messages only ever join
//! a few pieces of text and whole numbers.

use crate::prelude::*;
use crate::protocol::json::{write_i64, write_str, write_u64};

/// The pieces, joined.
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// A whole number in decimal.
pub fn num(n: u64) -> String {
    let mut s = String::new();
    write_u64(&mut s, n);
    s
}

/// A signed whole number in decimal.
pub fn signed(n: i64) -> String {
    let mut s = String::new();
    write_i64(&mut s, n);
    s
}

/// `s` in double quotes, escaped as a JSON string: how messages show a value the app passed.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_and_numbers() {
        assert_eq!(
            cat(&["a", &num(0), "-", &num(u64::MAX), &signed(-7)]),
            "a0-18446744073709551615-7"
        );
        assert_eq!(quoted("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
    }
}
