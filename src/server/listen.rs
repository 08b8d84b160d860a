//! Accepting and serving connections: one accept loop per listener, the connection cap
//! ([`super::guard`]), TLS with the web config's settings, HTTP/1.1 (and HTTP/2 when TLS
//! negotiates it by ALPN), and the per-request gate of the web config: rate limit, basic
//! authentication and security headers.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::guard::{Admission, ConnLimits, Quiet, Slot, Tracker};
use super::heads::HeadWatch;
use super::{route, text, Reply, State};
use crate::logging::clip;
use crate::metrics::{AuthFailure, DropReason};
use crate::webconfig::{basic_credentials, AuthOutcome, Web};

/// How long to wait before accepting again after `accept(2)` failed (EMFILE, ENFILE, ENOBUFS):
/// retrying at once would spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What every connection task shares.
struct Shared {
    state: Arc<State>,
    web: Arc<Web>,
    limits: ConnLimits,
    tracker: Arc<Tracker>,
}

/// Serves every listener in `listeners` with the web settings of `web` and the connection
/// limits `limits` until `shutdown` completes, then stops gracefully: listeners close, idle
/// connections close at once, requests in flight finish.
///
/// Errors: none today (accept errors are logged and retried); the `io::Result` is kept for
/// callers' `?`.
pub async fn serve(
    listeners: Vec<TcpListener>,
    state: Arc<State>,
    web: Arc<Web>,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        state,
        web,
        limits,
        tracker: Tracker::new(limits.max_connections),
    });
    // Probe sockets get what the HTTP connections leave of the open-file limit.
    crate::prober::sockets::set_limit(limits.probe_sockets());
    for listener in listeners {
        tokio::spawn(accept_loop(listener, shared.clone(), stop_rx.clone()));
    }
    shutdown.await;
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
    tracing::info!("HTTP server stopped");
    Ok(())
}

/// Accepts on `listener` until the server stops.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => match shared.tracker.admit(peer.ip().to_canonical()) {
                Admission::Admitted { slot, evicted } => {
                    if evicted {
                        shared.state.metrics().guard().dropped(DropReason::Evicted);
                    }
                    tracing::trace!(%peer, "accepted connection");
                    let task = connection(stream, peer, slot, shared.clone(), stop.clone());
                    shared.state.spawn_connection(task);
                }
                Admission::Full => {
                    shared.state.metrics().guard().dropped(DropReason::Full);
                    tracing::debug!(%peer, "connection closed: every connection is busy");
                }
            },
            Err(err) => {
                tracing::warn!(error = %err, "failed to accept a connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Runs one connection: the TLS handshake when the web config asks for it, then HTTP, until
/// the client leaves, the server stops or the tracker evicts it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    // Small answers on a request/response protocol: do not let Nagle delay them.
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let slot = Arc::new(slot);
    let settings = shared.web.current();
    let Some(tls) = settings.tls.clone() else {
        return http(stream, false, (peer, local), slot, shared, stop).await;
    };
    // Boxed: an HTTPS connection's state is several times a plain one's, and every plain
    // connection would otherwise carry room for it.
    Box::pin(https(stream, tls, (peer, local), slot, shared, stop)).await
}

/// Runs one HTTPS connection: the TLS handshake under the header-read timeout, then HTTP/2 when
/// ALPN chose it, else HTTP/1.1.
async fn https(
    stream: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    (peer, local): (SocketAddr, Option<SocketAddr>),
    slot: Arc<Slot>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(
        shared.limits.header_read_timeout,
        TlsAcceptor::from(tls).accept(stream),
    );
    let guard = shared.state.metrics().guard();
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                guard.dropped(DropReason::TlsHandshake);
                tracing::debug!(%peer, error = %err, "TLS handshake failed");
                return;
            }
            Err(_) => {
                guard.dropped(DropReason::HeaderTimeout);
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = slot.evicted() => return,
        _ = stop.changed() => return,
    };
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    http(stream, h2, (peer, local), slot, shared, stop).await
}

/// Serves HTTP on an established (plain or TLS) stream: HTTP/2 when `h2`, else HTTP/1.1.
/// The connection closes when it stays quiet too long ([`Slot::quiet_too_long`]): hyper's own
/// header-read timeout is off, as it would also close idle keep-alive connections.
async fn http<S>(
    stream: S,
    h2: bool,
    (peer, local): (SocketAddr, Option<SocketAddr>),
    slot: Arc<Slot>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(HeadWatch::new(stream, slot.clone()));
    let requests = slot.clone();
    let service_shared = shared.clone();
    let service = service_fn(move |req| {
        let shared = service_shared.clone();
        let busy = requests.busy();
        async move {
            let reply = answer(req, (peer, local), &shared).await;
            drop(busy);
            Ok::<_, Infallible>(reply)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(None)
        // Do not poll the socket while a probe runs: that read would hold a third 8 KiB buffer
        // per waiting request, the largest share of memory with thousands of probes in flight.
        .half_close(true);
    builder.http2().timer(TokioTimer::new());
    let builder = if h2 {
        builder.http2_only()
    } else {
        builder.http1_only()
    };
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = slot.evicted() => {
            tracing::debug!(%peer, "idle connection evicted at the connection cap");
            return;
        }
        quiet = slot.quiet_too_long(&shared.limits, !h2) => {
            if quiet == Quiet::HeadTimeout {
                shared.state.metrics().guard().dropped(DropReason::HeaderTimeout);
            }
            tracing::debug!(%peer, ?quiet, h2, "quiet connection closed");
            if h2 {
                // GOAWAY; a client that does not read it does not hold the connection either.
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(shared.limits.header_read_timeout, conn).await;
            }
            return;
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, error = %err, "connection ended with an error");
    }
}

/// One request through the web config's gate (rate limit, basic authentication), then the
/// routes; the configured security headers go on every answer. `peer` is the client's address,
/// `local` the connection's own (getsockname(2)).
async fn answer(
    req: Request<Incoming>,
    (peer, local): (SocketAddr, Option<SocketAddr>),
    shared: &Shared,
) -> Reply {
    let settings = shared.web.current();
    let mut reply = if !shared.web.take_token(&settings) {
        text(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests: rate_limit reached",
        )
    } else {
        let header = req.headers().get(AUTHORIZATION);
        match shared.web.auth.check(&settings.users, header).await {
            AuthOutcome::Allowed => route(req, (peer, local), &shared.state).await,
            outcome => unauthorized(outcome, header, peer, shared),
        }
    };
    for (name, value) in &settings.headers {
        reply.headers_mut().insert(name.clone(), value.clone());
    }
    reply
}

/// The 401 answer, counted and logged with the user name (clipped, never the password).
fn unauthorized(
    outcome: AuthOutcome,
    header: Option<&HeaderValue>,
    peer: SocketAddr,
    shared: &Shared,
) -> Reply {
    let reason = match outcome {
        AuthOutcome::NoCredentials => AuthFailure::NoCredentials,
        _ => AuthFailure::BadCredentials,
    };
    shared.state.metrics().guard().auth_failed(reason);
    let user = header.and_then(basic_credentials).map(|(user, _)| user);
    let user = clip(user.as_deref().unwrap_or(""));
    tracing::warn!(%peer, %user, reason = reason.as_str(), "unauthorized request");
    let mut reply = text(StatusCode::UNAUTHORIZED, "Unauthorized");
    reply
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    reply
}
