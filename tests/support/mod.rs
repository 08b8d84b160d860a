//! Test helpers: the real server started in-process on `127.0.0.1:0`, and a tiny HTTP/1.1
//! client over a tokio `TcpStream` that reads `Content-Length` framed answers.

#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use handshake_exporter::config::Config;
use handshake_exporter::server::{self, State};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and the handle that stops it.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// Starts `run()` on `127.0.0.1:0` serving `config`.
    pub async fn start(
        config: Config,
        config_file: Option<PathBuf>,
        max_concurrency: usize,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::new(config, config_file, 0.5, max_concurrency));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            state,
            stop: Some(stop),
            task,
        }
    }

    /// Starts the builtin modules with the default concurrency limit.
    pub async fn builtin() -> Server {
        Server::start(Config::builtin(), None, 10_000).await
    }

    /// One request on a fresh connection.
    pub async fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[]).await
    }

    /// One request with `method` and extra `headers` on a fresh connection.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let stream = TcpStream::connect(self.addr).await.expect("connect");
        let mut conn = Conn::new(stream);
        conn.send(method, path, headers).await;
        conn.read().await
    }

    /// Asks the server to stop and waits for `run()` to return.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("server task")
    }
}

/// One parsed answer.
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

/// A client connection that may carry several requests (keep-alive).
pub struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream: BufReader::new(stream),
        }
    }

    pub async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        if method == "POST" || method == "PUT" {
            req.push_str("Content-Length: 0\r\n");
        }
        req.push_str("\r\n");
        self.stream
            .get_mut()
            .write_all(req.as_bytes())
            .await
            .expect("write request");
    }

    pub async fn read(&mut self) -> Response {
        let mut status_line = String::new();
        self.stream
            .read_line(&mut status_line)
            .await
            .expect("status line");
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.expect("header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .expect("content-length");
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.expect("body");
        Response {
            status,
            headers,
            body: String::from_utf8(body).expect("utf-8 body"),
        }
    }
}
