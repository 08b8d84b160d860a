//! Certificate health against real TLS servers in the lab. The class of a rejected certificate
//! follows what the operator has to fix: the self-signed `CA:TRUE` certificate `openssl req
//! -x509` makes is `tls_cert_untrusted` (nobody trusts its issuer), a `CA:TRUE` leaf under a
//! trusted CA is `tls_cert_invalid`, an RSA-1024 leaf under a trusted CA, served by `openssl
//! s_server`, is `tls_cert_invalid` with detail `weak_rsa_key`, in `/probe` and in the `probe`
//! command. Every presented certificate's facts are reported by chain position, and a SHA-1
//! signed leaf makes a weak chain: a WARNING when verification is skipped, `tls_cert_invalid`
//! (`weak_signature_algorithm`) when it is not.

#[macro_use]
mod lab;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lab::modules::{module, tls, IP4, TLS_ANY};
use lab::tlsgen::{self, Identity, Leaf, Pki, VALID_NOT_AFTER};
use lab::{Exporter, Lab, Metrics, Peer};
use rcgen::{BasicConstraints, ExtendedKeyUsagePurpose, IsCa};

/// Modules trusting `ca` for the server name ok.lab.test: `tls`, and `tls_any` that skips
/// verification.
fn config(ca: &Path) -> String {
    lab::modules::config(&[
        module("tls", "2s", &[IP4, &tls(ca, Some("ok.lab.test"))]),
        module("tls_any", "2s", &[IP4, TLS_ANY]),
    ])
}

/// Runs `handshake_exporter probe` with `cfg` in the client namespace: exit code and stdout.
fn probe_command(lab: &Lab, cfg: &Path, module: &str, target: &str) -> (Option<i32>, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.client])
        .arg(env!("CARGO_BIN_EXE_handshake_exporter"))
        .args(["probe", "--config.file"])
        .arg(cfg)
        .args(["--module", module, target])
        .env("NO_COLOR", "1")
        .output()
        .expect("probe command");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    (out.status.code(), stdout)
}

/// `openssl x509 -req` arguments signing `[csr, ca, ca_key, ext, out]`: the request `csr` with
/// the CA certificate `ca` and key `ca_key`, extensions from the file `ext`, into `out`, for 30
/// days, with `options` (digest, serial).
fn sign_csr<'a>(files: [&'a str; 5], options: &[&'a str]) -> Vec<&'a str> {
    let [csr, ca, ca_key, ext, out] = files;
    let mut args = vec!["x509", "-req", "-days", "30"];
    args.extend_from_slice(options);
    args.extend([
        "-in", csr, "-CA", ca, "-CAkey", ca_key, "-extfile", ext, "-out", out,
    ]);
    args
}

/// Runs each `openssl` command of `steps`; `None` (skipping) without openssl.
fn openssl(steps: &[Vec<&str>]) -> Option<()> {
    for args in steps {
        let out = match Command::new("openssl").args(args).output() {
            Ok(out) => out,
            Err(e) => return lab::pki::skip_without("openssl", &e),
        };
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    }
    Some(())
}

/// Serves `id` on 203.0.113.2:443 in a fresh lab and probes it with module `tls`.
fn probe_served(id: impl FnOnce(&Pki) -> Identity) -> Option<Metrics> {
    let serve = |pki: &Pki| Peer::Tls(tlsgen::server_config(&id(pki), &[], None));
    lab::probe_peer(config, "tls", "203.0.113.2:443", serve)
}

#[test]
fn openssl_req_x509_default_certificate_is_untrusted() {
    let Some(id) = lab::pki::openssl_req_x509(&std::env::temp_dir()) else {
        return;
    };
    if let Some(m) = probe_served(|_| id) {
        m.assert_failure("tls", "tls_cert_untrusted", "");
    }
}

#[test]
fn ca_true_leaf_under_a_trusted_ca_is_invalid() {
    let ca_leaf = |pki: &Pki| {
        pki.issue(&["ok.lab.test"], |p| {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        })
    };
    if let Some(m) = probe_served(ca_leaf) {
        m.assert_failure("tls", "tls_cert_invalid", "");
    }
}

#[test]
fn rsa_1024_leaf_under_a_trusted_ca_is_invalid_with_a_weak_key() {
    let lab = lab_or_skip!();
    let Some(files) = rsa_1024_pki(&lab.dir) else {
        return;
    };
    let cfg = lab.file("weak.yml", &config(&files.ca));
    let exporter = Exporter::start(&lab, &std::fs::read_to_string(&cfg).expect("config"));
    let _server = SServer::start(&lab, &files, "203.0.113.2:443");
    let m = exporter.probe("tls", "203.0.113.2:443");
    m.assert_failure("tls", "tls_cert_invalid", "weak_rsa_key");

    let (code, stdout) = probe_command(&lab, &cfg, "tls", "203.0.113.2:443");
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stdout.contains("FAILED in tls: tls_cert_invalid (weak_rsa_key)"),
        "{stdout}"
    );
}

/// The files of an RSA PKI made with openssl: a 2048-bit CA and a 1024-bit leaf it signed for
/// ok.lab.test and 203.0.113.2.
struct RsaFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// Makes [`RsaFiles`] in `dir`; `None` (skipping) without openssl.
fn rsa_1024_pki(dir: &Path) -> Option<RsaFiles> {
    let path = |name: &str| dir.join(name).display().to_string();
    let (ext, ca_key, ca, key, csr, cert) = (
        path("leaf.ext"),
        path("rsa-ca.key"),
        path("rsa-ca.pem"),
        path("leaf.key"),
        path("leaf.csr"),
        path("leaf.pem"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=DNS:ok.lab.test,IP:203.0.113.2\nextendedKeyUsage=serverAuth\n\
         basicConstraints=CA:FALSE\n",
    )
    .expect("extension file");
    let new_ca = [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
    ];
    let new_leaf = ["req", "-new", "-newkey", "rsa:1024", "-nodes"];
    let steps = [
        [
            &new_ca[..],
            &["-subj", "/CN=lab RSA CA", "-keyout", &ca_key, "-out", &ca],
        ]
        .concat(),
        [
            &new_leaf[..],
            &["-subj", "/CN=ok.lab.test", "-keyout", &key, "-out", &csr],
        ]
        .concat(),
        sign_csr([&csr, &ca, &ca_key, &ext, &cert], &["-set_serial", "7"]),
    ];
    openssl(&steps)?;
    Some(RsaFiles {
        ca: ca.into(),
        cert: cert.into(),
        key: key.into(),
    })
}

/// `openssl s_server -www` (which never reads its stdin) serving [`RsaFiles`] in the lab's
/// server namespace, at security level 0 so that OpenSSL agrees to use the 1024-bit key;
/// killed by its PID when dropped.
struct SServer(Child);

impl SServer {
    fn start(lab: &Lab, files: &RsaFiles, addr: &str) -> SServer {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.server, "openssl", "s_server", "-www"])
            .args(["-accept", addr, "-cipher", "DEFAULT:@SECLEVEL=0"])
            .arg("-cert")
            .arg(&files.cert)
            .arg("-key")
            .arg(&files.key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let stdout = child.stdout.take().expect("s_server stdout");
        let mut lines = BufReader::new(stdout).lines();
        // s_server prints ACCEPT once it listens.
        let listening = lines.any(|l| l.is_ok_and(|l| l.contains("ACCEPT")));
        assert!(listening, "openssl s_server did not start");
        std::thread::spawn(move || lines.for_each(drop));
        SServer(child)
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A chain through an intermediate: each certificate by its position, with its key, signature
/// algorithm and dates; not weak.
#[test]
fn every_presented_certificate_is_described() {
    let serve = |pki: &Pki| {
        let id = pki.intermediate("lab intermediate").leaf(Leaf::Valid);
        Peer::Tls(tlsgen::server_config(&id, &[], None))
    };
    let Some(m) = lab::probe_peer(config, "tls", "203.0.113.2:443", serve) else {
        return;
    };
    m.assert_success();
    for (pos, subject, issuer) in [
        (
            "0",
            "CN=ok.lab.test",
            "CN=lab intermediate,O=Handshake Test",
        ),
        (
            "1",
            "CN=lab intermediate,O=Handshake Test",
            "CN=handshake lab CA,O=Handshake Test",
        ),
    ] {
        let cert = m.find("probe_ssl_cert_info", &[("chain_pos", pos)]);
        assert_eq!(cert.len(), 1, "chain_pos {pos}");
        let label = |name: &str| cert[0].labels.get(name).map(String::as_str);
        assert_eq!(label("subject"), Some(subject));
        assert_eq!(label("issuer"), Some(issuer));
        assert_eq!(label("key_type"), Some("ECDSA"));
        assert_eq!(label("key_bits"), Some("256"));
        assert_eq!(label("signature_algorithm"), Some("ECDSA-SHA256"));
    }
    let leaf = [("chain_pos", "0")];
    // 2020-01-01T00:00:00Z
    m.assert_value(
        "probe_ssl_cert_not_before_timestamp_seconds",
        &leaf,
        1_577_836_800.0,
    );
    let not_after = "probe_ssl_cert_not_after_timestamp_seconds";
    m.assert_value(not_after, &leaf, VALID_NOT_AFTER as f64);
    m.assert_value("probe_ssl_weak_chain", &[], 0.0);
}

/// A leaf its CA signed with ECDSA-SHA1: a weak chain. Skipping verification, the probe passes
/// and the `probe` command says WARNING; verifying, it fails `tls_cert_invalid`.
#[test]
fn sha1_signed_leaf_is_a_weak_chain() {
    let lab = lab_or_skip!();
    let path = |name: &str| lab.dir.join(name).display().to_string();
    let (ext, ca_key, ca, key, csr, cert) = (
        path("sha1.ext"),
        path("ec-ca.key"),
        path("ec-ca.pem"),
        path("sha1.key"),
        path("sha1.csr"),
        path("sha1.pem"),
    );
    std::fs::write(&ext, "subjectAltName=DNS:ok.lab.test\n").expect("extension file");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let new_ca = [
        &["req", "-x509", "-days", "30", "-subj", "/CN=lab EC CA"][..],
        &ec,
    ]
    .concat();
    let new_leaf = [&["req", "-new", "-subj", "/CN=ok.lab.test"][..], &ec].concat();
    let steps = [
        [&new_ca[..], &["-keyout", &ca_key, "-out", &ca]].concat(),
        [&new_leaf[..], &["-keyout", &key, "-out", &csr]].concat(),
        sign_csr(
            [&csr, &ca, &ca_key, &ext, &cert],
            &["-sha1", "-set_serial", "9"],
        ),
    ];
    if openssl(&steps).is_none() {
        return;
    }
    let read = |p: &str| std::fs::read_to_string(p).expect("openssl output");
    let id = Identity::from_pem(&read(&cert), &read(&key));
    let cfg = lab.file("sha1.yml", &config(Path::new(&ca)));
    let exporter = Exporter::start(&lab, &read(cfg.to_str().unwrap()));
    lab.serve(
        "203.0.113.2:443",
        Peer::Tls(tlsgen::server_config(&id, &[], None)),
    );

    let m = exporter.probe("tls_any", "203.0.113.2:443");
    m.assert_success();
    m.assert_value("probe_ssl_weak_chain", &[], 1.0);
    let sha1 = [("chain_pos", "0"), ("signature_algorithm", "ECDSA-SHA1")];
    m.assert_value("probe_ssl_cert_info", &sha1, 1.0);
    let (code, stdout) = probe_command(&lab, &cfg, "tls_any", "203.0.113.2:443");
    assert_eq!(code, Some(1), "a WARNING exits 1");
    assert!(
        stdout.contains(
            "WARNING: every phase passed, but the chain is weak: certificate 0 (CN=ok.lab.test) \
             has a 256-bit ECDSA key and a ECDSA-SHA1 signature."
        ),
        "{stdout}"
    );

    let m = exporter.probe("tls", "203.0.113.2:443");
    m.assert_failure("tls", "tls_cert_invalid", "weak_signature_algorithm");
}
