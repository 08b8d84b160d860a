//! Pinned server certificates on 127.0.0.1: a leaf that is itself one of the `ca_file`
//! certificates verifies whatever its basicConstraints (as with Go's verifier), while its dates,
//! name and extended key usage are still checked; a CA certificate used as a leaf without being
//! pinned stays `tls_cert_invalid` under a trusted CA, and is `tls_cert_untrusted` when nothing
//! trusted issued it. One certificate is made by `openssl req -x509` exactly as
//! users make them; the others by rcgen.

#[allow(dead_code)]
mod tls_phase_support;

use handshake_exporter::config::TlsConfig;
use handshake_exporter::report::{FailureClass, TlsVersion};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, SerialNumber,
};
use rustls::version::TLS13;
use tls_phase_support::{
    assert_success, failure, openssl_req_x509, probe, self_signed_with, server_config, tls_server,
    Identity, Pki, TempPem,
};

/// A self-signed `CA:TRUE` certificate for `localhost`, as `openssl req -x509` makes them.
fn ca_true_self_signed(edit: impl FnOnce(&mut CertificateParams)) -> Identity {
    self_signed_with(&["localhost"], |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        edit(p);
    })
}

/// Probes a server presenting `id` as `host`, with `cfg`.
async fn probe_with(id: &Identity, host: &str, cfg: &TlsConfig) -> tls_phase_support::Outcome {
    let addr = tls_server(server_config(id, &[&TLS13], None, None)).await;
    probe(addr, host, cfg).await
}

/// True when the DER certificate carries basicConstraints `CA:TRUE`.
fn is_ca(der: &[u8]) -> bool {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("certificate");
    matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
}

#[tokio::test]
async fn openssl_req_x509_pinned_verifies_for_its_name_only() {
    let Some(id) = openssl_req_x509() else { return };
    assert!(is_ca(&id.chain[0]), "openssl req -x509 sets CA:TRUE here");
    let (_pin, cfg) = id.pinned();

    let out = probe_with(&id, "localhost", &cfg).await;
    assert_success(&out);
    assert_eq!(out.facts.chain[0].subject, "CN=localhost");
    assert_eq!(out.facts.version, Some(TlsVersion::Tls13));

    let out = probe_with(&id, "other.test", &cfg).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsCertHostnameMismatch, String::new())
    );
}

#[tokio::test]
async fn pinned_ca_true_leaf_keeps_its_date_checks() {
    let id = ca_true_self_signed(|p| {
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2001, 1, 1);
    });
    let (_pin, cfg) = id.pinned();
    let out = probe_with(&id, "localhost", &cfg).await;
    assert_eq!(failure(&out), (FailureClass::TlsCertExpired, String::new()));
    assert_eq!(out.facts.earliest_expiry(), Some(978_307_200));

    let id = ca_true_self_signed(|p| {
        p.not_before = date_time_ymd(2099, 1, 1);
        p.not_after = date_time_ymd(2100, 1, 1);
    });
    let (_pin, cfg) = id.pinned();
    let out = probe_with(&id, "localhost", &cfg).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsCertNotYetValid, String::new())
    );
}

#[tokio::test]
async fn pinned_leaf_keeps_its_extended_key_usage_check() {
    let id = ca_true_self_signed(|p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    });
    let (_pin, cfg) = id.pinned();
    let out = probe_with(&id, "localhost", &cfg).await;
    assert_eq!(failure(&out), (FailureClass::TlsCertInvalid, String::new()));

    let id = ca_true_self_signed(|p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.serial_number = Some(SerialNumber::from_slice(&[0x01]));
    });
    let (_pin, cfg) = id.pinned();
    let out = probe_with(&id, "localhost", &cfg).await;
    assert_success(&out);
    assert_eq!(out.facts.chain[0].serial_number, "01");
}

#[tokio::test]
async fn unpinned_ca_certificate_as_leaf_stays_invalid() {
    let pki = Pki::new();
    let id = pki.leaf(&["localhost"], |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    });
    let out = probe_with(&id, "localhost", &pki.tls_config()).await;
    assert_eq!(failure(&out), (FailureClass::TlsCertInvalid, String::new()));

    // Pinning a different self-signed CA:TRUE certificate does not help this one: nothing
    // trusted issued it.
    let other = ca_true_self_signed(|_| {});
    let id = ca_true_self_signed(|_| {});
    let (_pin, cfg) = other.pinned();
    let out = probe_with(&id, "localhost", &cfg).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsCertUntrusted, String::new())
    );
}

#[tokio::test]
async fn pinned_leaf_needs_no_path_to_its_issuer() {
    // The leaf's own CA is not trusted; the leaf itself sits in ca_file next to another CA.
    let (issuer, elsewhere) = (Pki::new(), Pki::named("Unrelated CA"));
    let id = issuer.leaf(&["localhost"], |p| {
        p.serial_number = Some(SerialNumber::from_slice(&[0x0b, 0xff, 0xbc]));
    });
    let both = TempPem::new(&format!(
        "{}{}",
        std::fs::read_to_string(&elsewhere.ca_file.0).expect("ca pem"),
        id.cert_pem
    ));
    let cfg = TlsConfig {
        ca_file: Some(both.0.clone()),
        ..TlsConfig::default()
    };
    let out = probe_with(&id, "localhost", &cfg).await;
    assert_success(&out);
    assert_eq!(out.facts.chain[0].serial_number, "0bffbc");

    let out = probe_with(&id, "localhost", &elsewhere.tls_config()).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsCertUntrusted, String::new())
    );
}
