//! Signed media URLs: round trips, tampering, expiry, viewers and nonces.

use super::*;

const NOW: u64 = 1_700_000_000;

fn signer() -> MediaSigner {
    MediaSigner::new(
        b"test-secret-0123456789".to_vec(),
        "rtmp://127.0.0.1:1935/live/",
        "http://127.0.0.1:8081/live",
        600,
    )
}

/// Splits a generated URL into (stream name, query) the way the servers do.
fn split(url: &str) -> (String, String) {
    let (path, query) = url.split_once('?').unwrap();
    let name = path.rsplit('/').next().unwrap();
    let name = name.strip_suffix(".flv").unwrap_or(name);
    (name.to_owned(), query.to_owned())
}

/// Asserts that `s` refuses (`name`, `query`) as a `kind` URL at [`NOW`] for `why`.
#[track_caller]
fn refused(s: &MediaSigner, kind: UrlKind, name: &str, query: &str, why: AdmissionError) {
    assert_eq!(s.verify(kind, name, query, NOW), Err(why), "{name}?{query}");
}

fn sig_of(url: &str) -> String {
    url.split("s=").nth(1).unwrap().to_owned()
}

#[test]
fn url_shapes() {
    let s = signer();
    let push = s.push_url("room_1", 42, NOW);
    assert!(push.starts_with("rtmp://127.0.0.1:1935/live/room_1.42?k=push&e=1700000600&n=1&s="));
    let play = s.play_urls("room_1", 42, 7, NOW);
    assert!(play
        .rtmp
        .starts_with("rtmp://127.0.0.1:1935/live/room_1.42?k=play&v=7&e=1700000600&n=2&s="));
    assert!(play
        .flv
        .starts_with("http://127.0.0.1:8081/live/room_1.42.flv?k=play&v=7&e=1700000600&n=2&s="));
    // Minted in the same second, for the same member: still a new string, and both verify.
    let again = s.push_url("room_1", 42, NOW);
    assert_ne!(again, push);
    for u in [&push, &again] {
        let (n, q) = split(u);
        assert!(s.verify(UrlKind::Push, &n, &q, NOW).is_ok());
    }
    // The nonce is signed: changing it breaks the URL.
    let (n, q) = split(&again);
    let forged = q.replace("&n=3&", "&n=4&");
    assert_ne!(forged, q);
    refused(&s, UrlKind::Push, &n, &forged, AdmissionError::BadSignature);
    let nonsense = q.replace("&n=3&", "&n=x&");
    refused(&s, UrlKind::Push, &n, &nonsense, AdmissionError::Malformed);
    // 32-byte MAC, base64url without padding.
    assert_eq!(sig_of(&push).len(), 43);
    assert!(!sig_of(&push).contains(['=', '+', '/']));
}

#[test]
fn accepts_own_urls() {
    let s = signer();
    let (n, q) = split(&s.push_url("r-1", 42, NOW));
    assert_eq!(
        s.verify(UrlKind::Push, &n, &q, NOW + 600),
        Ok(Admitted {
            room: "r-1".into(),
            uid: 42,
            viewer: None
        })
    );
    let urls = s.play_urls("r-1", 42, 7, NOW);
    for url in [urls.rtmp, urls.flv] {
        let (n, q) = split(&url);
        assert_eq!(
            s.verify(UrlKind::Play, &n, &q, NOW),
            Ok(Admitted {
                room: "r-1".into(),
                uid: 42,
                viewer: Some(7)
            })
        );
    }
}

#[test]
fn bases_do_not_matter_for_verify() {
    let (n, q) = split(&signer().push_url("r", 1, NOW));
    let other = MediaSigner::new(signer().secret, "rtmp://x/y", "http://x/y", 1);
    assert!(other.verify(UrlKind::Push, &n, &q, NOW).is_ok());
}

#[test]
fn rejects_forged_signature() {
    let s = signer();
    let (n, q) = split(&s.push_url("r", 1, NOW));
    let sig = sig_of(&q);
    let mut forged = sig.clone().into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let q2 = q.replace(&sig, std::str::from_utf8(&forged).unwrap());
    refused(&s, UrlKind::Push, &n, &q2, AdmissionError::BadSignature);
    // Right shape, wrong secret.
    let evil = MediaSigner::new(b"guess".to_vec(), "", "", 600);
    let (n, q) = split(&evil.push_url("r", 1, NOW));
    refused(&s, UrlKind::Push, &n, &q, AdmissionError::BadSignature);
    // Truncated signature (40 chars decode cleanly to 30 bytes).
    let (n, q) = split(&s.push_url("r", 1, NOW));
    let q3 = &q[..q.len() - 3];
    refused(&s, UrlKind::Push, &n, q3, AdmissionError::BadSignature);
}

#[test]
fn rejects_other_room_uid_viewer_or_expiry() {
    let s = signer();
    let (_, q) = split(&s.push_url("r", 1, NOW));
    refused(&s, UrlKind::Push, "r.2", &q, AdmissionError::BadSignature);
    refused(
        &s,
        UrlKind::Push,
        "other.1",
        &q,
        AdmissionError::BadSignature,
    );
    // Extending the expiry invalidates the signature.
    let q_ext = q.replace("e=1700000600", "e=1800000600");
    refused(
        &s,
        UrlKind::Push,
        "r.1",
        &q_ext,
        AdmissionError::BadSignature,
    );
    // Impersonating another viewer.
    let (n, q) = split(&s.play_urls("r", 1, 7, NOW).rtmp);
    let q_v = q.replace("v=7", "v=8");
    refused(&s, UrlKind::Play, &n, &q_v, AdmissionError::BadSignature);
}

#[test]
fn rejects_wrong_kind() {
    let s = signer();
    let (n, q) = split(&s.push_url("r", 1, NOW));
    refused(&s, UrlKind::Play, &n, &q, AdmissionError::WrongKind);
    let (n, q) = split(&s.play_urls("r", 1, 7, NOW).flv);
    refused(&s, UrlKind::Push, &n, &q, AdmissionError::WrongKind);
    // Flipping k= without re-signing is a bad signature, not a kind error.
    let q2 = q.replace("k=play", "k=push").replace("v=7&", "");
    refused(&s, UrlKind::Push, &n, &q2, AdmissionError::BadSignature);
}

#[test]
fn rejects_expired() {
    let s = signer();
    let (n, q) = split(&s.push_url("r", 1, NOW));
    assert!(s.verify(UrlKind::Push, &n, &q, NOW + 600).is_ok());
    assert_eq!(
        s.verify(UrlKind::Push, &n, &q, NOW + 601),
        Err(AdmissionError::Expired)
    );
    let (n, q) = split(&s.play_urls("r", 1, 2, NOW).rtmp);
    assert_eq!(
        s.verify(UrlKind::Play, &n, &q, u64::MAX),
        Err(AdmissionError::Expired)
    );
}

#[test]
fn rejects_garbage() {
    let s = signer();
    let (n, q) = split(&s.play_urls("r", 1, 2, NOW).rtmp);
    let m = Err(AdmissionError::Malformed);
    for (name, query) in [
        (n.as_str(), ""),
        (n.as_str(), "garbage"),
        (n.as_str(), "k=play&e=1&s=AAAA"), // play without viewer
        (n.as_str(), "k=push&v=1&e=1&s=AAAA"), // push with viewer
        (n.as_str(), "k=view&v=1&e=1&s=AAAA"), // unknown kind
        (n.as_str(), "k=play&v=x&e=1&s=AAAA"), // non-numeric viewer
        (n.as_str(), "k=play&v=1&e=-1&s=AAAA"), // bad expiry
        (n.as_str(), "k=play&v=1&e=1&s=!!"), // not base64url
        (n.as_str(), "k=play&k=play&v=1&e=1&s=AAAA"), // duplicate key
        ("r", q.as_str()),                 // no uid
        ("r.", q.as_str()),
        ("r.+1", q.as_str()),
        ("r.01", q.as_str()),
        ("r.18446744073709551616", q.as_str()), // u64 overflow
        (".1", q.as_str()),
        ("r/x.1", q.as_str()),
        ("r x.1", q.as_str()),
        ("é.1", q.as_str()),
    ] {
        assert_eq!(
            s.verify(UrlKind::Play, name, query, NOW),
            m,
            "{name}?{query}"
        );
    }
    let long = format!("{}.1", "a".repeat(65));
    assert_eq!(s.verify(UrlKind::Play, &long, &q, NOW), m);
    // Unknown extra parameters are ignored.
    let q_extra = format!("{q}&foo=bar");
    assert!(s.verify(UrlKind::Play, &n, &q_extra, NOW).is_ok());
}

#[test]
fn secrets_never_printed() {
    let s = signer();
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("test-secret"), "{dbg}");
    let (_, q) = split(&s.push_url("r", 1, NOW));
    let sig = sig_of(&q);
    for e in [
        AdmissionError::Malformed,
        AdmissionError::BadSignature,
        AdmissionError::Expired,
        AdmissionError::WrongKind,
    ] {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(&sig) && !text.contains("test-secret") && !text.contains("s="));
        }
        assert!(e.code().starts_with("media."));
    }
}

/// An external engine's edges: each viewer plays from one edge (`viewer % edges`), always the
/// same; pushes stay on the origin; the URL verifies wherever it is played (the signature
/// covers the stream, not the host).
#[test]
fn play_urls_spread_viewers_over_edges() {
    let edges = vec!["rtmp://e0/live".to_owned(), "rtmp://e1/live/".to_owned()];
    let s = signer().with_play_bases(edges);
    for (viewer, edge) in [(2, "rtmp://e0/live/r1.7?"), (3, "rtmp://e1/live/r1.7?")] {
        let urls = s.play_urls("r1", 7, viewer, NOW);
        assert!(urls.rtmp.starts_with(edge), "{}", urls.rtmp);
        assert!(
            urls.flv.starts_with("http://127.0.0.1:8081/live/"),
            "{}",
            urls.flv
        );
        let (name, query) = split(&urls.rtmp);
        assert_eq!(
            s.verify(UrlKind::Play, &name, &query, NOW).unwrap().viewer,
            Some(viewer)
        );
    }
    assert!(s
        .push_url("r1", 7, NOW)
        .starts_with("rtmp://127.0.0.1:1935/live/r1.7?"));
}
