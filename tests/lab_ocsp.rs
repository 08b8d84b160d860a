//! Stapled OCSP responses from real servers in the lab: `openssl ocsp` answers for the leaf from
//! an index file (good, revoked) and signs with the CA, with a responder the CA authorised for
//! OCSP signing, with a responder it did not authorise, or with a stranger's key under the CA's
//! name; `openssl s_server -status_file` staples the answer. A verified staple reports its
//! status and times, one that does not verify reports `probe_ssl_ocsp_response_verified 0`
//! and nothing of its content, no staple reports `probe_ssl_ocsp_response_stapled 0`; the
//! `probe` command names the status or why the staple is not believed. With `fail_if_revoked`,
//! a revoked staple fails the probe `tls_cert_revoked` and the others do not. The same on the
//! OpenSSL stack (`stack: openssl`, and TLS 1.0 with `min_version: TLS10`).

#[macro_use]
mod lab;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use lab::daemon::Daemon;
use lab::modules::{module, tls, IP4};
use lab::{Exporter, Lab, Metrics};

/// 2026-01-01T00:00:00Z, the revocation time in the index of the revoked answer.
const REVOKED_AT: f64 = 1_767_225_600.0;

/// The lab PKI and the staples, made by openssl in a lab directory.
struct Files {
    ca: PathBuf,
    leaf: PathBuf,
    leaf_key: PathBuf,
    /// Unix seconds before and after the answers were signed.
    signed_between: (f64, f64),
}

impl Files {
    fn staple(&self, name: &str) -> PathBuf {
        self.ca.with_file_name(format!("{name}.der"))
    }
}

/// Runs `openssl args` in `dir`; `None` (a skip, a failure under CI=true) without openssl.
fn openssl(dir: &Path, args: &str) -> Option<()> {
    let out = match Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
    {
        Ok(out) => out,
        Err(e) => return lab::pki::skip_without("openssl", &e),
    };
    assert!(out.status.success(), "openssl {args}: {out:?}");
    Some(())
}

/// A P-256 CA "lab-OCSP-CA", a leaf for ok.lab.test (serial 0x1234) it issued, two responder
/// certificates it issued (with and without id-kp-OCSPSigning), a stranger's self-signed
/// certificate with the CA's name; then the answers for the leaf: `good`, `revoked` (at
/// [`REVOKED_AT`]), `delegated` (good, by the authorised responder), `unauthorised` (good, by
/// the responder without the usage), `stranger` (good, by the stranger), each valid a day.
fn make(dir: &Path) -> Option<Files> {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write");
    write(
        "leaf.ext",
        "subjectAltName=DNS:ok.lab.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    );
    write(
        "responder.ext",
        "extendedKeyUsage=OCSPSigning\nbasicConstraints=CA:FALSE\n",
    );
    write("plain.ext", "basicConstraints=CA:FALSE\n");
    write(
        "good.idx",
        "V\t301231235959Z\t\t1234\tunknown\t/CN=ok.lab.test\n",
    );
    write(
        "revoked.idx",
        "R\t301231235959Z\t260101000000Z\t1234\tunknown\t/CN=ok.lab.test\n",
    );
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    for (name, subject) in [("ca", "lab-OCSP-CA"), ("stranger", "lab-OCSP-CA")] {
        let args = format!(
            "req -x509 -days 30 -subj /CN={subject} {ec} -keyout {name}.key -out {name}.pem"
        );
        openssl(dir, &args)?;
    }
    for (name, cn, ext, serial) in [
        ("leaf", "ok.lab.test", "leaf.ext", "0x1234"),
        ("responder", "lab-responder", "responder.ext", "0x51"),
        ("unauthorised", "lab-unauthorised", "plain.ext", "0x52"),
    ] {
        openssl(
            dir,
            &format!("req -new -subj /CN={cn} {ec} -keyout {name}.key -out {name}.csr"),
        )?;
        openssl(
            dir,
            &format!(
                "x509 -req -days 30 -set_serial {serial} -in {name}.csr -CA ca.pem -CAkey ca.key \
                 -extfile {ext} -out {name}.pem"
            ),
        )?;
    }
    let before = now();
    for (answer, index, signer) in [
        ("good", "good", "ca"),
        ("revoked", "revoked", "ca"),
        ("delegated", "good", "responder"),
        ("unauthorised", "good", "unauthorised"),
        ("stranger", "good", "stranger"),
    ] {
        openssl(
            dir,
            &format!(
                "ocsp -index {index}.idx -CA ca.pem -rsigner {signer}.pem -rkey {signer}.key \
                 -issuer ca.pem -cert leaf.pem -ndays 1 -respout {answer}.der"
            ),
        )?;
    }
    Some(Files {
        ca: dir.join("ca.pem"),
        leaf: dir.join("leaf.pem"),
        leaf_key: dir.join("leaf.key"),
        signed_between: (before.floor(), now().ceil()),
    })
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// `openssl s_server -www` on 203.0.113.2:`port` in the server namespace serving the leaf,
/// stapling `staple` when given, with `args`.
fn s_server(lab: &Lab, files: &Files, port: u16, staple: Option<&str>, args: &[&str]) -> Daemon {
    let accept = format!("{}:{port}", lab::SERVER4);
    let (cert, key) = (files.leaf.display(), files.leaf_key.display());
    let mut all = vec![
        "s_server".to_string(),
        "-www".into(),
        "-accept".into(),
        accept.clone(),
    ];
    all.extend([
        "-cert".into(),
        cert.to_string(),
        "-key".into(),
        key.to_string(),
    ]);
    if let Some(name) = staple {
        all.extend([
            "-status_file".into(),
            files.staple(name).display().to_string(),
        ]);
    }
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    Daemon::start(
        lab,
        &lab.server,
        &format!("s_server-{port}"),
        "openssl",
        &all,
        &accept,
    )
}

/// Modules trusting the lab CA for ok.lab.test: `tls` (rustls), `openssl` (`stack: openssl`),
/// `tls10` (OpenSSL, TLS 1.0 allowed), and `tls_strict` and `openssl_strict`, the first two
/// with `fail_if_revoked` (no CRL check: the staple alone decides).
fn config(ca: &Path) -> String {
    let ok = tls(ca, Some("ok.lab.test"));
    let strict = "      fail_if_revoked: true\n";
    lab::modules::config(&[
        module("tls", "3s", &[IP4, &ok]),
        module("openssl", "3s", &[IP4, &ok, "        stack: openssl\n"]),
        module("tls10", "3s", &[IP4, &ok, "        min_version: TLS10\n"]),
        module("tls_strict", "3s", &[IP4, strict, &ok]),
        module(
            "openssl_strict",
            "3s",
            &[IP4, strict, &ok, "        stack: openssl\n"],
        ),
    ])
}

/// `handshake_exporter probe` with `cfg` in the client namespace: its stdout.
fn probe_command(lab: &Lab, cfg: &Path, module: &str, target: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.client])
        .arg(env!("CARGO_BIN_EXE_handshake_exporter"))
        .args(["probe", "--config.file"])
        .arg(cfg)
        .args(["--module", module, target])
        .env("NO_COLOR", "1")
        .output()
        .expect("probe command");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const STAPLED: &str = "probe_ssl_ocsp_response_stapled";
const VERIFIED: &str = "probe_ssl_ocsp_response_verified";
const STATUS: &str = "probe_ssl_ocsp_response_status";
const PRODUCED: &str = "probe_ssl_ocsp_response_produced_at_timestamp_seconds";
const THIS_UPDATE: &str = "probe_ssl_ocsp_response_this_update_timestamp_seconds";
const NEXT_UPDATE: &str = "probe_ssl_ocsp_response_next_update_timestamp_seconds";
const REVOKED: &str = "probe_ssl_ocsp_response_revoked_at_timestamp_seconds";

/// A successful probe with a verified staple of `status` (0 good, 1 revoked), signed between
/// the times `files` noted and valid one day.
fn assert_verified(m: &Metrics, files: &Files, status: f64, case: &str) {
    m.assert_success();
    m.assert_value(STAPLED, &[], 1.0);
    m.assert_value(VERIFIED, &[], 1.0);
    m.assert_value(STATUS, &[], status);
    let (from, to) = files.signed_between;
    for name in [PRODUCED, THIS_UPDATE] {
        let t = m.value(name).unwrap_or_else(|| panic!("{case}: no {name}"));
        assert!(
            (from..=to).contains(&t),
            "{case}: {name} {t} not in {from}..{to}"
        );
    }
    let this = m.value(THIS_UPDATE).unwrap_or_default();
    m.assert_value(NEXT_UPDATE, &[], this + 86_400.0);
}

/// A successful probe whose staple did not verify: nothing of its content is reported.
fn assert_not_believed(m: &Metrics, case: &str) {
    m.assert_success();
    m.assert_value(STAPLED, &[], 1.0);
    m.assert_value(VERIFIED, &[], 0.0);
    for name in [STATUS, PRODUCED, THIS_UPDATE, NEXT_UPDATE, REVOKED] {
        assert_eq!(m.value(name), None, "{case}: {name} reported");
    }
}

#[test]
fn stapled_responses_on_rustls() {
    let lab = lab_or_skip!();
    let Some(files) = make(&lab.dir) else {
        return;
    };
    let exporter = Exporter::start(&lab, &config(&files.ca));
    let staples = [None, Some("good"), Some("revoked"), Some("delegated")];
    let more = [Some("unauthorised"), Some("stranger")];
    let _servers: Vec<Daemon> = staples
        .iter()
        .chain(&more)
        .zip(8440..)
        .map(|(staple, port)| s_server(&lab, &files, port, *staple, &[]))
        .collect();
    let _tls12 = s_server(&lab, &files, 8446, Some("revoked"), &["-tls1_2"]);
    let probe = |port: u16| exporter.probe("tls", &format!("203.0.113.2:{port}"));

    let m = probe(8440);
    m.assert_success();
    m.assert_value(STAPLED, &[], 0.0);
    assert_eq!(m.value(VERIFIED), None, "no staple, nothing verified");

    let m = probe(8441);
    assert_verified(&m, &files, 0.0, "good");
    assert_eq!(m.value(REVOKED), None, "good: no revocation time");

    let m = probe(8442);
    assert_verified(&m, &files, 1.0, "revoked");
    m.assert_value(REVOKED, &[], REVOKED_AT);
    // With `fail_if_revoked`, a revoked staple fails the probe as a revoked CRL entry does;
    // good and untrusted staples do not.
    let strict = |port: u16| exporter.probe("tls_strict", &format!("203.0.113.2:{port}"));
    let m = strict(8442);
    m.assert_failure("tls", "tls_cert_revoked", "");
    m.assert_value(STATUS, &[], 1.0);
    m.assert_value(REVOKED, &[], REVOKED_AT);
    strict(8441).assert_success();
    strict(8445).assert_success();
    let cfg = lab.file("ocsp.yml", &config(&files.ca));
    let stdout = probe_command(&lab, &cfg, "tls", "203.0.113.2:8442");
    assert!(
        stdout.contains("OCSP revoked 2026-01-01T00:00:00Z"),
        "{stdout}"
    );
    let stdout = probe_command(&lab, &cfg, "tls", "203.0.113.2:8445");
    assert!(
        stdout.contains("OCSP staple not believed (bad_signature)"),
        "{stdout}"
    );

    assert_verified(&probe(8443), &files, 0.0, "delegated responder");
    assert_not_believed(&probe(8444), "responder without id-kp-OCSPSigning");
    assert_not_believed(&probe(8445), "a stranger's key under the CA's name");

    // TLS 1.2 staples in a CertificateStatus message of its own (RFC 6066 section 8).
    let m = probe(8446);
    m.assert_value("probe_tls_version_info", &[("version", "TLS 1.2")], 1.0);
    assert_verified(&m, &files, 1.0, "revoked, TLS 1.2");
}

#[test]
fn stapled_responses_on_openssl() {
    let lab = lab_or_skip!();
    let Some(files) = make(&lab.dir) else {
        return;
    };
    let exporter = Exporter::start(&lab, &config(&files.ca));
    let tls1 = ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"];
    let _servers = [
        s_server(&lab, &files, 8450, Some("revoked"), &[]),
        s_server(&lab, &files, 8451, Some("good"), &tls1),
        s_server(&lab, &files, 8452, Some("stranger"), &[]),
        s_server(&lab, &files, 8453, None, &[]),
    ];

    let m = exporter.probe("openssl", "203.0.113.2:8450");
    assert_verified(&m, &files, 1.0, "revoked, OpenSSL");
    m.assert_value(REVOKED, &[], REVOKED_AT);
    let m = exporter.probe("openssl_strict", "203.0.113.2:8450");
    m.assert_failure("tls", "tls_cert_revoked", "");

    let m = exporter.probe("tls10", "203.0.113.2:8451");
    m.assert_value("probe_tls_version_info", &[("version", "TLS 1.0")], 1.0);
    assert_verified(&m, &files, 0.0, "good, TLS 1.0");

    assert_not_believed(
        &exporter.probe("openssl", "203.0.113.2:8452"),
        "a stranger's key, OpenSSL",
    );
    let m = exporter.probe("openssl", "203.0.113.2:8453");
    m.assert_success();
    m.assert_value(STAPLED, &[], 0.0);
}
