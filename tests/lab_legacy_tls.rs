//! The OpenSSL stack against real old-protocol peers: `openssl s_server` speaking only TLS 1.0,
//! only TLS 1.1, or TLS 1.2 with nothing but RSA key exchange and CBC, in the lab's server
//! namespace. A valid certificate gives success with the version, cipher and certificate facts;
//! expired, not yet valid, untrusted, wrong-name and wrong-purpose certificates give the classes
//! the rustls stack gives (tests/lab_tls.rs); a module capped at TLS 1.1 against a modern server
//! fails with the alert that server sent. Also: STARTTLS, `query_response`, `hostname=` and a
//! client certificate through OpenSSL, and an nginx serving only TLS 1.0 with RSA and CBC.

#[macro_use]
mod lab;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use lab::modules::{module, tls, tls_config, IP4};
use lab::servers::SMTP_STARTTLS_STEPS;
use lab::tlsgen::{
    self, Identity, Leaf, Pki, EXPIRED_NOT_AFTER, FUTURE_NOT_AFTER, VALID_NOT_AFTER,
};
use lab::{Exporter, Lab, Peer};
use sha2::{Digest, Sha256};

/// `openssl s_server` in the lab's server namespace, its output collected; killed (by its own
/// PID) when dropped.
struct SServer(Child, Arc<Mutex<String>>);

impl SServer {
    /// Serves `id` on 203.0.113.2:`port` with `args` (protocol and cipher flags); returns once
    /// it listens. `None` (a skip, a failure under CI=true) without openssl.
    fn start(lab: &Lab, id: &Identity, port: u16, args: &[&str]) -> Option<SServer> {
        if !lab::available(&["openssl"], &[]) {
            return None;
        }
        let cert = lab.file(&format!("s_server-{port}.crt"), &id.cert_pem);
        let key = lab.file(&format!("s_server-{port}.key"), &id.key_pem);
        let accept = format!("{}:{port}", lab::SERVER4);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.server, "openssl", "s_server"])
            .args(["-accept", &accept, "-cert"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args(args)
            // s_server quits when its stdin ends: kept open until the child is killed.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("failed to start openssl s_server");
        let mut lines = BufReader::new(child.stdout.take().expect("s_server stdout")).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("ACCEPT"));
        assert!(ready, "openssl s_server {args:?} did not start listening");
        // Drained until it exits, so its writes never fail; kept for assertions.
        let output = Arc::new(Mutex::new(String::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut out = sink.lock().unwrap_or_else(|p| p.into_inner());
                out.push_str(&line);
                out.push('\n');
            }
        });
        Some(SServer(child, output))
    }

    /// What s_server printed after it started listening.
    fn output(&self) -> String {
        self.1.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Protocol flags of a TLS 1.0-only server with an ECDHE CBC suite (RSA, or ECDSA for the
/// self-signed leaf).
const TLS10: &[&str] = &[
    "-www",
    "-tls1",
    "-cipher",
    "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0",
];
/// Protocol flags of a TLS 1.1-only server with an ECDHE-RSA CBC suite.
const TLS11: &[&str] = &[
    "-www",
    "-tls1_1",
    "-cipher",
    "ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
];
/// A TLS 1.2 server with RSA key exchange and CBC only (TLS_RSA_WITH_AES_128_CBC_SHA).
const RSA_CBC: &[&str] = &["-www", "-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"];

/// Modules: `tls10` (min_version TLS10), `rsa` (stack: openssl, TLS 1.2 allowed), `tls10_query`
/// (an HTTP exchange after the handshake), `max11` (max_version TLS11), `tls10_target` (the
/// name checked is the target's or `hostname=`), `smtp_openssl` (SMTP STARTTLS through OpenSSL),
/// `tls10_client` (with a client certificate), all trusting the lab CA at `ca` and, but for
/// `tls10_target`, checking ok.lab.test.
fn config(ca: &Path, client: Option<(&Path, &Path)>) -> String {
    let ok = tls(ca, Some("ok.lab.test"));
    let min10 = "        min_version: TLS10\n";
    let query = "      query_response:\n        - send: \"GET / HTTP/1.0\\r\\n\"\n        - expect: \"^HTTP/1.0 200\"\n";
    let mut modules = vec![
        module("tls10", "3s", &[IP4, &ok, min10]),
        module("rsa", "3s", &[IP4, &ok, "        stack: openssl\n"]),
        module("tls10_query", "3s", &[IP4, &ok, min10, query]),
        module("max11", "3s", &[IP4, &ok, "        max_version: TLS11\n"]),
        module(
            "tls11_refused",
            "3s",
            &[IP4, &ok, "        max_version: TLS11\n"],
        ) + TLS11_REFUSED,
        module("tls10_target", "3s", &[IP4, &tls(ca, None), min10]),
        module(
            "smtp_openssl",
            "3s",
            &[
                IP4,
                SMTP_STARTTLS_STEPS,
                &tls_config(ca, Some("ok.lab.test")),
                "        stack: openssl\n",
            ],
        ),
    ];
    if let Some((cert, key)) = client {
        let files = format!(
            "        cert_file: {}\n        key_file: {}\n",
            cert.display(),
            key.display()
        );
        modules.push(module("tls10_client", "3s", &[IP4, &ok, min10, &files]));
    }
    lab::modules::config(&modules)
}

/// A lab CA with RSA keys (as the old devices have), its file, and an exporter trusting it.
fn setup(lab: &Lab) -> (Pki, Exporter<'_>) {
    let pki = Pki::named_with("handshake lab CA", &rcgen::PKCS_RSA_SHA256);
    let ca = pki.write_ca(lab);
    let exporter = Exporter::start(lab, &config(&ca, None));
    (pki, exporter)
}

#[test]
fn old_protocols_succeed_with_their_facts() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let id = pki.leaf(Leaf::Valid);
    let fingerprint = format!("{:x}", Sha256::digest(id.chain[0].as_ref()));
    let cases = [
        (
            1010,
            TLS10,
            "tls10",
            "TLS 1.0",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        ),
        (
            1011,
            TLS11,
            "tls10",
            "TLS 1.1",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        ),
        (
            1012,
            RSA_CBC,
            "rsa",
            "TLS 1.2",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
        ),
    ];
    for (port, flags, module, version, cipher) in cases {
        let Some(_server) = SServer::start(&lab, &id, port, flags) else {
            return;
        };
        let m = exporter.probe(module, &format!("ok.lab.test:{port}"));
        m.assert_success();
        m.assert_value("probe_tls_version_info", &[("version", version)], 1.0);
        m.assert_value("probe_tls_cipher_info", &[("cipher", cipher)], 1.0);
        let expiry = VALID_NOT_AFTER as f64;
        m.assert_value("probe_ssl_earliest_cert_expiry", &[], expiry);
        m.assert_value("probe_ssl_last_chain_expiry_timestamp_seconds", &[], expiry);
        let chain = [("fingerprint_sha256", fingerprint.as_str())];
        m.assert_value("probe_ssl_last_chain_info", &chain, 1.0);
        m.assert_phase_between("tls", 0.0, 2.0);
    }
}

/// The debug output names the stack, and a `query_response` dialogue runs over the OpenSSL
/// session after the handshake.
#[test]
fn the_stack_is_named_and_query_response_runs_over_it() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let Some(_server) = SServer::start(&lab, &pki.leaf(Leaf::Valid), 1010, TLS10) else {
        return;
    };
    let m = exporter.probe("tls10_query", "ok.lab.test:1010");
    m.assert_success();
    m.assert_phase_between("query", 0.0, 2.0);
    let path = "/probe?module=tls10&target=ok.lab.test:1010&debug=true";
    let (status, body) =
        lab::exporter::get(&lab, path, std::time::Duration::from_secs(5)).expect("debug probe");
    assert_eq!(status, 200);
    assert!(body.contains("tls: stack openssl"), "{body}");
}

/// Certificates the OpenSSL stack rejects: the same class as on rustls, expiry still reported.
#[test]
fn rejected_certificates_give_the_rustls_classes() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let cases = [
        (Leaf::Expired, "tls_cert_expired", EXPIRED_NOT_AFTER),
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
    for (i, (leaf, class, not_after)) in cases.into_iter().enumerate() {
        let port = 1020 + i as u16;
        let Some(_server) = SServer::start(&lab, &pki.leaf(leaf), port, TLS10) else {
            return;
        };
        let m = exporter.probe("tls10", &format!("ok.lab.test:{port}"));
        m.assert_failure("tls", class, "");
        m.assert_value("probe_ssl_earliest_cert_expiry", &[], not_after as f64);
    }
}

/// "This server must refuse TLS 1.1": a modern server answers a TLS 1.1-only ClientHello with
/// an alert, and the failure names the one it sent (protocol_version from OpenSSL,
/// handshake_failure from rustls).
#[test]
fn max_tls11_against_a_modern_server_is_the_alert_it_sent() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let id = pki.leaf(Leaf::Valid);
    let modern = ["-www", "-min_protocol", "TLSv1.2"];
    let Some(_server) = SServer::start(&lab, &id, 1040, &modern) else {
        return;
    };
    let m = exporter.probe("max11", "ok.lab.test:1040");
    m.assert_failure("tls", "tls_alert", "protocol_version");
    let rustls = tlsgen::server_config(&id, &[], None);
    lab.serve("203.0.113.2:443", Peer::Tls(rustls));
    let m = exporter.probe("max11", "ok.lab.test:443");
    m.assert_failure("tls", "tls_alert", "handshake_failure");
}

/// `expect_failure` of config.example.yml's `tls11_refused`: a client offering at most TLS 1.1
/// must be refused with an alert (OpenSSL servers send protocol_version, rustls ones
/// handshake_failure).
const TLS11_REFUSED: &str = "    expect_failure:
      phases: [tls]
      classes: [tls_alert]
      details: [protocol_version, handshake_failure]
";

/// The policy "TLS 1.1 must be refused": a TLS 1.2+ server passes it (probe_success 1, the
/// alert it sent in probe_failure_info); one that still speaks TLS 1.1 fails it with
/// `unexpected_success` in phase tls.
#[test]
fn tls11_refused_policy_passes_on_a_modern_server_and_fails_on_tls11() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let id = pki.leaf(Leaf::Valid);
    let modern = ["-www", "-min_protocol", "TLSv1.2"];
    let Some(modern) = SServer::start(&lab, &id, 1040, &modern) else {
        return;
    };
    let m = exporter.probe("tls11_refused", "ok.lab.test:1040");
    m.assert_value("probe_success", &[], 1.0);
    m.assert_value("probe_failure_expected", &[], 1.0);
    let failure = m
        .failure()
        .expect("probe_failure_info on an expected failure");
    let seen = (
        failure.phase.as_str(),
        failure.class.as_str(),
        failure.detail.as_str(),
    );
    assert_eq!(seen, ("tls", "tls_alert", "protocol_version"), "{}", m.body);
    drop(modern);

    let Some(_old) = SServer::start(&lab, &id, 1041, TLS11) else {
        return;
    };
    let m = exporter.probe("tls11_refused", "ok.lab.test:1041");
    m.assert_failure("tls", "unexpected_success", "");
    m.assert_value("probe_failure_expected", &[], 0.0);
}

/// A TLS 1.0 server that requires a client certificate accepts the module's and the probe
/// reports its expiry.
#[test]
fn client_certificate_over_tls10() {
    let lab = lab_or_skip!();
    let pki = Pki::named_with("handshake lab CA", &rcgen::PKCS_RSA_SHA256);
    let ca = pki.write_ca(&lab);
    let client = pki.issue(&["client.lab.test"], |p| {
        p.not_after = rcgen::date_time_ymd(2036, 1, 1);
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    });
    let cert = lab.file("client.crt", &client.cert_pem);
    let key = lab.file("client.key", &client.key_pem);
    let exporter = Exporter::start(&lab, &config(&ca, Some((&cert, &key))));
    let ca_arg = ca.display().to_string();
    let flags = [TLS10, &["-Verify", "1", "-CAfile", &ca_arg]].concat();
    let Some(_server) = SServer::start(&lab, &pki.leaf(Leaf::Valid), 1030, &flags) else {
        return;
    };
    let m = exporter.probe("tls10_client", "ok.lab.test:1030");
    m.assert_success();
    m.assert_value("probe_ssl_client_cert_expiry", &[], VALID_NOT_AFTER as f64);
    // Without one, the server ends the handshake with an alert.
    let without = exporter.probe("tls10", "ok.lab.test:1030");
    let failure = without.failure().expect("a failure");
    assert_eq!(
        (failure.phase.as_str(), failure.class.as_str()),
        ("tls", "tls_alert")
    );
}

/// STARTTLS hands the upgraded TCP stream to OpenSSL, and the dialogue goes on inside; the
/// server's TLS 1.3 is spoken too.
#[test]
fn starttls_through_openssl() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let smtp = tlsgen::server_config(&pki.leaf(Leaf::Valid), &[], None);
    lab.serve("203.0.113.2:25", Peer::Smtp(smtp));
    let m = exporter.probe("smtp_openssl", "ok.lab.test:25");
    m.assert_success();
    m.assert_value("probe_tls_version_info", &[("version", "TLS 1.3")], 1.0);
    m.assert_phase_between("tls", 0.0, 2.0);
}

/// `hostname=` sets the SNI and the name checked on the OpenSSL stack as on rustls.
#[test]
fn hostname_parameter_on_openssl() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let Some(_server) = SServer::start(&lab, &pki.leaf(Leaf::Valid), 1010, TLS10) else {
        return;
    };
    let target = "203.0.113.2:1010";
    exporter.probe("tls10_target", target).assert_success();
    let named = exporter.probe_with("tls10_target", target, &[("hostname", "ok.lab.test")]);
    named.assert_success();
    let other = exporter.probe_with("tls10_target", target, &[("hostname", "other.lab.test")]);
    other.assert_failure("tls", "tls_cert_hostname_mismatch", "");
}

/// nginx (Debian's nginx-light) in the server namespace with `nginx.conf` written by the test;
/// killed (by its own PID) when dropped.
struct Nginx(Child);

impl Nginx {
    /// Serves `valid` on 203.0.113.2:1050 and `expired` on :1051, TLS 1.0 with RSA key
    /// exchange and CBC only, as an old appliance's web interface. `None` without nginx.
    fn start(lab: &Lab, valid: &Identity, expired: &Identity) -> Option<Nginx> {
        if !lab::available(&["nginx"], &[]) {
            return None;
        }
        let dir = lab.dir.join("nginx");
        std::fs::create_dir_all(&dir).expect("nginx directory");
        let mut servers = String::new();
        for (port, id) in [(1050, valid), (1051, expired)] {
            let cert = lab.file(&format!("nginx-{port}.crt"), &id.cert_pem);
            let key = lab.file(&format!("nginx-{port}.key"), &id.key_pem);
            servers += &format!(
                "server {{ listen {}:{port} ssl; ssl_certificate {}; ssl_certificate_key {}; \
                 ssl_protocols TLSv1; ssl_ciphers AES128-SHA:@SECLEVEL=0; \
                 location / {{ return 200 \"ok\\n\"; }} }}\n",
                lab::SERVER4,
                cert.display(),
                key.display()
            );
        }
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{}}\nhttp {{\naccess_log off;\nclient_body_temp_path {d}/body;\n\
             proxy_temp_path {d}/proxy;\nfastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n{servers}}}\n"
        );
        let conf = lab.file("nginx.conf", &conf);
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.server, "nginx", "-p"])
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("failed to start nginx");
        // nginx writes its PID file once its sockets listen.
        let pid = dir.join("nginx.pid");
        let start = std::time::Instant::now();
        while !pid.exists() {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            assert!(start.elapsed().as_secs() < 10, "nginx did not start: {log}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(Nginx(child))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An nginx speaking only TLS 1.0 with TLS_RSA_WITH_AES_128_CBC_SHA: success with its facts,
/// and its expired certificate is `tls_cert_expired` with the expiry reported.
#[test]
fn nginx_tls10_rsa_cbc() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let (valid, expired) = (pki.leaf(Leaf::Valid), pki.leaf(Leaf::Expired));
    let Some(_nginx) = Nginx::start(&lab, &valid, &expired) else {
        return;
    };
    let m = exporter.probe("tls10", "ok.lab.test:1050");
    m.assert_success();
    m.assert_value("probe_tls_version_info", &[("version", "TLS 1.0")], 1.0);
    let cipher = [("cipher", "TLS_RSA_WITH_AES_128_CBC_SHA")];
    m.assert_value("probe_tls_cipher_info", &cipher, 1.0);
    m.assert_value(
        "probe_ssl_earliest_cert_expiry",
        &[],
        VALID_NOT_AFTER as f64,
    );
    let m = exporter.probe("tls10", "ok.lab.test:1051");
    m.assert_failure("tls", "tls_cert_expired", "");
    m.assert_value(
        "probe_ssl_earliest_cert_expiry",
        &[],
        EXPIRED_NOT_AFTER as f64,
    );
}

/// A probe ends its OpenSSL session with close_notify (SSL_shutdown(3)), as the rustls stack
/// does: s_server (without `-www`) prints `DONE` when it reads one.
#[test]
fn the_session_ends_with_close_notify() {
    let lab = lab_or_skip!();
    let (pki, exporter) = setup(&lab);
    let flags = &TLS10[1..];
    let Some(server) = SServer::start(&lab, &pki.leaf(Leaf::Valid), 1060, flags) else {
        return;
    };
    exporter.probe("tls10", "ok.lab.test:1060").assert_success();
    let start = std::time::Instant::now();
    while !server.output().contains("DONE") {
        let out = server.output();
        assert!(
            start.elapsed().as_secs() < 5,
            "no close_notify seen:\n{out}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Peers that do not finish a handshake give the classes they give on rustls
/// (tests/lab_tls.rs `peers_that_do_not_speak_tls`, `timeout_in_tls`).
#[test]
fn peers_that_do_not_speak_tls_on_openssl() {
    let lab = lab_or_skip!();
    let (_pki, exporter) = setup(&lab);
    let cases = [
        (Peer::Http400, "protocol_mismatch", ""),
        (Peer::Reset, "reset", "ECONNRESET"),
        (Peer::Fin, "eof", ""),
        (Peer::Silent, "timeout", ""),
    ];
    for (i, (peer, class, detail)) in cases.into_iter().enumerate() {
        let port = 1070 + i as u16;
        lab.serve(&format!("203.0.113.2:{port}"), peer);
        let m = exporter.probe("tls10", &format!("ok.lab.test:{port}"));
        m.assert_failure("tls", class, detail);
    }
}
