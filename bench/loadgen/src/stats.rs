//! Percentiles of latency samples, in milliseconds.

use serde_json::{json, Value};

/// Nearest-rank percentile of sorted `xs` (`q` in 0..=100).
pub fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// `{n, p50, p90, p99, max}` of `xs` (ms), rounded to 0.01.
pub fn summary(xs: &[f64]) -> Value {
    let mut s: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return json!({ "n": 0 });
    }
    json!({
        "n": s.len(),
        "p50": round(pct(&s, 50.0), 2),
        "p90": round(pct(&s, 90.0), 2),
        "p99": round(pct(&s, 99.0), 2),
        "max": round(s[s.len() - 1], 2),
    })
}
