//! `tcp.probe_all_addresses` against hostile names, from the client namespace's hosts file: a
//! name with 4,000 addresses, a name listing one address 3,000 times, and probes together
//! wanting more sockets than the probe descriptor budget. The addresses are 2001:db8:4::/116,
//! which the server namespace treats as its own (a `local` route), so every SYN to them
//! reaches one listener there; an ip6tables rule counts those SYNs: the number of sockets the
//! exporter really opened.

#[macro_use]
mod lab;

use std::path::Path;
use std::time::{Duration, Instant};

use lab::exporter::probe_debug;
use lab::modules::{module, IP6_ONLY};
use lab::{Exporter, Lab, Metrics, Peer, ROUTER6, SERVER6};

/// The port every test of this file probes.
const PORT: u16 = 2121;

/// The prefix of the many addresses (4,096 of them).
const PREFIX: &str = "2001:db8:4::/116";

/// Every address probed, at most `limit` in all and `at_once` at once; `hold` waits for a line
/// that never comes, so each connection stays open until the deadline.
fn every_address(name: &str, limit: usize, at_once: usize, hold: bool) -> String {
    let bounds = format!(
        "      probe_all_addresses: true\n      probe_all_addresses_limit: {limit}\n      \
         probe_all_addresses_concurrency: {at_once}\n"
    );
    let wait = "      query_response:\n        - expect: \"^never\"\n";
    let tcp = if hold {
        vec![IP6_ONLY, &bounds, wait]
    } else {
        vec![IP6_ONLY, &bounds]
    };
    module(name, "2s", &tcp)
}

/// The `n`-th address of [`PREFIX`] (1-based).
fn address(n: usize) -> String {
    format!("2001:db8:4::{n:x}")
}

/// Routes [`PREFIX`] from the client through the router to the server, which takes it as its
/// own; a silent listener on [`PORT`] accepts there, and ip6tables counts the SYNs to it.
/// Writes `hosts` (lines of hosts(5)) to the client namespace's hosts file.
fn many_addresses(lab: &Lab, hosts: &str) {
    lab.ip(&lab.client, &format!("route add {PREFIX} via {ROUTER6}"));
    lab.ip(&lab.router, &format!("route add {PREFIX} via {SERVER6}"));
    lab.ip(&lab.server, &format!("route add local {PREFIX} dev lo"));
    lab.serve(&format!("[::]:{PORT}"), Peer::Silent);
    lab.ip6tables(
        &lab.server,
        &format!("-A INPUT -p tcp --syn -d {PREFIX} --dport {PORT} -j ACCEPT"),
    );
    let file = Path::new(lab::netns::NETNS_ETC_DIR)
        .join(&lab.client)
        .join("hosts");
    std::fs::write(&file, format!("127.0.0.1 localhost\n{hosts}"))
        .unwrap_or_else(|e| panic!("failed to write {}: {e}", file.display()));
}

/// SYNs that reached the server for [`PREFIX`]: one per socket the exporter opened (the
/// listener answers each at once, so none is resent).
fn syns(lab: &Lab) -> u64 {
    let table = lab.run(
        &lab.server,
        &["ip6tables", "-w", "-L", "INPUT", "-v", "-x", "-n"],
    );
    let rule = table
        .lines()
        .find(|l| l.contains("2001:db8:4::/116"))
        .unwrap_or_else(|| panic!("no SYN counting rule in:\n{table}"));
    rule.split_whitespace()
        .next()
        .and_then(|packets| packets.parse().ok())
        .unwrap_or_else(|| panic!("no packet count in {rule:?}"))
}

/// A name with 4,000 addresses: the first 16 are probed (16 sockets, 16 series), the other
/// 3,984 are counted and the first of them named in the step log.
#[test]
fn four_thousand_addresses_open_sixteen_sockets() {
    let lab = lab_or_skip!();
    let hosts: String = (1..=4000)
        .map(|n| format!("{} many.lab.test\n", address(n)))
        .collect();
    many_addresses(&lab, &hosts);
    let config = lab::modules::config(&[every_address("many", 16, 8, false)]);
    let _exporter = Exporter::start(&lab, &config);
    let target = format!("many.lab.test:{PORT}");
    // The first lookup reads the 4,000-line hosts file, which takes seconds in a debug build;
    // the probe measured is the next one.
    let _ = lab::exporter::get(
        &lab,
        &format!("/probe?module=many&target={target}"),
        Duration::from_secs(30),
    );
    let before = syns(&lab);
    let (m, log) = probe_debug(&lab, "many", &target);
    m.assert_success();
    assert_eq!(m.find("probe_address_success", &[]).len(), 16, "{}", m.body);
    for n in 1..=16 {
        m.assert_address_success(&address(n));
    }
    m.assert_value("probe_addresses_not_probed", &[], 3984.0);
    assert!(before <= 16, "{before} sockets opened by the first probe");
    assert_eq!(syns(&lab) - before, 16, "sockets opened");
    let named = format!(
        "3984 addresses not probed (probe_all_addresses_limit 16): {}, {}",
        address(17),
        address(18)
    );
    assert!(
        log.contains(&named),
        "{named:?} not in the step log:\n{log}"
    );
    assert!(
        log.contains(" and 3952 more"),
        "no count of the rest:\n{log}"
    );
}

/// A name listing one address 3,000 times (and a second one twice): two sockets, two series.
#[test]
fn a_repeated_address_is_probed_once() {
    let lab = lab_or_skip!();
    let mut hosts = format!("{} dup.lab.test\n", address(2));
    for _ in 0..3000 {
        hosts.push_str(&format!("{} dup.lab.test\n", address(1)));
    }
    hosts.push_str(&format!("{} dup.lab.test\n", address(2)));
    many_addresses(&lab, &hosts);
    let config = lab::modules::config(&[every_address("dup", 16, 8, false)]);
    let _exporter = Exporter::start(&lab, &config);
    let (m, log) = probe_debug(&lab, "dup", &format!("dup.lab.test:{PORT}"));
    m.assert_success();
    assert_eq!(m.find("probe_address_success", &[]).len(), 2, "{}", m.body);
    m.assert_address_success(&address(1));
    m.assert_address_success(&address(2));
    m.assert_value("probe_addresses_not_probed", &[], 0.0);
    assert_eq!(syns(&lab), 2, "sockets opened");
    assert!(
        log.contains("3000 repeated addresses dropped"),
        "no note of the repeats:\n{log}"
    );
}

/// Four addresses at once out of eight, each held until the deadline: four sockets are ever
/// opened; the other four wait for a turn and time out in connect, never connected to.
#[test]
fn addresses_at_once_are_bounded() {
    let lab = lab_or_skip!();
    let hosts: String = (1..=8)
        .map(|n| format!("{} eight.lab.test\n", address(n)))
        .collect();
    many_addresses(&lab, &hosts);
    let config = lab::modules::config(&[every_address("eight", 8, 4, true)]);
    let exporter = Exporter::start(&lab, &config);
    let m = exporter.probe("eight", &format!("eight.lab.test:{PORT}"));
    assert_eq!(m.find("probe_address_success", &[]).len(), 8, "{}", m.body);
    for n in 1..=4 {
        m.assert_address_failure(&address(n), "query", "timeout", "");
    }
    for n in 5..=8 {
        m.assert_address_failure(&address(n), "connect", "timeout", "");
    }
    assert_eq!(syns(&lab), 4, "sockets opened");
}

/// Open-file limit of the exporter in [`probes_never_take_the_http_share`]: 64 reserved, 48
/// for HTTP connections (half of the rest), 48 for probe sockets.
const NOFILE: u64 = 160;

/// Probes wanting 80 sockets at once under a budget of 48: no more than 48 are opened, the
/// addresses beyond are `prober_error` `EMFILE`, and meanwhile `/metrics` answers at once,
/// accept(2) never fails and the process stays under its limit.
#[test]
fn probes_never_take_the_http_share() {
    let lab = lab_or_skip!();
    let hosts: String = (1..=16)
        .map(|n| format!("{} sixteen.lab.test\n", address(n)))
        .collect();
    many_addresses(&lab, &hosts);
    let config = lab::modules::config(&[every_address("sixteen", 16, 16, true)]);
    let exporter = Exporter::start_with_nofile(&lab, &config, NOFILE);
    let path = format!("/probe?module=sixteen&target=sixteen.lab.test:{PORT}");
    let (answers, during) = std::thread::scope(|s| {
        let probes: Vec<_> = (0..5)
            .map(|_| s.spawn(|| lab::exporter::get(&lab, &path, Duration::from_secs(30))))
            .collect();
        // Mid-probe: every probe has connected what it could and waits for its line.
        std::thread::sleep(Duration::from_millis(1000));
        let asked = Instant::now();
        let (status, body) = lab::exporter::get(&lab, "/metrics", Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("/metrics failed while probes ran: {e}"));
        assert_eq!(status, 200, "/metrics:\n{body}");
        let took = asked.elapsed();
        let answers: Vec<String> = probes
            .into_iter()
            .map(|p| match p.join().expect("probe thread panicked") {
                Ok((200, body)) => body,
                other => panic!("probe answered {other:?}"),
            })
            .collect();
        (answers, (Metrics::parse(&body), took))
    });
    let (metrics, took) = during;
    println!("/metrics answered in {took:?} while the probes held the budget");
    assert!(took < Duration::from_millis(500), "/metrics took {took:?}");
    metrics.assert_value("handshake_exporter_probe_sockets_limit", &[], 48.0);
    metrics.assert_between("handshake_exporter_probe_sockets", &[], 1.0, 48.0);
    metrics.assert_between("process_open_fds", &[], 1.0, (NOFILE - 1) as f64);
    let opened = syns(&lab);
    assert!(
        (30..=48).contains(&opened),
        "{opened} sockets opened, budget 48"
    );
    // Addresses without a socket: refused one by the budget, or behind a lookup refused its
    // two (a probe's whole name).
    let unopened: usize = answers
        .iter()
        .map(|body| {
            let m = Metrics::parse(body);
            let lookup_refused = m.find(
                "probe_failure_info",
                &[
                    ("phase", "resolve"),
                    ("class", "prober_error"),
                    ("detail", "EMFILE"),
                ],
            );
            if !lookup_refused.is_empty() {
                return 16;
            }
            m.find(
                "probe_address_failure_info",
                &[("class", "prober_error"), ("detail", "EMFILE")],
            )
            .len()
        })
        .sum();
    assert!(unopened > 0, "no address was refused a socket");
    assert_eq!(
        unopened as u64,
        80 - opened,
        "addresses left without a socket"
    );
    assert!(
        !exporter.log().contains("failed to accept"),
        "accept failed:\n{}",
        exporter.log()
    );
}
