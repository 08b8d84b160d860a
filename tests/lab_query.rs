//! Query-phase classes produced by real peers running a `query_response` dialogue: a banner that
//! never matches, a clean close, a reset and silence; plus dialogues that succeed (an SSH banner
//! with `probe_expect_info` labels, and SMTP STARTTLS, whose handshake is phase `tls`, also with
//! a pinned self-signed certificate); and blackbox_exporter 0.28's `expect_bytes` matching,
//! differing and cut short.

#[macro_use]
mod lab;

use lab::servers::{SMTP_STARTTLS_STEPS, SSH_BANNER};
use lab::tlsgen::{self, Leaf, Pki, EXPIRED_NOT_AFTER, VALID_NOT_AFTER};
use lab::{Exporter, Lab, Peer};

/// Modules of this file: an SSH banner check and an SMTP STARTTLS dialogue trusting `ca`.
fn config(ca: &std::path::Path) -> String {
    let ca = ca.display();
    format!(
        r#"
modules:
  ssh_banner:
    prober: tcp
    timeout: 2s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^SSH-2.0-([^ -]+)(?: (.*))?$"
          labels:
            - name: ssh_version
              value: "${{1}}"
        - send: "SSH-2.0-handshake_exporter\r"
  binary_hello:
    prober: tcp
    timeout: 2s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - send: "HELLO"
        - expect_bytes: "\x00\x01OK\r\n"
        - send: "BYE"
  smtp_starttls:
    prober: tcp
    timeout: 3s
    tcp:
      preferred_ip_protocol: ip4
{SMTP_STARTTLS_STEPS}      tls_config:
        ca_file: {ca}
        server_name: ok.lab.test
"#
    )
}

/// A CA, its file, and an exporter for this file's modules.
fn setup(lab: &Lab) -> (Pki, Exporter<'_>) {
    let pki = Pki::new();
    let ca = pki.write_ca(lab);
    let exporter = Exporter::start(lab, &config(&ca));
    (pki, exporter)
}

#[test]
fn banner_success_with_labels() {
    let lab = lab_or_skip!();
    let (_pki, exporter) = setup(&lab);
    lab.serve("203.0.113.2:22", Peer::Banner(SSH_BANNER.into()));
    let m = exporter.probe("ssh_banner", "203.0.113.2:22");
    m.assert_success();
    m.assert_value("probe_expect_info", &[("ssh_version", "OpenSSH_9.6")], 1.0);
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);
    m.assert_phase_between("query", 0.0, 1.0);
}

#[test]
fn starttls_success() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let config = tlsgen::server_config(&pki.leaf(Leaf::Valid), &[], None);
    lab.serve("203.0.113.2:25", Peer::Smtp(config));
    let m = exporter.probe("smtp_starttls", "203.0.113.2:25");
    m.assert_success();
    m.assert_value("probe_tls_version_info", &[("version", "TLS 1.3")], 1.0);
    m.assert_value(
        "probe_ssl_earliest_cert_expiry",
        &[],
        VALID_NOT_AFTER as f64,
    );
    m.assert_phase_between("tls", 0.0, 1.0);
    m.assert_phase_between("query", 0.0, 1.0);
}

/// A self-signed `CA:TRUE` certificate pinned through `ca_file` verifies after STARTTLS too.
#[test]
fn starttls_pinned_self_signed_ca() {
    let lab = lab_or_skip!();
    let id = Pki::new().leaf(Leaf::SelfSignedCa);
    let pinned = lab.file("pinned.pem", &id.leaf_pem);
    let exporter = Exporter::start(&lab, &config(&pinned));
    lab.serve(
        "203.0.113.2:25",
        Peer::Smtp(tlsgen::server_config(&id, &[], None)),
    );
    let m = exporter.probe("smtp_starttls", "203.0.113.2:25");
    m.assert_success();
    m.assert_value(
        "probe_ssl_earliest_cert_expiry",
        &[],
        VALID_NOT_AFTER as f64,
    );
}

#[test]
fn starttls_cert_expired_is_tls_phase() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let config = tlsgen::server_config(&pki.leaf(Leaf::Expired), &[], None);
    lab.serve("203.0.113.2:25", Peer::Smtp(config));
    let m = exporter.probe("smtp_starttls", "203.0.113.2:25");
    m.assert_failure("tls", "tls_cert_expired", "");
    m.assert_value(
        "probe_ssl_earliest_cert_expiry",
        &[],
        EXPIRED_NOT_AFTER as f64,
    );
    // A failed phase reports the time until it failed.
    m.assert_phase_between("tls", 0.0, 1.0);
}

#[test]
fn expect_mismatch_banner_then_fin() {
    let lab = lab_or_skip!();
    let (_pki, exporter) = setup(&lab);
    lab.serve(
        "203.0.113.2:22",
        Peer::BannerThenFin("220 mail.lab.test ESMTP\r\n".into()),
    );
    let m = exporter.probe("ssh_banner", "203.0.113.2:22");
    m.assert_failure("query", "expect_mismatch", "");
    m.assert_value("probe_failed_due_to_regex", &[], 1.0);
    m.assert_phase_between("query", 0.0, 1.0);
}

#[test]
fn eof_in_query() {
    let lab = lab_or_skip!();
    let (_pki, exporter) = setup(&lab);
    lab.serve("203.0.113.2:22", Peer::Fin);
    let m = exporter.probe("ssh_banner", "203.0.113.2:22");
    m.assert_failure("query", "eof", "");
    // The expectation was never met, as blackbox_exporter counts it.
    m.assert_value("probe_failed_due_to_regex", &[], 1.0);
    m.assert_phase_between("query", 0.0, 1.0);
}

#[test]
fn reset_in_query() {
    let lab = lab_or_skip!();
    let (_pki, exporter) = setup(&lab);
    lab.serve("203.0.113.2:22", Peer::Reset);
    let m = exporter.probe("ssh_banner", "203.0.113.2:22");
    m.assert_failure("query", "reset", "ECONNRESET");
    m.assert_phase_between("query", 0.2, 1.0);
}

#[test]
fn timeout_in_query() {
    let lab = lab_or_skip!();
    let (_pki, exporter) = setup(&lab);
    lab.serve("203.0.113.2:22", Peer::Silent);
    let m = exporter.probe("ssh_banner", "203.0.113.2:22");
    m.assert_failure("query", "timeout", "");
    m.assert_duration_between(1.9, 2.6);
}

#[test]
fn expect_bytes_match_differ_and_short() {
    let lab = lab_or_skip!();
    let (_pki, exporter) = setup(&lab);
    lab.serve("203.0.113.2:7000", Peer::Banner("\u{0}\u{1}OK\r\n".into()));
    lab.serve("203.0.113.2:7001", Peer::Banner("\u{0}\u{2}OK\r\n".into()));
    lab.serve(
        "203.0.113.2:7002",
        Peer::BannerThenFin("\u{0}\u{1}O".into()),
    );

    let m = exporter.probe("binary_hello", "203.0.113.2:7000");
    m.assert_success();
    m.assert_value("probe_failed_due_to_bytes", &[], 0.0);
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);

    let m = exporter.probe("binary_hello", "203.0.113.2:7001");
    m.assert_failure("query", "expect_mismatch", "");
    m.assert_value("probe_failed_due_to_bytes", &[], 1.0);
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);

    // Fewer bytes than expected, then FIN: the peer closed early, no byte differed.
    let m = exporter.probe("binary_hello", "203.0.113.2:7002");
    m.assert_failure("query", "eof", "");
    m.assert_value("probe_failed_due_to_bytes", &[], 0.0);
}
