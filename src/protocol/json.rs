//! The JSON of the wire, read and written by this crate itself.
//!
//! Why not serde: the SDK core ships as wasm inside mini-programs, where every kilobyte is
//! downloaded by every phone. serde's derived visitors and serde_json cost about 70 KB of the
//! wasm for a protocol of a few dozen small objects; this module and the hand-written
//! [`FromJson`] / [`ToJson`] impls beside the messages cost a small fraction of that. The
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
    Null,
    Bool(bool),
    Num(Num),
    Str(String),
    Arr(Vec<Json>),
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
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(Num::U(n)) => Some(*n),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Num(Num::U(n)) => i64::try_from(*n).ok(),
            Json::Num(Num::I(n)) => Some(*n),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(n.as_f64()),
            _ => None,
        }
    }
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Obj(_))
    }
}

// ---- syntax ------------------------------------------------------------------------------------

/// Text that is not JSON: what was wrong, and the byte offset where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub what: &'static str,
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

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> SyntaxError {
        SyntaxError { what, at: self.i }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
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

    fn object(&mut self) -> Result<Json, SyntaxError> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Json::Obj(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let k = self.string()?;
            self.ws();
            self.eat(b':', "expected ':'")?;
            self.ws();
            let v = self.value()?;
            members.push((k, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self) -> Result<Json, SyntaxError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Json::Arr(items));
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
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
                        if !self.b[self.i..].starts_with(b"\\u") {
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

    fn number(&mut self) -> Result<Num, SyntaxError> {
        let start = self.i;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.i += 1;
        }
        let int_start = self.i;
        match self.digits() {
            0 => return Err(self.err("expected digits")),
            n if n > 1 && self.b[int_start] == b'0' => {
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
            let exact = self.b[int_start..int_end].iter().all(|d| {
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
        Ok(Num::F(decimal_to_f64(&self.b[start..self.i])))
    }
}

/// The value of a number's text, already checked against the JSON grammar.
///
/// Not core's correctly rounded `str::parse::<f64>`: its tables and code are about 14 KB of
/// the wasm. The first 19 significant digits are kept exactly and scaled by a power of ten
/// ([`scale10`]), so the result is within a few units in the last place of the exact value. Fractions only come from
/// component reports (frame rates, cache sizes), where that is far below noise; the wire's
/// integers never come here and stay exact.
fn decimal_to_f64(t: &[u8]) -> f64 {
    let (neg, mut i) = if t.first() == Some(&b'-') {
        (true, 1)
    } else {
        (false, 0)
    };
    let (mut mant, mut kept, mut exp10) = (0u64, 0u32, 0i64);
    let mut frac = false;
    while let Some(&c) = t.get(i) {
        match c {
            b'0'..=b'9' => {
                if kept < 19 {
                    mant = mant * 10 + u64::from(c - b'0');
                    if mant > 0 {
                        kept += 1;
                    }
                    if frac {
                        exp10 -= 1;
                    }
                } else if !frac {
                    exp10 += 1;
                }
            }
            b'.' => frac = true,
            _ => break,
        }
        i += 1;
    }
    if let Some(b'e' | b'E') = t.get(i) {
        i += 1;
        let eneg = t.get(i) == Some(&b'-');
        if let Some(b'+' | b'-') = t.get(i) {
            i += 1;
        }
        let mut e: i64 = 0;
        for &c in &t[i..] {
            e = e.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        }
        exp10 = exp10.saturating_add(if eneg { -e } else { e });
    }
    let v = if mant == 0 {
        0.0
    } else {
        scale10(mant as f64, exp10)
    };
    if neg {
        -v
    } else {
        v
    }
}

/// `m` times ten to the `e`, in at most three roundings: by an exact power below 1e16, then by
/// a (correctly rounded) power of 1e16. Within a few units in the last place for results in the
/// normal range (at most 3 over millions of random inputs).
fn scale10(m: f64, e: i64) -> f64 {
    const SMALL: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    const LARGE: [f64; 20] = [
        1e0, 1e16, 1e32, 1e48, 1e64, 1e80, 1e96, 1e112, 1e128, 1e144, 1e160, 1e176, 1e192, 1e208,
        1e224, 1e240, 1e256, 1e272, 1e288, 1e304,
    ];
    let a = e.unsigned_abs().min(800) as usize;
    let (hi, lo) = (a / 16, a % 16);
    if e >= 0 {
        match LARGE.get(hi) {
            Some(p) => m * SMALL[lo] * p,
            None => f64::INFINITY,
        }
    } else {
        // Below 1e-304 the result is subnormal or zero: divide in steps of 1e304.
        let mut v = m / SMALL[lo];
        let mut hi = hi;
        while hi >= LARGE.len() {
            v /= LARGE[LARGE.len() - 1];
            hi -= LARGE.len() - 1;
        }
        v / LARGE[hi]
    }
}

/// A number written as text (what a component report may hold), read with the JSON number
/// grammar: `None` for anything else, or for a number out of `f64` range.
pub fn number_in(text: &str) -> Option<f64> {
    match parse(text) {
        Ok(Json::Num(n)) => Some(n.as_f64()).filter(|f| f.is_finite()),
        _ => None,
    }
}

// ---- writing -----------------------------------------------------------------------------------

/// Append `s` as a JSON string.
///
/// Runs are cut at ASCII bytes, so always on char boundaries; `get` rather than indexing
/// keeps the panic path of string slicing (and the `fmt` code it brings) out of the wasm.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1F => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// Append `n` in decimal (also used for messages, instead of `format!`). Recursive rather than
/// through a digit buffer: no index, so no bounds check and panic path in the wasm.
pub fn write_u64(out: &mut String, n: u64) {
    if n >= 10 {
        write_u64(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

pub fn write_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    write_u64(out, n.unsigned_abs());
}

/// A value that writes itself as JSON.
pub trait ToJson {
    fn write_json(&self, out: &mut String);

    fn to_json_string(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }
}

/// Writes the members of one object; keys are the crate's own ASCII names, written as they are.
pub struct ObjOut<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjOut<'a> {
    pub fn start(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
    }
    pub fn field<T: ToJson + ?Sized>(&mut self, k: &str, v: &T) -> &mut Self {
        self.key(k);
        v.write_json(self.out);
        self
    }
    /// A member that is left out when `None`.
    pub fn opt<T: ToJson>(&mut self, k: &str, v: &Option<T>) -> &mut Self {
        if let Some(v) = v {
            self.field(k, v);
        }
        self
    }
    /// A member whose value is already JSON text.
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k);
        self.out.push_str(json);
        self
    }
    pub fn end(&mut self) {
        self.out.push('}');
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        write_str(out, self)
    }
}
impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        write_str(out, self)
    }
}
impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" })
    }
}
macro_rules! unsigned_to_json {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                write_u64(out, u64::from(*self))
            }
        }
    )*};
}
unsigned_to_json!(u8, u16, u32, u64);
impl ToJson for i32 {
    fn write_json(&self, out: &mut String) {
        write_i64(out, i64::from(*self))
    }
}
impl ToJson for i64 {
    fn write_json(&self, out: &mut String) {
        write_i64(out, *self)
    }
}
impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            v.write_json(out);
        }
        out.push(']');
    }
}
impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out)
    }
}
impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(v) => v.write_json(out),
            None => out.push_str("null"),
        }
    }
}
impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out)
    }
}

/// JSON text written as it is. For bodies the SDK forwards without typing them (push tasks,
/// which the server checks); the text must already be valid JSON.
#[derive(Debug, Clone, Copy)]
pub struct RawJson<'a>(pub &'a str);

impl ToJson for RawJson<'_> {
    fn write_json(&self, out: &mut String) {
        out.push_str(self.0)
    }
}

/// The empty object `{}`: the body of answers that carry nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Empty;

impl ToJson for Empty {
    fn write_json(&self, out: &mut String) {
        out.push_str("{}")
    }
}
impl FromJson for Empty {
    fn from_json(_: &Json) -> Result<Self, DecodeError> {
        Ok(Empty)
    }
}

impl ToJson for Json {
    fn write_json(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => b.write_json(out),
            Json::Num(Num::U(n)) => write_u64(out, *n),
            Json::Num(Num::I(n)) => write_i64(out, *n),
            Json::Num(Num::F(f)) => write_f64(out, *f),
            Json::Str(s) => write_str(out, s),
            Json::Arr(a) => a.write_json(out),
            Json::Obj(o) => {
                let mut w = ObjOut::start(out);
                for (k, v) in o {
                    // Keys read from text may need escaping, unlike the crate's own names.
                    if !w.first {
                        w.out.push(',');
                    }
                    w.first = false;
                    write_str(w.out, k);
                    w.out.push(':');
                    v.write_json(w.out);
                }
                w.end();
            }
        }
    }
}

/// Fractions only occur in values read from elsewhere (component reports) and written back
/// in tests or logs; the wire's own numbers are integers. Rust's shortest round-trip form.
fn write_f64(out: &mut String, f: f64) {
    use core::fmt::Write;
    if f.is_finite() {
        let _ = write!(out, "{f}");
    } else {
        out.push_str("null");
    }
}

// ---- typing ------------------------------------------------------------------------------------

/// A value that does not fit the type asked for: where (a path like
/// `rtmpTasks[0].layout.canvas.width`) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub path: String,
    pub expected: &'static str,
}

impl DecodeError {
    pub fn expected(what: &'static str) -> Self {
        Self {
            path: String::new(),
            expected: what,
        }
    }
    /// Put `key` in front of the path (errors are built from the inside out).
    pub fn at(mut self, key: &str) -> Self {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, key);
        self
    }
    fn at_index(mut self, i: usize) -> Self {
        let mut seg = String::from("[");
        write_u64(&mut seg, i as u64);
        seg.push(']');
        if !self.path.is_empty() && !self.path.starts_with('[') {
            seg.push('.');
        }
        self.path.insert_str(0, &seg);
        self
    }
    /// "`path`: expected `what`" (or "expected `what`" at the top).
    pub fn message(&self) -> String {
        let mut s = String::new();
        if !self.path.is_empty() {
            s.push_str(&self.path);
            s.push_str(": ");
        }
        s.push_str("expected ");
        s.push_str(self.expected);
        s
    }
}

/// A type read from a [`Json`] value.
pub trait FromJson: Sized {
    fn from_json(v: &Json) -> Result<Self, DecodeError>;
}

/// Parse `text` and type it; both kinds of failure as one message.
pub fn from_str<T: FromJson>(text: &str) -> Result<T, String> {
    let v = parse(text).map_err(|e| e.message())?;
    T::from_json(&v).map_err(|e| e.message())
}

/// Member `k`'s value typed; a failure names `k` in its path.
fn typed<T: FromJson>(v: &Json, k: &str) -> Result<T, DecodeError> {
    T::from_json(v).map_err(|e| e.at(k))
}

/// The members of an object, read by name.
pub struct Fields<'a>(&'a Json);

impl<'a> Fields<'a> {
    pub fn of(v: &'a Json) -> Result<Self, DecodeError> {
        if v.is_object() {
            Ok(Fields(v))
        } else {
            Err(DecodeError::expected("an object"))
        }
    }
    pub fn get(&self, k: &str) -> Option<&'a Json> {
        self.0.get(k)
    }
    /// A member that must be there.
    pub fn req<T: FromJson>(&self, k: &str) -> Result<T, DecodeError> {
        let v = self
            .get(k)
            .ok_or_else(|| DecodeError::expected("a value (the field is missing)").at(k))?;
        typed(v, k)
    }
    /// A member that may be absent or `null`.
    pub fn opt<T: FromJson>(&self, k: &str) -> Result<Option<T>, DecodeError> {
        match self.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => typed(v, k).map(Some),
        }
    }
    /// A member that is `default` when absent or `null`.
    pub fn or<T: FromJson>(&self, k: &str, default: T) -> Result<T, DecodeError> {
        Ok(self.opt(k)?.unwrap_or(default))
    }
    pub fn or_default<T: FromJson + Default>(&self, k: &str) -> Result<T, DecodeError> {
        self.or(k, T::default())
    }
}

impl FromJson for Json {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        Ok(v.clone())
    }
}
impl FromJson for String {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        v.as_str()
            .map(String::from)
            .ok_or(DecodeError::expected("a string"))
    }
}
impl FromJson for bool {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        v.as_bool().ok_or(DecodeError::expected("true or false"))
    }
}
macro_rules! unsigned_from_json {
    ($($t:ty: $what:literal),*) => {$(
        impl FromJson for $t {
            fn from_json(v: &Json) -> Result<Self, DecodeError> {
                v.as_u64()
                    .and_then(|n| <$t>::try_from(n).ok())
                    .ok_or(DecodeError::expected($what))
            }
        }
    )*};
}
unsigned_from_json!(
    u8: "an integer from 0 to 255",
    u16: "an integer from 0 to 65535",
    u32: "an integer from 0 to 4294967295",
    u64: "an integer from 0 to 18446744073709551615"
);
impl FromJson for i32 {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        v.as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or(DecodeError::expected(
                "an integer from -2147483648 to 2147483647",
            ))
    }
}
impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let Json::Arr(items) = v else {
            return Err(DecodeError::expected("an array"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, x) in items.iter().enumerate() {
            out.push(T::from_json(x).map_err(|e| e.at_index(i))?);
        }
        Ok(out)
    }
}
impl<T: FromJson> FromJson for Option<T> {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        match v {
            Json::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        parse(text).unwrap().to_json_string()
    }

    #[test]
    fn reads_and_writes_the_grammar() {
        assert_eq!(
            round(r#" {"a" : [1, -2, 3.5, true, false, null, "x\ny"], "b":{}} "#),
            r#"{"a":[1,-2,3.5,true,false,null,"x\ny"],"b":{}}"#
        );
        assert_eq!(round("18446744073709551615"), "18446744073709551615");
        assert_eq!(round("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(
            parse("18446744073709551616").unwrap(),
            Json::Num(Num::F(1.8446744073709552e19))
        );
        assert_eq!(parse("-0").unwrap(), Json::Num(Num::U(0)));
        assert_eq!(parse("1E2").unwrap(), Json::Num(Num::F(100.0)));
        assert_eq!(
            round(r#""\u00e9\ud83d\ude00\/\b\f""#),
            "\"é😀/\\u0008\\u000c\""
        );
    }

    #[test]
    fn fractions_are_read_to_within_a_few_ulps() {
        for text in [
            "0.1",
            "15.3",
            "-2.5e-3",
            "1e308",
            "4.9e-324",
            "2.2250738585072014e-308",
            "123456789012345678901234567890",
            "0.000000000000000000000000012345",
            "1E2",
            "9007199254740993.0",
            "3.141592653589793238462643383279",
            "-0.0",
            "1e-400",
        ] {
            let want: f64 = text.parse().unwrap();
            let got = parse(text).unwrap().as_f64().unwrap();
            let tolerance = want.abs() * 8.0 * f64::EPSILON;
            assert!(
                (got - want).abs() <= tolerance.max(f64::MIN_POSITIVE),
                "{text}: {got} vs {want}"
            );
        }
        // Digits and exponent balance however long they are.
        let long = String::from("0.") + &"0".repeat(200_000) + "1e200001";
        assert_eq!(parse(&long).unwrap().as_f64(), Some(1.0));
        assert_eq!(number_in(" 12.5 "), Some(12.5));
        assert_eq!(number_in("12px"), None);
        assert_eq!(number_in("1e999"), None);
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "1e",
            "-",
            "+1",
            "tru",
            "nul",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\u{1}\"",
            "\"abc",
            "{1:2}",
            "[1 2]",
            "1 2",
            "NaN",
            "{\"a\" 1}",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        // Valid grammar beyond f64's range reads as infinity, which no typed field takes.
        assert_eq!(
            parse("-1e400").unwrap(),
            Json::Num(Num::F(f64::NEG_INFINITY))
        );
        assert!(u64::from_json(&parse("1E309").unwrap()).is_err());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep).unwrap_err().what, "nested too deeply");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let v = parse(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(v.get("a").and_then(Json::as_u64), Some(2));
    }

    #[test]
    fn decode_errors_name_the_path() {
        let v = parse(r#"{"xs":[{"n":1},{"n":"2"}]}"#).unwrap();
        #[derive(Debug)]
        struct N(#[allow(dead_code)] u32);
        impl FromJson for N {
            fn from_json(v: &Json) -> Result<Self, DecodeError> {
                Ok(N(Fields::of(v)?.req("n")?))
            }
        }
        let e = Fields::of(&v).unwrap().req::<Vec<N>>("xs").unwrap_err();
        assert_eq!(
            e.message(),
            "xs[1].n: expected an integer from 0 to 4294967295"
        );
        let e = Fields::of(&v).unwrap().req::<u8>("missing").unwrap_err();
        assert_eq!(
            e.message(),
            "missing: expected a value (the field is missing)"
        );
    }

    #[test]
    fn strings_escape_what_json_requires() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\u{1f}\u{7f}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\u001f\u{7f}é\"");
        assert_eq!(parse(&s).unwrap(), Json::Str("a\"b\\c\u{1f}\u{7f}é".into()));
    }
}
