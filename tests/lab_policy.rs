//! Policy probes (`expect_failure`) against real peers: a port that must be closed (closed,
//! DROP, REJECT with ICMP admin prohibited) and TLS that must demand a client certificate
//! (haproxy `verify required`). Each passes while the policy holds and fails with
//! `unexpected_success` once it is broken (the port opened, the client certificate no longer
//! required); a failure of another kind keeps its own class.

#[macro_use]
mod lab;

use lab::daemon::Daemon;
use lab::modules::{module, tls, IP4};
use lab::tlsgen::{Leaf, Pki};
use lab::{Exporter, Lab, Peer};

/// `expect_failure` of a port that must not answer.
const CLOSED: &str = "    expect_failure:
      phases: [connect]
      classes: [refused, timeout, admin_prohibited]
";

/// `expect_failure` of TLS that must refuse a client without a certificate.
const MTLS: &str = "    expect_failure:
      phases: [tls]
      classes: [tls_alert]
      details: [certificate_required, handshake_failure]
";

/// `port_closed` (1 s, so the DROP case is short) and `mtls_enforced` trusting `ca`.
fn config(ca: &std::path::Path) -> String {
    let mtls = tls(ca, Some("ok.lab.test"));
    lab::modules::config(&[
        module("port_closed", "1s", &[IP4]) + CLOSED,
        module("mtls_enforced", "2s", &[IP4, &mtls]) + MTLS,
    ])
}

/// A lab with the exporter started on this file's modules, and the CA it trusts.
fn start(lab: &Lab) -> (Exporter<'_>, Pki) {
    let pki = Pki::new();
    let exporter = Exporter::start(lab, &config(&pki.write_ca(lab)));
    (exporter, pki)
}

/// Asserts `probe_success 1` with `probe_failure_info{phase, class}` naming what happened.
fn assert_expected(m: &lab::metrics::Metrics, phase: &str, class: &str, details: &[&str]) {
    m.assert_value("probe_success", &[], 1.0);
    m.assert_value("probe_failure_expected", &[], 1.0);
    let failure = m
        .failure()
        .expect("probe_failure_info on an expected failure");
    assert_eq!(
        (failure.phase.as_str(), failure.class.as_str()),
        (phase, class),
        "{}",
        m.body
    );
    assert!(details.contains(&failure.detail.as_str()), "{}", m.body);
}

#[test]
fn closed_port_passes_and_an_open_one_fails() {
    let lab = lab_or_skip!();
    let (exporter, _) = start(&lab);
    let m = exporter.probe("port_closed", "203.0.113.2:1");
    assert_expected(&m, "connect", "refused", &["ECONNREFUSED"]);

    lab.serve("203.0.113.2:5432", Peer::Silent);
    let m = exporter.probe("port_closed", "203.0.113.2:5432");
    m.assert_failure("connect", "unexpected_success", "");
    m.assert_value("probe_failure_expected", &[], 0.0);
}

#[test]
fn dropped_and_rejected_ports_pass() {
    let lab = lab_or_skip!();
    let (exporter, _) = start(&lab);
    lab.drop_syns("203.0.113.2:3306");
    let m = exporter.probe("port_closed", "203.0.113.2:3306");
    assert_expected(&m, "connect", "timeout", &[""]);

    lab.serve("203.0.113.2:6379", Peer::Silent);
    lab.iptables(
        &lab.server,
        "-A INPUT -p tcp --dport 6379 -j REJECT --reject-with icmp-admin-prohibited",
    );
    let m = exporter.probe("port_closed", "203.0.113.2:6379");
    assert_expected(&m, "connect", "admin_prohibited", &["EHOSTUNREACH", ""]);
}

/// haproxy in the server namespace terminating TLS on 203.0.113.2:8443 with the lab's `ok`
/// certificate; with `verify required` it demands a client certificate signed by the lab CA.
fn haproxy(lab: &Lab, pki: &Pki, verify: bool) -> Daemon {
    let id = pki.leaf(Leaf::Valid);
    let crt = lab.file("haproxy.pem", &format!("{}{}", id.cert_pem, id.key_pem));
    let ca = lab.dir.join("ca.pem");
    let verify = if verify {
        format!(" verify required ca-file {}", ca.display())
    } else {
        String::new()
    };
    let cfg = format!(
        "global\n  maxconn 64\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  \
         timeout server 5s\nfrontend mtls\n  bind 203.0.113.2:8443 ssl crt {}{verify}\n  \
         default_backend none\nbackend none\n  server local 127.0.0.1:9\n",
        crt.display()
    );
    let path = lab.file("haproxy.cfg", &cfg);
    let path = path.to_string_lossy().into_owned();
    Daemon::start(
        lab,
        &lab.server,
        "haproxy",
        "haproxy",
        &["-db", "-f", &path],
        "203.0.113.2:8443",
    )
}

#[test]
fn mtls_enforced_by_haproxy_passes_and_fails_once_off() {
    if !lab::available(&["haproxy"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    let (exporter, pki) = start(&lab);
    let daemon = haproxy(&lab, &pki, true);
    let m = exporter.probe("mtls_enforced", "203.0.113.2:8443");
    assert_expected(
        &m,
        "tls",
        "tls_alert",
        &["certificate_required", "handshake_failure"],
    );
    drop(daemon);

    let _daemon = haproxy(&lab, &pki, false);
    let m = exporter.probe("mtls_enforced", "203.0.113.2:8443");
    m.assert_failure("tls", "unexpected_success", "");
}

#[test]
fn another_failure_keeps_its_class() {
    let lab = lab_or_skip!();
    let (exporter, _) = start(&lab);
    let m = exporter.probe("mtls_enforced", "203.0.113.2:1");
    m.assert_failure("connect", "refused", "ECONNREFUSED");
    m.assert_value("probe_failure_expected", &[], 0.0);
}
