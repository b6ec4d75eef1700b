//! Writing: values straight to JSON text, with no tree.

use super::number::write_f64;
use super::*;

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

/// A value that writes itself as JSON.
pub trait ToJson {
    /// Append `self` as JSON text to `out` (no whitespace).
    fn write_json(&self, out: &mut String);

    /// `self` as a new JSON string.
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
    /// Open an object (`{`) in `out`; finish it with [`ObjOut::end`].
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
    /// A member `k: v`, written even when `v` is a default (see [`ObjOut::opt`] for `None`).
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
    /// Close the object (`}`).
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
