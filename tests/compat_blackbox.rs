//! Side by side with blackbox_exporter: both exporters run in the lab's client namespace with the
//! same configuration file and probe the same real peers (on the client's loopback and in the
//! server namespace), and every answer must agree with blackbox's: the same `probe_success`, and
//! for every sample blackbox emits (timings aside) a sample of ours with the same name, labels
//! and value. We may emit more (our own metrics, certificate facts after a failed handshake,
//! labels a newer blackbox added), never something different.
//!
//! blackbox is Debian's prometheus-blackbox-exporter, which CI installs; without it the test
//! skips, except under `CI=true` where it fails. Debian's build predates the `serialnumber`
//! label (blackbox 0.26); when blackbox does not print it, ours is checked against the serial
//! `openssl x509 -serial` reads from the same certificate (the bytes in hex, as blackbox 0.26
//! formats them).

#[macro_use]
mod lab;

use lab::modules::{module, tls, tls_config, IP4};
use std::collections::BTreeMap;
use std::path::Path;

use lab::metrics::Sample;
use lab::servers::SMTP_STARTTLS_STEPS;
use lab::tlsgen::{self, Identity, Leaf, Pki};
use lab::{Exporter, Lab, Metrics, Peer};

/// Samples whose value is a measured time: they differ between any two runs.
const TIMINGS: [&str; 2] = ["probe_duration_seconds", "probe_dns_lookup_time_seconds"];

/// Labels we may add to a blackbox series when the installed blackbox predates them.
const NEWER_LABELS: [&str; 1] = ["serialnumber"];

/// Both exporters, started with one configuration.
struct Pair<'a> {
    ours: Exporter<'a>,
    theirs: Exporter<'a>,
}

impl<'a> Pair<'a> {
    /// Starts both with `config`; `None` when blackbox is not installed (outside CI).
    fn start(lab: &'a Lab, config: &str) -> Option<Pair<'a>> {
        let theirs = Exporter::blackbox(lab, config)?;
        let ours = Exporter::start(lab, config);
        Some(Pair { ours, theirs })
    }

    /// Probes `target` with `module` through both and asserts they agree; returns our answer.
    fn same(&self, module: &str, target: &str) -> Metrics {
        let ours = self.ours.probe(module, target);
        let theirs = self.theirs.probe(module, target);
        assert_agree(&format!("{module} {target}"), &ours, &theirs);
        ours
    }
}

/// Asserts `ours` carries every non-timing sample of `theirs` with equal labels and value.
fn assert_agree(what: &str, ours: &Metrics, theirs: &Metrics) {
    let context = || {
        format!(
            "{what}\n--- handshake_exporter ---\n{}\n--- blackbox_exporter ---\n{}",
            ours.body, theirs.body
        )
    };
    assert!(
        theirs.value("probe_success").is_some(),
        "blackbox gave no probe_success: {}",
        context()
    );
    assert_eq!(
        ours.value("probe_success"),
        theirs.value("probe_success"),
        "probe_success differs: {}",
        context()
    );
    for want in theirs
        .samples
        .iter()
        .filter(|s| !TIMINGS.contains(&s.name.as_str()))
    {
        let ours_named = ours.find(&want.name, &[]);
        let matching: Vec<&&Sample> = ours_named
            .iter()
            .filter(|got| same_series(got, want))
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "no single series of ours matches blackbox's {} {:?}: {}",
            want.name,
            want.labels,
            context()
        );
        assert_eq!(
            ours_named.len(),
            theirs.find(&want.name, &[]).len(),
            "{} has another number of series: {}",
            want.name,
            context()
        );
        assert_eq!(
            matching[0].value,
            want.value,
            "{} {:?} differs: {}",
            want.name,
            want.labels,
            context()
        );
    }
}

/// True when `got` has `want`'s name and labels, plus at most labels blackbox added later.
fn same_series(got: &Sample, want: &Sample) -> bool {
    let extra_ok = |k: &String| want.labels.contains_key(k) || NEWER_LABELS.contains(&k.as_str());
    got.name == want.name
        && want
            .labels
            .iter()
            .all(|(k, v)| got.labels.get(k) == Some(v))
        && got.labels.keys().all(extra_ok)
}

/// The leaf's `probe_ssl_last_chain_info` labels in `m`.
fn chain_info(m: &Metrics) -> BTreeMap<String, String> {
    let found = m.find("probe_ssl_last_chain_info", &[]);
    assert_eq!(found.len(), 1, "one probe_ssl_last_chain_info:\n{}", m.body);
    found[0].labels.clone()
}

/// Asserts our `serialnumber` label is the serial of `cert_pem` as blackbox prints it, read by
/// `openssl x509 -serial` (hex pairs of the serial's bytes, uppercase there).
fn assert_serial(lab: &Lab, ours: &Metrics, cert_pem: &str, want: &str) {
    let file = lab.file("serial-check.pem", cert_pem);
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(&file)
        .output()
        .expect("failed to run openssl x509");
    assert!(out.status.success(), "openssl x509 failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let openssl = text
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase();
    assert_eq!(openssl, want, "the certificate's serial, by openssl");
    let got = chain_info(ours).get("serialnumber").cloned();
    assert_eq!(got.as_deref(), Some(want), "serialnumber:\n{}", ours.body);
}

/// Modules in the keys blackbox_exporter 0.23 knows (Debian's), so both load the same file.
fn config(pinned: &Path, ca: &Path, smtp_pinned: &Path) -> String {
    let banner = "      query_response:\n        - expect: \"^SSH-2.0-\"\n        - send: \"SSH-2.0-compat\\r\"\n";
    let smtp = [
        SMTP_STARTTLS_STEPS,
        &tls_config(smtp_pinned, Some("ok.lab.test")),
    ]
    .concat();
    let other_name = tls(pinned, Some("other.lab.test"));
    lab::modules::config(&[
        module("tcp_connect", "3s", &[IP4]),
        module("ssh_banner", "3s", &[IP4, banner]),
        module("tls_pinned", "3s", &[IP4, &tls(pinned, None)]),
        module("tls_pinned_other_name", "3s", &[IP4, &other_name]),
        module("tls_ca", "3s", &[IP4, &tls(ca, None)]),
        module("smtp_starttls_pinned", "3s", &[IP4, &smtp]),
    ])
}

/// The lab, its CA and both exporters; the pinned files hold an openssl certificate (served on
/// the client's loopback, port 8443) and a self-signed CA:TRUE one (served by the SMTP peer).
struct Setup {
    pki: Pki,
    openssl: Identity,
    smtp: Identity,
}

/// `None` when openssl is not installed (outside CI).
fn setup(lab: &Lab) -> Option<Setup> {
    let pki = Pki::new();
    let openssl = lab::pki::openssl_req_x509(&lab.dir)?;
    let smtp = pki.leaf(Leaf::SelfSignedCa);
    lab.file("pinned.pem", &openssl.cert_pem);
    lab.file("smtp-pinned.pem", &smtp.cert_pem);
    pki.write_ca(lab);
    Some(Setup { pki, openssl, smtp })
}

fn pair_config(lab: &Lab) -> String {
    let path = |name: &str| lab.dir.join(name);
    config(
        &path("pinned.pem"),
        &path("ca.pem"),
        &path("smtp-pinned.pem"),
    )
}

#[test]
fn tcp_and_query_answers_match_blackbox() {
    let lab = lab_or_skip!();
    let Some(pair) = Pair::start(&lab, &pair_config(&lab)) else {
        return;
    };
    lab.serve("203.0.113.2:2000", Peer::Silent);
    lab.serve_ssh("203.0.113.2:22");
    lab.serve(
        "203.0.113.2:2525",
        Peer::BannerThenFin("220 mail.lab.test ESMTP\r\n".into()),
    );
    lab.serve("203.0.113.2:2600", Peer::Fin);

    pair.same("tcp_connect", "ok.lab.test:2000")
        .assert_success();
    pair.same("tcp_connect", "ok.lab.test:2001").assert_failure(
        "connect",
        "refused",
        "ECONNREFUSED",
    );
    let m = pair.same("ssh_banner", "ok.lab.test:22");
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);
    let m = pair.same("ssh_banner", "ok.lab.test:2525");
    m.assert_failure("query", "expect_mismatch", "");
    m.assert_value("probe_failed_due_to_regex", &[], 1.0);
    let m = pair.same("ssh_banner", "ok.lab.test:2600");
    m.assert_failure("query", "eof", "");
    m.assert_value("probe_failed_due_to_regex", &[], 1.0);
}

#[test]
fn tls_answers_match_blackbox() {
    let lab = lab_or_skip!();
    let Some(s) = setup(&lab) else { return };
    let Some(pair) = Pair::start(&lab, &pair_config(&lab)) else {
        return;
    };
    let serve = |port: u16, id: &Identity| {
        let addr = format!("203.0.113.2:{port}");
        lab.serve(&addr, Peer::Tls(tlsgen::server_config(id, &[], None)));
    };
    lab.serve_client(
        "127.0.0.1:8443",
        Peer::Tls(tlsgen::server_config(&s.openssl, &[], None)),
    );
    let serial_one = s.pki.leaf_with_serial(Leaf::Valid, Some(&[0x01]));
    let serial_low = s
        .pki
        .leaf_with_serial(Leaf::Valid, Some(&[0x0b, 0xff, 0xbc]));
    serve(443, &serial_one);
    serve(444, &serial_low);
    serve(445, &s.pki.leaf(Leaf::Expired));
    serve(446, &s.pki.leaf(Leaf::SelfSignedCa));
    serve(447, &s.pki.leaf(Leaf::SelfSigned));
    lab.serve(
        "203.0.113.2:25",
        Peer::Smtp(tlsgen::server_config(&s.smtp, &[], None)),
    );

    // The pinned openssl certificate, for its own name and for another.
    let m = pair.same("tls_pinned", "localhost:8443");
    m.assert_success();
    m.assert_value("probe_tls_version_info", &[("version", "TLS 1.3")], 1.0);
    assert_eq!(chain_info(&m)["subject"], "CN=localhost");
    pair.same("tls_pinned_other_name", "localhost:8443")
        .assert_failure("tls", "tls_cert_hostname_mismatch", "");

    // CA-signed, serials 1 and 0x0bffbc.
    let m = pair.same("tls_ca", "ok.lab.test:443");
    m.assert_success();
    assert_serial(&lab, &m, &serial_one.cert_pem, "01");
    let m = pair.same("tls_ca", "ok.lab.test:444");
    assert_serial(&lab, &m, &serial_low.cert_pem, "0bffbc");
    assert_eq!(
        chain_info(&m)["issuer"],
        "CN=handshake lab CA,O=Handshake Test"
    );

    // Rejected: expired, an unpinned self-signed CA certificate as leaf (untrusted, as Go's
    // "signed by unknown authority"), an unpinned self-signed leaf.
    pair.same("tls_ca", "ok.lab.test:445")
        .assert_failure("tls", "tls_cert_expired", "");
    pair.same("tls_ca", "ok.lab.test:446")
        .assert_failure("tls", "tls_cert_untrusted", "");
    pair.same("tls_ca", "ok.lab.test:447")
        .assert_failure("tls", "tls_cert_untrusted", "");

    // STARTTLS to a pinned self-signed CA:TRUE certificate.
    let m = pair.same("smtp_starttls_pinned", "ok.lab.test:25");
    m.assert_success();
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);
}

/// blackbox_exporter's example modules (its `example.yml`: `smtp_starttls`, `imap_starttls`,
/// `pop3s_banner`), their dialogues unchanged, trusting the lab CA, run by both exporters
/// against Debian's postfix and dovecot in the lab, with a valid and an expired certificate
/// (tests/lab_daemons.rs runs `tcp.starttls` against the same daemons).
#[test]
fn blackbox_example_modules_against_postfix_and_dovecot() {
    use lab::daemons::{dovecot, postfix, Certs, Tls};
    let Some(lab) = Lab::new() else { return };
    let certs = Certs::new(&lab);
    let trust = tls_config(&certs.ca, None);
    let smtp = r#"      query_response:
        - expect: "^220 ([^ ]+) ESMTP (.+)$"
        - send: "EHLO prober\r"
        - expect: "^250-STARTTLS"
        - send: "STARTTLS\r"
        - expect: "^220"
        - starttls: true
        - send: "EHLO prober\r"
        - expect: "^250-AUTH"
        - send: "QUIT\r"
"#;
    let imap = r#"      query_response:
        - expect: "OK.*STARTTLS"
        - send: ". STARTTLS"
        - expect: "OK"
        - starttls: true
        - send: ". capability"
        - expect: "CAPABILITY IMAP4rev1"
"#;
    let pop3s = "      query_response:\n        - expect: \"^+OK\"\n      tls: true\n";
    let modules = [
        module("smtp_starttls", "2s", &[IP4, smtp, &trust]),
        module("imap_starttls", "5s", &[IP4, imap, &trust]),
        module("pop3s_banner", "2s", &[IP4, pop3s, &trust]),
    ];
    let Some(pair) = Pair::start(&lab, &lab::modules::config(&modules)) else {
        return;
    };
    for tls in [Tls::Valid, Tls::Expired] {
        let _postfix = postfix(&lab, &certs, tls);
        let _dovecot = dovecot(&lab, &certs, tls);
        // postfix offers no AUTH without SASL and keeps the session open: both wait at the
        // example's `^250-AUTH` until the deadline, where `tcp.starttls: smtp` needs no dialogue.
        let m = pair.same("smtp_starttls", "ok.lab.test:25");
        match tls {
            Tls::Valid => m.assert_failure("query", "timeout", ""),
            _ => m.assert_failure("tls", "tls_cert_expired", ""),
        }
        let m = pair.same("imap_starttls", "ok.lab.test:143");
        match tls {
            Tls::Valid => m.assert_success(),
            _ => m.assert_failure("tls", "tls_cert_expired", ""),
        }
        // The example's `^+OK` is, in RE2, `^` repeated then `OK`: it never matches dovecot's
        // "+OK Dovecot ready.", which then waits for a command; both exporters time out.
        let m = pair.same("pop3s_banner", "ok.lab.test:995");
        match tls {
            Tls::Valid => m.assert_failure("query", "timeout", ""),
            _ => m.assert_failure("tls", "tls_cert_expired", ""),
        }
    }
}

/// blackbox_exporter's example `ssh_banner` module, its dialogue unchanged, run by both
/// exporters against Debian's OpenSSH sshd in the lab, and against a port where nothing listens.
#[test]
fn blackbox_ssh_banner_example_against_sshd() {
    let Some(lab) = Lab::new() else { return };
    let banner = r#"      query_response:
        - expect: "^SSH-2.0-"
        - send: "SSH-2.0-blackbox-ssh-check"
"#;
    let modules = [module("ssh_banner", "3s", &[IP4, banner])];
    let Some(pair) = Pair::start(&lab, &lab::modules::config(&modules)) else {
        return;
    };
    let _sshd = lab::daemons::sshd(&lab, 22);
    let m = pair.same("ssh_banner", "ok.lab.test:22");
    m.assert_success();
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);
    pair.same("ssh_banner", "ok.lab.test:23")
        .assert_failure("connect", "refused", "ECONNREFUSED");
}
