//! The one HTTP client of the tests: hyper's HTTP/1.1 client over a tokio `TcpStream`, with a
//! keep-alive connection ([`Conn`]), a one-shot request ([`request`]) and a blocking GET for
//! synchronous tests ([`blocking_get`]).

#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One answer, its body read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A client connection that carries several requests, one after the other (keep-alive). The
/// connection closes when it is dropped.
pub struct Conn {
    sender: SendRequest<Empty<Bytes>>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> io::Result<Conn> {
        Conn::over(TcpStream::connect(addr).await?).await
    }

    /// Speaks HTTP/1.1 over an open `stream`.
    pub async fn over(stream: TcpStream) -> io::Result<Conn> {
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(connection);
        Ok(Conn { sender })
    }

    /// Sends `method path` with `headers` and reads the whole answer.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<Response> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Empty::new()).map_err(io::Error::other)?;
        self.sender.ready().await.map_err(io::Error::other)?;
        let answer = self
            .sender
            .send_request(req)
            .await
            .map_err(io::Error::other)?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_string(), value)
            })
            .collect();
        let body = answer
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        let body = String::from_utf8(body.to_vec()).map_err(io::Error::other)?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> io::Result<Response> {
        self.request("GET", path, &[]).await
    }
}

/// One request on a fresh connection to `addr`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<Response> {
    Conn::open(addr).await?.request(method, path, headers).await
}

/// A GET on a fresh connection, for synchronous code (it runs its own runtime on the calling
/// thread, so it can run inside a thread that entered a network namespace). Errors: the
/// connection or exchange failed, or no answer came within `timeout`.
pub fn blocking_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> io::Result<Response> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        tokio::time::timeout(timeout, request(addr, "GET", path, headers))
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    })
}
