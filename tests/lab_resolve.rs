//! Resolve-phase classes produced by a real DNS server that the exporter reaches through the
//! client namespace's resolv.conf: NXDOMAIN, NODATA, SERVFAIL, REFUSED, FORMERR and silence;
//! plus names that resolve (through DNS with IPv6 preference and fallback, and through
//! /etc/hosts); and the host's rules of resolv.conf(5): the search list, `ndots`, a trailing
//! dot, the class across candidates, and a resolv.conf changed while the exporter runs.

#[macro_use]
mod lab;

use lab::modules::{module, IP4_ONLY, IP6};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lab::exporter::probe_debug;
use lab::{Exporter, Lab};

/// Modules of this file: strict IPv4, and blackbox_exporter's default (IPv6 preferred with
/// fallback), both with a 2 s deadline.
fn config() -> String {
    lab::modules::config(&[
        module("name4", "2s", &[IP4_ONLY]),
        module("name6", "2s", &[IP6]),
    ])
}

/// Starts the exporter for this file's modules.
fn exporter(lab: &Lab) -> Exporter<'_> {
    Exporter::start(lab, &config())
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

/// Each resolver answer gives its class and rcode detail. `v6only.lab.test` has AAAA only and
/// the module wants IPv4 without fallback: NOERROR with no records (RFC 2308 NODATA), so the
/// detail is the rcode name or empty.
#[test]
fn dns_answers_give_their_class() {
    let cases: [(&str, &str, &[&str]); 5] = [
        ("nx.lab.test:22", "dns_nxdomain", &["NXDOMAIN"]),
        ("v6only.lab.test:22", "dns_no_records", &["NOERROR", ""]),
        ("servfail.lab.test:22", "dns_servfail", &["SERVFAIL"]),
        ("refused.lab.test:22", "dns_refused", &["REFUSED"]),
        ("formerr.lab.test:22", "dns_error", &["FORMERR"]),
    ];
    for (target, class, details) in cases {
        let lab = lab_or_skip!();
        assert_resolve_failure(&lab, target, class, details);
    }
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
    lab.serve_ssh("203.0.113.2:22");
    lab.serve_ssh("[2001:db8:2::2]:22");
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

/// A name with an A record only falls back to IPv4 from an IPv6-first module; a name from
/// the hosts file resolves without DNS.
#[test]
fn names_resolve_to_ipv4() {
    for (module, target) in [
        ("name6", "v4only.lab.test:22"),
        ("name4", "hosts.lab.test:22"),
    ] {
        let lab = lab_or_skip!();
        lab.serve_ssh("203.0.113.2:22");
        exporter(&lab).probe(module, target).assert_success_over(4);
    }
}

// The host's rules: search list, ndots, trailing dot, class across candidates, reload.

/// The lab nameserver, as a resolv.conf line.
const NAMESERVER: &str = "nameserver 203.0.113.2\n";

/// The client namespace's resolv.conf, which `ip netns exec` bind-mounts on /etc/resolv.conf.
fn resolv_conf_path(lab: &Lab) -> PathBuf {
    std::path::Path::new(lab::netns::NETNS_ETC_DIR)
        .join(&lab.client)
        .join("resolv.conf")
}

/// Rewrites the client's resolv.conf in place (the bind mount follows the inode).
fn set_resolv_conf(lab: &Lab, text: &str) {
    std::fs::write(resolv_conf_path(lab), text).expect("failed to write the lab resolv.conf");
}

/// Asserts that the step log holds these candidate lines, in this order, and no other
/// candidate line.
fn assert_candidates(log: &str, expected: &[&str]) {
    let answered: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, msg)| msg))
        .filter(|msg| msg.contains(".: "))
        .collect();
    assert_eq!(answered, expected, "candidates in the step log:\n{log}");
}

/// Starts a banner peer on 203.0.113.2:8080 and the exporter, after writing `resolv`.
fn with_resolv_conf<'a>(lab: &'a Lab, resolv: &str) -> Exporter<'a> {
    set_resolv_conf(lab, resolv);
    lab.serve_ssh("203.0.113.2:8080");
    exporter(lab)
}

#[test]
fn short_name_resolves_through_the_search_list() {
    let lab = lab_or_skip!();
    let _exp = with_resolv_conf(&lab, &format!("search nowhere.test lab\n{NAMESERVER}"));
    let (m, log) = probe_debug(&lab, "name4", "good:8080");
    m.assert_success();
    assert_candidates(
        &log,
        &[
            "good.nowhere.test.: A NXDOMAIN",
            "good.lab.: A [203.0.113.2]",
        ],
    );
}

#[test]
fn nxdomain_only_when_every_candidate_is() {
    let lab = lab_or_skip!();
    let _exp = with_resolv_conf(&lab, &format!("search nowhere.test lab\n{NAMESERVER}"));
    let (m, log) = probe_debug(&lab, "name4", "missing:8080");
    m.assert_failure("resolve", "dns_nxdomain", "NXDOMAIN");
    assert_candidates(
        &log,
        &[
            "missing.nowhere.test.: A NXDOMAIN",
            "missing.lab.: A NXDOMAIN",
            "missing.: A NXDOMAIN",
        ],
    );
}

/// `ndots.lab.test` (two dots) is A 203.0.113.2, where the peer listens;
/// `ndots.lab.test.search.test` is A 203.0.113.3, where nothing listens.
#[test]
fn ndots_reached_tries_the_name_as_given_first() {
    let lab = lab_or_skip!();
    let _exp = with_resolv_conf(
        &lab,
        &format!("search search.test\noptions ndots:2\n{NAMESERVER}"),
    );
    let (m, log) = probe_debug(&lab, "name4", "ndots.lab.test:8080");
    m.assert_success();
    assert_candidates(&log, &["ndots.lab.test.: A [203.0.113.2]"]);
}

#[test]
fn ndots_not_reached_tries_the_search_list_first() {
    let lab = lab_or_skip!();
    let _exp = with_resolv_conf(
        &lab,
        &format!("search search.test\noptions ndots:5\n{NAMESERVER}"),
    );
    let (m, log) = probe_debug(&lab, "name4", "ndots.lab.test:8080");
    m.assert_failure("connect", "refused", "ECONNREFUSED");
    assert_candidates(&log, &["ndots.lab.test.search.test.: A [203.0.113.3]"]);
}

#[test]
fn trailing_dot_skips_the_search_list() {
    let lab = lab_or_skip!();
    let _exp = with_resolv_conf(&lab, &format!("search lab\n{NAMESERVER}"));
    let (m, log) = probe_debug(&lab, "name4", "good.:8080");
    m.assert_failure("resolve", "dns_nxdomain", "NXDOMAIN");
    assert_candidates(&log, &["good.: A NXDOMAIN"]);
}

/// Every name under `broken.test` answers SERVFAIL.
#[test]
fn servfail_on_one_candidate() {
    let lab = lab_or_skip!();
    let _exp = with_resolv_conf(&lab, &format!("search broken.test lab\n{NAMESERVER}"));
    let (m, log) = probe_debug(&lab, "name4", "good:8080");
    m.assert_success();
    assert_candidates(
        &log,
        &[
            "good.broken.test.: A SERVFAIL",
            "good.lab.: A [203.0.113.2]",
        ],
    );
    // Nowhere found: the SERVFAIL wins over the other candidates' NXDOMAIN.
    let (m, log) = probe_debug(&lab, "name4", "missing:8080");
    m.assert_failure("resolve", "dns_servfail", "SERVFAIL");
    assert_candidates(
        &log,
        &[
            "missing.broken.test.: A SERVFAIL",
            "missing.lab.: A NXDOMAIN",
            "missing.: A NXDOMAIN",
        ],
    );
}

/// Starts with a nameserver that never answers (the router blackholes 203.0.113.6), then fixes
/// resolv.conf while the exporter runs: probes recover within the re-read interval (5 s) plus
/// one probe, with the same process.
#[test]
fn resolv_conf_fixed_while_running_is_used() {
    let lab = lab_or_skip!();
    let exp = with_resolv_conf(&lab, "search lab\nnameserver 203.0.113.6\n");
    exp.probe("name4", "good:8080")
        .assert_failure("resolve", "timeout", "");
    set_resolv_conf(&lab, &format!("search lab\n{NAMESERVER}"));
    let fixed = Instant::now();
    let recovered = loop {
        let m = exp.probe("name4", "good:8080");
        if m.value("probe_success") == Some(1.0) {
            break fixed.elapsed();
        }
        m.assert_failure("resolve", "timeout", "");
        assert!(
            fixed.elapsed() < Duration::from_secs(12),
            "still failing 12 s after the fix; log:\n{}",
            exp.log()
        );
    };
    println!("recovered {recovered:?} after the fix");
    assert!(
        recovered < Duration::from_secs(8),
        "recovered after {recovered:?}, expected within 5 s plus one 2 s probe"
    );
    assert!(
        exp.log().contains("resolver configuration now"),
        "the reload is logged:\n{}",
        exp.log()
    );
}

/// A name added to the hosts file while the exporter runs resolves within the re-read
/// interval; before that DNS answers NXDOMAIN for it.
#[test]
fn hosts_file_changed_while_running_is_used() {
    let lab = lab_or_skip!();
    let exp = with_resolv_conf(&lab, NAMESERVER);
    exp.probe("name4", "added.lab.test:8080")
        .assert_failure("resolve", "dns_nxdomain", "NXDOMAIN");
    let hosts = resolv_conf_path(&lab).with_file_name("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n203.0.113.2 added.lab.test\n")
        .expect("failed to write the lab hosts file");
    let changed = Instant::now();
    loop {
        let m = exp.probe("name4", "added.lab.test:8080");
        if m.value("probe_success") == Some(1.0) {
            break;
        }
        m.assert_failure("resolve", "dns_nxdomain", "NXDOMAIN");
        assert!(
            changed.elapsed() < Duration::from_secs(7),
            "hosts change not seen after 7 s; log:\n{}",
            exp.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// nsswitch.conf(5) decides whether hosts or DNS speaks first: the client's hosts file says
/// `ndots.lab.test` is 203.0.113.3 (nothing listens), DNS says 203.0.113.2 (the peer).
#[test]
fn nsswitch_decides_between_hosts_and_dns() {
    let lab = lab_or_skip!();
    let etc = resolv_conf_path(&lab);
    std::fs::write(
        etc.with_file_name("hosts"),
        "127.0.0.1 localhost\n203.0.113.3 ndots.lab.test\n203.0.113.2 hosts.lab.test\n",
    )
    .expect("failed to write the lab hosts file");
    std::fs::write(etc.with_file_name("nsswitch.conf"), "hosts: files dns\n")
        .expect("failed to write the lab nsswitch.conf");
    let exp = with_resolv_conf(&lab, NAMESERVER);
    exp.probe("name4", "ndots.lab.test:8080")
        .assert_failure("connect", "refused", "ECONNREFUSED");
    drop(exp);

    std::fs::write(
        etc.with_file_name("nsswitch.conf"),
        "hosts: dns [!UNAVAIL=return] files\n",
    )
    .expect("failed to write the lab nsswitch.conf");
    let exp = exporter(&lab);
    let (m, log) = probe_debug(&lab, "name4", "ndots.lab.test:8080");
    m.assert_success();
    assert_candidates(&log, &["ndots.lab.test.: A [203.0.113.2]"]);
    // Not in DNS: the hosts file, asked second, still has it.
    exp.probe("name4", "hosts.lab.test:8080").assert_success();
}
