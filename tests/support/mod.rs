//! The tests' toolkit for in-process servers: the real server started on `127.0.0.1:0`, the
//! one HTTP client (`http`) and the one metrics parser (`metrics`). Lab tests reach the same
//! files through `tests/lab`.

#![allow(dead_code)]

pub mod http;
pub mod metrics;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use handshake_exporter::config::Config;
use handshake_exporter::server::{self, State};
pub use http::{Conn, Response};
use tokio::net::TcpListener;
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
        http::request(self.addr, method, path, headers)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A keep-alive connection to the server.
    pub async fn connect(&self) -> Conn {
        Conn::open(self.addr).await.expect("connect")
    }

    /// Asks the server to stop and waits for `run()` to return.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("server task")
    }
}

/// A loopback port nobody listens on, reserved as long as the returned socket lives: the
/// socket is bound but never listens, so a connect there is answered with RST (ECONNREFUSED).
pub fn closed_port() -> (socket2::Socket, u16) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("literal");
    socket.bind(&any.into()).expect("bind loopback");
    let port = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("local addr")
        .port();
    (socket, port)
}
