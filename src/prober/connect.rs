//! The `connect` phase: a non-blocking TCP connect with socket2 whose failure is classified from
//! the errno and, when one arrived, the ICMP error behind it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::os::fd::AsRawFd;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::errno::classify_connect;
use super::icmp;
use super::sockets::{self, Descriptors, Live};
use crate::report::{Detail, Failure, FailureClass, IcmpInfo, Phase, StepLog, TcpInfo};

/// Pause after a wake-up by a non-fatal ICMP error, before looking at the handshake again.
const SOFT_ERROR_PAUSE: Duration = Duration::from_millis(5);

/// A failed connect: the failure and the ICMP error behind it, if one arrived.
#[derive(Debug, Clone)]
pub struct ConnectError {
    /// Phase `connect`, the class and the errno name.
    pub failure: Failure,
    /// The ICMP error read from the socket's error queue.
    pub icmp: Option<IcmpInfo>,
}

impl From<Failure> for ConnectError {
    fn from(failure: Failure) -> Self {
        ConnectError {
            failure,
            icmp: None,
        }
    }
}

/// An open connection and the kernel's TCP facts about its handshake.
#[derive(Debug)]
pub struct Connected {
    /// The connected stream, registered with tokio.
    pub stream: TcpStream,
    /// TCP_INFO read right after the handshake (None if the kernel refused to tell).
    pub tcp_info: Option<TcpInfo>,
    /// How long the connect took: see [`handshake_time`].
    pub took: Duration,
    /// The socket's share of the probe descriptor budget and its place among the live probe
    /// connections; keep it as long as the stream.
    pub held: Held,
}

/// What a probe connection holds besides its stream: one descriptor of the budget and its
/// local address among the live probe connections ([`sockets`]). Dropping it gives both back.
#[derive(Debug)]
pub struct Held {
    _descriptor: Descriptors,
    _live: Live,
}

/// Connects to `addr`, from `source` if given, until `deadline`.
///
/// Returns the connection, or a [`ConnectError`]: `timeout` at the deadline (SYN unanswered),
/// otherwise the class of the errno (connect(2)), corrected by the ICMP type/code when the error
/// queue holds one (`admin_prohibited` for ICMP type 3 code 9, 10, 13 and ICMPv6 type 1 code 1).
/// Local resource failures (no descriptor, no port, source address not ours) are `prober_error`.
pub async fn connect(
    addr: SocketAddr,
    source: Option<IpAddr>,
    deadline: Instant,
    log: &mut StepLog,
) -> Result<Connected, ConnectError> {
    let ipv6 = addr.is_ipv6();
    let descriptor = take_descriptors(1, Phase::Connect, log)?;
    let socket = new_socket(addr, source).map_err(|e| {
        log.note(format!("could not prepare a socket: {e}"));
        local_failure(&e)
    })?;
    log.note(format!("connecting to {addr}"));
    let sent = Instant::now();
    let called = socket.connect(&SockAddr::from(addr));
    let syscall = sent.elapsed();
    match called {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(failed(&socket, ipv6, &e, log)),
    }
    // The stream is handed to tokio while the handshake is in flight; writability marks its end
    // (connect(2), EINPROGRESS), and the same descriptor keeps the error queue readable.
    let std: std::net::TcpStream = socket.into();
    let stream = TcpStream::from_std(std).map_err(|e| local_failure(&e))?;
    let seen;
    loop {
        match tokio::time::timeout_at(deadline, stream.writable()).await {
            Err(_) => {
                log.note("no answer to the SYN before the deadline");
                return Err(Failure::timeout(Phase::Connect).into());
            }
            Ok(Err(e)) => return Err(failed(&stream, ipv6, &e, log)),
            Ok(Ok(())) => {}
        }
        if let Some(e) = stream.take_error().unwrap_or_else(Some) {
            return Err(failed(&stream, ipv6, &e, log));
        }
        if stream.peer_addr().is_ok() {
            seen = sent.elapsed();
            break;
        }
        // Woken by a queued ICMP error the kernel did not treat as fatal (a soft error, tcp(7)):
        // drain it and keep waiting for the handshake.
        if let Some(info) = icmp::read_error_queue(&stream) {
            log.note(format!(
                "ICMP {} from {} while connecting",
                info.reason, info.from
            ));
        }
        tokio::time::sleep(SOFT_ERROR_PAUSE).await;
    }
    let tcp_info = crate::sys::tcp_info(&stream).ok().map(|info| TcpInfo {
        rtt: Duration::from_micros(u64::from(info.tcpi_rtt)),
        syn_retransmits: info.tcpi_total_retrans,
    });
    let took = handshake_time(seen, syscall, tcp_info.as_ref());
    log.note(format!(
        "connected to {addr} in {:.3} ms ({:.3} ms until seen)",
        took.as_secs_f64() * 1e3,
        seen.as_secs_f64() * 1e3
    ));
    let held = Held {
        _descriptor: descriptor,
        _live: Live::register(stream.local_addr().ok(), stream.peer_addr().ok()),
    };
    Ok(Connected {
        stream,
        tcp_info,
        took,
        held,
    })
}

/// Takes `n` descriptors from the probe budget for `phase`; when they are not free, the
/// phase's `prober_error` with detail `EMFILE` (what socket(2) says when a process has no
/// descriptor left), noted in the step log.
pub(super) fn take_descriptors(
    n: usize,
    phase: Phase,
    log: &mut StepLog,
) -> Result<Descriptors, Failure> {
    sockets::take(n).map_err(|spent| {
        log.note(format!("could not open a socket: {spent}"));
        Failure::new(
            phase,
            FailureClass::ProberError,
            Detail::errno(Some(libc::EMFILE)),
        )
    })
}

/// The connect phase's duration, as the kernel saw it when it can tell.
///
/// `seen` runs from just before connect(2) to the moment this process noticed the handshake
/// done, so it also holds however long the process took to get round to the socket. When no SYN
/// was resent, the kernel's first RTT sample (`tcpi_rtt`, tcp(7): from the SYN's transmission to
/// the SYN-ACK's arrival, microseconds) plus the connect(2) call that sent the SYN is the
/// handshake itself, free of that wait; `seen` bounds it. After a resent SYN the kernel takes no
/// sample from the handshake (Karn's algorithm, RFC 6298 section 3), so `seen` is the answer.
pub fn handshake_time(seen: Duration, syscall: Duration, info: Option<&TcpInfo>) -> Duration {
    match info {
        Some(i) if i.syn_retransmits == 0 && !i.rtt.is_zero() => seen.min(syscall + i.rtt),
        _ => seen,
    }
}

/// A non-blocking TCP socket for `addr`'s family, error queue on, bound to `source` if given.
pub(super) fn new_socket(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<Socket> {
    let domain = Domain::for_address(addr);
    let socket = Socket::new(
        domain,
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    icmp::enable_recverr(&socket, addr.is_ipv6()).map_err(io::Error::from)?;
    socket.set_tcp_nodelay(true)?;
    if let Some(src) = source {
        socket.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
    }
    Ok(socket)
}

/// The classified failure of a connect that got an error, with the ICMP evidence.
fn failed<F: AsRawFd>(socket: &F, ipv6: bool, err: &io::Error, log: &mut StepLog) -> ConnectError {
    let mut failure = classify_connect(err);
    let icmp = icmp::read_error_queue(socket);
    if let Some(info) = &icmp {
        log.note(format!(
            "ICMP type {} code {} ({}) from {}",
            info.icmp_type, info.code, info.reason, info.from
        ));
        if let Some(class) = icmp::class_override(ipv6, info) {
            failure.class = class;
        }
    }
    log.note(format!("connect failed: {err} ({failure})"));
    ConnectError { failure, icmp }
}

/// A failure before any packet left: the exporter could not try.
fn local_failure(err: &io::Error) -> ConnectError {
    let mut failure = classify_connect(err);
    failure.class = FailureClass::ProberError;
    failure.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn info(rtt: Duration, syn_retransmits: u32) -> TcpInfo {
        TcpInfo {
            rtt,
            syn_retransmits,
        }
    }

    #[test]
    fn kernel_rtt_and_the_call_replace_a_late_wake_up() {
        let took = handshake_time(70 * MS, MS / 10, Some(&info(50 * MS, 0)));
        assert_eq!(took, 50 * MS + MS / 10);
    }

    #[test]
    fn never_longer_than_what_the_process_saw() {
        assert_eq!(
            handshake_time(50 * MS, 2 * MS, Some(&info(50 * MS, 0))),
            50 * MS
        );
    }

    #[test]
    fn a_resent_syn_or_no_sample_keeps_the_observed_time() {
        assert_eq!(
            handshake_time(1050 * MS, MS, Some(&info(50 * MS, 1))),
            1050 * MS
        );
        assert_eq!(
            handshake_time(60 * MS, MS, Some(&info(Duration::ZERO, 0))),
            60 * MS
        );
        assert_eq!(handshake_time(60 * MS, MS, None), 60 * MS);
    }
}
