//! Network evidence in the lab: the path trace of a connect that stays silent (which hop answers
//! ICMP time exceeded last, for a server that drops SYNs and for a router further on that
//! discards them), and the TCP facts of a connect whose first SYN was lost (SYN retransmits,
//! RTT), over IPv4 and IPv6.

#[macro_use]
mod lab;

use lab::chain::{Chain, FAR4, FAR6};
use lab::modules::{module, IP4, IP6_ONLY, TRACE};
use lab::{Exporter, Lab, Metrics, ROUTER4, ROUTER6};

/// Modules of this file: 3 s probes with and without the path trace. The trace starts once
/// connect has been silent for max(3 s / 2, 3 s - 1 s) = 2 s.
fn config() -> String {
    lab::modules::config(&[
        module("trace4", "3s", &[IP4, TRACE]),
        module("trace6", "3s", &[IP6_ONLY, TRACE]),
        module("tcp4", "3s", &[IP4]),
        module("tcp6", "3s", &[IP6_ONLY]),
    ])
}

/// Starts the exporter for this file's modules.
fn exporter(lab: &Lab) -> Exporter<'_> {
    Exporter::start(lab, &config())
}

/// Asserts a connect timeout answered on time (3 s deadline, 0.3 s slack), with no ICMP error
/// behind it.
fn assert_timed_out(m: &Metrics) {
    m.assert_failure("connect", "timeout", "");
    m.assert_value("probe_timeout_seconds", &[], 3.0);
    m.assert_duration_between(2.9, 3.3);
    m.assert_phase_between("connect", 2.8, 3.3);
    m.assert_absent("probe_icmp_info");
}

// ---- A server that drops SYNs: the router (hop 1) answers, the server (hop 2) is silent.

#[test]
fn path_trace_server_drop_ipv4() {
    let lab = lab_or_skip!();
    lab.drop_syns("203.0.113.2:2010");
    let m = exporter(&lab).probe("trace4", "203.0.113.2:2010");
    assert_timed_out(&m);
    m.assert_path(1, &[(1, ROUTER4)]);
}

#[test]
fn path_trace_server_drop_ipv6() {
    let lab = lab_or_skip!();
    lab.drop_syns("[2001:db8:2::2]:2010");
    let m = exporter(&lab).probe("trace6", "[2001:db8:2::2]:2010");
    assert_timed_out(&m);
    m.assert_value("probe_ip_protocol", &[], 6.0);
    m.assert_path(1, &[(1, ROUTER6)]);
}

/// Without `path_trace` the same timeout carries no path lines.
#[test]
fn no_path_trace_when_disabled() {
    let lab = lab_or_skip!();
    lab.iptables(&lab.server, "-A INPUT -p tcp --dport 2010 -j DROP");
    let m = exporter(&lab).probe("tcp4", "203.0.113.2:2010");
    assert_timed_out(&m);
    m.assert_absent("probe_path_last_responding_hop");
    m.assert_absent("probe_path_hop_info");
}

/// A connect answered before the trace would start (a RST at once) has no path lines either.
#[test]
fn no_path_trace_when_connect_answers() {
    let lab = lab_or_skip!();
    let m = exporter(&lab).probe("trace6", "[2001:db8:2::2]:1");
    m.assert_failure("connect", "refused", "ECONNREFUSED");
    m.assert_absent("probe_path_last_responding_hop");
    m.assert_absent("probe_path_hop_info");
}

// ---- A blackhole route on a router further on: the router before it is the last to answer.

#[test]
fn path_trace_blackhole_router2_ipv4() {
    let lab = lab_or_skip!();
    lab.chain(1);
    let m = exporter(&lab).probe("trace4", &format!("{FAR4}:80"));
    assert_timed_out(&m);
    m.assert_path(1, &[(1, ROUTER4)]);
}

#[test]
fn path_trace_blackhole_router2_ipv6() {
    let lab = lab_or_skip!();
    lab.chain(1);
    let m = exporter(&lab).probe("trace6", &format!("[{FAR6}]:80"));
    assert_timed_out(&m);
    m.assert_path(1, &[(1, ROUTER6)]);
}

#[test]
fn path_trace_blackhole_router3_ipv4() {
    let lab = lab_or_skip!();
    lab.chain(2);
    let m = exporter(&lab).probe("trace4", &format!("{FAR4}:80"));
    assert_timed_out(&m);
    m.assert_path(2, &[(1, ROUTER4), (2, &Chain::hop4(2))]);
}

#[test]
fn path_trace_blackhole_router3_ipv6() {
    let lab = lab_or_skip!();
    lab.chain(2);
    let m = exporter(&lab).probe("trace6", &format!("[{FAR6}]:80"));
    assert_timed_out(&m);
    m.assert_path(2, &[(1, ROUTER6), (2, &Chain::hop6(2))]);
}

// ---- The first SYN is lost, the one retransmitted after the initial RTO gets through.

/// Drops the first SYN from each source to `port` and lets later ones pass: the `recent` match
/// (iptables-extensions(8)) remembers a source when its first SYN is dropped.
fn drop_first_syn(lab: &Lab, ipv6: bool, port: u16) {
    let rules = [
        format!("-A INPUT -p tcp --dport {port} --syn -m recent --name synonce --rcheck -j ACCEPT"),
        format!("-A INPUT -p tcp --dport {port} --syn -m recent --name synonce --set -j DROP"),
    ];
    for rule in &rules {
        if ipv6 {
            lab.ip6tables(&lab.server, rule);
        } else {
            lab.iptables(&lab.server, rule);
        }
    }
}

/// Asserts a success whose connect waited for one SYN retransmission: the initial RTO is 1 s
/// (RFC 6298 §2.1), so connect takes just over 1 s.
fn assert_one_syn_lost(m: &Metrics) {
    m.assert_success();
    m.assert_phase_between("connect", 1.0, 2.0);
    let retransmits = m.assert_between("probe_tcp_syn_retransmits", &[], 1.0, 3.0);
    assert!(
        retransmits.fract() == 0.0,
        "retransmits must be a count:\n{}",
        m.body
    );
    m.assert_between("probe_tcp_rtt_seconds", &[], 0.0, 0.5);
}

#[test]
fn syn_retransmit_ipv4() {
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:2011");
    drop_first_syn(&lab, false, 2011);
    let m = exporter(&lab).probe("tcp4", "203.0.113.2:2011");
    assert_one_syn_lost(&m);
}

#[test]
fn syn_retransmit_ipv6() {
    let lab = lab_or_skip!();
    lab.serve_ssh("[2001:db8:2::2]:2011");
    drop_first_syn(&lab, true, 2011);
    let m = exporter(&lab).probe("tcp6", "[2001:db8:2::2]:2011");
    assert_one_syn_lost(&m);
    m.assert_value("probe_ip_protocol", &[], 6.0);
}

/// The baseline: a SYN answered at once counts no retransmission.
#[test]
fn no_syn_retransmit_ipv4() {
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:2011");
    let m = exporter(&lab).probe("tcp4", "203.0.113.2:2011");
    m.assert_success();
    m.assert_value("probe_tcp_syn_retransmits", &[], 0.0);
    m.assert_phase_between("connect", 0.0, 0.5);
    m.assert_between("probe_tcp_rtt_seconds", &[], 0.0, 0.5);
}

/// The extra routers of a chain go with the lab.
#[test]
fn chain_teardown() {
    let lab = lab_or_skip!();
    let chain = lab.chain(2);
    let prefix = lab.prefix().to_string();
    let listed = lab::netns::list();
    for ns in &chain.routers {
        assert!(listed.contains(ns), "{ns} missing while the lab is up");
    }
    drop(lab);
    let left: Vec<String> = lab::netns::list()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}
