//! `--web.config.file` with real clients: curl and openssl s_client against the exporter over
//! HTTPS with client certificates (RequireAndVerifyClientCert), basic auth, TLS 1.2 and 1.3,
//! plain HTTP to the TLS port, and certificate rotation without a restart.

#[path = "support/pki.rs"]
mod pki;
mod web;

use std::time::Duration;

use pki::{Identity, Pki};
use rcgen::ExtendedKeyUsagePurpose;
use web::{curl, run, Exporter, Scratch};

/// The files of one HTTPS setup: server and client identities from one CA, a client from
/// another CA, a bcrypt user `prometheus` / `s3cret`.
struct Setup {
    scratch: Scratch,
    pki: Pki,
}

const PASSWORD: &str = "s3cret";

/// A leaf of `pki` for `names`, for TLS clients when `client`, else for servers.
fn leaf(pki: &Pki, names: &[&str], client: bool) -> Identity {
    let usage = if client {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    };
    pki.issue(names, |p| p.extended_key_usages = vec![usage])
}

fn setup(tag: &str, client_auth: &str) -> Setup {
    let scratch = Scratch::new(tag);
    let pki = Pki::named("web test CA");
    let server = leaf(&pki, &["localhost", "127.0.0.1"], false);
    scratch.file("server.crt", &server.cert_pem);
    scratch.file("server.key", &server.key_pem);
    scratch.file("ca.crt", &pki.ca_pem);
    let client = leaf(&pki, &["prometheus.lab.test"], true);
    scratch.file("client.crt", &client.cert_pem);
    scratch.file("client.key", &client.key_pem);
    let stranger = leaf(&Pki::named("stranger CA"), &["prometheus.lab.test"], true);
    scratch.file("stranger.crt", &stranger.cert_pem);
    scratch.file("stranger.key", &stranger.key_pem);
    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
    // The layout of exporter-toolkit's documented example, relative paths included.
    scratch.file(
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
             client_auth_type: {client_auth}\n  client_ca_file: ca.crt\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n\
             basic_auth_users:\n  prometheus: {hash}\n"
        ),
    );
    Setup { scratch, pki }
}

impl Setup {
    fn start(&self) -> Exporter {
        let web = self.scratch.path("web.yml");
        Exporter::start(
            &self.scratch,
            &[],
            &["--web.config.file", web.to_str().unwrap()],
        )
    }

    fn p(&self, name: &str) -> String {
        self.scratch.path(name).display().to_string()
    }

    /// curl over HTTPS with the CA, plus `extra`.
    fn curl(&self, exporter: &Exporter, extra: &[&str], path: &str) -> (u16, i32, String) {
        let ca = self.p("ca.crt");
        let mut args = vec!["--cacert", ca.as_str()];
        args.extend_from_slice(extra);
        curl(&args, &format!("https://localhost:{}{path}", exporter.port))
    }
}

#[test]
fn https_client_certificates_and_basic_auth_with_curl() {
    let s = setup("web-curl", "RequireAndVerifyClientCert");
    let exporter = s.start();
    let (cert, key) = (s.p("client.crt"), s.p("client.key"));
    let with_cert = ["--cert", cert.as_str(), "--key", key.as_str()];
    let user = format!("prometheus:{PASSWORD}");

    // No client certificate: the handshake is refused, no HTTP answer at all.
    let (status, code, err) = s.curl(&exporter, &["-u", &user], "/metrics");
    assert_eq!(status, 0, "answered without a client certificate: {err}");
    assert_ne!(code, 0);

    // A client certificate from another CA: refused too.
    let (sc, sk) = (s.p("stranger.crt"), s.p("stranger.key"));
    let (status, code, err) = s.curl(
        &exporter,
        &["--cert", &sc, "--key", &sk, "-u", &user],
        "/metrics",
    );
    assert_eq!(
        status, 0,
        "a foreign client certificate was accepted: {err}"
    );
    assert_ne!(code, 0);

    // Right certificate: no password 401, wrong password 401, right password 200.
    let (status, _, _) = s.curl(&exporter, &with_cert, "/metrics");
    assert_eq!(status, 401);
    let mut wrong = with_cert.to_vec();
    wrong.extend(["-u", "prometheus:guess"]);
    assert_eq!(s.curl(&exporter, &wrong, "/metrics").0, 401);
    let mut right = with_cert.to_vec();
    right.extend(["-u", user.as_str()]);
    for version in [
        ["--tlsv1.2", "--tls-max", "1.2"],
        ["--tlsv1.3", "--tls-max", "1.3"],
    ] {
        let mut args = right.clone();
        args.extend(version);
        let (status, code, err) = s.curl(&exporter, &args, "/metrics");
        assert_eq!((status, code), (200, 0), "{version:?}: {err}");
    }

    // 401 carries WWW-Authenticate; the security header is on every answer.
    let ca = s.p("ca.crt");
    let url = format!("https://localhost:{}/metrics", exporter.port);
    let mut args = vec!["-sS", "-D", "-", "-o", "/dev/null", "--cacert", ca.as_str()];
    args.extend(with_cert);
    args.push(&url);
    let head = String::from_utf8_lossy(&run("curl", &args, "").stdout).to_lowercase();
    assert!(head.contains("www-authenticate: basic"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let (status, code, _) = curl(&[], &format!("http://127.0.0.1:{}/metrics", exporter.port));
    assert_eq!(status, 0);
    assert_ne!(code, 0);

    // The failures are counted.
    let out = run(
        "curl",
        &{
            let mut a = vec!["-sS", "--cacert", ca.as_str()];
            a.extend(right.iter().copied());
            a.push(&url);
            a
        },
        "",
    );
    let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in [
        "handshake_exporter_web_auth_failures_total{reason=\"no_credentials\"} 2",
        "handshake_exporter_web_auth_failures_total{reason=\"bad_credentials\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line}:\n{metrics}");
    }
    assert!(
        !metrics.contains(
            "handshake_exporter_http_connections_dropped_total{reason=\"tls_handshake\"} 0"
        ),
        "{metrics}"
    );
    assert!(
        !exporter.log().contains(PASSWORD),
        "the log shows a password"
    );
}

/// `openssl s_client` with `args`, sending one HTTP request; returns its output.
fn s_client(s: &Setup, exporter: &Exporter, args: &[&str]) -> String {
    let connect = format!("127.0.0.1:{}", exporter.port);
    let ca = s.p("ca.crt");
    let mut all = vec![
        "s_client",
        "-connect",
        connect.as_str(),
        "-CAfile",
        ca.as_str(),
        "-servername",
        "localhost",
        "-ign_eof",
    ];
    all.extend_from_slice(args);
    let out = run(
        "openssl",
        &all,
        "GET /-/healthy HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn openssl_s_client_versions_and_client_certificates() {
    let s = setup("web-openssl", "RequireAndVerifyClientCert");
    let exporter = s.start();
    let (cert, key) = (s.p("client.crt"), s.p("client.key"));
    for (flag, shown) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let out = s_client(&s, &exporter, &[flag, "-cert", &cert, "-key", &key]);
        assert!(
            out.contains(&format!("Protocol  : {shown}")) || out.contains(&format!("New, {shown}")),
            "{flag}:\n{out}"
        );
        assert!(out.contains("Verify return code: 0 (ok)"), "{flag}:\n{out}");
        // Basic auth still applies behind the client certificate.
        assert!(out.contains("HTTP/1.1 401"), "{flag}:\n{out}");
    }
    let out = s_client(&s, &exporter, &["-tls1_3"]);
    assert!(
        !out.contains("HTTP/1.1"),
        "answered without a client certificate:\n{out}"
    );
    assert!(out.contains("alert") || out.contains("error"), "{out}");
    let (sc, sk) = (s.p("stranger.crt"), s.p("stranger.key"));
    let out = s_client(&s, &exporter, &["-tls1_2", "-cert", &sc, "-key", &sk]);
    assert!(
        !out.contains("HTTP/1.1"),
        "answered a foreign client certificate:\n{out}"
    );
    assert!(out.contains("unknown ca") || out.contains("alert"), "{out}");
}

/// The serial number of the certificate the exporter serves now.
fn served_serial(s: &Setup, exporter: &Exporter) -> String {
    let connect = format!("127.0.0.1:{}", exporter.port);
    let out = run(
        "openssl",
        &["s_client", "-connect", &connect, "-servername", "localhost"],
        "",
    );
    let pem = String::from_utf8_lossy(&out.stdout).into_owned();
    let parsed = run("openssl", &["x509", "-noout", "-serial"], &pem);
    let _ = s;
    String::from_utf8_lossy(&parsed.stdout).trim().to_string()
}

#[test]
fn rotated_certificate_is_served_and_a_broken_file_keeps_the_last_good_one() {
    let s = setup("web-rotate", "VerifyClientCertIfGiven");
    let exporter = s.start();
    let first = served_serial(&s, &exporter);
    assert!(first.starts_with("serial="), "{first}");

    let next = leaf(&s.pki, &["localhost", "127.0.0.1"], false);
    s.scratch.file("server.crt", &next.cert_pem);
    s.scratch.file("server.key", &next.key_pem);
    std::thread::sleep(Duration::from_millis(1100));
    let _ = served_serial(&s, &exporter); // the first connection after a change triggers the load
    let second = served_serial(&s, &exporter);
    assert_ne!(first, second, "the rotated certificate is not served");

    s.scratch.file(
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  tls_typo: 1\n",
    );
    std::thread::sleep(Duration::from_millis(1100));
    let _ = served_serial(&s, &exporter);
    assert_eq!(
        served_serial(&s, &exporter),
        second,
        "a broken file changed what is served"
    );
    let log = exporter.log();
    assert!(
        log.contains("failed to reload the web config")
            && log.contains("web.yml:3:3: tls_server_config: unknown field `tls_typo`"),
        "{log}"
    );
}
