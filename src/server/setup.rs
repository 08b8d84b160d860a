//! Process setup the binary does before serving: binding `--web.listen-address` the way
//! blackbox_exporter accepts it, and raising the open-file limit so many probes can run at once.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;

/// Pending-connection queue length passed to listen(2); the kernel caps it at
/// `net.core.somaxconn`. Thousands of scrapes may arrive in the same instant.
const BACKLOG: i32 = 4096;

/// Binds `address`: `:PORT` on every interface (IPv6 and IPv4 on one dual-stack socket, IPv4
/// alone when the host has no IPv6), `HOST:PORT`, `IPv4:PORT` or `[IPv6]:PORT`.
///
/// Errors: the bind(2) error (`EADDRINUSE`, `EACCES`, ...), or `InvalidInput` when `address`
/// resolves to nothing.
pub async fn bind(address: &str) -> io::Result<TcpListener> {
    if let Some(port) = address
        .strip_prefix(':')
        .and_then(|p| p.parse::<u16>().ok())
    {
        return match listen(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))) {
            Ok(listener) => Ok(listener),
            Err(err) => {
                tracing::debug!(error = %err, "no dual-stack socket, listening on IPv4 only");
                listen(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
            }
        };
    }
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "address resolves to nothing");
    for addr in tokio::net::lookup_host(address).await? {
        match listen(addr) {
            Ok(listener) => return Ok(listener),
            Err(err) => last = err,
        }
    }
    Err(last)
}

/// A listening socket on `addr` with [`BACKLOG`]; on `[::]` with `IPV6_V6ONLY` off (ipv6(7)),
/// so IPv4 clients arrive as mapped addresses.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// Raises the `RLIMIT_NOFILE` soft limit to the hard limit (getrlimit(2)): every probe holds a
/// socket, and the usual soft limit of 1024 is reached long before the concurrency limit.
///
/// Returns `(before, after)` soft limits. Errors: the getrlimit/setrlimit errno.
pub fn raise_nofile_limit() -> Result<(u64, u64), nix::Error> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    let (after, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok((soft, after))
}

/// The listening sockets systemd passed by socket activation (`LISTEN_FDS`/`LISTEN_PID`,
/// sd_listen_fds(3)), read with the `listenfd` crate; only TCP sockets are taken.
///
/// Errors: `NotFound` when systemd passed none (the unit lacks a matching `.socket`), or the
/// error of turning a descriptor into a listener.
pub fn systemd_listeners() -> io::Result<Vec<TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    let mut out = Vec::new();
    for index in 0..fds.len() {
        if let Some(listener) = fds.take_tcp_listener(index)? {
            listener.set_nonblocking(true)?;
            out.push(TcpListener::from_std(listener)?);
        }
    }
    if out.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no TCP socket passed by systemd (LISTEN_FDS)",
        ));
    }
    Ok(out)
}
