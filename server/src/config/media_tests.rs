//! The media engine settings: the embedded default, an engine from the file with edges, and
//! every missing or malformed engine setting refused with its own code.

use super::super::{Config, FileConfig, Overrides};
use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn nginx() -> Overrides {
    Overrides {
        media: Some(MediaEngine::NginxRtmp),
        media_rtmp_base: Some("rtmp://media.example.com:1935/live".into()),
        media_control: vec!["http://127.0.0.1:8080/control".into()],
        media_hook_secret: Some(SECRET.into()),
        insecure_apps: vec!["dbg".into()],
        ..Default::default()
    }
}

fn code(o: Overrides) -> &'static str {
    Config::resolve(FileConfig::default(), o)
        .unwrap_err()
        .code()
}

#[test]
fn embedded_is_the_default_and_ignores_the_engine_settings() {
    let o = Overrides {
        media: None,
        ..nginx()
    };
    assert!(Config::resolve(FileConfig::default(), o)
        .unwrap()
        .external_media
        .is_none());
}

#[test]
fn an_engine_from_the_file_with_edges() {
    let f: FileConfig = toml::from_str(
        "media = \"srs\"\nmedia_rtmp_base = \"rtmp://o:1935/live\"\nmedia_flv_base = \"http://o:8080/live\"\nmedia_play_bases = [\"rtmp://e1/live\", \"rtmp://e2/live/\"]\nmedia_control = [\"http://o:1985\"]\nmedia_hook_secret = \"0123456789abcdef0123456789abcdef\"\n",
    )
    .unwrap();
    let c = Config::resolve(f, Overrides::default()).unwrap();
    let m = c.external_media.unwrap();
    assert_eq!(m.engine, MediaEngine::Srs);
    assert_eq!(m.play_bases, ["rtmp://e1/live", "rtmp://e2/live"]);
    assert_eq!(m.flv_base.as_deref(), Some("http://o:8080/live"));
    assert_eq!(
        m.control,
        [HttpBase {
            authority: "o:1985".into(),
            path: String::new()
        }]
    );
}

#[test]
fn missing_and_bad_engine_settings_are_typed_errors() {
    let missing = |f: fn(&mut Overrides)| {
        let mut o = nginx();
        f(&mut o);
        code(o)
    };
    assert_eq!(
        missing(|o| o.media_rtmp_base = None),
        "config.media_setting_missing"
    );
    assert_eq!(
        missing(|o| o.media_control.clear()),
        "config.media_setting_missing"
    );
    assert_eq!(
        missing(|o| o.media_hook_secret = None),
        "config.media_setting_missing"
    );
    assert_eq!(
        missing(|o| o.media_hook_secret = Some("short".into())),
        "config.bad_hook_secret"
    );
    assert_eq!(
        missing(|o| o.media_hook_secret = Some(format!("{SECRET}/../x").into())),
        "config.bad_hook_secret"
    );
    for bad in [
        "http://o/live",
        "rtmp://o",
        "rtmp://o/live?x=1",
        "rtmp://user@o/live",
        "rtmp://o:0/live",
        "rtmp://o:99999/live",
    ] {
        let mut o = nginx();
        o.media_rtmp_base = Some(bad.into());
        assert_eq!(code(o), "config.bad_media_base", "{bad}");
    }
    for bad in [
        "https://o/control",
        "http://o/con trol",
        "http://o/c?x",
        "http://[::1]/c",
    ] {
        let mut o = nginx();
        o.media_control = vec![bad.into()];
        assert_eq!(code(o), "config.bad_media_base", "{bad}");
    }
    let mut o = nginx();
    o.media_control = vec!["http://o/c".into(); MAX_NODES + 1];
    assert_eq!(code(o), "config.bad_media_base");
}

#[test]
fn control_bases_split_once() {
    assert_eq!(
        parse_http_base("http://o/control/"),
        Some(HttpBase {
            authority: "o:80".into(),
            path: "/control".into()
        })
    );
}

#[test]
fn hook_sources_are_addresses_or_ranges() {
    let r = |s: &str| IpRange::parse(s).unwrap();
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert!(r("10.0.0.0/8").contains(ip("10.200.3.4")));
    assert!(!r("10.0.0.0/8").contains(ip("11.0.0.1")));
    assert!(r("127.0.0.2").contains(ip("127.0.0.2")));
    assert!(!r("127.0.0.2").contains(ip("127.0.0.1")));
    assert!(
        r("127.0.0.2").contains(ip("::ffff:127.0.0.2")),
        "IPv4-mapped"
    );
    assert!(r("fd00::/8").contains(ip("fd12::1")));
    assert!(!r("fd00::/8").contains(ip("10.0.0.1")));
    assert!(r("0.0.0.0/0").contains(ip("8.8.8.8")));
    for bad in [
        "10.0.0.0/33",
        "::/129",
        "host",
        "10.0.0.0/",
        "10.0.0.0/x",
        "",
    ] {
        assert_eq!(IpRange::parse(bad), None, "{bad}");
    }
    let mut o = nginx();
    o.media_hook_sources = vec!["10.0.0.0/8".into(), "not-an-ip".into()];
    assert_eq!(code(o), "config.bad_hook_source");
}
