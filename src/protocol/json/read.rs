//! Reading: JSON text into a [`Json`] tree, by the strict RFC 8259 grammar, with the nesting
//! limit [`MAX_DEPTH`].

use super::number::decimal_to_f64;
use super::*;

/// Text that is not JSON: what was wrong, and the byte offset where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What was wrong, e.g. `expected ':'` (static, so building an error never allocates).
    pub what: &'static str,
    /// Byte offset into the text where the parser stopped; points at the offending byte.
    pub at: usize,
}

impl SyntaxError {
    /// "`what` at byte `at`", without the `fmt` machinery.
    pub fn message(&self) -> String {
        let mut s = String::from(self.what);
        s.push_str(" at byte ");
        write_u64(&mut s, self.at as u64);
        s
    }
}

/// Parse one JSON text (surrounding whitespace allowed, nothing else after it).
///
/// The grammar decisions, the same on both ends of the wire:
/// - strict RFC 8259: no comments, trailing commas, single quotes, `NaN` or leading zeros;
/// - nesting deeper than [`MAX_DEPTH`] is refused, so a hostile frame cannot exhaust the stack
///   of the recursive descent (the wasm stack is small);
/// - repeated keys are kept in order and [`Json::get`] returns the last one, as JavaScript's
///   `JSON.parse` does, so the SDK and the mini-program's JS agree on what a frame says;
/// - integers that fit `u64` / `i64` stay exact (a u64 uid may exceed 2^53); anything
///   else becomes an `f64`, infinity when beyond its range, which typed reads then refuse;
/// - `\u` escapes must pair surrogates; a lone one is an error rather than U+FFFD, so no two
///   different texts decode to the same string.
pub fn parse(text: &str) -> Result<Json, SyntaxError> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

// A recursive-descent parser over the bytes, with `s` kept for copying string runs out as
// `&str` without re-validating UTF-8.
struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    // Arrays and objects currently open; checked against `MAX_DEPTH` in `nested`.
    depth: usize,
}

impl Parser<'_> {
    // Bytes are read with `get` and `peek`, never by indexing: every range used is in bounds,
    // but an index would keep a panic path (and this file's name) in the wasm.
    fn err(&self, what: &'static str) -> SyntaxError {
        SyntaxError { what, at: self.i }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    // The four whitespace bytes of RFC 8259, and no others (no form feed, no NBSP).
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8, what: &'static str) -> Result<(), SyntaxError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    // Dispatch on the first byte; every JSON value is identified by it.
    fn value(&mut self) -> Result<Json, SyntaxError> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Json::Num),
            Some(_) => Err(self.err("expected a value")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    // Every `[` and `{` goes through here: the one place the depth is counted, so the limit
    // cannot be bypassed by some path through the grammar.
    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Json, SyntaxError>,
    ) -> Result<Json, SyntaxError> {
        if self.depth == MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn literal(&mut self, word: &'static str, v: Json) -> Result<Json, SyntaxError> {
        if self
            .b
            .get(self.i..)
            .is_some_and(|r| r.starts_with(word.as_bytes()))
        {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("expected a value"))
        }
    }

    // Members are kept as a list in text order, duplicates included; see `parse` on which one
    // wins. A list instead of a map: wire objects are small, and this keeps the wasm smaller.
    fn object(&mut self) -> Result<Json, SyntaxError> {
        let mut members = Vec::new();
        if !self.open(b'}') {
            loop {
                self.ws();
                if self.peek() != Some(b'"') {
                    return Err(self.err("expected a string key"));
                }
                let k = self.string()?;
                self.ws();
                self.eat(b':', "expected ':'")?;
                self.ws();
                members.push((k, self.value()?));
                if self.closed(b'}', "expected ',' or '}'")? {
                    break;
                }
            }
        }
        Ok(Json::Obj(members))
    }

    fn array(&mut self) -> Result<Json, SyntaxError> {
        let mut items = Vec::new();
        if !self.open(b']') {
            loop {
                self.ws();
                items.push(self.value()?);
                if self.closed(b']', "expected ',' or ']'")? {
                    break;
                }
            }
        }
        Ok(Json::Arr(items))
    }

    // Past the `{` or `[`; true (and past `close` too) when the object or array is empty.
    fn open(&mut self, close: u8) -> bool {
        self.i += 1;
        self.ws();
        let empty = self.peek() == Some(close);
        if empty {
            self.i += 1;
        }
        empty
    }

    // After a member or item: past a `,` (false: another follows) or past `close` (true: the
    // end), else the error `what`.
    fn closed(&mut self, close: u8, what: &'static str) -> Result<bool, SyntaxError> {
        self.ws();
        let end = self.peek() == Some(close);
        if end || self.peek() == Some(b',') {
            self.i += 1;
            Ok(end)
        } else {
            Err(self.err(what))
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.i += 1;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control character in one go.
            // Those are all ASCII, so the run ends on a char boundary of the (valid UTF-8) text.
            let start = self.i;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(self.s.get(start..self.i).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(self.err("control character in a string")),
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    // After a backslash. `\u` reads a UTF-16 code unit; a high surrogate must be followed
    // directly by `\u` and a low one, and the pair becomes one char.
    fn escape(&mut self, out: &mut String) -> Result<(), SyntaxError> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.i += 1;
                let hi = self.hex4()?;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        if !self.b.get(self.i..).is_some_and(|r| r.starts_with(b"\\u")) {
                            return Err(self.err("lone surrogate in a \\u escape"));
                        }
                        self.i += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(self.err("lone surrogate in a \\u escape"));
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.err("lone surrogate in a \\u escape")),
                    _ => hi,
                };
                // Every value left here is a scalar value: surrogates were handled above.
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                return Ok(());
            }
            _ => return Err(self.err("invalid escape")),
        };
        self.i += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut n = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("expected 4 hex digits")),
            };
            n = n * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(n)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    // `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, checked in that order so each
    // error names the part that is missing. Integers without fraction or exponent are kept
    // exact when they fit (`Num::U` for non-negative, `Num::I` down to `i64::MIN`; `-0` is
    // `U(0)`); `1.0` and `1e2` are floats even though integral, as the text says.
    fn number(&mut self) -> Result<Num, SyntaxError> {
        let start = self.i;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.i += 1;
        }
        let int_start = self.i;
        match self.digits() {
            0 => return Err(self.err("expected digits")),
            n if n > 1 && self.b.get(int_start) == Some(&b'0') => {
                return Err(SyntaxError {
                    what: "leading zero in a number",
                    at: int_start,
                })
            }
            _ => {}
        }
        let int_end = self.i;
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            integral = false;
            if self.digits() == 0 {
                return Err(self.err("expected digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            integral = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected digits in the exponent"));
            }
        }
        if integral {
            let mut n: u64 = 0;
            let exact = self
                .b
                .get(int_start..int_end)
                .unwrap_or_default()
                .iter()
                .all(|d| {
                    match n
                        .checked_mul(10)
                        .and_then(|m| m.checked_add(u64::from(d - b'0')))
                    {
                        Some(m) => {
                            n = m;
                            true
                        }
                        None => false,
                    }
                });
            if exact && !neg {
                return Ok(Num::U(n));
            }
            if exact && n == 0 {
                return Ok(Num::U(0));
            }
            if exact && n <= i64::MAX as u64 + 1 {
                return Ok(Num::I((n as i64).wrapping_neg()));
            }
        }
        // Beyond f64's range this is ±infinity, which no typed field accepts: a frame with such
        // a number in its body is still an object whose `id` can be answered.
        Ok(Num::F(decimal_to_f64(
            self.b.get(start..self.i).unwrap_or_default(),
        )))
    }
}
