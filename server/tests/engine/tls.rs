//! TLS for the suites that put nginx with a certificate in front of servers (tls_proxy.rs,
//! cluster_lb.rs): a self-signed certificate made by Debian's `openssl`, a client that trusts
//! only it, and the `http` block Debian's nginx.conf gives a site snippet.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tokio_rustls::rustls;

/// Makes a self-signed certificate for `name` in `dir` with Debian's `openssl`: the paths of
/// the certificate and its key (PEM, for nginx) and the certificate in DER (for the client).
pub fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
    let (cert, key, der) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("cert.der"),
    );
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName=DNS:{name}")])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "openssl req: {made:?}");
    let converted = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .arg("-out")
        .arg(&der)
        .output()
        .unwrap();
    assert!(converted.status.success(), "openssl x509: {converted:?}");
    (cert, key, std::fs::read(der).unwrap())
}

/// A TLS client that trusts the certificate `der` only.
pub fn connector(der: Vec<u8>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// What Debian's /etc/nginx/nginx.conf gives a site snippet at `site`: an http block
/// including it (nginx's prefix holds the logs and temporary files).
pub fn http_main(site: &Path) -> String {
    format!(
        "worker_processes 1;\ndaemon off;\npid nginx.pid;\nerror_log logs/error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{ access_log logs/access.log; client_body_temp_path tmp; proxy_temp_path tmp; \
         fastcgi_temp_path tmp; uwsgi_temp_path tmp; scgi_temp_path tmp; \
         include {}; }}\n",
        site.display()
    )
}
