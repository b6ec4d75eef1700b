//! The console's files, compiled into the binary: the page, its script and style
//! (`server/console/`), and the FLV player `mpegts.js` (copied from its pinned npm package by
//! `server/build.rs`; empty in a build made without it, and then answered 404).
//!
//! Every file goes out with the same strict headers. The CSP allows scripts and styles from
//! this origin only (so no inline script, no `eval`, nothing from a CDN), fetches to this
//! origin and the HTTP-FLV origin (the preview's stream), media from `blob:` (the player
//! feeds the `<video>` through Media Source Extensions), and no framing (`frame-ancestors
//! 'none'` and `X-Frame-Options: DENY`, against clickjacking of the actions).

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The page.
const INDEX: &str = include_str!("../../console/index.html");
/// Its script (an ES module).
const SCRIPT: &str = include_str!("../../console/console.js");
/// Its style.
const STYLE: &str = include_str!("../../console/console.css");
/// The FLV player, or nothing when the build had no npm packages.
const PLAYER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mpegts.js"));

/// The console's headers, built once from the HTTP-FLV origin.
#[derive(Clone)]
struct Headers {
    csp: HeaderValue,
}

/// The files: path, body, content type.
const FILES: [(&str, &[u8], &str); 5] = [
    ("/console", INDEX.as_bytes(), "text/html; charset=utf-8"),
    ("/console/", INDEX.as_bytes(), "text/html; charset=utf-8"),
    (
        "/console/console.js",
        SCRIPT.as_bytes(),
        "text/javascript; charset=utf-8",
    ),
    (
        "/console/console.css",
        STYLE.as_bytes(),
        "text/css; charset=utf-8",
    ),
    (
        "/console/mpegts.js",
        PLAYER,
        "text/javascript; charset=utf-8",
    ),
];

/// `/console` and its files.
pub(super) fn router(flv_base: &str) -> Router {
    let h = Headers { csp: csp(flv_base) };
    FILES
        .iter()
        .fold(Router::new(), |router, &(path, body, kind)| {
            let h = h.clone();
            router.route(path, get(move || async move { serve(&h, body, kind) }))
        })
}

/// One file with the console's headers; an empty one (the player missing from the build)
/// is a 404, which the page reports.
fn serve(h: &Headers, body: &'static [u8], kind: &'static str) -> Response {
    let status = if body.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let mut resp = (status, body).into_response();
    let hs = resp.headers_mut();
    hs.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    secure(hs, h.csp.clone());
    resp
}

/// The headers every console answer carries, the JSON ones included.
pub(super) fn secure(hs: &mut axum::http::HeaderMap, csp: HeaderValue) {
    hs.insert(header::CONTENT_SECURITY_POLICY, csp);
    hs.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    hs.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    hs.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    hs.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    hs.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

/// The policy of the page: see the module's doc.
pub(super) fn csp(flv_base: &str) -> HeaderValue {
    let flv = flv_origin(flv_base).unwrap_or_default();
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self' {flv}; media-src blob:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             media-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
    })
}

/// `scheme://host[:port]` of an http(s) URL, when it is plain enough to put in a CSP source
/// list (no spaces, quotes, `;` or `,`); `None` otherwise.
fn flv_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    (!authority.is_empty() && !authority.contains('@') && authority.chars().all(plain))
        .then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flv_origin_is_scheme_host_and_port_or_nothing() {
        assert_eq!(
            flv_origin("http://127.0.0.1:8080/live").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            flv_origin("https://edge.example/live?x=1").as_deref(),
            Some("https://edge.example")
        );
        assert_eq!(flv_origin("http://a b/live"), None);
        assert_eq!(flv_origin("http://x;script-src *"), None);
        assert_eq!(flv_origin("http://user:pw@h/live"), None);
        assert_eq!(flv_origin("rtmp://h/live"), None);
    }

    /// A build without npm has no player: its file is a 404 (the page then says previews
    /// need `scripts/setup`), with the same headers as the rest.
    #[test]
    fn a_missing_player_is_a_404_and_every_file_has_the_headers() {
        let h = Headers {
            csp: csp("http://127.0.0.1:9/live"),
        };
        let missing = serve(&h, b"", "text/javascript; charset=utf-8");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let page = serve(&h, INDEX.as_bytes(), "text/html; charset=utf-8");
        assert_eq!(page.status(), StatusCode::OK);
        for r in [&missing, &page] {
            assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
            assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], h.csp);
        }
        assert!(!INDEX.contains("<script>"), "no inline script in the page");
    }

    #[test]
    fn the_policy_names_only_this_origin_and_the_flv_origin() {
        let p = csp("http://127.0.0.1:9/live");
        let p = p.to_str().unwrap();
        assert!(p.contains("script-src 'self';"), "{p}");
        assert!(p.contains("connect-src 'self' http://127.0.0.1:9;"), "{p}");
        assert!(p.contains("frame-ancestors 'none'"), "{p}");
        assert!(!p.contains("unsafe"), "{p}");
    }
}
