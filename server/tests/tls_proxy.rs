//! `deploy/nginx/mprtc.conf` as it is (only its `@PLACEHOLDERS@` replaced), in Debian's nginx
//! with a certificate made for the test by `openssl`, in front of the `mprtc-server` binary
//! started from `deploy/mprtc.toml`: members join and hear each other over `wss://`, the server
//! API, `/healthz`, `/readyz` and `/metrics` answer over `https://`, what must not face the
//! internet does not, and the server counts every client behind the proxy as the proxy's
//! address (it does not read X-Forwarded-For), as the README and SECURITY.md say.

mod engine;

use std::path::Path;

use engine::nginx::{self, Nginx};
use engine::tls;
use engine::*;
use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// The name the test certificate is for, and the `server_name` of the proxy.
const NAME: &str = "mprtc.test";
/// The metrics token the server is given.
const METRICS_TOKEN: &str = "tls-proxy-metrics-token-0123456789abcdef";
/// The console token the server is given.
const CONSOLE_TOKEN: &str = "tls-proxy-console-token-0123456789abcdef";

/// A WebSocket over TLS to the proxy.
type Wss = Socket<TlsStream<TcpStream>>;

/// The server behind the proxy, and the proxy; both stopped when dropped.
struct Deployment {
    proxy: Proxy,
    server: ServerProc,
    _cleanup: Cleanup,
}

/// nginx running `deploy/nginx/mprtc.conf` on 127.0.0.1:`port`, and a TLS client that trusts
/// the test certificate only.
struct Proxy {
    _nginx: Nginx,
    port: u16,
    tls: tokio_rustls::TlsConnector,
}

impl Proxy {
    /// Starts nginx under `dir` with the deploy configuration in front of `upstream`.
    async fn start(dir: &Path, upstream: &str) -> Self {
        let (cert, key, der) = tls::certificate(dir, NAME);
        let port = free_ports(1)[0];
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/mprtc.conf");
        let site = nginx::replace(
            "mprtc.conf",
            std::fs::read_to_string(src).unwrap(),
            &[
                ("LISTEN", format!("127.0.0.1:{port}")),
                ("SERVER_NAME", NAME.to_owned()),
                ("CERTIFICATE", cert.display().to_string()),
                ("CERTIFICATE_KEY", key.display().to_string()),
                ("UPSTREAM", upstream.to_owned()),
            ],
        );
        let site_path = dir.join("mprtc.conf");
        std::fs::write(&site_path, site).unwrap();
        let main = tls::http_main(&site_path);
        let nginx = nginx::spawn("mprtc.conf", &main, dir, &[port]).await;
        Self {
            _nginx: nginx,
            port,
            tls: tls::connector(der),
        }
    }

    /// A TLS connection to the proxy from the loopback address `from` (any of 127.0.0.0/8),
    /// the certificate checked against [`NAME`].
    async fn tls(&self, from: &str) -> TlsStream<TcpStream> {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let tcp = sock
            .connect(([127, 0, 0, 1], self.port).into())
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from(NAME).unwrap();
        self.tls.connect(name, tcp).await.unwrap()
    }

    /// Opens `wss://mprtc.test/ws` from `from`: the socket, or the handshake's error.
    async fn wss(&self, from: &str) -> Result<Wss, tokio_tungstenite::tungstenite::Error> {
        let tls = self.tls(from).await;
        let url = format!("wss://{NAME}/ws");
        tokio::time::timeout(DEADLINE, tokio_tungstenite::client_async(url, tls))
            .await
            .expect("a handshake within the deadline")
            .map(|(ws, _)| ws)
    }

    /// A member of app `sec`'s `room` as `uid`, over `wss://` from `from`.
    async fn member(&self, from: &str, room: &str, uid: u64) -> Wss {
        let mut ws = self.wss(from).await.unwrap();
        join(&mut ws, room, uid).await;
        ws
    }

    /// One HTTPS request with `headers` (each ending in CRLF): (status, body).
    async fn https(&self, method: &str, path: &str, headers: &str) -> (u16, String) {
        self.https_from("127.0.0.1", (method, path), headers).await
    }

    /// [`Proxy::https`] from the loopback address `from`.
    async fn https_from(
        &self,
        from: &str,
        (method, path): (&str, &str),
        headers: &str,
    ) -> (u16, String) {
        let mut s = self.tls(from).await;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {NAME}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut resp = Vec::new();
        // nginx closes after the answer; a TLS peer may skip close_notify, which is not an error
        // for a body already read in full.
        let _ = tokio::time::timeout(DEADLINE, s.read_to_end(&mut resp))
            .await
            .expect("an answer within the deadline");
        let resp = String::from_utf8_lossy(&resp).into_owned();
        let status = resp.split(' ').nth(1).and_then(|s| s.parse().ok());
        let body = resp.split_once("\r\n\r\n").map(|x| x.1.to_owned());
        (status.unwrap_or(0), body.unwrap_or_default())
    }
}

/// An `Authorization` header line for app `sec` with `secret`.
fn basic(secret: &str) -> String {
    use base64::Engine as _;
    let c = base64::engine::general_purpose::STANDARD.encode(format!("sec:{secret}"));
    format!("Authorization: Basic {c}\r\n")
}

/// `mprtc-server` from `deploy/mprtc.toml` (listeners on loopback, the engine suite's app
/// `sec`, the metrics token, `more`), with the proxy in front of it.
async fn deployment(tag: &str, more: &[&str]) -> Option<Deployment> {
    if !nginx::installed("tls_proxy", &[nginx::NGINX, "/usr/bin/openssl"]) {
        return None;
    }
    let dir = temp_dir(tag);
    let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/mprtc.toml");
    let mut args: Vec<String> = ["--config", toml.to_str().unwrap()]
        .into_iter()
        .chain([
            "--rtmp-listen",
            "127.0.0.1:0",
            "--flv-listen",
            "127.0.0.1:0",
        ])
        .chain([
            "--public-host",
            "127.0.0.1",
            "--metrics-token",
            METRICS_TOKEN,
            "--console-token",
            CONSOLE_TOKEN,
        ])
        .map(String::from)
        .collect();
    args.extend(more.iter().map(|s| s.to_string()));
    let server = ServerProc::start(&args, &dir.join("server.log"));
    let proxy = Proxy::start(&dir, &server.addr).await;
    Some(Deployment {
        proxy,
        server,
        _cleanup: Cleanup(dir),
    })
}

#[tokio::test]
async fn members_join_and_hear_each_other_over_wss_through_the_proxy() {
    let Some(d) = deployment("tls-members", &[]).await else {
        return;
    };
    let mut alice = d.proxy.member("127.0.0.2", "tls", 1).await;
    let mut bob = d.proxy.member("127.0.0.3", "tls", 2).await;
    event_about(&mut alice, "member-joined", 2).await;
    // Requests are answered through it too (stream-added waits for real media: not here).
    let url = publish(&mut bob).await;
    assert!(url.starts_with("rtmp://127.0.0.1:"), "{url}");
    // The server API over https: a kick reaches the member over wss.
    let path = "/api/v1/rooms/tls/members/2/kick";
    let (status, body) = d.proxy.https("POST", path, &basic(APP_SECRET)).await;
    assert_eq!(status, 200, "{body}");
    event(&mut bob, "kicked").await;
    event_about(&mut alice, "member-left", 2).await;
    // A close through the proxy is the member's leave (1000), as without it.
    let mut carol = d.proxy.member("127.0.0.4", "tls", 3).await;
    event_about(&mut alice, "member-joined", 3).await;
    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    carol.send(Message::Close(Some(bye))).await.unwrap();
    event_about(&mut alice, "member-left", 3).await;
}

#[tokio::test]
async fn health_readiness_metrics_and_the_console_answer_over_https_and_nothing_else_does() {
    let Some(d) = deployment("tls-http", &["--debug-token-endpoint"]).await else {
        return;
    };
    let p = &d.proxy;
    assert_eq!(p.https("GET", "/healthz", "").await, (200, "ok".to_owned()));
    let (status, body) = p.https("GET", "/readyz", "").await;
    assert_eq!(
        (status, body.contains("\"ready\":true")),
        (200, true),
        "{body}"
    );
    let bearer = format!("Authorization: Bearer {METRICS_TOKEN}\r\n");
    let (status, body) = p.https("GET", "/metrics", &bearer).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("mprtc_build_info"), "{body}");
    assert_eq!(p.https("GET", "/metrics", "").await.0, 401);
    // The operator console: its page, and its API with its own token only.
    let (status, page) = p.https("GET", "/console", "").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("console.js"), "{page}");
    let console = format!("Authorization: Bearer {CONSOLE_TOKEN}\r\n");
    let (status, body) = p.https("GET", "/console/api/overview", &console).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"rooms\""), "{body}");
    assert_eq!(
        p.https("GET", "/console/api/overview", &bearer).await.0,
        401
    );
    // The server serves these (the debug endpoint is on here), the proxy does not.
    let debug = "/api/v1/debug/token?appkey=sec&room=r&uid=1";
    assert_eq!(
        http(&d.server.addr, "GET", debug, None, "", b"").await.0,
        200
    );
    assert_eq!(p.https("GET", debug, "").await.0, 404);
}

#[tokio::test]
async fn the_server_counts_every_client_behind_the_proxy_as_the_proxys_address() {
    let Some(d) = deployment("tls-caps", &["--max-connections-per-ip", "2"]).await else {
        return;
    };
    // Two clients from two addresses fill the per-address cap of 2: the server sees nginx's.
    let _alice = d.proxy.member("127.0.0.2", "caps", 1).await;
    let _bob = d.proxy.member("127.0.0.3", "caps", 2).await;
    let third = d.proxy.wss("127.0.0.4").await;
    match third {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 502),
        other => panic!("a third client through the proxy was not refused: {other:?}"),
    }
    // Straight to the server, the same client is its own address and gets in.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.4:0".parse().unwrap()).unwrap();
    let tcp = sock.connect(d.server.addr.parse().unwrap()).await.unwrap();
    let url = format!("ws://{}/ws", d.server.addr);
    let (mut direct, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    join(&mut direct, "caps", 3).await;
}

#[tokio::test]
async fn the_proxy_caps_each_client_address_where_the_server_cannot() {
    let Some(d) = deployment("tls-per-address", &[]).await else {
        return;
    };
    // deploy/mprtc.toml lifts the server's per-address cap to its total; nginx's limit_conn
    // holds each client address to the server's default of 64 instead.
    let mut held = Vec::new();
    for _ in 0..64 {
        held.push(d.proxy.wss("127.0.0.2").await.unwrap());
    }
    match d.proxy.wss("127.0.0.2").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 429),
        other => panic!("a 65th connection of one client got through: {other:?}"),
    }
    // Another client, and the 64 still open, are served.
    let mut other = d.proxy.member("127.0.0.3", "per-address", 1).await;
    join(&mut held[63], "per-address", 2).await;
    event_about(&mut other, "member-joined", 2).await;
}

/// A server-API call any app backend makes.
const KICK: (&str, &str) = ("POST", "/api/v1/rooms/caps/members/1/kick");

/// Wrong secrets from `from` through the proxy until the throttle answers 429 (fewer than 20).
async fn guess_until_locked_out(d: &Deployment, from: &str) {
    let mut refused = 0;
    while refused < 20 {
        match d.proxy.https_from(from, KICK, &basic("wrong")).await.0 {
            401 => refused += 1,
            429 => return,
            other => panic!("a wrong secret answered {other}"),
        }
    }
    panic!("no throttle after {refused} wrong secrets");
}

/// The throttle counts the trusted proxy's `X-Real-IP`: a client guessing secrets through the
/// proxy locks itself out, and only itself.
#[tokio::test]
async fn one_clients_wrong_secrets_through_the_proxy_lock_out_only_that_client() {
    let Some(d) = deployment("tls-throttle", &[]).await else {
        return;
    };
    guess_until_locked_out(&d, "127.0.0.5").await;
    let again = d
        .proxy
        .https_from("127.0.0.5", KICK, &basic(APP_SECRET))
        .await;
    assert_eq!(again.0, 429, "the guesser stays locked out: {again:?}");
    let honest = d
        .proxy
        .https_from("127.0.0.6", KICK, &basic(APP_SECRET))
        .await;
    assert_ne!(honest.0, 429, "another client is not: {honest:?}");
    assert_ne!(honest.0, 401, "{honest:?}");
}

/// Without `trusted_proxies` the header is not believed: every client of the proxy is the
/// proxy's address, and one client's guesses lock out every backend behind it.
#[tokio::test]
async fn without_trusted_proxies_one_client_locks_out_every_backend_behind_the_proxy() {
    let Some(d) = deployment("tls-untrusted", &["--trusted-proxy", "192.0.2.1"]).await else {
        return;
    };
    guess_until_locked_out(&d, "127.0.0.5").await;
    let honest = d
        .proxy
        .https_from("127.0.0.6", KICK, &basic(APP_SECRET))
        .await;
    assert_eq!(honest.0, 429, "{honest:?}");
}
