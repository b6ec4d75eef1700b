//! The lenient readers: a number may come as a string, a payload may be wrapped in `detail`
//! or `info`, and what cannot be read is left out rather than refused (see the module above).

use crate::prelude::*;
use crate::protocol::json::{self, Json, Num};

use super::{ComponentError, ComponentErrorCode, PlayerState, PusherState};

/// A number, or a string holding one (surrounding spaces allowed). Not finite → `None`.
pub(super) fn number(v: &Json) -> Option<f64> {
    let n = match v {
        Json::Num(n) => n.as_f64(),
        // The wire's own number reader: JSON number syntax, and no second float parser in
        // the wasm.
        Json::Str(s) => json::number_in(s)?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// A whole number (a fraction is not a code). Out of `i64` range → `None`.
pub(super) fn integer(v: &Json) -> Option<i64> {
    if let Json::Num(Num::U(_) | Num::I(_)) = v {
        if let Some(i) = v.as_i64() {
            return Some(i);
        }
    }
    let n = number(v)?;
    // In range, a whole number is one the cast leaves unchanged (`f64::fract` needs std).
    (n >= i64::MIN as f64 && n <= i64::MAX as f64 && (n as i64) as f64 == n).then_some(n as i64)
}

/// A non-negative amount; fractions are rounded.
pub(super) fn amount(v: &Json) -> Option<u32> {
    let n = number(v)?;
    (n >= 0.0 && n <= u32::MAX as f64).then(|| round(n) as u32)
}

/// Half away from zero, as `f64::round` (which needs std). The casts saturate.
fn round(n: f64) -> f64 {
    if n >= 0.0 {
        ((n + 0.5) as i64) as f64
    } else {
        ((n - 0.5) as i64) as f64
    }
}

/// A signed whole amount (an A/V time difference); fractions are rounded.
pub(super) fn signed(v: &Json) -> Option<i64> {
    let n = number(v)?;
    (n >= i64::MIN as f64 && n <= i64::MAX as f64).then(|| round(n) as i64)
}

/// A string as it is; a number is not taken for text.
pub(super) fn text(v: &Json) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// The code of a statechange payload: `{code}`, `{detail: {code}}` or the bare code.
fn state_code(v: &Json) -> Option<i64> {
    match v {
        Json::Obj(_) => match v.get("code") {
            Some(c) => integer(c),
            None => v.get("detail").and_then(state_code),
        },
        other => integer(other),
    }
}

/// `<live-pusher>` `bindstatechange`. `None` when the payload has no readable code.
pub fn parse_pusher_state(v: &Json) -> Option<PusherState> {
    state_code(v).map(PusherState::from_code)
}

/// `<live-player>` `bindstatechange`. `None` when the payload has no readable code.
pub fn parse_player_state(v: &Json) -> Option<PlayerState> {
    state_code(v).map(PlayerState::from_code)
}

/// `binderror`: `{errCode, errMsg}` or `{detail: {...}}` around it. `None` when neither is
/// readable.
pub fn parse_component_error(v: &Json) -> Option<ComponentError> {
    let o = v;
    if !o.is_object() {
        return None;
    }
    let code = o
        .get("errCode")
        .or_else(|| o.get("code"))
        .and_then(integer)
        .map(ComponentErrorCode::from_code);
    let message = o.get("errMsg").or_else(|| o.get("message")).and_then(text);
    if code.is_none() && message.is_none() {
        return o.get("detail").and_then(parse_component_error);
    }
    Some(ComponentError { code, message })
}
