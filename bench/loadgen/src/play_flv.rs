//! One HTTP-FLV viewer: a plain HTTP/1.1 GET of the signed `flvUrl` (hyper, which undoes the
//! chunked transfer coding), its body read through [`FlvReader`] into a [`Meter`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::flv::FlvReader;
use crate::meter::{follow, Meter};

/// FLV tag kinds.
const VIDEO: u8 = 9;

/// The parts of `http://host:port/path?query`: (host:port, /path?query).
pub fn split(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let (addr, path) = rest.split_once('/').ok_or("no path in the URL")?;
    let addr = if addr.contains(':') {
        addr.to_owned()
    } else {
        format!("{addr}:80")
    };
    Ok((addr, format!("/{path}")))
}

/// Plays `url` until the response ends; every way it ends is recorded in `meter`. A viewer
/// whose request is not answered with 200 within `admit_within` is given up.
pub async fn play(url: String, meter: Arc<Meter>, admit_within: Duration) {
    follow(&meter, admit_within, run(&url, &meter)).await;
}

async fn run(url: &str, meter: &Meter) -> Result<(), String> {
    let (addr, path) = split(url)?;
    let sock = TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = sock.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock))
        .await
        .map_err(|e| format!("http: {e}"))?;
    // The connection's task ends with the response (or the process).
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr)
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request: {e}"))?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("http: {e}"))?;
    if res.status() != hyper::StatusCode::OK {
        return Err(format!("refused: HTTP {}", res.status().as_u16()));
    }
    meter.admitted();
    let mut body = res.into_body();
    let mut flv = FlvReader::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("body: {e}"))?;
        if let Ok(data) = frame.into_data() {
            flv.push(&data, |t| {
                if t.kind == VIDEO {
                    meter.video(t.ts, t.size as usize);
                } else {
                    meter.media(t.size as usize);
                }
            })
            .map_err(|e| format!("FLV: {e:?}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn a_flv_url_splits_into_address_and_path_with_its_query() {
        let (addr, path) = split("http://127.0.0.1:8080/live/r.2.flv?k=demo&s=x").unwrap();
        assert_eq!(addr, "127.0.0.1:8080");
        assert_eq!(path, "/live/r.2.flv?k=demo&s=x");
        assert_eq!(split("http://h/x").unwrap().0, "h:80");
        assert!(split("rtmp://h/x").is_err());
    }
}
