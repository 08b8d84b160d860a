//! ICMP evidence behind a failed connect: the socket's error queue (`IP_RECVERR`, ip(7);
//! `IPV6_RECVERR`, ipv6(7)) holds the ICMP type, code and sender of the error that aborted the
//! handshake. This is how a firewall's "administratively prohibited" is told from a plain
//! "host unreachable", which share one errno (EHOSTUNREACH).

use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};

use crate::report::{FailureClass, IcmpInfo};

/// `ee_origin` values of `struct sock_extended_err` (linux/errqueue.h).
const SO_EE_ORIGIN_ICMP: u8 = 2;
const SO_EE_ORIGIN_ICMP6: u8 = 3;

/// Asks the kernel to queue ICMP errors on `fd` for [`read_error_queue`].
///
/// Errors: the setsockopt(2) errno (none expected on a fresh TCP socket).
pub fn enable_recverr<F: AsFd>(fd: &F, ipv6: bool) -> nix::Result<()> {
    if ipv6 {
        setsockopt(fd, sockopt::Ipv6RecvErr, &true)
    } else {
        setsockopt(fd, sockopt::Ipv4RecvErr, &true)
    }
}

/// Drains the error queue of `fd` and returns the first ICMP or ICMPv6 error in it, if any.
///
/// Never blocks (`MSG_DONTWAIT`); errors of recvmsg(2) end the read and yield what was found.
pub fn read_error_queue<F: AsRawFd>(fd: &F) -> Option<IcmpInfo> {
    let mut found = None;
    // A connect collects at most a few errors; bound the loop anyway.
    for _ in 0..8 {
        let mut data = [0u8; 256];
        let mut iov = [IoSliceMut::new(&mut data)];
        let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
        let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
        let Ok(msg) = recvmsg::<()>(fd.as_raw_fd(), &mut iov, Some(&mut cmsg), flags) else {
            break;
        };
        let Ok(cmsgs) = msg.cmsgs() else { break };
        for c in cmsgs {
            let info = match c {
                ControlMessageOwned::Ipv4RecvErr(ee, from) if ee.ee_origin == SO_EE_ORIGIN_ICMP => {
                    let from = from
                        .map(|a| IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))))
                        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                    Some(icmp_info(false, ee.ee_type, ee.ee_code, from))
                }
                ControlMessageOwned::Ipv6RecvErr(ee, from)
                    if ee.ee_origin == SO_EE_ORIGIN_ICMP6 =>
                {
                    let from = from
                        .map(|a| IpAddr::V6(Ipv6Addr::from(a.sin6_addr.s6_addr)))
                        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
                    Some(icmp_info(true, ee.ee_type, ee.ee_code, from))
                }
                _ => None,
            };
            if found.is_none() {
                found = info;
            }
        }
    }
    found
}

/// Builds an [`IcmpInfo`] with the snake_case reason of `icmp_type`/`code`.
pub fn icmp_info(ipv6: bool, icmp_type: u8, code: u8, from: IpAddr) -> IcmpInfo {
    IcmpInfo {
        icmp_type,
        code,
        reason: if ipv6 {
            icmp6_reason(icmp_type, code)
        } else {
            icmp4_reason(icmp_type, code)
        },
        from,
    }
}

/// Reason names of ICMP types and destination-unreachable codes (RFC 792, RFC 1122 3.2.2.1,
/// RFC 1812 5.2.7.1 for codes 13-15).
fn icmp4_reason(icmp_type: u8, code: u8) -> &'static str {
    match (icmp_type, code) {
        (3, 0) => "net_unreachable",
        (3, 1) => "host_unreachable",
        (3, 2) => "protocol_unreachable",
        (3, 3) => "port_unreachable",
        (3, 4) => "fragmentation_needed",
        (3, 5) => "source_route_failed",
        (3, 6) => "net_unknown",
        (3, 7) => "host_unknown",
        (3, 8) => "host_isolated",
        (3, 9) => "net_prohibited",
        (3, 10) => "host_prohibited",
        (3, 11) => "net_unreachable_for_tos",
        (3, 12) => "host_unreachable_for_tos",
        (3, 13) => "admin_prohibited",
        (3, 14) => "host_precedence_violation",
        (3, 15) => "precedence_cutoff",
        (3, _) => "destination_unreachable",
        (4, _) => "source_quench",
        (5, _) => "redirect",
        (11, _) => "time_exceeded",
        (12, _) => "parameter_problem",
        _ => "other",
    }
}

/// Reason names of ICMPv6 error types and destination-unreachable codes (RFC 4443 3.1).
fn icmp6_reason(icmp_type: u8, code: u8) -> &'static str {
    match (icmp_type, code) {
        (1, 0) => "no_route",
        (1, 1) => "admin_prohibited",
        (1, 2) => "beyond_scope",
        (1, 3) => "address_unreachable",
        (1, 4) => "port_unreachable",
        (1, 5) => "source_address_failed_policy",
        (1, 6) => "reject_route",
        (1, _) => "destination_unreachable",
        (2, _) => "packet_too_big",
        (3, _) => "time_exceeded",
        (4, _) => "parameter_problem",
        _ => "other",
    }
}

/// The class an ICMP error decides on its own, when it is more precise than the errno:
/// the prohibited codes (ICMP type 3 code 9, 10, 13; ICMPv6 type 1 code 1, 5, 6) are
/// `admin_prohibited` although the kernel reports them as EHOSTUNREACH or ENETUNREACH.
pub fn class_override(ipv6: bool, info: &IcmpInfo) -> Option<FailureClass> {
    match (ipv6, info.icmp_type, info.code) {
        (false, 3, 9 | 10 | 13) => Some(FailureClass::AdminProhibited),
        (true, 1, 1 | 5 | 6) => Some(FailureClass::AdminProhibited),
        (false, 3, 0 | 6 | 11) => Some(FailureClass::NetworkUnreachable),
        (true, 1, 0 | 2) => Some(FailureClass::NetworkUnreachable),
        (false, 3, 1 | 7 | 8 | 12) => Some(FailureClass::HostUnreachable),
        (true, 1, 3) => Some(FailureClass::HostUnreachable),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prohibited_codes_override_the_errno() {
        let any = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let admin = icmp_info(false, 3, 13, any);
        assert_eq!(admin.reason, "admin_prohibited");
        assert_eq!(
            class_override(false, &admin),
            Some(FailureClass::AdminProhibited)
        );
        let v6 = icmp_info(true, 1, 1, any);
        assert_eq!(
            class_override(true, &v6),
            Some(FailureClass::AdminProhibited)
        );
        let host = icmp_info(false, 3, 1, any);
        assert_eq!(
            class_override(false, &host),
            Some(FailureClass::HostUnreachable)
        );
    }
}
