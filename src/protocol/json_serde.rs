//! Tests build JSON with `serde_json` (an implementation independent of [`super::json`]): these
//! let them pass a `serde_json::Value` wherever a body is written or read. Only in tests and
//! with the `fuzzing` feature; never in the wasm.

use super::json::{self, Json, ToJson};

impl ToJson for serde_json::Value {
    fn write_json(&self, out: &mut String) {
        out.push_str(&self.to_string())
    }
}

impl From<&serde_json::Value> for Json {
    /// Through text, as a frame would arrive. Panics on what `json::parse` refuses (depth over
    /// [`json::MAX_DEPTH`]), which a test's own value should not hold.
    fn from(v: &serde_json::Value) -> Json {
        json::parse(&v.to_string()).expect("a serde_json value is JSON")
    }
}

impl From<serde_json::Value> for Json {
    fn from(v: serde_json::Value) -> Json {
        Json::from(&v)
    }
}
