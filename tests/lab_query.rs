//! Query-phase classes produced by real peers running a `query_response` dialogue: a banner that
//! never matches, a clean close, a reset and silence; plus dialogues that succeed (an SSH banner
//! with `probe_expect_info` labels, and SMTP STARTTLS, whose handshake is phase `tls`, also with
//! a pinned self-signed certificate); and blackbox_exporter 0.28's `expect_bytes` matching,
//! differing and cut short.

#[macro_use]
mod lab;

use lab::modules::{module, tls_config, IP4};
use lab::servers::{SMTP_STARTTLS_STEPS, SSH_BANNER};
use lab::tlsgen::{self, Leaf, Pki, EXPIRED_NOT_AFTER, VALID_NOT_AFTER};
use lab::{Exporter, Peer};

/// Modules of this file: an SSH banner check, a binary exchange (`expect_bytes`) and an SMTP
/// STARTTLS dialogue trusting `ca`.
fn config(ca: &std::path::Path) -> String {
    let banner = "      query_response:
        - expect: \"^SSH-2.0-([^ -]+)(?: (.*))?$\"
          labels:
            - name: ssh_version
              value: \"${1}\"
        - send: \"SSH-2.0-handshake_exporter\\r\"
";
    let smtp = [SMTP_STARTTLS_STEPS, &tls_config(ca, Some("ok.lab.test"))].concat();
    let binary = "      query_response:
        - send: \"HELLO\"
        - expect_bytes: \"\\x00\\x01OK\\r\\n\"
        - send: \"BYE\"
";
    lab::modules::config(&[
        module("ssh_banner", "2s", &[IP4, banner]),
        module("binary_hello", "2s", &[IP4, binary]),
        module("smtp_starttls", "3s", &[IP4, &smtp]),
    ])
}

#[test]
fn banner_success_with_labels() {
    let ssh = |_: &Pki| Peer::Banner(SSH_BANNER.into());
    let Some(m) = lab::probe_peer(config, "ssh_banner", "203.0.113.2:22", ssh) else {
        return;
    };
    m.assert_success();
    m.assert_value("probe_expect_info", &[("ssh_version", "OpenSSH_9.6")], 1.0);
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);
    m.assert_phase_between("query", 0.0, 1.0);
}

#[test]
fn starttls_success() {
    let smtp = smtp(Leaf::Valid);
    let Some(m) = lab::probe_peer(config, "smtp_starttls", "203.0.113.2:25", smtp) else {
        return;
    };
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
    let pinned = lab.file("pinned.pem", &id.cert_pem);
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

/// Serves SMTP with STARTTLS presenting `leaf`.
fn smtp(leaf: Leaf) -> impl FnOnce(&Pki) -> Peer {
    move |pki| Peer::Smtp(tlsgen::server_config(&pki.leaf(leaf), &[], None))
}

#[test]
fn starttls_cert_expired_is_tls_phase() {
    let smtp = smtp(Leaf::Expired);
    let Some(m) = lab::probe_peer(config, "smtp_starttls", "203.0.113.2:25", smtp) else {
        return;
    };
    m.assert_failure("tls", "tls_cert_expired", "");
    m.assert_value(
        "probe_ssl_earliest_cert_expiry",
        &[],
        EXPIRED_NOT_AFTER as f64,
    );
    // A failed phase reports the time until it failed.
    m.assert_phase_between("tls", 0.0, 1.0);
}

/// Peers that break the dialogue: the class, detail, `probe_failed_due_to_regex` and the
/// shortest query phase each one gives.
#[test]
fn peers_that_break_the_dialogue() {
    let cases = [
        (
            Peer::BannerThenFin("220 mail.lab.test ESMTP\r\n".into()),
            "expect_mismatch",
            "",
            1.0,
            0.0,
        ),
        // The expectation was never met, as blackbox_exporter counts it.
        (Peer::Fin, "eof", "", 1.0, 0.0),
        (Peer::Reset, "reset", "ECONNRESET", 0.0, 0.2),
    ];
    for (peer, class, detail, regex_failed, shortest) in cases {
        let Some(m) = lab::probe_peer(config, "ssh_banner", "203.0.113.2:22", |_| peer) else {
            return;
        };
        m.assert_failure("query", class, detail);
        m.assert_value("probe_failed_due_to_regex", &[], regex_failed);
        m.assert_phase_between("query", shortest, 1.0);
    }
}

#[test]
fn timeout_in_query() {
    let silent = |_: &Pki| Peer::Silent;
    if let Some(m) = lab::probe_peer(config, "ssh_banner", "203.0.113.2:22", silent) {
        m.assert_failure("query", "timeout", "");
        m.assert_duration_between(1.9, 2.6);
    }
}

#[test]
fn expect_bytes_match_differ_and_short() {
    let lab = lab_or_skip!();
    let exporter = Exporter::start(&lab, &config(&Pki::new().write_ca(&lab)));
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

/// The `smtp_starttls` modules shipped in config.example.yml and deploy/handshake_exporter/
/// config.yml, as they are (with the lab's CA and name added), pass against an SMTP server that
/// lists STARTTLS last in its EHLO answer (`250 STARTTLS`, RFC 5321 §4.2.1: the last line of a
/// multi-line reply has a space after the code, the others a hyphen).
#[test]
fn shipped_smtp_modules_accept_starttls_on_the_last_ehlo_line() {
    let lab = lab_or_skip!();
    let pki = Pki::new();
    let ca = pki.write_ca(&lab);
    lab.serve(
        "203.0.113.2:25",
        Peer::Smtp(tlsgen::server_config(&pki.leaf(Leaf::Valid), &[], None)),
    );
    for file in ["config.example.yml", "deploy/handshake_exporter/config.yml"] {
        let text = std::fs::read_to_string(file).expect("shipped configuration");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
        let mut module = doc["modules"]["smtp_starttls"].clone();
        let tcp = module["tcp"].as_mapping_mut().expect("tcp map");
        tcp.insert("preferred_ip_protocol".into(), "ip4".into());
        let mut tls = serde_yaml::Mapping::new();
        tls.insert("ca_file".into(), ca.display().to_string().into());
        tls.insert("server_name".into(), "ok.lab.test".into());
        tcp.insert("tls_config".into(), tls.into());
        let mut modules = serde_yaml::Mapping::new();
        modules.insert("smtp_starttls".into(), module);
        let mut config = serde_yaml::Mapping::new();
        config.insert("modules".into(), modules.into());
        let exporter = Exporter::start(&lab, &serde_yaml::to_string(&config).unwrap());
        let m = exporter.probe("smtp_starttls", "203.0.113.2:25");
        assert_eq!(
            m.value("probe_success"),
            Some(1.0),
            "{file}: smtp_starttls must pass against `250 STARTTLS`:\n{}",
            m.body
        );
    }
}

/// `probe_query_failed_step_info` names the step a dialogue stopped at (index and kind), and
/// is absent when the dialogue passed.
#[test]
fn failed_step_is_named() {
    let lab = lab_or_skip!();
    let pki = Pki::new();
    let exporter = Exporter::start(&lab, &config(&pki.write_ca(&lab)));
    let expired = tlsgen::server_config(&pki.leaf(Leaf::Expired), &[], None);
    lab.serve("203.0.113.2:25", Peer::Smtp(expired));
    let m = exporter.probe("smtp_starttls", "203.0.113.2:25");
    m.assert_failure("tls", "tls_cert_expired", "");
    m.assert_value(
        "probe_query_failed_step_info",
        &[("step", "5"), ("kind", "starttls")],
        1.0,
    );

    lab.serve(
        "203.0.113.2:22",
        Peer::BannerThenFin("220 not ssh\r\n".into()),
    );
    let m = exporter.probe("ssh_banner", "203.0.113.2:22");
    m.assert_failure("query", "expect_mismatch", "");
    m.assert_value(
        "probe_query_failed_step_info",
        &[("step", "0"), ("kind", "expect")],
        1.0,
    );

    lab.serve("203.0.113.2:7", Peer::Banner("\x00\x01NO\r\n".into()));
    let m = exporter.probe("binary_hello", "203.0.113.2:7");
    m.assert_failure("query", "expect_mismatch", "");
    m.assert_value(
        "probe_query_failed_step_info",
        &[("step", "1"), ("kind", "expect_bytes")],
        1.0,
    );

    lab.serve_ssh("203.0.113.2:2222");
    let m = exporter.probe("ssh_banner", "203.0.113.2:2222");
    m.assert_success();
    m.assert_absent("probe_query_failed_step_info");
}
