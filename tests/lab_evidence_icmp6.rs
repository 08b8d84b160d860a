//! ICMPv6 evidence behind a failed IPv6 connect (RFC 4443 §3.1 destination unreachable codes):
//! address unreachable sent by the server's firewall (type 1 code 3) and no route to destination
//! sent by the router's ip6tables REJECT (type 1 code 0; the router's missing route is
//! lab_connect's `network_unreachable_icmp6_router`). Each asserts the class, the errno and the
//! full `probe_icmp_info` labels.

#[macro_use]
mod lab;

use lab::modules::{module, IP6_ONLY};
use lab::{Exporter, Lab, ROUTER6, SERVER6};

/// Modules of this file: IPv6 only, 3 s (an ICMPv6 error that arrives while connect(2) holds the
/// socket lock is only a soft error, and the answer to the SYN resent after 1 s ends it).
fn config() -> String {
    lab::modules::config(&[module("tcp6", "3s", &[IP6_ONLY])])
}

/// Starts the exporter for this file's module.
fn exporter(lab: &Lab) -> Exporter<'_> {
    Exporter::start(lab, &config())
}

/// The server's firewall answers address unreachable (type 1 code 3), which the kernel reports
/// as EHOSTUNREACH (icmpv6_err_convert): class host_unreachable.
#[test]
fn host_unreachable_icmp6_from_server() {
    let lab = lab_or_skip!();
    let rule = "-A INPUT -p tcp --dport 2030 -j REJECT --reject-with icmp6-addr-unreachable";
    lab.ip6tables(&lab.server, rule);
    let m = exporter(&lab).probe("tcp6", "[2001:db8:2::2]:2030");
    m.assert_failure("connect", "host_unreachable", "EHOSTUNREACH");
    m.assert_icmp("1", "3", "address_unreachable", SERVER6);
    m.assert_phase_between("connect", 0.0, 1.6);
    m.assert_value("probe_ip_protocol", &[], 6.0);
}

/// The router's forwarding firewall answers no route (type 1 code 0): ENETUNREACH, class
/// network_unreachable.
#[test]
fn network_unreachable_icmp6_router_reject() {
    let lab = lab_or_skip!();
    let rule = "-A FORWARD -p tcp --dport 2031 -j REJECT --reject-with icmp6-no-route";
    lab.ip6tables(&lab.router, rule);
    let m = exporter(&lab).probe("tcp6", "[2001:db8:2::2]:2031");
    m.assert_failure("connect", "network_unreachable", "ENETUNREACH");
    m.assert_icmp("1", "0", "no_route", ROUTER6);
    m.assert_phase_between("connect", 0.0, 1.6);
}
