//! The HTTP side: one hyper HTTP/1.1 connection task per client, keep-alive on, a graceful stop,
//! and the routes `/probe`, `/metrics`, `/-/healthy`, `/-/ready`, `/-/reload`, and the pages of
//! [`crate::web`] (`/`, `/logs`, `/config`, `/runbooks/`).
//!
//! [`run`] takes a bound listener so tests start the real server on `127.0.0.1:0` in-process.

mod probe;
mod query;
mod reload;
mod setup;
mod state;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub use probe::{module_yaml, probe_timeout, TimeoutError, SCRAPE_TIMEOUT_HEADER};
pub use query::{encode_component, parse_query, QueryError};
pub use reload::{auto_reload, load_config, reload_on_sighup, ReloadError};
pub use setup::{bind, raise_nofile_limit};
pub use state::State;

/// The response type of every route.
type Reply = Response<Full<Bytes>>;

/// How long to wait before accepting again after `accept(2)` failed (EMFILE, ENFILE, ENOBUFS):
/// retrying at once would spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, then stops gracefully.
///
/// Each connection runs in its own task with keep-alive on. On shutdown the listener closes,
/// idle connections close at once and requests in flight finish (a probe ends by its own
/// deadline) before this returns. Accept errors (out of descriptors, ...) are logged and
/// retried, never returned; the `io::Result` is kept for callers' `?`.
pub async fn run(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                tracing::trace!(%peer, "accepted connection");
                tokio::spawn(serve_connection(stream, state.clone(), stop_rx.clone()));
            }
            Err(err) => {
                tracing::warn!(error = %err, "failed to accept a connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
    tracing::info!("HTTP server stopped");
    Ok(())
}

/// Runs one connection until the client leaves or the server stops.
async fn serve_connection(stream: TcpStream, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    // Small answers on a request/response protocol: do not let Nagle delay them.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(route(req, &state).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        // Do not poll the socket while a probe runs: that read would hold a third 8 KiB buffer
        // per waiting request, the largest share of memory with thousands of probes in flight.
        .half_close(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

/// Dispatches one request by path and method.
async fn route(req: Request<Incoming>, state: &State) -> Reply {
    let read = [Method::GET, Method::HEAD];
    match req.uri().path() {
        "/probe" => match only(&req, &[Method::GET]) {
            Some(reply) => reply,
            None => probe::handle(req.uri().query(), req.headers(), state).await,
        },
        "/metrics" => match only(&req, &read) {
            Some(reply) => reply,
            None => match state.metrics().encode() {
                Ok(body) => reply(
                    StatusCode::OK,
                    crate::metrics::OPENMETRICS_CONTENT_TYPE,
                    body,
                ),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "failed to encode metrics",
                ),
            },
        },
        "/-/healthy" | "/-/ready" => {
            only(&req, &read).unwrap_or_else(|| text(StatusCode::OK, "OK"))
        }
        "/-/reload" => match only(&req, &[Method::POST, Method::PUT]) {
            Some(reply) => reply,
            None => reload::handle(state).await,
        },
        path if crate::web::serves(path) => only(&req, &read).unwrap_or_else(|| {
            let page = crate::web::render(path, req.uri().query(), state);
            reply(page.status, crate::web::HTML_CONTENT_TYPE, page.body)
        }),
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `None` when the method is allowed, else the 405 answer naming the allowed methods.
fn only(req: &Request<Incoming>, allowed: &[Method]) -> Option<Reply> {
    if allowed.contains(req.method()) {
        return None;
    }
    let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    let mut reply = text(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "method {} not allowed: use {}",
            req.method(),
            names.join(", ")
        ),
    );
    if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
        reply.headers_mut().insert(ALLOW, value);
    }
    Some(reply)
}

/// A `text/plain` answer; a trailing newline is added so the reason reads as one line.
fn text(status: StatusCode, body: &str) -> Reply {
    reply(status, "text/plain; charset=utf-8", format!("{body}\n"))
}

/// An answer with `body` as `content_type`.
fn reply(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
