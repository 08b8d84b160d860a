//! errno evidence: the symbolic name of an OS error (errno(3)) and the contract class it stands
//! for in each phase. Classes come from the number, never from the message text.

use std::io;

use crate::report::{Failure, FailureClass, Phase};

/// The symbolic name of errno `code` (errno(3), Linux values), or `""` for none or an errno
/// this exporter has no reason to expect from a socket.
pub fn errno_name(code: Option<i32>) -> &'static str {
    let Some(code) = code else { return "" };
    match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::EPIPE => "EPIPE",
        libc::ENONET => "ENONET",
        libc::EPROTO => "EPROTO",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENETRESET => "ENETRESET",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        _ => "",
    }
}

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
    Failure {
        phase: Phase::Connect,
        class,
        detail: errno_name(code).into(),
    }
}

/// Classifies an I/O error on an open connection in `phase` (`tls` or `query`).
///
/// RST → `reset`, clean close → `eof`, silence past SO_RCVTIMEO-like limits → `timeout`;
/// anything else is `reset` when the connection broke, `prober_error` when we ran out of
/// resources. The detail is the errno name, or empty for a clean EOF.
pub fn classify_stream(phase: Phase, err: &io::Error) -> Failure {
    let code = err.raw_os_error();
    let class = match (err.kind(), code) {
        (io::ErrorKind::UnexpectedEof, _) => FailureClass::Eof,
        // Writing after the peer's FIN: the peer is gone, it did not reset first.
        (_, Some(libc::EPIPE)) => FailureClass::Eof,
        (_, Some(libc::ECONNRESET | libc::ECONNABORTED | libc::ENETRESET)) => FailureClass::Reset,
        (_, Some(libc::ETIMEDOUT)) => FailureClass::Timeout,
        (_, Some(libc::EHOSTUNREACH | libc::EHOSTDOWN)) => FailureClass::HostUnreachable,
        (_, Some(libc::ENETUNREACH | libc::ENETDOWN)) => FailureClass::NetworkUnreachable,
        (_, Some(libc::ENOMEM | libc::ENOBUFS | libc::EMFILE | libc::ENFILE)) => {
            FailureClass::ProberError
        }
        // Other broken-connection errors: the conversation ended abnormally.
        _ => FailureClass::Reset,
    };
    Failure {
        phase,
        class,
        detail: errno_name(code).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_symbolic_constants() {
        assert_eq!(errno_name(Some(libc::ECONNREFUSED)), "ECONNREFUSED");
        assert_eq!(errno_name(Some(libc::EHOSTUNREACH)), "EHOSTUNREACH");
        assert_eq!(errno_name(None), "");
    }

    #[test]
    fn connect_errors_map_to_contract_classes() {
        let f = classify_connect(&io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(
            (f.class, f.detail.as_ref()),
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
            (f.class, f.detail.as_ref()),
            (FailureClass::Reset, "ECONNRESET")
        );
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(classify_stream(Phase::Tls, &eof).class, FailureClass::Eof);
    }
}
