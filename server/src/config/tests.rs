use super::settings::parse_message;
use super::*;

/// What the flags `o` alone (no file) resolve to.
fn flags(o: Overrides) -> Result<Config, ConfigError> {
    Config::resolve(FileConfig::default(), o)
}

fn parse(s: &str) -> Result<FileConfig, toml::de::Error> {
    toml::from_str(s)
}

#[test]
fn file_env_flags_precedence() {
    let f = parse(
        "listen = \"0.0.0.0:9000\"\nurl_ttl_secs = 60\n[[apps]]\nkey = \"a\"\nsecret = \"s\"\n",
    )
    .unwrap();
    let o = Overrides {
        listen: Some("127.0.0.1:1".parse().unwrap()),
        insecure_apps: vec!["dbg".into()],
        ..Default::default()
    };
    let c = Config::resolve(f, o).unwrap();
    assert_eq!(c.listen.port(), 1);
    assert_eq!(c.url_ttl_secs, 60);
    assert!(c.apps["dbg"].insecure);
    assert_eq!(c.apps["a"].secret.as_ref().map(Secret::expose), Some("s"));
}

#[test]
fn bad_configs_are_typed_errors() {
    assert!(parse("nonsense = 1").is_err());
    assert!(parse("listen = \"not an address\"").is_err());
    let e = |f: &str, o: Overrides| Config::resolve(parse(f).unwrap(), o).unwrap_err().code();
    assert_eq!(
        e("[[apps]]\nkey = \"a\"\n", Overrides::default()),
        "config.app_without_secret"
    );
    assert_eq!(
        e(
            "[[apps]]\nkey = \"a b\"\ninsecure = true\n",
            Overrides::default()
        ),
        "config.bad_app_key"
    );
    assert_eq!(
        e(
            "",
            Overrides {
                apps: vec!["nosecret".into()],
                ..Default::default()
            }
        ),
        "config.bad_app_flag"
    );
    assert_eq!(
        e(
            "",
            Overrides {
                insecure_apps: vec!["x".into(), "x".into()],
                ..Default::default()
            }
        ),
        "config.duplicate_app"
    );
    assert_eq!(
        e("max_frame_bytes = 1", Overrides::default()),
        "config.bad_frame_limit"
    );
    assert_eq!(
        e("url_ttl_secs = 0", Overrides::default()),
        "config.bad_ttl"
    );
    assert_eq!(
        e("ping_interval_ms = 50", Overrides::default()),
        "config.bad_heartbeat"
    );
    assert_eq!(
        e(
            "ping_interval_ms = 1000\nping_timeout_ms = 500",
            Overrides::default()
        ),
        "config.bad_heartbeat"
    );
}

#[test]
fn listen_limits_resolve_and_bad_ones_are_typed_errors() {
    let c = flags(Overrides::default()).unwrap();
    assert_eq!(c.listen_limits, crate::listen::ListenLimits::default());
    let c = Config::resolve(
        parse("rtmp_max_connections = 5\nhttp_header_timeout_ms = 2000").unwrap(),
        Overrides {
            rtmp_max_connections_per_ip: Some(2),
            rtmp_admission_timeout_ms: Some(500),
            ..Default::default()
        },
    )
    .unwrap();
    let l = c.listen_limits;
    assert_eq!((l.rtmp.total, l.rtmp.per_ip), (5, 2));
    assert_eq!(l.header_timeout.as_millis(), 2000);
    assert_eq!(l.rtmp_admission_timeout.as_millis(), 500);
    // A default per-IP cap above a small total shrinks to it.
    let c = Config::resolve(parse("max_connections = 3").unwrap(), Overrides::default());
    assert_eq!(c.unwrap().listen_limits.signaling.per_ip, 3);
    let e = |f: &str| {
        Config::resolve(parse(f).unwrap(), Overrides::default())
            .unwrap_err()
            .code()
    };
    for bad in [
        "max_connections = 0",
        "flv_max_connections_per_ip = 0",
        "rtmp_max_connections = 4\nrtmp_max_connections_per_ip = 5",
    ] {
        assert_eq!(e(bad), "config.bad_connection_limit", "{bad}");
    }
    for bad in [
        "http_header_timeout_ms = 0",
        "rtmp_admission_timeout_ms = 600001",
    ] {
        assert_eq!(e(bad), "config.bad_listen_timeout", "{bad}");
    }
}

#[test]
fn origins_are_normalized_and_validated() {
    for (given, want) in [
        ("https://App.Example.com", "https://app.example.com"),
        ("HTTPS://app.example.com/", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:80/", "http://app.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://xn--fsq.example", "https://xn--fsq.example"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://[0:0::1]", "http://[::1]"),
        (" https://a.example ", "https://a.example"),
    ] {
        assert_eq!(normalize_origin(given).as_deref(), Some(want), "{given}");
    }
    for bad in [
        "",
        "null",
        "*",
        "app.example.com",
        "ftp://app.example.com",
        "wss://app.example.com",
        "https://",
        "https://app.example.com/path",
        "https://app.example.com//",
        "https://app.example.com?x=1",
        "https://app.example.com#x",
        "https://user@app.example.com",
        "https://user:pw@app.example.com",
        "https://app.example.com:",
        "https://app.example.com:0",
        "https://app.example.com:65536",
        "https://app.example.com:+80",
        "https://app..example.com",
        "https://app_example.com",
        "https://例子.example",
        "http://[::1",
        "http://[nope]",
        "http://[::1]x",
    ] {
        assert_eq!(normalize_origin(bad), None, "{bad:?}");
    }
}

#[test]
fn allowed_origins_from_file_replaced_by_overrides() {
    let f = || parse("allowed_origins = [\"https://F.example/\"]").unwrap();
    let c = Config::resolve(f(), Overrides::default()).unwrap();
    assert_eq!(c.allowed_origins, ["https://f.example"]);
    let o = Overrides {
        allowed_origins: vec!["http://o.example:8080".into(), "https://p.example".into()],
        ..Default::default()
    };
    let c = Config::resolve(f(), o).unwrap();
    assert_eq!(
        c.allowed_origins,
        ["http://o.example:8080", "https://p.example"]
    );
    let c = flags(Overrides::default()).unwrap();
    assert!(c.allowed_origins.is_empty(), "default: any origin");
    let e = flags(Overrides {
        allowed_origins: vec!["https://ok.example".into(), "https://x.example/p".into()],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.code(), "config.bad_origin");
    assert!(e.to_string().contains("\"https://x.example/p\""), "{e}");
}

#[test]
fn short_or_empty_media_secrets_refused() {
    for (file, flag) in [
        (Some(""), None),
        (Some("short"), None),
        (None, Some("")),
        (None, Some("x".repeat(MIN_MEDIA_SECRET - 1).as_str())),
    ] {
        let f = FileConfig {
            media_secret: file.map(Into::into),
            ..Default::default()
        };
        let o = Overrides {
            media_secret: flag.map(Into::into),
            ..Default::default()
        };
        let e = Config::resolve(f, o).unwrap_err();
        assert_eq!(e.code(), "config.bad_media_secret");
    }
    let ok = Overrides {
        media_secret: Some("y".repeat(MIN_MEDIA_SECRET).into()),
        ..Default::default()
    };
    assert!(flags(ok).is_ok());
}

#[test]
fn secrets_never_printed() {
    let f = parse(
        "media_secret = \"m-secret-1-0123456789abcdef0123456789\"\n[[apps]]\nkey = \"a\"\nsecret = \"a-secret-1\"\n",
    )
    .unwrap();
    let o = Overrides {
        media_secret: Some("m-secret-2-0123456789abcdef0123456789".into()),
        apps: vec!["b:a-secret-2".into()],
        ..Default::default()
    };
    let shown = [format!("{f:?}"), format!("{o:?}")];
    let c = Config::resolve(f, o.clone()).unwrap();
    for text in shown.iter().chain([&format!("{c:?}"), &format!("{c:#?}")]) {
        for secret in ["m-secret-1", "m-secret-2", "a-secret-1", "a-secret-2"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("<redacted>"), "{text}");
    }
    assert!(format!("{c:?}").contains("key: \"b\""));
    // A malformed --app entry may be a bare secret: its error does not repeat it.
    let e = flags(Overrides {
        apps: vec!["a:s".into(), "a-secret-3".into()],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.code(), "config.bad_app_flag");
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("a-secret-3") && text.contains('2'), "{text}");
    }
    // Nor does a file that fails to parse on a line holding a secret.
    let text = "listen = \"127.0.0.1:1\"\n[[apps]]\nkey = \"a\"\nsecret = a-secret-4\n";
    let err = toml::from_str::<FileConfig>(text).unwrap_err();
    let msg = parse_message(text, &err);
    assert!(msg.starts_with("line 4, column 10: "), "{msg}");
    assert!(!msg.contains("a-secret-4"), "{msg}");
}

#[test]
fn flag_only_settings_are_unknown_to_the_file() {
    for key in [
        "config = \"x.toml\"",
        "insecure_apps = [\"a\"]",
        "file_apps = []",
    ] {
        let e = parse(key).unwrap_err();
        assert!(e.message().contains("unknown field"), "{key}: {e}");
    }
    // `apps` in the file is the `[[apps]]` tables, not `--app` entries.
    assert!(parse("apps = [\"a:secret\"]").is_err());
    let f = parse("[[apps]]\nkey = \"a\"\nsecret = \"s\"\n[tasks]\nimages = false\n").unwrap();
    assert_eq!(f.file_apps.len(), 1);
    assert!(f.apps.is_empty());
}

#[test]
fn settings_laid_over_others_win_where_given() {
    let file = parse(
        "url_ttl_secs = 60\nmax_rooms = 5\nallowed_origins = [\"https://a.example\"]\n[tasks]\nimages = false\n",
    )
    .unwrap();
    let flags = Overrides {
        url_ttl_secs: Some(70),
        apps: vec!["k:s".into()],
        ..Default::default()
    };
    let s = flags.over(file);
    assert_eq!((s.url_ttl_secs, s.max_rooms), (Some(70), Some(5)));
    assert_eq!(s.allowed_origins, ["https://a.example"]);
    assert_eq!(s.apps, [AppFlag::from("k:s")]);
    assert!(!s.tasks.images);
    let debug = format!("{s:?}");
    assert!(
        debug.contains("k:<redacted>") && !debug.contains("k:s"),
        "{debug}"
    );
}

/// `trusted_proxies` are addresses or ranges; the flags' list replaces the file's whole, and
/// anything else stops the server with its own code.
#[test]
fn trusted_proxies_are_ranges_and_the_flags_replace_the_file() {
    let dbg = || Overrides {
        insecure_apps: vec!["dbg".into()],
        ..Default::default()
    };
    let f = parse("trusted_proxies = [\"10.0.0.0/8\"]\n");
    let c = Config::resolve(f.unwrap(), dbg()).unwrap();
    assert_eq!(
        c.trusted_proxies,
        vec![IpRange::parse("10.0.0.0/8").unwrap()]
    );
    let f = parse("trusted_proxies = [\"10.0.0.0/8\"]\n");
    let o = Overrides {
        trusted_proxies: vec!["127.0.0.1".into()],
        ..dbg()
    };
    let c = Config::resolve(f.unwrap(), o).unwrap();
    assert_eq!(
        c.trusted_proxies,
        vec![IpRange::parse("127.0.0.1").unwrap()]
    );
    let o = Overrides {
        trusted_proxies: vec!["10.0.0.0/33".into()],
        ..dbg()
    };
    assert_eq!(flags(o).unwrap_err().code(), "config.bad_trusted_proxy");
}
