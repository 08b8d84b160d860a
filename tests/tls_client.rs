//! The module's TLS client and the certificate dates it reports, against rustls servers on
//! 127.0.0.1: the expiry of the verified chains (root included, the latest of several paths,
//! a renewed root), the client certificate's expiry, and one TLS client reused by the probes
//! of a module, built again when a file it was read from changes, failing as `prober_error`
//! when the file goes.

#[allow(dead_code)]
mod tls_phase_support;

use std::time::{Duration, Instant};

use handshake_exporter::config::{ClientCert, Pem, TlsConfig};
use handshake_exporter::report::FailureClass;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;
use rustls::version::{TLS12, TLS13};
use tls_phase_support::{failure, probe, server_config, sign, tls_server, Identity, Pki, TempPem};

/// 2034-01-01, 2039-01-01, 2040-01-01, 2041-01-01, 2045-01-01, 2050-01-01 in unix seconds.
const Y2034: i64 = 2_019_686_400;
const Y2040: i64 = 2_208_988_800;
const Y2041: i64 = 2_240_611_200;
const Y2045: i64 = 2_366_841_600;
const Y2050: i64 = 2_524_608_000;

/// A CA certificate's parameters: `cn`, valid from 2020 until `until` (year).
fn ca(cn: &str, until: i32) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, cn);
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(until, 1, 1);
    params
}

/// A self-signed root valid until `until`: its issuer and its certificate.
fn root(cn: &str, until: i32) -> (Issuer<'static, KeyPair>, CertificateDer<'static>, String) {
    let key = KeyPair::generate().expect("root key");
    let params = ca(cn, until);
    let cert = params.self_signed(&key).expect("root");
    (Issuer::new(params, key), cert.der().clone(), cert.pem())
}

/// A leaf for `localhost` valid until `until`, signed by `issuer`, followed by `rest`.
fn leaf(issuer: &Issuer<'_, KeyPair>, until: i32, rest: Vec<CertificateDer<'static>>) -> Identity {
    let validity = |p: &mut CertificateParams| {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(until, 1, 1);
    };
    sign(&["localhost"], validity, issuer, rest)
}

fn trusting(pem: &str) -> (TempPem, TlsConfig) {
    let file = TempPem::new(pem);
    let cfg = TlsConfig {
        ca_file: Some(file.0.clone()),
        ..TlsConfig::default()
    };
    (file, cfg)
}

/// Root A (until 2034) signs intermediate I (until 2040); root B (until 2045) cross-signs the
/// same intermediate name and key (until 2041). The leaf (until 2050) comes with both.
struct CrossSigned {
    a_pem: String,
    b_pem: String,
    server: Identity,
}

fn cross_signed() -> CrossSigned {
    let (a, _, a_pem) = root("Root A", 2034);
    let (b, _, b_pem) = root("Root B", 2045);
    let key = KeyPair::generate().expect("intermediate key");
    let by_a = ca("Intermediate", 2040)
        .signed_by(&key, &a)
        .expect("I by A");
    let by_b = ca("Intermediate", 2041)
        .signed_by(&key, &b)
        .expect("I by B");
    let intermediate = Issuer::new(ca("Intermediate", 2040), key);
    let server = leaf(
        &intermediate,
        2050,
        vec![by_a.der().clone(), by_b.der().clone()],
    );
    CrossSigned {
        a_pem,
        b_pem,
        server,
    }
}

#[tokio::test]
async fn last_chain_expiry_counts_the_root_of_the_verified_chain() {
    let pki = cross_signed();
    let (_file, cfg) = trusting(&pki.a_pem);
    let addr = tls_server(server_config(&pki.server, &[&TLS13], None, None)).await;
    let out = probe(addr, "localhost", &cfg).await;
    assert!(out.result.is_ok(), "{:#?}", out.log);
    // Presented: leaf 2050, I 2040, I' 2041. Verified: leaf, I, root A (2034).
    assert_eq!(out.facts.earliest_expiry(), Some(Y2040));
    assert_eq!(out.facts.verified_chain_expiry, Some(Y2034));
    assert_eq!(out.facts.last_chain_expiry(), Some(Y2034));
}

#[tokio::test]
async fn last_chain_expiry_is_the_latest_of_several_verified_chains() {
    let pki = cross_signed();
    let (_file, cfg) = trusting(&format!("{}{}", pki.a_pem, pki.b_pem));
    let addr = tls_server(server_config(&pki.server, &[&TLS13], None, None)).await;
    let out = probe(addr, "localhost", &cfg).await;
    assert!(out.result.is_ok(), "{:#?}", out.log);
    // Through A: min(2050, 2040, 2034) = 2034; through B: min(2050, 2041, 2045) = 2041.
    assert_eq!(out.facts.verified_chain_expiry, Some(Y2041));
}

/// A renewed root (same subject and key, later notAfter) next to the old one in `ca_file`, in
/// either order: the chain's expiry is the renewed root's, so a CA renewal does not read as
/// "the chain expires when the old root does".
#[tokio::test]
async fn last_chain_expiry_follows_a_renewed_root() {
    let key = KeyPair::generate().expect("root key");
    let old = ca("Root R", 2034).self_signed(&key).expect("old root");
    let renewed = ca("Root R", 2045).self_signed(&key).expect("renewed root");
    let issuer = Issuer::new(ca("Root R", 2034), key);
    let server = leaf(&issuer, 2050, vec![]);
    for pem in [
        format!("{}{}", old.pem(), renewed.pem()),
        format!("{}{}", renewed.pem(), old.pem()),
    ] {
        let (_file, cfg) = trusting(&pem);
        let addr = tls_server(server_config(&server, &[&TLS13], None, None)).await;
        let out = probe(addr, "localhost", &cfg).await;
        assert!(out.result.is_ok(), "{:#?}", out.log);
        assert_eq!(out.facts.verified_chain_expiry, Some(Y2045));
    }
    // The old root alone: the chain ends with it.
    let (_file, cfg) = trusting(&old.pem());
    let addr = tls_server(server_config(&server, &[&TLS13], None, None)).await;
    let out = probe(addr, "localhost", &cfg).await;
    assert_eq!(out.facts.verified_chain_expiry, Some(Y2034));
}

/// A module's verifier remembers a chain that verified: probing the same server again gives
/// the same facts, and the remembered verdict never carries over to another server name.
#[tokio::test]
async fn a_remembered_verdict_gives_the_same_facts_and_only_for_its_name() {
    let pki = cross_signed();
    let (_file, cfg) = trusting(&format!("{}{}", pki.a_pem, pki.b_pem));
    let addr = tls_server(server_config(&pki.server, &[&TLS13], None, None)).await;
    let first = probe(addr, "localhost", &cfg).await;
    assert!(first.result.is_ok(), "{:#?}", first.log);
    for _ in 0..3 {
        let addr = tls_server(server_config(&pki.server, &[&TLS13], None, None)).await;
        let again = probe(addr, "localhost", &cfg).await;
        assert!(again.result.is_ok(), "{:#?}", again.log);
        assert_eq!(again.facts.chain, first.facts.chain);
        assert_eq!(again.facts.verified_chain_expiry, Some(Y2041));
    }
    // The same chain for a name its leaf does not carry: judged again, and refused.
    let addr = tls_server(server_config(&pki.server, &[&TLS13], None, None)).await;
    let other = probe(addr, "other.example", &cfg).await;
    assert_eq!(failure(&other).0, FailureClass::TlsCertHostnameMismatch);
    assert_eq!(other.facts.verified_chain_expiry, None);
}

#[tokio::test]
async fn without_a_verified_chain_last_chain_expiry_is_the_presented_one() {
    let pki = cross_signed();
    let cfg = TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    };
    let addr = tls_server(server_config(&pki.server, &[&TLS13], None, None)).await;
    let out = probe(addr, "localhost", &cfg).await;
    assert!(out.result.is_ok(), "{:#?}", out.log);
    assert_eq!(out.facts.verified_chain_expiry, None);
    assert_eq!(out.facts.last_chain_expiry(), Some(Y2040));

    // Untrusted (root B unknown to a config trusting a fresh CA): nothing verified either.
    let other = Pki::new();
    let addr = tls_server(server_config(&pki.server, &[&TLS13], None, None)).await;
    let out = probe(addr, "localhost", &other.tls_config()).await;
    assert_eq!(failure(&out).0, FailureClass::TlsCertUntrusted);
    assert_eq!(out.facts.verified_chain_expiry, None);
    assert_eq!(out.facts.last_chain_expiry(), Some(Y2040));
}

#[tokio::test]
async fn client_certificate_expiry_is_reported() {
    let pki = Pki::new();
    let server = pki.leaf(&["localhost"], |_| {});
    let (client_ca, client_ca_der, _) = root("Client CA", 2045);
    let client = leaf(&client_ca, 2050, Vec::new());
    let cert_file = TempPem::new(&client.cert_pem);
    let key_file = TempPem::new(&client.key_pem);
    let cfg = TlsConfig {
        client_cert: Some(ClientCert {
            cert: Pem::File(cert_file.0.clone()),
            key: Pem::File(key_file.0.clone()),
        }),
        ..pki.tls_config()
    };
    for versions in [&[&TLS13][..], &[&TLS12][..]] {
        let config = server_config(&server, versions, None, Some(&client_ca_der));
        let out = probe(tls_server(config).await, "localhost", &cfg).await;
        assert!(out.result.is_ok(), "{:#?}", out.log);
        assert_eq!(out.facts.client_cert_expiry, Some(Y2050));
    }
    // Also when the server does not ask for it, and when the handshake fails.
    let out = probe(
        tls_server(server_config(&server, &[&TLS13], None, None)).await,
        "localhost",
        &cfg,
    )
    .await;
    assert!(out.result.is_ok(), "{:#?}", out.log);
    assert_eq!(out.facts.client_cert_expiry, Some(Y2050));
    let wrong = TlsConfig {
        server_name: Some("other.test".into()),
        ..cfg.clone()
    };
    let out = probe(
        tls_server(server_config(&server, &[&TLS13], None, None)).await,
        "localhost",
        &wrong,
    )
    .await;
    assert_eq!(failure(&out).0, FailureClass::TlsCertHostnameMismatch);
    assert_eq!(out.facts.client_cert_expiry, Some(Y2050));
    // No client certificate, no expiry.
    let out = probe(
        tls_server(server_config(&server, &[&TLS13], None, None)).await,
        "localhost",
        &pki.tls_config(),
    )
    .await;
    assert_eq!(out.facts.client_cert_expiry, None);
}

fn built(log: &[String]) -> bool {
    log.iter()
        .any(|l| l.contains("building the module's TLS client"))
}

#[tokio::test]
async fn one_client_per_module_rebuilt_when_a_file_changes() {
    let first = Pki::new();
    let second = Pki::new();
    let first_server = first.leaf(&["localhost"], |_| {});
    let second_server = second.leaf(&["localhost"], |_| {});
    let ca_file = std::env::temp_dir().join(format!(
        "handshake_exporter-tls-client-{}.pem",
        std::process::id()
    ));
    std::fs::copy(&first.ca_file.0, &ca_file).expect("ca_file");
    let cfg = TlsConfig {
        ca_file: Some(ca_file.clone()),
        ..TlsConfig::default()
    };
    let serve = |id: &Identity| tls_server(server_config(id, &[&TLS13], None, None));

    // First probe builds, the next ones (a copy of the module included) reuse.
    let out = probe(serve(&first_server).await, "localhost", &cfg).await;
    assert!(out.result.is_ok(), "{:#?}", out.log);
    assert!(built(&out.log), "{:#?}", out.log);
    let copy = cfg.clone();
    for cfg in [&cfg, &copy] {
        let out = probe(serve(&first_server).await, "localhost", cfg).await;
        assert!(out.result.is_ok(), "{:#?}", out.log);
        assert!(!built(&out.log), "rebuilt without a change: {:#?}", out.log);
    }

    // The CA file now holds the second CA: within a second the first client may still serve;
    // after it, the client is rebuilt and trusts the second CA only.
    let replaced = Instant::now();
    let tmp = ca_file.with_extension("new");
    std::fs::copy(&second.ca_file.0, &tmp).expect("new ca_file");
    std::fs::rename(&tmp, &ca_file).expect("replace ca_file");
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(replaced.elapsed()));
    let out = probe(serve(&second_server).await, "localhost", &cfg).await;
    assert!(out.result.is_ok(), "{:#?}", out.log);
    assert!(
        out.log.iter().any(|l| l.contains("changed on disk")),
        "{:#?}",
        out.log
    );
    let out = probe(serve(&first_server).await, "localhost", &cfg).await;
    assert_eq!(failure(&out).0, FailureClass::TlsCertUntrusted);

    // The file goes: prober_error ENOENT on every probe, until it is back.
    std::fs::remove_file(&ca_file).expect("remove ca_file");
    std::thread::sleep(Duration::from_millis(1100));
    for _ in 0..2 {
        let out = probe(serve(&second_server).await, "localhost", &cfg).await;
        assert_eq!(
            failure(&out),
            (FailureClass::ProberError, "ENOENT".to_string())
        );
    }
    std::fs::copy(&second.ca_file.0, &ca_file).expect("restore ca_file");
    let out = probe(serve(&second_server).await, "localhost", &cfg).await;
    assert!(out.result.is_ok(), "{:#?}", out.log);
    let _ = std::fs::remove_file(&ca_file);
}

#[tokio::test]
async fn probes_of_one_module_share_the_client_at_once() {
    let pki = Pki::new();
    let server = pki.leaf(&["localhost"], |_| {});
    let cfg = pki.tls_config();
    let mut probes = Vec::new();
    for _ in 0..8 {
        let addr = tls_server(server_config(&server, &[&TLS13], None, None)).await;
        let cfg = cfg.clone();
        probes.push(tokio::spawn(
            async move { probe(addr, "localhost", &cfg).await },
        ));
    }
    for p in probes {
        let out = p.await.expect("probe task");
        assert!(out.result.is_ok(), "{:#?}", out.log);
        assert_eq!(out.facts.chain.len(), 1);
        assert!(out.facts.verified_chain_expiry.is_some());
    }
}

/// blackbox_exporter 0.28's inline PEM: `ca` trusted like `ca_file`, `cert` and `key` presented
/// like `cert_file` and `key_file`.
#[tokio::test]
async fn inline_ca_and_client_certificate() {
    let pki = Pki::new();
    let server = pki.leaf(&["localhost"], |_| {});
    let (client_ca, client_ca_der, _) = root("Client CA", 2045);
    let client = leaf(&client_ca, 2050, Vec::new());
    let ca_pem = std::fs::read_to_string(&pki.ca_file.0).expect("CA PEM");
    let cfg = TlsConfig {
        ca: Some(ca_pem),
        client_cert: Some(ClientCert {
            cert: Pem::Inline(client.cert_pem.clone()),
            key: Pem::Inline(client.key_pem.clone()),
        }),
        ..TlsConfig::default()
    };
    let config = server_config(&server, &[&TLS13], None, Some(&client_ca_der));
    let out = probe(tls_server(config).await, "localhost", &cfg).await;
    assert!(out.result.is_ok(), "{:#?}", out.log);
    assert!(out.facts.verified_chain_expiry.is_some());
    assert_eq!(out.facts.client_cert_expiry, Some(Y2050));
}
