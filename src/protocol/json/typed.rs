//! Typing: a [`Json`] tree into the wire's types, naming the path of a field that does not
//! fit.

use super::*;

/// A value that does not fit the type asked for: where (a path like
/// `rtmpTasks[0].layout.canvas.width`) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Where, as a path of keys and indexes; empty for the value itself.
    pub path: String,
    /// What the value should have been, e.g. `a u32`.
    pub expected: &'static str,
}

impl DecodeError {
    /// An error at the value itself; callers add the path with [`DecodeError::at`].
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
    /// Type `v`, or say where and why it does not fit.
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
    /// The members of `v`; an error unless `v` is an object (`null` included).
    pub fn of(v: &'a Json) -> Result<Self, DecodeError> {
        if v.is_object() {
            Ok(Fields(v))
        } else {
            Err(DecodeError::expected("an object"))
        }
    }
    /// Member `k`, untyped; the last one if it is repeated.
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
    /// A member that is `T::default()` when absent or `null`.
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

impl FromJson for Empty {
    fn from_json(_: &Json) -> Result<Self, DecodeError> {
        Ok(Empty)
    }
}
