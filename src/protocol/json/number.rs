//! Numbers: the value of a number's text without core's float parser, and decimal writing
//! without `fmt` (both for the wasm's size).

use super::*;

/// The value of a number's text, already checked against the JSON grammar.
///
/// Not core's correctly rounded `str::parse::<f64>`: its tables and code are about 14 KB of
/// the wasm. The first 19 significant digits are kept exactly and scaled by a power of ten
/// ([`scale10`]), so the result is within a few units in the last place of the exact value. Fractions only come from
/// component reports (frame rates, cache sizes), where that is far below noise; the wire's
/// integers never come here and stay exact.
pub(super) fn decimal_to_f64(t: &[u8]) -> f64 {
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
        // `i` is at most `t.len()` here; `get` because indexing would add a panic path.
        for &c in t.get(i..).unwrap_or_default() {
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

/// Append `n` in decimal (also used for messages, instead of `format!`). Recursive rather than
/// through a digit buffer: no index, so no bounds check and panic path in the wasm.
pub fn write_u64(out: &mut String, n: u64) {
    if n >= 10 {
        write_u64(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Write `n` in decimal, without the `fmt` machinery (kept out of the wasm).
pub fn write_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Fractions only occur in values read from elsewhere (component reports) and written back
/// in tests or logs; the wire's own numbers are integers. Rust's shortest round-trip form.
pub(super) fn write_f64(out: &mut String, f: f64) {
    use core::fmt::Write;
    if f.is_finite() {
        let _ = write!(out, "{f}");
    } else {
        out.push_str("null");
    }
}
