//! The class of a rejected certificate follows what the operator has to fix, against real TLS
//! servers in the lab: the self-signed `CA:TRUE` certificate `openssl req -x509` makes is
//! `tls_cert_untrusted` (nobody trusts its issuer), a `CA:TRUE` leaf under a trusted CA is
//! `tls_cert_invalid`, and an RSA-1024 leaf under a trusted CA, served by `openssl s_server`, is
//! `tls_cert_invalid` with detail `weak_rsa_key`, in `/probe` and in the `probe` command.

#[macro_use]
mod lab;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lab::modules::{module, tls, IP4};
use lab::tlsgen::{self, Identity, Pki};
use lab::{Exporter, Lab, Metrics, Peer};
use rcgen::{BasicConstraints, ExtendedKeyUsagePurpose, IsCa};

/// One module, `tls`, trusting `ca` for the server name ok.lab.test.
fn config(ca: &Path) -> String {
    lab::modules::config(&[module("tls", "2s", &[IP4, &tls(ca, Some("ok.lab.test"))])])
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

    let out = Command::new("ip")
        .args(["netns", "exec", &lab.client])
        .arg(env!("CARGO_BIN_EXE_handshake_exporter"))
        .args(["probe", "--config.file"])
        .arg(&cfg)
        .args(["--module", "tls", "203.0.113.2:443"])
        .env("NO_COLOR", "1")
        .output()
        .expect("probe command");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
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
        vec![
            "x509",
            "-req",
            "-days",
            "30",
            "-set_serial",
            "7",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
    ];
    for args in steps {
        let out = match Command::new("openssl").args(&args).output() {
            Ok(out) => out,
            Err(e) => return lab::pki::skip_without("openssl", &e),
        };
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    }
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
