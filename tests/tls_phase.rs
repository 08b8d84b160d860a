//! The `tls` phase against real peers on 127.0.0.1: rustls servers with certificates made here
//! by rcgen (a test CA written to a temporary ca_file), and raw TCP peers that answer with a
//! TLS 1.0 ServerHello, HTTP, a FIN or a RST. Each test asserts the class, the detail and the
//! facts the probe reports.

mod tls_phase_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use handshake_exporter::config::{
    ClientCert, Config, Module, Pem, QueryResponse, TlsConfig, TlsVersion, VersionRange,
};
use handshake_exporter::prober::{probe as run_probe, ProbeRequest, Target};
use handshake_exporter::report::FailureClass;
use rcgen::{date_time_ymd, DnType, DnValue, ExtendedKeyUsagePurpose, SerialNumber};
use rustls::crypto::aws_lc_rs::cipher_suite;
use rustls::version::{TLS12, TLS13};
use sha2::{Digest, Sha256};
use tls_phase_support::{
    assert_success, drain, failure, probe, raw_server, read_record, self_signed, server_config,
    skip_without, tls_server, Pki, TempPem,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

// --- tests ---

#[tokio::test]
async fn valid_chain_via_ca_file_reports_version_cipher_and_chain() {
    let pki = Pki::new();
    let id = pki.leaf_via_intermediate(&["localhost", "www.localhost", "127.0.0.1"], |p| {
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CountryName, "US");
        p.distinguished_name
            .push(DnType::OrganizationName, "Acme, Inc.");
        p.distinguished_name.push(DnType::CommonName, "localhost");
        p.distinguished_name.push(
            DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            DnValue::Ia5String("ops@test".try_into().expect("ia5")),
        );
        p.serial_number = Some(SerialNumber::from_slice(&[0x00, 0x0a, 0xbc]));
        p.not_after = date_time_ymd(2090, 1, 1);
    });
    let leaf_der = id.chain[0].clone();
    let suites = vec![cipher_suite::TLS13_AES_128_GCM_SHA256];
    let addr = tls_server(server_config(&id, &[&TLS13], Some(suites), None)).await;

    let out = probe(addr, "localhost", &pki.tls_config()).await;
    assert_success(&out);
    assert_eq!(out.facts.version, Some(TlsVersion::Tls13));
    assert_eq!(out.facts.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(out.facts.chain.len(), 2, "leaf and intermediate");
    let leaf = &out.facts.chain[0];
    assert_eq!(
        leaf.subject,
        "CN=localhost,O=Acme\\, Inc.,C=US,1.2.840.113549.1.9.1=#0c086f70734074657374"
    );
    assert_eq!(leaf.issuer, "CN=Test Intermediate,O=Handshake Test");
    assert_eq!(leaf.subject_alternative, "localhost,www.localhost");
    assert_eq!(
        leaf.serial_number, "0abc",
        "as Go's %x of the serial's bytes"
    );
    assert_eq!(leaf.not_after, date_time_ymd(2090, 1, 1).unix_timestamp());
    let digest: String = Sha256::digest(leaf_der.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(leaf.fingerprint_sha256, digest);
    let intermediate = &out.facts.chain[1];
    assert_eq!(
        intermediate.subject,
        "CN=Test Intermediate,O=Handshake Test"
    );
    assert_eq!(intermediate.issuer, "CN=Test Root CA,O=Handshake Test");
    assert_eq!(
        out.facts.earliest_expiry(),
        Some(leaf.not_after.min(intermediate.not_after))
    );
    assert!(
        out.log
            .iter()
            .any(|l| l.contains("2090-01-01 00:00:00 UTC")),
        "{:#?}",
        out.log
    );
}

/// ECDSA P-521 keys throughout (root, intermediate, leaf; certificates signed with SHA-512 and
/// the server's handshake signed with ecdsa_secp521r1_sha512, RFC 8446 section 4.2.3): the
/// chain verifies, as it does for Go's crypto/tls and so for blackbox_exporter.
#[tokio::test]
async fn p521_chain_and_handshake_signature_verify() {
    let pki = Pki::named_with("Test P-521 Root CA", &rcgen::PKCS_ECDSA_P521_SHA512);
    let id = pki
        .intermediate("Test P-521 Intermediate")
        .issue(&["localhost"], |_| {});
    let addr = tls_server(server_config(&id, &[&TLS13], None, None)).await;

    let out = probe(addr, "localhost", &pki.tls_config()).await;
    assert_success(&out);
    assert_eq!(out.facts.chain.len(), 2, "leaf and intermediate");
    assert!(out.facts.verified_chain_expiry.is_some(), "{:#?}", out.log);
}

/// A TLS probe ends the session with close_notify before it closes the socket, as
/// blackbox_exporter's probes do (Go's crypto/tls `Conn.Close`): the server reads an orderly end
/// of the stream, not an unexpected EOF. Checked through the whole engine, with no query and
/// after a query step.
#[tokio::test]
async fn probe_ends_the_session_with_close_notify() {
    let pki = Pki::new();
    let id = pki.issue(&["127.0.0.1"], |_| {});
    for steps in [Vec::new(), vec![send_step("QUIT")]] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let acceptor =
            tokio_rustls::TlsAcceptor::from(Arc::new(server_config(&id, &[], None, None)));
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut tls = acceptor.accept(tcp).await.expect("server handshake");
            let mut got = Vec::new();
            let end = tls.read_to_end(&mut got).await.map_err(|e| e.to_string());
            let _ = tx.send((end, got));
        });

        let mut module = Module::clone(&Config::builtin().modules["tcp_connect"]);
        module.tcp.tls = true;
        module.tcp.tls_config = pki.tls_config();
        module.tcp.query_response = steps.clone();
        let report = run_probe(ProbeRequest {
            target: Target {
                host: "127.0.0.1".into(),
                port,
            },
            module_name: "tls".into(),
            module: Arc::new(module),
            timeout: Duration::from_secs(3),
        })
        .await;
        assert!(report.success(), "{:?} {:?}", report.failure, report.log);

        let (end, got) = tokio::time::timeout(Duration::from_secs(3), rx)
            .await
            .expect("server saw the end")
            .expect("server task");
        assert!(
            end.is_ok(),
            "with {} steps the server read {end:?} instead of close_notify",
            steps.len()
        );
        let sent = if steps.is_empty() { "" } else { "QUIT\n" };
        assert_eq!(String::from_utf8_lossy(&got), sent);
    }
}

fn send_step(send: &str) -> QueryResponse {
    QueryResponse {
        expect: None,
        expect_bytes: String::new(),
        send: send.to_string(),
        send_bytes: Vec::new(),
        starttls: false,
        labels: Vec::new(),
    }
}

#[tokio::test]
async fn tls12_and_ip_literal_host_check_ip_san() {
    let pki = Pki::new();
    let id = pki.leaf(&["127.0.0.1"], |_| {});
    let suites = vec![cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256];
    let addr = tls_server(server_config(&id, &[&TLS12], Some(suites), None)).await;

    let out = probe(addr, "127.0.0.1", &pki.tls_config()).await;
    assert_success(&out);
    assert_eq!(out.facts.version, Some(TlsVersion::Tls12));
    assert_eq!(
        out.facts.cipher.as_deref(),
        Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
    );
    assert_eq!(
        out.facts.chain[0].subject_alternative, "",
        "IP SANs are not DNS SANs"
    );
}

#[tokio::test]
async fn expired_leaf_is_classed_and_still_reports_its_expiry() {
    let pki = Pki::new();
    let id = pki.leaf(&["localhost"], |p| {
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2001, 1, 1);
    });
    let addr = tls_server(server_config(&id, &[&TLS13], None, None)).await;

    let out = probe(addr, "localhost", &pki.tls_config()).await;
    assert_eq!(failure(&out), (FailureClass::TlsCertExpired, String::new()));
    assert_eq!(out.facts.chain.len(), 1);
    assert_eq!(out.facts.chain[0].not_after, 978_307_200);
    assert_eq!(out.facts.earliest_expiry(), Some(978_307_200));
    assert_eq!(out.facts.version, None);
}

#[tokio::test]
async fn not_yet_valid_leaf() {
    let pki = Pki::new();
    let id = pki.leaf(&["localhost"], |p| {
        p.not_before = date_time_ymd(2090, 1, 1);
        p.not_after = date_time_ymd(2091, 1, 1);
    });
    let addr = tls_server(server_config(&id, &[&TLS13], None, None)).await;

    let out = probe(addr, "localhost", &pki.tls_config()).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsCertNotYetValid, String::new())
    );
    assert_eq!(
        out.facts.chain[0].not_after,
        date_time_ymd(2091, 1, 1).unix_timestamp()
    );
}

#[tokio::test]
async fn self_signed_leaf_is_untrusted() {
    let pki = Pki::new();
    let id = self_signed(&["localhost"]);
    let addr = tls_server(server_config(&id, &[&TLS13], None, None)).await;

    let out = probe(addr, "localhost", &pki.tls_config()).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsCertUntrusted, String::new())
    );
    assert_eq!(out.facts.chain[0].subject, "CN=selfsigned.test");
    assert_eq!(out.facts.chain[0].issuer, "CN=selfsigned.test");
}

#[tokio::test]
async fn wrong_name_is_hostname_mismatch() {
    let pki = Pki::new();
    let id = pki.leaf(&["other.test"], |_| {});
    let addr = tls_server(server_config(&id, &[&TLS13], None, None)).await;
    let cfg = TlsConfig {
        server_name: Some("wanted.test".to_string()),
        ..pki.tls_config()
    };

    let out = probe(addr, "localhost", &cfg).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsCertHostnameMismatch, String::new())
    );
    assert_eq!(out.facts.chain[0].subject_alternative, "other.test");
}

#[tokio::test]
async fn client_auth_only_eku_is_invalid() {
    let pki = Pki::new();
    let id = pki.leaf(&["localhost"], |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    });
    let addr = tls_server(server_config(&id, &[&TLS13], None, None)).await;

    let out = probe(addr, "localhost", &pki.tls_config()).await;
    assert_eq!(failure(&out), (FailureClass::TlsCertInvalid, String::new()));
    assert!(!out.facts.chain.is_empty());
}

#[tokio::test]
async fn missing_client_certificate_in_tls13_is_alert_certificate_required() {
    let pki = Pki::new();
    let id = pki.leaf(&["localhost"], |_| {});
    let addr = tls_server(server_config(&id, &[&TLS13], None, Some(&pki.ca_der))).await;

    let out = probe(addr, "localhost", &pki.tls_config()).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsAlert, "certificate_required".to_string())
    );
    assert!(!out.facts.chain.is_empty());
}

/// A TLS 1.3 server (certificate from `pki`) that asks for a client certificate issued by
/// `pki`, and a client config trusting `pki` that presents a clientAuth certificate issued by
/// `client_ca`; the PEM files live as long as the returned pair.
async fn client_auth_case(pki: &Pki, client_ca: &Pki) -> (SocketAddr, [TempPem; 2], TlsConfig) {
    let id = pki.leaf(&["localhost"], |_| {});
    let client = client_ca.leaf(&[], |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    });
    let files = [
        TempPem::new(&client.cert_pem),
        TempPem::new(&client.key_pem),
    ];
    let addr = tls_server(server_config(&id, &[&TLS13], None, Some(&pki.ca_der))).await;
    let cfg = TlsConfig {
        client_cert: Some(ClientCert {
            cert: Pem::File(files[0].0.clone()),
            key: Pem::File(files[1].0.clone()),
        }),
        ..pki.tls_config()
    };
    (addr, files, cfg)
}

#[tokio::test]
async fn accepted_client_certificate_in_tls13_succeeds() {
    let pki = Pki::new();
    let (addr, _files, cfg) = client_auth_case(&pki, &pki).await;

    let started = Instant::now();
    let out = probe(addr, "localhost", &cfg).await;
    assert_success(&out);
    // The server's session ticket ends the wait, long before the 2 s cap.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn client_certificate_from_unknown_ca_is_alert_unknown_ca() {
    let pki = Pki::new();
    // Another name: a CA with the server's root's name would fail on the signature instead.
    let other = Pki::named("Unknown Root CA");
    let (addr, _files, cfg) = client_auth_case(&pki, &other).await;

    let out = probe(addr, "localhost", &cfg).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsAlert, "unknown_ca".to_string())
    );
}

#[tokio::test]
async fn max_tls12_against_tls13_only_server_is_alert_protocol_version() {
    let pki = Pki::new();
    let id = pki.leaf(&["localhost"], |_| {});
    let addr = tls_server(server_config(&id, &[&TLS13], None, None)).await;
    let cfg = TlsConfig {
        versions: VersionRange::new(None, Some(TlsVersion::Tls12)).unwrap(),
        ..pki.tls_config()
    };

    let out = probe(addr, "localhost", &cfg).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsAlert, "protocol_version".to_string())
    );
    assert!(out.facts.chain.is_empty());
}

/// A legacy stack that ignores supported_versions answers with its own version, TLS 1.0, in
/// the ServerHello; rustls refuses it on our side.
#[tokio::test]
async fn tls10_server_hello_is_incompatible() {
    let addr = raw_server(|mut tcp| async move {
        read_record(&mut tcp).await;
        // ServerHello, RFC 2246 section 7.4.1.3: version 3.1, random, empty session id,
        // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, null compression, no extensions.
        let mut hello = vec![0x02, 0x00, 0x00, 0x26, 0x03, 0x01];
        hello.extend_from_slice(&[0x5a; 32]);
        hello.extend_from_slice(&[0x00, 0xc0, 0x13, 0x00]);
        let mut record = vec![0x16, 0x03, 0x01, 0x00, hello.len() as u8];
        record.extend_from_slice(&hello);
        tcp.write_all(&record).await.expect("server hello");
        drain(&mut tcp).await;
    })
    .await;

    let out = probe(addr, "localhost", &TlsConfig::default()).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsIncompatible, String::new())
    );
    assert!(out.facts.chain.is_empty());
}

/// A real TLS 1.0-only server (openssl s_server, when installed) reads the supported_versions
/// extension (RFC 8446 section 4.2.1), finds only 1.2 and 1.3 there, and refuses with an alert
/// itself: the decision is the peer's, so `tls_alert`, not `tls_incompatible`.
#[tokio::test]
async fn tls10_only_openssl_server_sends_alert_protocol_version() {
    let id = self_signed(&["localhost"]);
    let cert = TempPem::new(&id.cert_pem);
    let key = TempPem::new(&id.key_pem);
    let spawned = tokio::process::Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-naccept",
            "1",
            "-tls1",
        ])
        .args(["-cipher", "DEFAULT@SECLEVEL=0", "-cert"])
        .arg(&cert.0)
        .arg("-key")
        .arg(&key.0)
        .stdout(std::process::Stdio::piped())
        // s_server quits when its stdin ends: keep it open until the child is dropped.
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut server = match spawned {
        Ok(server) => server,
        Err(e) => {
            skip_without::<()>("openssl", &e);
            return;
        }
    };
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let addr: SocketAddr = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("openssl s_server did not start")
            .expect("read stdout")
            .expect("openssl s_server exited");
        if let Some(addr) = line.strip_prefix("ACCEPT ") {
            break addr.trim().parse().expect("ACCEPT address");
        }
    };

    let out = probe(addr, "localhost", &TlsConfig::default()).await;
    assert_eq!(
        failure(&out),
        (FailureClass::TlsAlert, "protocol_version".to_string())
    );
}

#[tokio::test]
async fn plain_http_answer_is_protocol_mismatch() {
    let addr = raw_server(|mut tcp| async move {
        read_record(&mut tcp).await;
        let answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        tcp.write_all(answer).await.expect("http answer");
        let _ = tcp.shutdown().await;
        drain(&mut tcp).await;
    })
    .await;

    let out = probe(addr, "localhost", &TlsConfig::default()).await;
    assert_eq!(
        failure(&out),
        (FailureClass::ProtocolMismatch, String::new())
    );
}

#[tokio::test]
async fn close_right_after_accept_is_eof() {
    let addr = raw_server(|mut tcp| async move {
        // FIN at once; keep reading so the ClientHello never sits unread (which would make
        // the kernel answer with a RST instead).
        let _ = tcp.shutdown().await;
        drain(&mut tcp).await;
    })
    .await;

    let out = probe(addr, "localhost", &TlsConfig::default()).await;
    assert_eq!(failure(&out), (FailureClass::Eof, String::new()));
}

#[tokio::test]
async fn reset_after_client_hello_is_reset() {
    let addr = raw_server(|mut tcp| async move {
        read_record(&mut tcp).await;
        // SO_LINGER 0: close(2) sends a RST instead of a FIN (socket(7)).
        socket2::SockRef::from(&tcp)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        drop(tcp);
    })
    .await;

    let out = probe(addr, "localhost", &TlsConfig::default()).await;
    assert_eq!(
        failure(&out),
        (FailureClass::Reset, "ECONNRESET".to_string())
    );
}

#[tokio::test]
async fn missing_ca_file_is_prober_error_enoent() {
    let addr = raw_server(|mut tcp| async move { drain(&mut tcp).await }).await;
    let cfg = TlsConfig {
        ca_file: Some(PathBuf::from("/nonexistent/handshake_exporter/ca.pem")),
        ..TlsConfig::default()
    };

    let out = probe(addr, "localhost", &cfg).await;
    assert_eq!(
        failure(&out),
        (FailureClass::ProberError, "ENOENT".to_string())
    );
    assert!(
        out.log.iter().any(|l| l.contains("ca_file")),
        "{:#?}",
        out.log
    );
}

#[tokio::test]
async fn max_version_below_tls12_is_prober_error() {
    let addr = raw_server(|mut tcp| async move { drain(&mut tcp).await }).await;
    let cfg = TlsConfig {
        versions: VersionRange::new(None, Some(TlsVersion::Tls11)).unwrap(),
        ..TlsConfig::default()
    };

    let out = probe(addr, "localhost", &cfg).await;
    assert_eq!(failure(&out), (FailureClass::ProberError, String::new()));
    assert!(
        out.log.iter().any(|l| l.contains("below TLS 1.2")),
        "{:#?}",
        out.log
    );
}

#[tokio::test]
async fn insecure_skip_verify_accepts_self_signed_and_keeps_facts() {
    let id = self_signed(&["selfsigned.test"]);
    let addr = tls_server(server_config(&id, &[&TLS13], None, None)).await;
    let cfg = TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    };

    let out = probe(addr, "localhost", &cfg).await;
    assert_success(&out);
    assert_eq!(out.facts.version, Some(TlsVersion::Tls13));
    assert!(out.facts.cipher.is_some());
    assert_eq!(out.facts.chain.len(), 1);
    assert_eq!(out.facts.chain[0].subject, "CN=selfsigned.test");
    assert_eq!(out.facts.chain[0].subject_alternative, "selfsigned.test");
}
