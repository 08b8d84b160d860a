//! The HTTP side: the routes `/probe`, `/metrics`, `/-/healthy`, `/-/ready`, `/-/reload`, and the
//! pages of [`crate::web`] (`/`, `/logs`, `/config`, `/runbooks/`); connections (cap, TLS,
//! authentication) are handled in `listen`.
//!
//! [`run`] takes a bound listener so tests start the real server on `127.0.0.1:0` in-process.

mod guard;
mod heads;
mod listen;
mod probe;
mod query;
mod reload;
mod self_probe;
mod setup;
mod state;

use std::future::Future;
use std::io;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

pub use guard::ConnLimits;
pub use listen::serve;
pub use probe::{module_yaml, probe_timeout, TimeoutError, SCRAPE_TIMEOUT_HEADER};
pub use query::{encode_component, parse_query, QueryError};
pub use reload::{auto_reload, load_config, reload_on_sighup, ReloadError};
pub use setup::{bind, raise_nofile_limit, systemd_listeners};
pub use state::State;

/// The response type of every route.
type Reply = Response<Full<Bytes>>;

/// Serves plain HTTP on `listener` with no web config and the connection limits derived from
/// the open-file limit, until `shutdown` completes; see [`serve`].
///
/// Errors: none today; the `io::Result` is kept for callers' `?`.
pub async fn run(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let web = Arc::new(crate::webconfig::Web::disabled());
    serve(
        vec![listener],
        state,
        web,
        ConnLimits::from_rlimit(),
        shutdown,
    )
    .await
}

/// Dispatches one request by path and method.
/// `ends` are the connection's client and local addresses.
async fn route(req: Request<Incoming>, ends: probe::Ends, state: &State) -> Reply {
    let read = [Method::GET, Method::HEAD];
    match req.uri().path() {
        "/probe" => match only(&req, &[Method::GET]) {
            Some(reply) => reply,
            None => probe::handle(req.uri().query(), req.headers(), ends, state).await,
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
            let mut answer = reply(page.status, crate::web::HTML_CONTENT_TYPE, page.body);
            crate::web::add_page_headers(answer.headers_mut());
            answer
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

/// An answer with `body` as `content_type`, which browsers must take as declared
/// (`X-Content-Type-Options: nosniff`: a plain-text reason quoting a request is never HTML).
fn reply(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, crate::web::nosniff());
    response
}
