//! errno evidence: the contract class an OS error (errno(3)) stands for in each phase, with the
//! errno as the failure's detail. Classes come from the number, never from the message text.

use std::io;

use nix::errno::Errno;

use crate::report::{Detail, Failure, FailureClass, Phase};

/// Classifies an OS error seen while connecting (connect(2) ERRORS, tcp(7)).
///
/// Returns a `connect`-phase [`Failure`] whose detail is the errno name. Errors that say the
/// exporter itself could not try (descriptors, ports, memory, source address) are `prober_error`.
pub fn classify_connect(err: &io::Error) -> Failure {
    let code = err.raw_os_error();
    let class = match code {
        // RST in answer to the SYN, or ICMP port unreachable.
        Some(libc::ECONNREFUSED) => FailureClass::Refused,
        // The kernel gave up resending SYNs before our deadline (tcp_syn_retries).
        Some(libc::ETIMEDOUT) => FailureClass::Timeout,
        Some(libc::EHOSTUNREACH | libc::EHOSTDOWN | libc::ENONET) => FailureClass::HostUnreachable,
        Some(libc::ENETUNREACH | libc::ENETDOWN) => FailureClass::NetworkUnreachable,
        // A local `prohibit` route (EACCES) or a local firewall rule (EPERM).
        Some(libc::EACCES | libc::EPERM) => FailureClass::AdminProhibited,
        Some(libc::ECONNRESET | libc::ECONNABORTED) => FailureClass::Reset,
        // Our own limits: descriptors, ephemeral ports, buffers, a source address not ours.
        _ => FailureClass::ProberError,
    };
    Failure::new(Phase::Connect, class, Detail::errno(code))
}

/// Classifies an I/O error on an open connection in `phase` (`tls` or `query`).
///
/// A clean close before the phase completed (`UnexpectedEof`, or a read of 0 bytes reported as
/// such) is `eof`. ECONNRESET, ECONNABORTED and EPIPE all follow a RST from the peer or a
/// middlebox (tcp(7)): `reset`. ETIMEDOUT is the kernel giving up on retransmissions;
/// EHOSTUNREACH / ENETUNREACH come from an ICMP error on the established connection; EPERM /
/// EACCES from a local firewall rule. Anything else (ENOBUFS, ENOMEM, ...) says nothing against
/// the target: `prober_error`. The detail is the errno name, empty without one.
pub fn classify_stream(phase: Phase, err: &io::Error) -> Failure {
    let code = err.raw_os_error();
    let class = match (err.kind(), code.map(Errno::from_raw)) {
        (io::ErrorKind::UnexpectedEof, _) => FailureClass::Eof,
        (_, Some(Errno::ECONNRESET | Errno::ECONNABORTED | Errno::EPIPE)) => FailureClass::Reset,
        (_, Some(Errno::ETIMEDOUT)) => FailureClass::Timeout,
        (_, Some(Errno::EHOSTUNREACH)) => FailureClass::HostUnreachable,
        (_, Some(Errno::ENETUNREACH)) => FailureClass::NetworkUnreachable,
        (_, Some(Errno::EPERM | Errno::EACCES)) => FailureClass::AdminProhibited,
        (io::ErrorKind::ConnectionReset, None) => FailureClass::Reset,
        (io::ErrorKind::TimedOut, None) => FailureClass::Timeout,
        _ => FailureClass::ProberError,
    };
    Failure::new(phase, class, Detail::errno(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_map_to_contract_classes() {
        let f = classify_connect(&io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(
            (f.class, f.detail.as_str()),
            (FailureClass::Refused, "ECONNREFUSED")
        );
        let f = classify_connect(&io::Error::from_raw_os_error(libc::EADDRNOTAVAIL));
        assert_eq!(f.class, FailureClass::ProberError);
        let f = classify_connect(&io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(f.class, FailureClass::AdminProhibited);
    }

    #[test]
    fn stream_errors_tell_reset_from_eof() {
        let f = classify_stream(
            Phase::Query,
            &io::Error::from_raw_os_error(libc::ECONNRESET),
        );
        assert_eq!(
            (f.class, f.detail.as_str()),
            (FailureClass::Reset, "ECONNRESET")
        );
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(classify_stream(Phase::Tls, &eof).class, FailureClass::Eof);
    }
}
