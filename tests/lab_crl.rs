//! CRL checking (`tls_config.crl_check`) against `openssl s_server` in the lab's server
//! namespace, with each leaf's CRL served over HTTP there by `python3 -m http.server`: a revoked
//! leaf is reported (and fails `tls_cert_revoked` with `tcp.fail_if_revoked`) on both TLS
//! stacks; a leaf not listed passes; an unreachable CRL, a CRL signed by another key, a CRL at
//! an address the restrictions deny and a CRL past the size bound are not available, and the
//! probe still ends within its deadline; a CRL past its nextUpdate is stale. A `starttls`
//! step's handshake is checked too.

#[macro_use]
mod lab;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lab::exporter::probe_debug;
use lab::pki::{Identity, Pki};
use lab::servers::SMTP_STARTTLS_STEPS;
use lab::{Exporter, Lab, Peer};
use rcgen::{CrlDistributionPoint, SerialNumber};

/// The TLS server's address and the name its leaf is for.
const TARGET: &str = "203.0.113.2:443";
const NAME: &str = "ok.lab.test";
/// The leaf's serial.
const SERIAL: &[u8] = &[0x05];
/// A fresh CRL's dates, and a stale one's.
const FRESH: [(i32, u8, u8); 2] = [(2025, 1, 1), (2035, 1, 1)];
const STALE: [(i32, u8, u8); 2] = [(2019, 1, 1), (2020, 1, 1)];

/// Modules trusting `ca` with CRL checking: `crl` (reports), `crl_fail` (fails on revocation),
/// `crl_openssl` (reports, OpenSSL stack). Timeout 2 s; the CRL address 203.0.113.3 is denied.
fn config(ca: &Path) -> String {
    let crl = "        crl_check:\n          enabled: true\n";
    let module = |name: &str, extra: &str| {
        let tls = lab::modules::tls(ca, Some(NAME));
        lab::modules::module(name, "2s", &[lab::modules::IP4, extra, &tls, crl])
    };
    let openssl =
        module("crl_openssl", "").replace("crl_check:", "stack: openssl\n        crl_check:");
    let smtp = format!("      fail_if_revoked: true\n{SMTP_STARTTLS_STEPS}");
    let tls_lines = lab::modules::tls_config(ca, Some(NAME));
    let smtp = lab::modules::module(
        "crl_smtp",
        "2s",
        &[lab::modules::IP4, &smtp, &tls_lines, crl],
    );
    format!(
        "restrictions:\n  denied_networks: [203.0.113.3/32]\nmodules:\n{}{}{openssl}{smtp}",
        module("crl", ""),
        module("crl_fail", "      fail_if_revoked: true\n"),
    )
}

/// A child process killed when the test ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `args` in the server namespace and waits for a stdout line containing `ready`.
fn start(lab: &Lab, args: &[&str], stderr: Stdio, ready: &str) -> Daemon {
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.server])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.contains(ready))),
        "{args:?} did not start"
    );
    std::thread::spawn(move || lines.for_each(drop));
    Daemon(child)
}

/// Runs `check` in a fresh lab: `s_server` on [`TARGET`] presenting a leaf (serial [`SERIAL`])
/// whose CRL distribution point is `crl_url`, an HTTP server on 0.0.0.0:8080 serving the CRL
/// `crl` makes from the CA as `/ca.crl` (its request log in `http.log`), and the exporter. Does
/// nothing when the lab cannot run here.
fn scene(crl_url: &str, crl: impl FnOnce(&Pki) -> Vec<u8>, check: impl FnOnce(&Lab, &Identity)) {
    scene_with(None, crl_url, crl, check);
}

/// [`scene`], with `s_server` also presenting the certificates of `chain` (PEM) after the leaf.
fn scene_with(
    chain: Option<&str>,
    crl_url: &str,
    crl: impl FnOnce(&Pki) -> Vec<u8>,
    check: impl FnOnce(&Lab, &Identity),
) {
    if !lab::available(&["openssl", "python3"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    let pki = Pki::named("lab CRL CA");
    let leaf: Identity = pki.issue(&[NAME], |p| {
        p.serial_number = Some(SerialNumber::from_slice(SERIAL));
        p.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![crl_url.to_string()],
        }];
    });
    let www = lab.dir.join("www");
    std::fs::create_dir_all(&www).expect("www");
    std::fs::write(www.join("ca.crl"), crl(&pki)).expect("CRL file");
    let cert = lab.file("leaf.pem", &leaf.cert_pem);
    let key = lab.file("leaf.key", &leaf.key_pem);
    let ca = pki.write_ca_to(lab.dir.join("ca.pem"));
    let log = std::fs::File::create(lab.dir.join("http.log")).expect("http.log");
    let http = [
        "python3",
        "-u",
        "-m",
        "http.server",
        "8080",
        "--bind",
        "0.0.0.0",
    ];
    let mut http = http.to_vec();
    http.extend(["--directory", path(&www)]);
    let _http = start(&lab, &http, log.into(), "Serving HTTP");
    let tls = ["openssl", "s_server", "-www", "-accept", TARGET];
    let mut tls = tls.to_vec();
    tls.extend(["-cert", path(&cert), "-key", path(&key)]);
    let chain = chain.map(|pem| lab.file("chain.pem", pem));
    if let Some(chain) = &chain {
        tls.extend(["-cert_chain", path(chain)]);
    }
    let _tls = start(&lab, &tls, Stdio::null(), "ACCEPT");
    let _exporter = Exporter::start(&lab, &config(&ca));
    check(&lab, &leaf);
}

/// The HTTP server's request log.
fn http_log(lab: &Lab) -> String {
    std::fs::read_to_string(lab.dir.join("http.log")).unwrap_or_default()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A CRL of the CA listing the leaf, fresh.
fn revoking(pki: &Pki) -> Vec<u8> {
    pki.crl(&[SERIAL], FRESH[0], FRESH[1])
}

/// The leaf's labels on the CRL series, with `url`.
fn leaf_at(url: &str) -> [(&str, &str); 3] {
    [("chain_pos", "0"), ("serialnumber", "05"), ("crl_url", url)]
}

const URL: &str = "http://203.0.113.2:8080/ca.crl";

#[test]
fn revoked_leaf_is_reported_and_fails_with_fail_if_revoked_on_both_stacks() {
    scene(URL, revoking, |lab, _| {
        let (m, log) = probe_debug(lab, "crl", TARGET);
        m.assert_success();
        m.assert_value("probe_ssl_crl_revoked", &leaf_at(URL), 1.0);
        m.assert_value("probe_ssl_crl_available", &leaf_at(URL), 1.0);
        m.assert_value("probe_ssl_crl_stale", &leaf_at(URL), 0.0);
        m.assert_value("probe_ssl_crl_next_publish", &leaf_at(URL), 2_051_222_400.0);
        m.assert_between("probe_ssl_crl_fetch_time_seconds", &[], 0.0, 1.0);
        assert!(
            log.contains("certificate 0: CRL http://203.0.113.2:8080/ca.crl: revoked"),
            "{log}"
        );

        // The same module again: answered from the cache, no second request.
        let (m, log) = probe_debug(lab, "crl", TARGET);
        m.assert_value("probe_ssl_crl_revoked", &leaf_at(URL), 1.0);
        assert!(log.contains("(cached): revoked"), "{log}");
        assert_eq!(
            http_log(lab).matches("GET /ca.crl").count(),
            1,
            "{}",
            http_log(lab)
        );
        let (_, text) =
            lab::exporter::get(lab, "/metrics", Duration::from_secs(10)).expect("/metrics");
        let exporter = lab::Metrics::parse(&text);
        exporter.assert_value("handshake_exporter_crl_cache_entries", &[], 1.0);
        exporter.assert_between("handshake_exporter_crl_cache_bytes", &[], 100.0, 2000.0);

        let (m, _) = probe_debug(lab, "crl_fail", TARGET);
        m.assert_failure("tls", "tls_cert_revoked", "");
        m.assert_value("probe_ssl_crl_revoked", &leaf_at(URL), 1.0);

        let (m, log) = probe_debug(lab, "crl_openssl", TARGET);
        assert!(log.contains("tls: stack openssl"), "{log}");
        m.assert_success();
        m.assert_value("probe_ssl_crl_revoked", &leaf_at(URL), 1.0);
    });
}

/// A server that adds a certificate with its CA's name but a key of its own must not make its
/// revoked leaf's CRL unverifiable: the issuer is the certificate whose key verifies the leaf.
#[test]
fn a_presented_impostor_of_the_issuer_does_not_hide_a_revocation() {
    let impostor = Pki::named("lab CRL CA");
    scene_with(Some(&impostor.ca_pem), URL, revoking, |lab, _| {
        let (m, log) = probe_debug(lab, "crl_fail", TARGET);
        assert!(
            log.contains("tls: certificate 1:"),
            "the impostor is presented: {log}"
        );
        m.assert_failure("tls", "tls_cert_revoked", "");
        m.assert_value("probe_ssl_crl_revoked", &leaf_at(URL), 1.0);
        m.assert_value("probe_ssl_crl_available", &leaf_at(URL), 1.0);
    });
}

#[test]
fn leaf_not_on_its_crl_passes_with_fail_if_revoked() {
    scene(
        URL,
        |pki| pki.crl(&[&[0x77]], FRESH[0], FRESH[1]),
        |lab, _| {
            let (m, _) = probe_debug(lab, "crl_fail", TARGET);
            m.assert_success();
            m.assert_value("probe_ssl_crl_revoked", &leaf_at(URL), 0.0);
            m.assert_value("probe_ssl_crl_available", &leaf_at(URL), 1.0);
        },
    );
}

#[test]
fn crl_past_its_next_update_is_stale() {
    scene(
        URL,
        |pki| pki.crl(&[SERIAL], STALE[0], STALE[1]),
        |lab, _| {
            let (m, _) = probe_debug(lab, "crl", TARGET);
            m.assert_value("probe_ssl_crl_stale", &leaf_at(URL), 1.0);
            m.assert_value("probe_ssl_crl_available", &leaf_at(URL), 1.0);
            m.assert_value("probe_ssl_crl_revoked", &leaf_at(URL), 1.0);
            m.assert_value("probe_ssl_crl_next_publish", &leaf_at(URL), 1_577_836_800.0);
        },
    );
}

#[test]
fn crl_signed_by_another_key_is_not_available() {
    let other = |_: &Pki| revoking(&Pki::named("lab CRL CA"));
    scene(URL, other, |lab, _| {
        let (m, log) = probe_debug(lab, "crl_fail", TARGET);
        m.assert_success();
        m.assert_value("probe_ssl_crl_available", &leaf_at(URL), 0.0);
        m.assert_value("probe_ssl_crl_revoked", &leaf_at(URL), 0.0);
        assert!(log.contains("CRL signature does not verify"), "{log}");
    });
}

#[test]
fn unreachable_crl_is_not_available_and_the_probe_keeps_its_deadline() {
    let url = "http://203.0.113.2:8082/ca.crl";
    scene(url, revoking, |lab, _| {
        lab.drop_syns("203.0.113.2:8082");
        let began = Instant::now();
        let (m, log) = probe_debug(lab, "crl", TARGET);
        let took = began.elapsed().as_secs_f64();
        m.assert_success();
        m.assert_value("probe_ssl_crl_available", &leaf_at(url), 0.0);
        m.assert_duration_between(1.5, 2.0);
        assert!(took < 2.5, "the probe took {took} s");
        assert!(log.contains("deadline passed"), "{log}");
    });
}

#[test]
fn crl_at_a_denied_address_is_not_fetched() {
    let url = "http://203.0.113.3:8080/ca.crl";
    scene(url, revoking, |lab, _| {
        let (m, log) = probe_debug(lab, "crl_fail", TARGET);
        m.assert_success();
        m.assert_value("probe_ssl_crl_available", &leaf_at(url), 0.0);
        assert!(log.contains("refused"), "{log}");
        assert!(!http_log(lab).contains("GET"), "fetched: {}", http_log(lab));
    });
}

#[test]
fn crl_larger_than_the_bound_is_not_used() {
    let url = "http://203.0.113.2:8081/ca.crl";
    scene(url, revoking, |lab, _| {
        let header = b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n\r\n";
        lab.serve(
            "203.0.113.2:8081",
            Peer::Stream {
                first: header.to_vec(),
                repeat: vec![0x30; 64 * 1024],
            },
        );
        let (m, log) = probe_debug(lab, "crl_fail", TARGET);
        m.assert_success();
        m.assert_value("probe_ssl_crl_available", &leaf_at(url), 0.0);
        assert!(log.contains("larger than 10485760 bytes"), "{log}");
    });
}

#[test]
fn revoked_leaf_after_a_starttls_step_fails_with_fail_if_revoked() {
    scene(URL, revoking, |lab, leaf| {
        let config = lab::pki::server_config(leaf, &[], None, None);
        lab.serve("203.0.113.2:25", Peer::Smtp(std::sync::Arc::new(config)));
        let (m, log) = probe_debug(lab, "crl_smtp", "203.0.113.2:25");
        assert!(log.contains("STARTTLS"), "{log}");
        m.assert_failure("tls", "tls_cert_revoked", "");
        m.assert_value("probe_ssl_crl_revoked", &leaf_at(URL), 1.0);
    });
}
