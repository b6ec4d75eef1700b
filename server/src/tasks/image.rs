//! Layout images, fetched by the server itself and handed to the compositor as local files.
//!
//! ffmpeg must never open a URL a member gave: it follows redirects, guesses formats from the
//! content (its `tty` demuxer renders any text, such as a cloud metadata document, as video)
//! and connects wherever the name resolves. So [`ImageFetcher`]:
//!
//! * resolves the host itself and refuses it if any address is not public
//!   ([`super::policy::is_public`]), unless the operator allows private image hosts;
//! * connects to the vetted address only (no second resolution), over TLS for `https`;
//! * sends one `GET`, follows no redirect (a 3xx is [`ImageError::Redirect`]);
//! * caps the body size and the whole fetch time;
//! * accepts only PNG or JPEG, by their magic bytes;
//! * writes the bytes to a private directory under a content-addressed name, which the
//!   compositor opens with a forced demuxer and decoder and only the `file` protocol.
//!
//! A file stays while some running task holds its [`ImageFile`]; the last holder removes it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{ACCEPT, CONTENT_LENGTH, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use super::policy::{host_port, is_public, TaskPolicy};

/// The image formats a compositor accepts, each with a forced ffmpeg decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
}

impl ImageFormat {
    /// From the first bytes of the body; `None` for anything else.
    pub fn sniff(b: &[u8]) -> Option<Self> {
        if b.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else {
            None
        }
    }

    /// The ffmpeg decoder forced for the file.
    pub fn decoder(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "mjpeg",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
        }
    }
}

/// Why an image was not fetched. [`ImageError::is_refusal`] tells the server's refusals
/// (which retrying will not change) from failures of the fetch itself.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("layout images are turned off on this server")]
    Disabled,
    #[error("the image URL is not an http(s) URL with a host")]
    BadUrl,
    #[error("the image host resolves to a non-public address")]
    NotPublic,
    #[error("the image host did not resolve: {0}")]
    Resolve(std::io::Error),
    #[error("the image server answered with a redirect ({0}); redirects are not followed")]
    Redirect(u16),
    #[error("the image server answered {0}")]
    Status(u16),
    #[error("the image is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the body is not a PNG or JPEG image")]
    NotAnImage,
    #[error("the image fetch took longer than {0:?}")]
    Timeout(Duration),
    #[error("cannot connect to the image host: {0}")]
    Connect(std::io::Error),
    #[error("TLS with the image host failed: {0}")]
    Tls(std::io::Error),
    #[error("HTTP with the image host failed: {0}")]
    Http(String),
    #[error("cannot store the image: {0}")]
    Store(std::io::Error),
}

impl ImageError {
    /// The server refused the image (policy, redirect, size, type): not worth retrying.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Disabled
                | Self::BadUrl
                | Self::NotPublic
                | Self::Redirect(_)
                | Self::TooLarge(_)
                | Self::NotAnImage
        )
    }

    /// A stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Disabled => "image.disabled",
            Self::BadUrl => "image.bad_url",
            Self::NotPublic => "image.not_public",
            Self::Resolve(_) => "image.resolve",
            Self::Redirect(_) => "image.redirect",
            Self::Status(_) => "image.status",
            Self::TooLarge(_) => "image.too_large",
            Self::NotAnImage => "image.not_an_image",
            Self::Timeout(_) => "image.timeout",
            Self::Connect(_) => "image.connect",
            Self::Tls(_) => "image.tls",
            Self::Http(_) => "image.http",
            Self::Store(_) => "image.store",
        }
    }
}

/// A fetched image on disk. The file is removed when the last holder drops it.
#[derive(Debug)]
pub struct ImageFile {
    /// Where the image is, in the server's private image directory.
    pub path: PathBuf,
    /// Its format, sniffed from its bytes.
    pub format: ImageFormat,
    store: Arc<Store>,
}

impl Drop for ImageFile {
    fn drop(&mut self) {
        let mut refs = self.store.refs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = refs.get_mut(&self.path) {
            *n -= 1;
            if *n == 0 {
                refs.remove(&self.path);
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// The private directory and how many [`ImageFile`]s name each file in it.
#[derive(Debug)]
struct Store {
    dir: PathBuf,
    /// Made at the first image, not at start: a server killed before its fetcher is dropped
    /// (SIGKILL, a crash) would otherwise leave an empty directory behind at every start.
    made: std::sync::atomic::AtomicBool,
    refs: Mutex<HashMap<PathBuf, usize>>,
}

impl Drop for Store {
    fn drop(&mut self) {
        // Only what this store made: the name is not ours until then.
        if *self.made.get_mut() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Fetches layout images under the server's policy. See the module docs.
pub struct ImageFetcher {
    enabled: bool,
    allow_private: bool,
    max_bytes: u64,
    timeout: Duration,
    store: Arc<Store>,
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for ImageFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageFetcher")
            .field("enabled", &self.enabled)
            .field("allow_private", &self.allow_private)
            .field("max_bytes", &self.max_bytes)
            .field("timeout", &self.timeout)
            .field("dir", &self.store.dir)
            .finish()
    }
}

impl ImageFetcher {
    /// Names a fresh private (0700) directory for the images inside `policy.image_dir` (or
    /// the system temp directory), made at the first image and removed when the fetcher goes.
    pub fn new(policy: &TaskPolicy) -> std::io::Result<Self> {
        let parent = policy.image_dir.clone().unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&parent)?;
        let dir = parent.join(format!("mprtc-images-{:016x}", rand::random::<u64>()));
        Ok(Self {
            enabled: policy.images,
            allow_private: policy.image_allow_private,
            max_bytes: policy.image_max_bytes,
            timeout: Duration::from_millis(policy.image_timeout_ms),
            store: Arc::new(Store {
                dir,
                made: Default::default(),
                refs: Mutex::new(HashMap::new()),
            }),
            tls: web_tls()?,
        })
    }

    /// The private directory the images are written to.
    pub fn dir(&self) -> &Path {
        &self.store.dir
    }

    /// Fetches `url` under the policy and stores it. Never reads more than the size cap and
    /// never takes longer than the time cap.
    pub async fn fetch(&self, url: &str) -> Result<ImageFile, ImageError> {
        if !self.enabled {
            return Err(ImageError::Disabled);
        }
        let body = tokio::time::timeout(self.timeout, self.get(url))
            .await
            .map_err(|_| ImageError::Timeout(self.timeout))??;
        let format = ImageFormat::sniff(&body).ok_or(ImageError::NotAnImage)?;
        self.store(&body, format).map_err(ImageError::Store)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, ImageError> {
        let https = match url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()) {
            Some(s) if s == "https" => true,
            Some(s) if s == "http" => false,
            _ => return Err(ImageError::BadUrl),
        };
        let (host, port) = host_port(url).ok_or(ImageError::BadUrl)?;
        let addrs = self.vetted_addresses(&host, port).await?;
        let tcp = connect_any(&addrs).await.map_err(ImageError::Connect)?;
        let path = path_and_query(url);
        let authority = match (https, port) {
            (true, 443) | (false, 80) => bracket(&host),
            _ => format!("{}:{port}", bracket(&host)),
        };
        if https {
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| ImageError::BadUrl)?;
            let tls = self.tls.connect(name, tcp).await.map_err(ImageError::Tls)?;
            self.request(TokioIo::new(tls), &authority, &path).await
        } else {
            self.request(TokioIo::new(tcp), &authority, &path).await
        }
    }

    /// Every address `host` resolves to, all of them public unless private ones are allowed.
    /// A name with one non-public answer among public ones is refused whole: such mixed
    /// answers are how rebinding attacks start.
    async fn vetted_addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ImageError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(ImageError::Resolve)?
            .collect();
        if addrs.is_empty() {
            return Err(ImageError::Resolve(std::io::Error::other("no addresses")));
        }
        if !self.allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(ImageError::NotPublic);
        }
        Ok(addrs)
    }

    async fn request<T>(&self, io: T, authority: &str, path: &str) -> Result<Vec<u8>, ImageError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
            .await
            .map_err(|e| ImageError::Http(e.to_string()))?;
        // The connection is driven until the response is read; dropped with this future.
        let driver = tokio::spawn(conn);
        let _abort = AbortOnDrop(driver);
        let req = hyper::Request::get(path)
            .header(HOST, authority)
            .header(USER_AGENT, "mprtc-server")
            .header(ACCEPT, "image/png, image/jpeg")
            .body(Empty::new())
            .map_err(|_| ImageError::BadUrl)?;
        let resp = send
            .send_request(req)
            .await
            .map_err(|e| ImageError::Http(e.to_string()))?;
        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            return Err(ImageError::Redirect(status));
        }
        if !resp.status().is_success() {
            return Err(ImageError::Status(status));
        }
        let declared = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_bytes) {
            return Err(ImageError::TooLarge(self.max_bytes));
        }
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ImageError::Http(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if (out.len() + data.len()) as u64 > self.max_bytes {
                    return Err(ImageError::TooLarge(self.max_bytes));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    }

    /// Writes the bytes as `<sha256>.<ext>` (once; later fetches of the same bytes share it).
    fn store(&self, body: &[u8], format: ImageFormat) -> std::io::Result<ImageFile> {
        let digest = Sha256::digest(body);
        let mut name = String::with_capacity(70);
        for b in digest {
            let _ = write!(name, "{b:02x}");
        }
        name.push('.');
        name.push_str(format.extension());
        let path = self.store.dir.join(name);
        let mut refs = self.store.refs.lock().unwrap_or_else(|p| p.into_inner());
        // Under the lock: one store makes the directory, the others find it made.
        let made = &self.store.made;
        if !made.load(std::sync::atomic::Ordering::Relaxed) {
            let mut b = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            // Not recursive: fails if the name exists (someone else's directory or link).
            b.create(&self.store.dir)?;
            made.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if !refs.contains_key(&path) {
            let tmp = path.with_extension("part");
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            let mut f = o.open(&tmp)?;
            f.write_all(body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
        }
        *refs.entry(path.clone()).or_insert(0) += 1;
        Ok(ImageFile {
            path,
            format,
            store: self.store.clone(),
        })
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Tries the vetted addresses in order; the first that connects is used.
async fn connect_any(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("no addresses");
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A TLS connector that trusts the web PKI roots and speaks HTTP/1.1, for the server's own
/// outbound requests (layout images here, webhooks in `crate::webhooks`).
pub(crate) fn web_tls() -> std::io::Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// `/path?query` of an http(s) URL (`/` when it has none); the fragment is dropped.
pub(crate) fn path_and_query(url: &str) -> String {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let rest = rest.split('#').next().unwrap_or("");
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => rest[i..].to_owned(),
        Some(i) => format!("/{}", &rest[i..]),
        None => "/".to_owned(),
    }
}

/// `host`, in brackets when it is an IPv6 address (for `Host` and authorities).
pub(crate) fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_formats() {
        assert_eq!(path_and_query("http://h:1/a/b?c=d#f"), "/a/b?c=d");
        assert_eq!(path_and_query("http://h?x"), "/?x");
        assert_eq!(path_and_query("https://h"), "/");
        assert_eq!(
            ImageFormat::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(ImageFormat::sniff(b"{\"AccessKeyId\""), None);
        assert_eq!(ImageFormat::sniff(b"GIF89a"), None);
    }

    #[tokio::test]
    async fn private_hosts_are_refused_without_connecting() {
        let f = ImageFetcher::new(&TaskPolicy::default()).unwrap();
        for url in [
            "http://127.0.0.1:9/x.png",
            "http://[::1]:9/x.png",
            "http://169.254.169.254/latest/meta-data/?.ans",
            "http://localhost:9/x.png",
            "https://10.0.0.1/x.png",
        ] {
            let e = f.fetch(url).await.unwrap_err();
            assert!(
                matches!(e, ImageError::NotPublic) && e.is_refusal(),
                "{url}: {e:?}"
            );
        }
        assert!(matches!(
            f.fetch("ftp://example.com/x").await.unwrap_err(),
            ImageError::BadUrl
        ));
        assert!(matches!(
            f.fetch("http://user@example.com/x").await.unwrap_err(),
            ImageError::BadUrl
        ));
    }

    #[tokio::test]
    async fn disabled_images_are_refused() {
        let f = ImageFetcher::new(&TaskPolicy {
            images: false,
            ..TaskPolicy::default()
        })
        .unwrap();
        assert!(matches!(
            f.fetch("https://example.com/x.png").await.unwrap_err(),
            ImageError::Disabled
        ));
    }

    #[test]
    fn files_are_shared_and_removed_by_the_last_holder() {
        let f = ImageFetcher::new(&TaskPolicy::default()).unwrap();
        assert!(!f.dir().exists(), "made at the first image only");
        let png = b"\x89PNG\r\n\x1a\nbody";
        let a = f.store(png, ImageFormat::Png).unwrap();
        let b = f.store(png, ImageFormat::Png).unwrap();
        assert_eq!(a.path, b.path);
        assert!(a.path.starts_with(f.dir()));
        drop(a);
        assert!(b.path.exists());
        let p = b.path.clone();
        drop(b);
        assert!(!p.exists());
        let dir = f.dir().to_owned();
        drop(f);
        assert!(!dir.exists());
    }
}
