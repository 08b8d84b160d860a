//! Resolve-phase classes produced by a real DNS server that the exporter reaches through the
//! client namespace's resolv.conf: NXDOMAIN, NODATA, SERVFAIL, REFUSED, FORMERR and silence;
//! plus names that resolve (through DNS with IPv6 preference and fallback, and through
//! /etc/hosts).

#[macro_use]
mod lab;

use lab::{Exporter, Lab, Peer};

/// Modules of this file: strict IPv4, and blackbox_exporter's default (IPv6 preferred with
/// fallback), both with a 2 s deadline.
const CONFIG: &str = r#"
modules:
  name4:
    prober: tcp
    timeout: 2s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  name6:
    prober: tcp
    timeout: 2s
    tcp:
      preferred_ip_protocol: ip6
      ip_protocol_fallback: true
"#;

/// Starts the exporter for this file's modules.
fn exporter(lab: &Lab) -> Exporter<'_> {
    Exporter::start(lab, CONFIG)
}

/// Asserts a resolve failure that took less than a second and left no address.
fn assert_resolve_failure(lab: &Lab, target: &str, class: &str, details: &[&str]) {
    let m = exporter(lab).probe("name4", target);
    m.assert_failure_in("resolve", class, details);
    m.assert_value("probe_ip_protocol", &[], 0.0);
    m.assert_phase_between("resolve", 0.0, 1.0);
    m.assert_duration_between(0.0, 1.0);
    assert!(
        m.find("probe_tcp_duration_seconds", &[("phase", "connect")])
            .is_empty(),
        "no connect after a failed resolve:\n{}",
        m.body
    );
}

#[test]
fn dns_nxdomain() {
    let lab = lab_or_skip!();
    assert_resolve_failure(&lab, "nx.lab.test:22", "dns_nxdomain", &["NXDOMAIN"]);
}

/// `v6only.lab.test` has AAAA only; the module wants IPv4 without fallback. The answer is
/// NOERROR with no records (RFC 2308 NODATA), so the detail is the rcode name or empty.
#[test]
fn dns_no_records() {
    let lab = lab_or_skip!();
    assert_resolve_failure(
        &lab,
        "v6only.lab.test:22",
        "dns_no_records",
        &["NOERROR", ""],
    );
}

#[test]
fn dns_servfail() {
    let lab = lab_or_skip!();
    assert_resolve_failure(&lab, "servfail.lab.test:22", "dns_servfail", &["SERVFAIL"]);
}

#[test]
fn dns_refused() {
    let lab = lab_or_skip!();
    assert_resolve_failure(&lab, "refused.lab.test:22", "dns_refused", &["REFUSED"]);
}

#[test]
fn dns_error_formerr() {
    let lab = lab_or_skip!();
    assert_resolve_failure(&lab, "formerr.lab.test:22", "dns_error", &["FORMERR"]);
}

#[test]
fn timeout_in_resolve() {
    let lab = lab_or_skip!();
    let m = exporter(&lab).probe("name4", "silent.lab.test:22");
    m.assert_failure("resolve", "timeout", "");
    m.assert_duration_between(1.9, 2.6);
    m.assert_phase_between("resolve", 1.8, 2.6);
}

#[test]
fn resolve_prefers_ipv6() {
    let lab = lab_or_skip!();
    lab.serve(
        "203.0.113.2:22",
        Peer::Banner(lab::servers::SSH_BANNER.into()),
    );
    lab.serve(
        "[2001:db8:2::2]:22",
        Peer::Banner(lab::servers::SSH_BANNER.into()),
    );
    let m = exporter(&lab).probe("name6", "ok.lab.test:22");
    m.assert_success();
    m.assert_value("probe_ip_protocol", &[], 6.0);
    m.assert_phase_between("resolve", 0.0, 1.0);
    assert!(
        m.value("probe_dns_lookup_time_seconds").is_some(),
        "{}",
        m.body
    );
}

#[test]
fn resolve_falls_back_to_ipv4() {
    let lab = lab_or_skip!();
    lab.serve(
        "203.0.113.2:22",
        Peer::Banner(lab::servers::SSH_BANNER.into()),
    );
    let m = exporter(&lab).probe("name6", "v4only.lab.test:22");
    m.assert_success();
    m.assert_value("probe_ip_protocol", &[], 4.0);
}

#[test]
fn resolve_from_hosts_file() {
    let lab = lab_or_skip!();
    lab.serve(
        "203.0.113.2:22",
        Peer::Banner(lab::servers::SSH_BANNER.into()),
    );
    let m = exporter(&lab).probe("name4", "hosts.lab.test:22");
    m.assert_success();
    m.assert_value("probe_ip_protocol", &[], 4.0);
}
