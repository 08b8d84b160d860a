//! Connect-phase classes produced by the kernel: RST (refused), silence (timeout), ICMP and
//! ICMPv6 errors from the server or the router (host_unreachable, network_unreachable,
//! admin_prohibited, with their `probe_icmp_info`; RFC 792, RFC 4443 section 3.1), a missing
//! local route, and a source address the exporter cannot bind.

#[macro_use]
mod lab;

use lab::modules::{module, IP4, IP6_ONLY};
use lab::{Exporter, Lab, Peer, ROUTER4, ROUTER6, SERVER4, SERVER6};

/// Modules of this file: IPv4 and IPv6 connects under a 2 s deadline (IPv6 gets 3 s: see
/// `admin_prohibited_icmp6`; and 6 s to outlast address resolution), and one with a source
/// address on no interface.
fn config() -> String {
    lab::modules::config(&[
        module("tcp4", "2s", &[IP4]),
        module("tcp4_slow", "6s", &[IP4]),
        module("tcp6", "3s", &[IP6_ONLY]),
        module("tcp6_slow", "6s", &[IP6_ONLY]),
        module(
            "bad_source",
            "2s",
            &[IP4, "      source_ip_address: 203.0.113.99\n"],
        ),
    ])
}

/// Starts the exporter for this file's modules.
fn exporter(lab: &Lab) -> Exporter<'_> {
    Exporter::start(lab, &config())
}

#[test]
fn refused_closed_port() {
    let lab = lab_or_skip!();
    let m = exporter(&lab).probe("tcp4", "203.0.113.2:1");
    m.assert_failure("connect", "refused", "ECONNREFUSED");
    m.assert_phase_between("connect", 0.0, 0.5);
    m.assert_duration_between(0.0, 1.0);
    m.assert_value("probe_ip_protocol", &[], 4.0);
    m.assert_absent("probe_icmp_info");
}

#[test]
fn refused_by_firewall_reset() {
    let lab = lab_or_skip!();
    lab.serve("203.0.113.2:2003", Peer::Silent);
    lab.iptables(
        &lab.server,
        "-A INPUT -p tcp --dport 2003 -j REJECT --reject-with tcp-reset",
    );
    let m = exporter(&lab).probe("tcp4", "203.0.113.2:2003");
    m.assert_failure("connect", "refused", "ECONNREFUSED");
    m.assert_phase_between("connect", 0.0, 0.5);
}

#[test]
fn timeout_dropped_syn() {
    let lab = lab_or_skip!();
    lab.drop_syns("203.0.113.2:2002");
    let m = exporter(&lab).probe("tcp4", "203.0.113.2:2002");
    m.assert_failure("connect", "timeout", "");
    m.assert_duration_between(1.9, 2.6);
    m.assert_phase_between("connect", 1.8, 2.6);
    m.assert_value("probe_timeout_seconds", &[], 2.0);
}

#[test]
fn timeout_blackhole_route() {
    let lab = lab_or_skip!();
    let m = exporter(&lab).probe("tcp4", &format!("{}:80", lab::BLACKHOLE4));
    m.assert_failure("connect", "timeout", "");
    m.assert_duration_between(1.9, 2.6);
}

#[test]
fn host_unreachable_icmp_from_server() {
    let lab = lab_or_skip!();
    let rule = "-A INPUT -p tcp --dport 2001 -j REJECT --reject-with icmp-host-unreachable";
    lab.iptables(&lab.server, rule);
    let icmp = ("3", "1", "host_unreachable", SERVER4);
    let m = exporter(&lab).probe("tcp4", "203.0.113.2:2001");
    m.assert_icmp_failure("host_unreachable", "EHOSTUNREACH", icmp, 1.5);
}

#[test]
fn host_unreachable_router_route() {
    let lab = lab_or_skip!();
    let icmp = ("3", "1", "host_unreachable", ROUTER4);
    let m = exporter(&lab).probe("tcp4", &format!("{}:80", lab::UNREACHABLE4));
    m.assert_icmp_failure("host_unreachable", "EHOSTUNREACH", icmp, 1.5);
}

/// Nobody owns 203.0.113.9 on the server link: the router's ARP requests go unanswered (three
/// probes a second apart, arp(7) `mcast_solicit`/`retrans_time_ms`), then it sends ICMP host
/// unreachable (RFC 1812 §5.2.7.1).
#[test]
fn host_unreachable_no_arp_answer() {
    let lab = lab_or_skip!();
    let icmp = ("3", "1", "host_unreachable", ROUTER4);
    let m = exporter(&lab).probe("tcp4_slow", "203.0.113.9:80");
    m.assert_icmp_failure("host_unreachable", "EHOSTUNREACH", icmp, 5.0);
    m.assert_phase_between("connect", 2.0, 5.0);
}

/// IPv6 counterpart: no Neighbor Advertisement for 2001:db8:2::9 (RFC 4861 §7.2.2), so the
/// router sends ICMPv6 address unreachable, type 1 code 3 (RFC 4443 §3.1).
#[test]
fn host_unreachable_no_nd_answer() {
    let lab = lab_or_skip!();
    let m = exporter(&lab).probe("tcp6_slow", "[2001:db8:2::9]:80");
    m.assert_failure("connect", "host_unreachable", "EHOSTUNREACH");
    let icmp = m.find(
        "probe_icmp_info",
        &[("type", "1"), ("code", "3"), ("from", ROUTER6)],
    );
    assert_eq!(
        icmp.len(),
        1,
        "expected one ICMPv6 address unreachable:\n{}",
        m.body
    );
    m.assert_phase_between("connect", 2.0, 5.0);
}

#[test]
fn network_unreachable_router() {
    let lab = lab_or_skip!();
    let icmp = ("3", "0", "net_unreachable", ROUTER4);
    let m = exporter(&lab).probe("tcp4", &format!("{}:80", lab::NOROUTE4));
    m.assert_icmp_failure("network_unreachable", "ENETUNREACH", icmp, 1.5);
}

#[test]
fn network_unreachable_local() {
    let lab = lab_or_skip!();
    lab.ip(&lab.client, "route del 192.0.2.0/24");
    let m = exporter(&lab).probe("tcp4", &format!("{}:80", lab::NOROUTE4));
    m.assert_failure("connect", "network_unreachable", "ENETUNREACH");
    m.assert_absent("probe_icmp_info");
    m.assert_phase_between("connect", 0.0, 0.5);
}

#[test]
fn network_unreachable_icmp6_router() {
    let lab = lab_or_skip!();
    let icmp = ("1", "0", "no_route", ROUTER6);
    let m = exporter(&lab).probe("tcp6", &format!("[{}]:80", lab::NOROUTE6));
    m.assert_icmp_failure("network_unreachable", "ENETUNREACH", icmp, 1.6);
    m.assert_value("probe_ip_protocol", &[], 6.0);
}

#[test]
fn admin_prohibited_router_reject() {
    let lab = lab_or_skip!();
    let rule = "-A FORWARD -p tcp --dport 2004 -j REJECT --reject-with icmp-admin-prohibited";
    lab.iptables(&lab.router, rule);
    let icmp = ("3", "13", "admin_prohibited", ROUTER4);
    let m = exporter(&lab).probe("tcp4", "203.0.113.2:2004");
    m.assert_icmp_failure("admin_prohibited", "EHOSTUNREACH", icmp, 1.5);
}

#[test]
fn admin_prohibited_prohibit_route() {
    let lab = lab_or_skip!();
    let icmp = ("3", "13", "admin_prohibited", ROUTER4);
    let m = exporter(&lab).probe("tcp4", &format!("{}:80", lab::PROHIBITED4));
    m.assert_icmp_failure("admin_prohibited", "EHOSTUNREACH", icmp, 1.5);
}

/// ICMPv6 type 1 code 1 (RFC 4443 §3.1). The kernel turns it into EACCES (icmpv6_err_convert).
/// An ICMPv6 error that arrives while connect(2) still holds the socket lock is only recorded
/// as a soft error, so without reading the error queue the connect ends at the answer to the
/// SYN retransmitted after 1 s; the bound allows for that.
#[test]
fn admin_prohibited_icmp6() {
    let lab = lab_or_skip!();
    let rule = "-A INPUT -p tcp --dport 2005 -j REJECT --reject-with adm-prohibited";
    lab.ip6tables(&lab.server, rule);
    let icmp = ("1", "1", "admin_prohibited", SERVER6);
    let m = exporter(&lab).probe("tcp6", "[2001:db8:2::2]:2005");
    m.assert_icmp_failure("admin_prohibited", "EACCES", icmp, 1.6);
}

#[test]
fn connect_success_ipv4_and_ipv6() {
    for (module, addr, ip) in [
        ("tcp4", "203.0.113.2:22", 4),
        ("tcp6", "[2001:db8:2::2]:22", 6),
    ] {
        let lab = lab_or_skip!();
        lab.serve_ssh(addr);
        let m = exporter(&lab).probe(module, addr);
        m.assert_success_over(ip);
        m.assert_phase_between("connect", 0.0, 0.5);
        m.assert_absent("probe_icmp_info");
        assert!(m.value("probe_ip_addr_hash").is_some(), "{}", m.body);
    }
}

#[test]
fn prober_error_bad_source_address() {
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    let m = exporter(&lab).probe("bad_source", "203.0.113.2:22");
    m.assert_failure("connect", "prober_error", "EADDRNOTAVAIL");
}

/// The server's firewall answers address unreachable (type 1 code 3), which the kernel reports
/// as EHOSTUNREACH (icmpv6_err_convert): class host_unreachable.
#[test]
fn host_unreachable_icmp6_from_server() {
    let lab = lab_or_skip!();
    let rule = "-A INPUT -p tcp --dport 2030 -j REJECT --reject-with icmp6-addr-unreachable";
    lab.ip6tables(&lab.server, rule);
    let icmp = ("1", "3", "address_unreachable", SERVER6);
    let m = exporter(&lab).probe("tcp6", "[2001:db8:2::2]:2030");
    m.assert_icmp_failure("host_unreachable", "EHOSTUNREACH", icmp, 1.6);
    m.assert_value("probe_ip_protocol", &[], 6.0);
}

/// The router's forwarding firewall answers no route (type 1 code 0): ENETUNREACH, class
/// network_unreachable.
#[test]
fn network_unreachable_icmp6_router_reject() {
    let lab = lab_or_skip!();
    let rule = "-A FORWARD -p tcp --dport 2031 -j REJECT --reject-with icmp6-no-route";
    lab.ip6tables(&lab.router, rule);
    let icmp = ("1", "0", "no_route", ROUTER6);
    let m = exporter(&lab).probe("tcp6", "[2001:db8:2::2]:2031");
    m.assert_icmp_failure("network_unreachable", "ENETUNREACH", icmp, 1.6);
}
