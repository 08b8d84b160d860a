//! TLS-phase classes produced by real peers: certificate rejections (expired, not yet valid,
//! untrusted, wrong name, wrong key usage) with the expiry facts still reported, a fatal alert,
//! a peer that only speaks TLS 1.0, a peer speaking HTTP, resets, clean closes and silence;
//! plus handshakes that succeed through `ca_file` with their version, cipher and chain facts.

#[macro_use]
mod lab;

use lab::modules::{module, tls, IP4};
use lab::tlsgen::{self, Leaf, Pki, EXPIRED_NOT_AFTER, FUTURE_NOT_AFTER, VALID_NOT_AFTER};
use lab::{Exporter, Lab, Metrics, Peer};
use rustls::crypto::aws_lc_rs::cipher_suite;
use rustls::version::TLS13;
use sha2::{Digest, Sha256};

/// Modules of this file, trusting the lab CA at `ca`: `tls` (server name ok.lab.test), `tls12`
/// (also capped at TLS 1.2), `tls_target_name` (server name taken from the target), and
/// `tls_missing_ca` (a ca_file that does not exist).
fn config(ca: &std::path::Path) -> String {
    let ok = tls(ca, Some("ok.lab.test"));
    let missing = std::path::Path::new("/nonexistent/handshake-lab/ca.pem");
    lab::modules::config(&[
        module("tls", "2s", &[IP4, &ok]),
        module("tls12", "2s", &[IP4, &ok, "        max_version: TLS12\n"]),
        module("tls_target_name", "2s", &[IP4, &tls(ca, None)]),
        module(
            "tls_missing_ca",
            "2s",
            &[IP4, &tls(missing, Some("ok.lab.test"))],
        ),
    ])
}

/// A lab with a CA, its file, and an exporter trusting it.
fn setup(lab: &Lab) -> (Pki, Exporter<'_>) {
    let pki = Pki::new();
    let ca = pki.write_ca(lab);
    let exporter = Exporter::start(lab, &config(&ca));
    (pki, exporter)
}

/// Serves `leaf` (TLS 1.2 and 1.3) on 203.0.113.2:443.
fn leaf(leaf: Leaf) -> impl FnOnce(&Pki) -> Peer {
    move |pki| Peer::Tls(tlsgen::server_config(&pki.leaf(leaf), &[], None))
}

/// Serves the peer `serve` makes on 203.0.113.2:443 in a fresh lab and probes it with
/// `module`; `None` when the lab cannot run here.
fn probe_peer(module: &str, serve: impl FnOnce(&Pki) -> Peer) -> Option<Metrics> {
    lab::probe_peer(config, module, "203.0.113.2:443", serve)
}

/// Asserts the tls-phase failure `class` (empty detail) and the reported earliest expiry.
fn assert_rejected(m: &Metrics, class: &str, not_after: i64) {
    m.assert_failure("tls", class, "");
    m.assert_value("probe_ssl_earliest_cert_expiry", &[], not_after as f64);
}

#[test]
fn tls_success_ca_file() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let id = pki.leaf(Leaf::Valid);
    let fingerprint = format!("{:x}", Sha256::digest(id.chain[0].as_ref()));
    let suites = vec![cipher_suite::TLS13_AES_128_GCM_SHA256];
    let config = tlsgen::server_config(&id, &[&TLS13], Some(suites));
    lab.serve("203.0.113.2:443", Peer::Tls(config));
    let m = exporter.probe("tls_target_name", "ok.lab.test:443");
    m.assert_success();
    m.assert_value("probe_tls_version_info", &[("version", "TLS 1.3")], 1.0);
    m.assert_value(
        "probe_tls_cipher_info",
        &[("cipher", "TLS_AES_128_GCM_SHA256")],
        1.0,
    );
    m.assert_value(
        "probe_ssl_earliest_cert_expiry",
        &[],
        VALID_NOT_AFTER as f64,
    );
    let chain_expiry = "probe_ssl_last_chain_expiry_timestamp_seconds";
    m.assert_value(chain_expiry, &[], VALID_NOT_AFTER as f64);
    let chain = [("fingerprint_sha256", fingerprint.as_str())];
    m.assert_value("probe_ssl_last_chain_info", &chain, 1.0);
    m.assert_phase_between("tls", 0.0, 1.0);
}

#[test]
fn tls12_success() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let suites = vec![cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256];
    let config = tlsgen::server_config(&pki.leaf(Leaf::Valid), &[], Some(suites));
    lab.serve("203.0.113.2:443", Peer::Tls(config));
    let m = exporter.probe("tls12", "203.0.113.2:443");
    m.assert_success();
    m.assert_value("probe_tls_version_info", &[("version", "TLS 1.2")], 1.0);
    let cipher = [("cipher", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")];
    m.assert_value("probe_tls_cipher_info", &cipher, 1.0);
}

#[test]
fn tls_cert_expired() {
    let Some(m) = probe_peer("tls", leaf(Leaf::Expired)) else {
        return;
    };
    assert_rejected(&m, "tls_cert_expired", EXPIRED_NOT_AFTER);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    assert!((EXPIRED_NOT_AFTER as f64) < now);
}

/// Certificates the client rejects: the class each gives, with the expiry still reported.
#[test]
fn rejected_certificates() {
    let cases = [
        (
            Leaf::NotYetValid,
            "tls_cert_not_yet_valid",
            FUTURE_NOT_AFTER,
        ),
        (Leaf::SelfSigned, "tls_cert_untrusted", VALID_NOT_AFTER),
        (
            Leaf::WrongName,
            "tls_cert_hostname_mismatch",
            VALID_NOT_AFTER,
        ),
        (Leaf::ClientAuthOnly, "tls_cert_invalid", VALID_NOT_AFTER),
    ];
    for (presented, class, not_after) in cases {
        let Some(m) = probe_peer("tls", leaf(presented)) else {
            return;
        };
        assert_rejected(&m, class, not_after);
    }
}

#[test]
fn tls_alert_protocol_version() {
    let tls13_only = |pki: &Pki| {
        Peer::Tls(tlsgen::server_config(
            &pki.leaf(Leaf::Valid),
            &[&TLS13],
            None,
        ))
    };
    if let Some(m) = probe_peer("tls12", tls13_only) {
        m.assert_failure("tls", "tls_alert", "protocol_version");
    }
}

/// Peers that do not finish a TLS handshake: the class and detail each one gives.
#[test]
fn peers_that_do_not_speak_tls() {
    let cases = [
        (Peer::Tls10ServerHello, "tls_incompatible", ""),
        (Peer::Http400, "protocol_mismatch", ""),
        (Peer::Reset, "reset", "ECONNRESET"),
        (Peer::Fin, "eof", ""),
    ];
    for (peer, class, detail) in cases {
        let Some(m) = probe_peer("tls", |_| peer) else {
            return;
        };
        m.assert_failure("tls", class, detail);
        m.assert_phase_between("tls", 0.0, 1.0);
    }
}

#[test]
fn timeout_in_tls() {
    if let Some(m) = probe_peer("tls", |_| Peer::Silent) {
        m.assert_failure("tls", "timeout", "");
        m.assert_duration_between(1.9, 2.6);
    }
}

#[test]
fn prober_error_missing_ca_file() {
    if let Some(m) = probe_peer("tls_missing_ca", leaf(Leaf::Valid)) {
        m.assert_failure("tls", "prober_error", "ENOENT");
    }
}

/// `hostname=` is the SNI and the verification name when the module sets no `server_name`; a
/// module's `server_name` wins. The server picks its certificate by SNI: `other.lab.test` gets
/// a certificate for that name, `ok.lab.test` the same certificate (wrong for it), and a
/// ClientHello without SNI none at all.
#[test]
fn hostname_parameter_sets_sni_and_verification_name() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let other = pki.leaf(Leaf::WrongName);
    let config = tlsgen::sni_server_config(&[("other.lab.test", &other), ("ok.lab.test", &other)]);
    lab.serve("203.0.113.2:443", Peer::Tls(config));

    // An IP target sends no SNI: the server has no certificate to offer (rustls then sends
    // access_denied).
    let m = exporter.probe("tls_target_name", "203.0.113.2:443");
    m.assert_failure("tls", "tls_alert", "access_denied");

    let m = exporter.probe_with(
        "tls_target_name",
        "203.0.113.2:443",
        &[("hostname", "other.lab.test")],
    );
    m.assert_success();

    // SNI ok.lab.test is served the other.lab.test certificate: checked against ok.lab.test.
    let m = exporter.probe_with(
        "tls_target_name",
        "203.0.113.2:443",
        &[("hostname", "ok.lab.test")],
    );
    m.assert_failure("tls", "tls_cert_hostname_mismatch", "");

    // The module's server_name (ok.lab.test) wins over hostname=, as in blackbox_exporter.
    let m = exporter.probe_with("tls", "203.0.113.2:443", &[("hostname", "other.lab.test")]);
    m.assert_failure("tls", "tls_cert_hostname_mismatch", "");
}

#[test]
fn hostname_parameter_that_is_no_name_is_a_400() {
    let lab = lab_or_skip!();
    let (_pki, _exporter) = setup(&lab);
    let path = "/probe?module=tls&target=203.0.113.2:443&hostname=bad%20name";
    let (status, body) =
        lab::exporter::get(&lab, path, std::time::Duration::from_secs(5)).expect("GET /probe");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("hostname parameter"), "{body}");
    assert_eq!(body.trim().lines().count(), 1, "{body}");
}
