//! `/metrics` from the outside: one scrape checked line by line as the OpenMetrics text
//! format, and scrapes repeated until they show a change (each scrape an event, never a
//! clock deciding).

use std::collections::BTreeMap;
use std::time::Duration;

/// How long a scrape that must show a change may keep being repeated on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// `GET path` with a bearer token when given: (status, head, body).
pub async fn get(addr: &str, path: &str, bearer: Option<&str>) -> (u16, String, String) {
    let auth = bearer
        .map(|b| format!("Authorization: Bearer {b}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    super::http::exchange_raw(s, &req).await
}

/// One scrape with `token`, checked as the exposition format: `name{labels}` → value.
pub async fn scrape(addr: &str, token: &str) -> BTreeMap<String, f64> {
    let (status, head, body) = get(addr, "/metrics", Some(token)).await;
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    parse_exposition(&body)
}

/// The samples of an OpenMetrics text exposition; fails the test on any line that is not
/// `# HELP`, `# TYPE`, `# UNIT`, a sample of a declared family, or the final `# EOF`.
pub fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "no # EOF at the end:\n{text}");
    let mut families: Vec<(String, String)> = Vec::new();
    let mut samples = BTreeMap::new();
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(matches!(kind, "HELP" | "TYPE" | "UNIT"), "{line}");
            assert!(name_ok(name), "{line}");
            if kind == "TYPE" {
                let t = parts.next().unwrap_or("");
                assert!(
                    [
                        "counter",
                        "gauge",
                        "histogram",
                        "info",
                        "stateset",
                        "unknown",
                        "summary"
                    ]
                    .contains(&t),
                    "{line}"
                );
                families.push((name.to_owned(), t.to_owned()));
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let name = series.split('{').next().unwrap();
        assert!(name_ok(name), "{line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}'));
                for pair in inner.expect("labels in braces").split(',') {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    assert!(name_ok(k), "{line}");
                    assert!(
                        v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                        "{line}"
                    );
                }
            }
        }
        let family = families
            .iter()
            .rev()
            .find(|(f, t)| name == f || (t == "counter" && name.strip_suffix("_total") == Some(f)))
            .unwrap_or_else(|| panic!("a sample of no declared family: {line}"));
        assert!(!families.is_empty(), "{family:?}");
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "twice: {line}"
        );
    }
    samples
}

/// A value of a scrape (0 when the series is absent: a counter of nothing yet).
pub fn at(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    m.get(series).copied().unwrap_or(0.0)
}

/// Scrapes until `done` holds for the samples, each scrape an event; fails after PATIENCE.
pub async fn scrape_until(
    addr: &str,
    token: &str,
    what: &str,
    done: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let m = scrape(addr, token).await;
        if done(&m) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still waiting for {what}: {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
