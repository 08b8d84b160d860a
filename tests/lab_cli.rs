//! `handshake_exporter probe` against lab targets, run in the client namespace: the verdict line,
//! the per-phase rows, the JSON fields and the Nagios exit code of a success, a refused connect,
//! a DROP timeout with its path trace, an expired certificate, a certificate inside the warning
//! window, and bad usage.

#[macro_use]
mod lab;

use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use lab::pages::triage_config;
use lab::tlsgen::{self, Identity, Leaf, Pki};
use lab::{Lab, Peer, ROUTER4};
use rcgen::{date_time_ymd, CertificateParams};
use serde_json::Value;

/// What one run printed and returned.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        println!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            run.code, run.stdout, run.stderr
        );
        run
    }

    /// The line starting with `prefix`, or a panic showing the output.
    fn line(&self, prefix: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starts with {prefix:?}:\n{}", self.stdout))
    }

    /// Asserts a failed probe (exit code 2, the row of `phase` FAILED); returns its verdict
    /// line, which starts with `verdict`.
    fn failed(&self, phase: &str, verdict: &str) -> &str {
        assert_eq!(self.code, 2, "exit code of a failed probe");
        assert_eq!(self.row(phase).0, "FAILED");
        self.line(verdict)
    }

    /// The per-phase row of `phase`: (result, evidence).
    fn row(&self, phase: &str) -> (String, String) {
        let line = self.line(&format!("{phase} "));
        let mut words = line.split_whitespace();
        words.next();
        let result = words.next().unwrap_or_default().to_string();
        // time is two words ("0.3 ms"); the rest is evidence
        let evidence: Vec<&str> = words.skip(2).collect();
        (result, evidence.join(" "))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `handshake_exporter probe ARGS` in the lab's client namespace.
fn probe(lab: &Lab, args: &[&str]) -> Run {
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.client])
        .arg(env!("CARGO_BIN_EXE_handshake_exporter"))
        .arg("probe")
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("failed to run the probe command");
    let run = Run::from(out);
    assert!(!run.stdout.contains('\x1b'), "colours on a pipe");
    run
}

/// A self-signed leaf for ok.lab.test and 203.0.113.2 whose notAfter is `days` from now.
fn expiring_identity(days: u64) -> Identity {
    let when = SystemTime::now() + Duration::from_secs(days * 86_400);
    let date = humantime::format_rfc3339_seconds(when).to_string();
    let ymd: Vec<i32> = date[..10].split('-').map(|p| p.parse().unwrap()).collect();
    let mut params =
        CertificateParams::new(vec!["ok.lab.test".to_string(), lab::SERVER4.to_string()])
            .expect("params");
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(ymd[0], ymd[1] as u8, ymd[2] as u8);
    tlsgen::self_signed(params)
}

#[test]
fn cli_verdicts_rows_json_and_exit_codes() {
    let lab = lab_or_skip!();
    let pki = Pki::new();
    let cfg = lab.file("probe.yml", &triage_config(&pki.write_ca(&lab)));
    let cfg = cfg.to_str().unwrap();
    lab.serve("203.0.113.2:2222", Peer::Silent);
    lab.serve(
        "203.0.113.2:8443",
        Peer::Tls(tlsgen::server_config(&pki.leaf(Leaf::Expired), &[], None)),
    );
    lab.serve(
        "203.0.113.2:9443",
        Peer::Tls(tlsgen::server_config(&expiring_identity(5), &[], None)),
    );
    lab.drop_syns("203.0.113.2:2010");

    // Success.
    let ok = probe(
        &lab,
        &["--config.file", cfg, "--module", "tcp4", "203.0.113.2:2222"],
    );
    assert_eq!(ok.code, 0);
    assert!(ok
        .line("OK: every phase passed; connected to 203.0.113.2 in ")
        .ends_with('.'));
    assert_eq!(
        ok.row("resolve"),
        ("ok".into(), "address 203.0.113.2".into())
    );
    let (result, evidence) = ok.row("connect");
    assert_eq!(result, "ok");
    assert!(evidence.contains("SYN retransmits"), "{evidence}");

    // Refused, also through the builtin module.
    let refused = probe(&lab, &["--timeout", "2s", "203.0.113.2:1"]);
    let verdict = refused.failed("connect", "FAILED in connect: refused (ECONNREFUSED).");
    assert!(
        verdict.contains("203.0.113.2 answered the SYN with a reset"),
        "{verdict}"
    );
    assert_eq!(
        refused.line("What it means:"),
        "What it means: The SYN reached the host and came back with a reset at once."
    );
    refused.line("Check first (docs/runbooks/refused.md):");
    // HOST and PORT of the runbook are filled in.
    assert!(
        refused.line("2. ").contains("ss -tlnp 'sport = :1'"),
        "{}",
        refused.stdout
    );

    // DROP: a timeout, with the hop where silence begins.
    let drop = probe(
        &lab,
        &[
            "--config.file",
            cfg,
            "--module",
            "trace4",
            "203.0.113.2:2010",
        ],
    );
    let verdict = drop.failed("connect", "FAILED in connect: timeout.");
    assert!(
        verdict.contains("SYNs to 203.0.113.2 went unanswered for 3.0 s")
            && verdict.contains(&format!(
                "packets reach {ROUTER4} (hop 1) and silence begins after it"
            )),
        "{verdict}"
    );
    let (result, evidence) = drop.row("connect");
    assert_eq!(result, "FAILED");
    assert!(
        evidence.contains(&format!("path: 1={ROUTER4}")),
        "{evidence}"
    );

    // Expired certificate.
    let expired = probe(
        &lab,
        &["--config.file", cfg, "--module", "tls", "203.0.113.2:8443"],
    );
    let verdict = expired.failed("tls", "FAILED in tls: tls_cert_expired");
    assert!(
        verdict.contains("earliest notAfter 2021-01-01T00:00:00Z"),
        "{verdict}"
    );
    expired.line("Check first (docs/runbooks/tls_cert_expired.md):");

    // Inside the warning window (5 days left, warn at 14), and outside it (warn at 2).
    let warn = probe(
        &lab,
        &[
            "--config.file",
            cfg,
            "--module",
            "tls_any",
            "203.0.113.2:9443",
        ],
    );
    assert_eq!(warn.code, 1);
    let verdict =
        warn.line("WARNING: every phase passed, but a certificate of the chain expires in ");
    assert!(verdict.ends_with("within --warn-days 14."), "{verdict}");
    warn.line("Check first (docs/runbooks/tls_cert_expiring.md):");
    let calm = probe(
        &lab,
        &[
            "--config.file",
            cfg,
            "--module",
            "tls_any",
            "--warn-days",
            "2",
            "203.0.113.2:9443",
        ],
    );
    assert_eq!(calm.code, 0);

    // JSON of two targets at once: the worst status wins, results keep the argument order.
    let json = probe(
        &lab,
        &[
            "--config.file",
            cfg,
            "--module",
            "tls",
            "--output",
            "json",
            "203.0.113.2:8443",
            "203.0.113.2:1",
        ],
    )
    .json();
    assert_eq!(json["status"], "CRITICAL");
    assert_eq!(json["exit_code"], 2);
    let first = &json["results"][0];
    assert_eq!(first["target"], "203.0.113.2:8443");
    assert_eq!(first["module"], "tls");
    assert_eq!(first["success"], false);
    assert_eq!(first["failure"]["phase"], "tls");
    assert_eq!(first["failure"]["class"], "tls_cert_expired");
    assert_eq!(first["runbook"], "docs/runbooks/tls_cert_expired.md");
    assert_eq!(first["tls"]["earliest_expiry"], tlsgen::EXPIRED_NOT_AFTER);
    assert_eq!(first["tls"]["chain"][0]["subject"], "CN=ok.lab.test");
    assert_eq!(first["phases"][2]["phase"], "tls");
    assert_eq!(first["phases"][2]["result"], "failed");
    assert!(first["phases"][1]["seconds"].as_f64().unwrap() > 0.0);
    assert!(first["log"].as_array().unwrap().len() >= 3);
    let second = &json["results"][1];
    assert_eq!(second["target"], "203.0.113.2:1");
    assert_eq!(second["failure"]["class"], "refused");
    assert_eq!(second["failure"]["detail"], "ECONNREFUSED");
    assert_eq!(second["ip_address"], "203.0.113.2");

    // Nagios: one line with performance data.
    let nagios = probe(
        &lab,
        &[
            "--config.file",
            cfg,
            "--module",
            "tcp4",
            "--output",
            "nagios",
            "203.0.113.2:2222",
        ],
    );
    assert_eq!(nagios.code, 0);
    let line = nagios.line("HANDSHAKE OK - 203.0.113.2:2222: OK: every phase passed");
    let perf = line.split_once(" | ").expect("no performance data").1;
    let labels: Vec<&str> = perf
        .split(' ')
        .map(|p| p.split('=').next().unwrap())
        .collect();
    assert_eq!(labels, ["time", "resolve", "connect"], "{perf}");
    assert!(perf.split(' ').all(|p| p.ends_with("s;;;0")), "{perf}");
}

#[test]
fn cli_bad_usage_is_unknown() {
    let lab = lab_or_skip!();
    let missing_target = probe(&lab, &[]);
    assert_eq!(missing_target.code, 3);
    assert!(
        missing_target.stderr.contains("<TARGET>"),
        "{}",
        missing_target.stderr
    );
    let bad_target = probe(&lab, &["nohost"]);
    assert_eq!(bad_target.code, 3);
    assert!(bad_target
        .stderr
        .starts_with("UNKNOWN: target \"nohost\" has no port"));
    let unknown = probe(&lab, &["--module", "nope", "203.0.113.2:1"]);
    assert_eq!(unknown.code, 3);
    assert!(
        unknown.stderr.contains("unknown module \"nope\""),
        "{}",
        unknown.stderr
    );
    let both = probe(&lab, &["--module", "tcp_connect", "--tls", "203.0.113.2:1"]);
    assert_eq!(both.code, 3);
    let bad = lab.file(
        "bad.yml",
        "modules:\n  x:\n    prober: tcp\n    tcp:\n      nonsense: 1\n",
    );
    let bad_config = probe(
        &lab,
        &["--config.file", bad.to_str().unwrap(), "203.0.113.2:1"],
    );
    assert_eq!(bad_config.code, 3);
    assert!(
        bad_config.stderr.contains("nonsense"),
        "{}",
        bad_config.stderr
    );
    assert!(bad_config.stdout.is_empty());
}
