//! The server API over plain HTTP/1.1, one request a connection, the way an operator's script
//! calls it.

use std::time::Duration;

use super::SECRET;

/// One server-API call over HTTP/1.1 with app `sec`'s Basic credentials: (status, body).
pub async fn api(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    api_as(
        addr,
        "127.0.0.1",
        &format!("sec:{SECRET}"),
        method,
        path,
        body,
    )
    .await
}

/// [`api`] from the loopback address `from` (127.0.0.0/8) with other credentials
/// (`key:secret`).
pub async fn api_as(
    addr: &str,
    from: &str,
    credentials: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let (status, _, body) = exchange(addr, Some(from), method, path, Some(credentials), body).await;
    (status, body)
}

/// One HTTP/1.1 request to `addr` (from the loopback address `from` when given), with Basic
/// `credentials` (`key:secret`) when given and `body` as JSON: (status, the response's header
/// lines, body as sent, which may be chunked).
pub async fn exchange(
    addr: &str,
    from: Option<&str>,
    method: &str,
    path: &str,
    credentials: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    use base64::Engine as _;
    let s = match from {
        Some(from) => {
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
            sock.connect(addr.parse().unwrap()).await.unwrap()
        }
        None => tokio::net::TcpStream::connect(addr).await.unwrap(),
    };
    let auth = credentials
        .map(|c| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        })
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    exchange_raw(s, &req).await
}

/// Writes `req` (a whole HTTP/1.1 request asking to close) on `s` and reads the answer to
/// its end: (status, the header lines, body as sent).
pub async fn exchange_raw(mut s: tokio::net::TcpStream, req: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut resp))
        .await
        .expect("the server answers in time")
        .unwrap();
    let status = resp.split(' ').nth(1).unwrap().parse().unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (status, head.to_owned(), body.to_owned())
}
