//! Reading the arguments of a call as the NetEase and ZEGO APIs take them. The shim sends them
//! as the JSON text of an array (`JSON.stringify([...args])`), so `undefined` and `null` arrive
//! as `null` (or not at all), and every absent argument reads as `null`.

use crate::core::{params, Error};
use crate::prelude::*;
use crate::protocol::json::{self, Json, Num};
use crate::protocol::ErrorCode;
use crate::text::cat;

static NULL: Json = Json::Null;

/// The positional arguments of one call.
pub struct Args(Vec<Json>);

impl Args {
    /// `text` is `JSON.stringify` of the argument array. The shim sends `""` when that threw
    /// (a cycle in the app's object); `name` says which call it was, for the message.
    pub fn parse(text: &str, name: &str) -> Result<Self, Error> {
        match json::parse(text) {
            Ok(Json::Arr(a)) => Ok(Args(a)),
            _ => Err(Error::invalid(cat(&[
                name,
                ": the arguments are not plain data (JSON.stringify failed on them)",
            ]))),
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Argument `i`, `null` when it was not given.
    pub fn at(&self, i: usize) -> &Json {
        self.0.get(i).unwrap_or(&NULL)
    }
}

/// Member `k` of an object argument, `null` when absent or when the argument is no object.
pub fn member<'a>(o: &'a Json, k: &str) -> &'a Json {
    o.get(k).unwrap_or(&NULL)
}

pub fn opt_string(v: &Json, what: &str) -> Result<Option<String>, Error> {
    match v {
        Json::Null => Ok(None),
        Json::Str(s) => Ok(Some(s.clone())),
        _ => Err(Error::invalid(cat(&[what, " must be a string"]))),
    }
}

/// A number, or a string holding one (NetEase's flags come as either).
pub fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Str(s) => json::number_in(s),
        _ => v.as_f64(),
    }
}

/// An optional number of milliseconds within `range`.
pub fn opt_ms(v: &Json, range: (f64, f64), message: &'static str) -> Result<Option<u64>, Error> {
    match v {
        Json::Null => Ok(None),
        _ => v
            .as_f64()
            .filter(|d| *d >= range.0 && *d <= range.1)
            .map(|d| Some(d as u64))
            .ok_or_else(|| Error::invalid(message)),
    }
}

/// A uid as NetEase apps pass it: a number up to 2^53-1, or a decimal string. The shim turns
/// a `BigInt` and a bignumber.js value into their decimal strings on the way in.
pub fn uid(v: &Json) -> Result<u64, Error> {
    match v {
        Json::Str(s) => params::uid_from_str(s),
        // JSON text can hold an integer above 2^53 exactly, but a JS number cannot: the app
        // did not have the uid it wrote, so it is refused as the number it was.
        Json::Num(Num::U(n)) if *n <= params::MAX_SAFE_INTEGER => Ok(*n),
        Json::Num(n) => params::uid_from_f64(n.as_f64()),
        _ => Err(Error::new(
            ErrorCode::InvalidArgument,
            "uid must be a number, a decimal string, a BigInt or a BigNumber",
        )),
    }
}

/// A NetEase flag option: absent, `0`/`1`, a boolean or `'0'`/`'1'`.
pub fn flag(p: &Json, name: &str) -> Result<bool, Error> {
    match member(p, name) {
        Json::Null => Ok(false),
        Json::Bool(b) => Ok(*b),
        v => match number(v) {
            Some(0.0) => Ok(false),
            Some(1.0) => Ok(true),
            _ => Err(Error::invalid(cat(&[name, " must be 0, 1, true or false"]))),
        },
    }
}

pub fn media(v: &Json) -> Result<crate::protocol::Media, Error> {
    params::media_type(opt_string(v, "mediaType")?.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(t: &str) -> Json {
        json::parse(t).unwrap()
    }

    #[test]
    fn uids_in_every_form_the_apps_use() {
        assert_eq!(uid(&j("1001")), Ok(1001));
        assert_eq!(uid(&j("\"18446744073709551615\"")), Ok(u64::MAX));
        assert_eq!(uid(&j("9007199254740991")), Ok(params::MAX_SAFE_INTEGER));
        // Above 2^53 a JS number is not the uid the app meant.
        assert!(uid(&j("9007199254740993")).is_err());
        assert!(uid(&j("1.5")).is_err());
        assert!(uid(&j("-1")).is_err());
        assert!(uid(&j("null")).is_err());
        assert!(uid(&j("{}")).is_err());
        assert!(uid(&j("\"12a\"")).is_err());
    }

    #[test]
    fn flags_and_numbers() {
        let p = j(r#"{"a":1,"b":"0","c":true,"d":2,"e":"x"}"#);
        assert_eq!(flag(&p, "a"), Ok(true));
        assert_eq!(flag(&p, "b"), Ok(false));
        assert_eq!(flag(&p, "c"), Ok(true));
        assert_eq!(flag(&p, "missing"), Ok(false));
        assert_eq!(flag(&p, "d").unwrap_err().code, ErrorCode::InvalidArgument);
        assert!(flag(&p, "e").is_err());
        assert_eq!(opt_ms(&j("null"), (0.0, 5.0), "m"), Ok(None));
        assert_eq!(opt_ms(&j("5"), (0.0, 5.0), "m"), Ok(Some(5)));
        assert!(opt_ms(&j("6"), (0.0, 5.0), "m").is_err());
        assert!(opt_ms(&j("\"5\""), (0.0, 5.0), "m").is_err());
    }

    #[test]
    fn arguments_that_are_not_an_array_are_refused_with_the_call_name() {
        let e = Args::parse("", "addTasks").err().unwrap();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.starts_with("addTasks:"), "{}", e.message);
        assert!(Args::parse("{}", "join").is_err());
        let a = Args::parse("[1,null]", "x").unwrap();
        assert_eq!(a.at(0).as_u64(), Some(1));
        assert_eq!(a.at(1), &Json::Null);
        assert_eq!(a.at(5), &Json::Null);
    }
}
