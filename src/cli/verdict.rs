//! From a report to what a person reads: the plugin status, one verdict sentence built from the
//! evidence, what the class means and the first checks of its runbook.

use crate::report::{Detail, Expectation, FailureClass, Phase, ProbeReport};
use crate::runbooks;

/// Checks quoted from a runbook.
const CHECKS: usize = 3;

/// A Nagios plugin status; the discriminant is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// 0: every phase passed, no certificate near its end.
    Ok = 0,
    /// 1: passed, but a certificate expires within `--warn-days`.
    Warning = 1,
    /// 2: the probe failed.
    Critical = 2,
    /// 3: bad usage or configuration; nothing was probed.
    Unknown = 3,
}

impl Status {
    /// The exit code, 0 to 3.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// `OK`, `WARNING`, `CRITICAL` or `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// One target's result, ready to print.
#[derive(Debug)]
pub struct Outcome {
    /// The target as given.
    pub target: String,
    /// The module's name.
    pub module: String,
    /// What the probe found.
    pub report: ProbeReport,
    /// OK, WARNING or CRITICAL.
    pub status: Status,
    /// One sentence (or two) in plain words, starting with `OK`, `WARNING` or `FAILED in PHASE`.
    pub verdict: String,
    /// The runbook page behind the verdict: the class, or `tls_cert_expiring` or
    /// `tls_cert_weak_chain` for a WARNING.
    pub runbook: Option<&'static str>,
    /// What the runbook says the class means, one sentence.
    pub meaning: Option<String>,
    /// The first checks of the runbook for the failed phase, `HOST` and `PORT` filled in.
    pub checks: Vec<String>,
    /// Days until the earliest notAfter of the chain, when a chain arrived.
    pub days_left: Option<f64>,
}

impl Outcome {
    /// Judges `report` of `target`; `now` is unix seconds, `warn_days` the WARNING threshold.
    pub fn new(
        target: String,
        module: String,
        report: ProbeReport,
        warn_days: f64,
        now: i64,
    ) -> Outcome {
        let days_left = report
            .tls
            .as_ref()
            .and_then(|t| t.earliest_expiry())
            .map(|expiry| (expiry - now) as f64 / 86_400.0);
        let (status, verdict, runbook, phase) = match (&report.failure, report.expectation) {
            (None, Some(Expectation::Met(_))) => (Status::Ok, verdict(&report), None, None),
            (Some(failure), _) => (
                Status::Critical,
                failed(&report, failure.phase, failure.class, failure.detail),
                Some(failure.class.as_str()),
                Some(failure.phase),
            ),
            (None, _) if revoked_certificate(&report).is_some() => (
                Status::Warning,
                format!(
                    "WARNING: every phase passed, but {} (the module does not fail on \
                     revocation: tcp.fail_if_revoked).",
                    revoked_certificate(&report).unwrap_or_default()
                ),
                Some(FailureClass::TlsCertRevoked.as_str()),
                Some(Phase::Tls),
            ),
            (None, _) => match days_left {
                Some(days) if days <= warn_days => (
                    Status::Warning,
                    format!(
                        "WARNING: every phase passed, but a certificate of the chain expires in \
                         {days:.1} days, within --warn-days {warn_days}."
                    ),
                    Some(runbooks::CERT_EXPIRING),
                    Some(Phase::Tls),
                ),
                _ => match weak_certificate(&report) {
                    Some(weak) => (
                        Status::Warning,
                        format!("WARNING: every phase passed, but the chain is weak: {weak}."),
                        Some(runbooks::WEAK_CHAIN),
                        Some(Phase::Tls),
                    ),
                    None => (Status::Ok, passed(&report, days_left), None, None),
                },
            },
        };
        let summary = runbook.and_then(runbooks::summary);
        let host_port = target.rsplit_once(':');
        let checks = summary
            .map(|s| {
                s.checks_for(phase, CHECKS)
                    .into_iter()
                    .map(|check| fill(check, host_port))
                    .collect()
            })
            .unwrap_or_default();
        Outcome {
            meaning: summary.map(|s| s.meaning.clone()),
            target,
            module,
            report,
            status,
            verdict,
            runbook,
            checks,
            days_left,
        }
    }
}

/// The first presented certificate its CRL lists, in words; `None` when none is revoked.
fn revoked_certificate(report: &ProbeReport) -> Option<String> {
    let crl = &report.tls.as_ref()?.crl;
    let revoked = crl.iter().find(|r| r.revoked)?;
    Some(format!(
        "certificate {} ({}, serial {}) is revoked: {} lists it",
        revoked.chain_pos, revoked.cert.subject, revoked.cert.serial_number, revoked.crl_url
    ))
}

/// What makes the presented chain weak, in words: the first weak certificate, its position,
/// key and signature algorithm; `None` for a chain that is not weak.
fn weak_certificate(report: &ProbeReport) -> Option<String> {
    let chain = &report.tls.as_ref()?.chain;
    let (pos, cert) = chain.iter().enumerate().find(|(_, c)| c.is_weak())?;
    Some(format!(
        "certificate {pos} ({}) has a {}-bit {} key and a {} signature",
        cert.subject, cert.key.bits, cert.key.algorithm, cert.signature_algorithm
    ))
}

/// The verdict sentence of `report` alone (no certificate threshold): `OK: ...` or
/// `FAILED in PHASE: CLASS (DETAIL). <what the evidence shows>.`, as `probe` prints it.
pub fn verdict(report: &ProbeReport) -> String {
    match (&report.failure, report.expectation) {
        (Some(f), _) => failed(report, f.phase, f.class, f.detail),
        (None, Some(Expectation::Met(f))) => {
            let failed = failed(report, f.phase, f.class, f.detail);
            format!(
                "OK: the probe failed as the module expects. {}",
                failed.replacen("FAILED in", "It failed in", 1)
            )
        }
        (None, _) => passed(report, None),
    }
}

/// Replaces the runbooks' `HOST` and `PORT` placeholders with the target's.
fn fill(check: &str, host_port: Option<(&str, &str)>) -> String {
    let Some((host, port)) = host_port else {
        return check.to_string();
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut out = String::with_capacity(check.len());
    let mut rest = check;
    while let Some(i) = rest.find(|c: char| c.is_ascii_uppercase()) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        out.push_str(match word {
            "HOST" => host,
            "PORT" => port,
            other => other,
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `OK: connected to 203.0.113.2 in 0.4 ms; TLS 1.3 ...; certificate valid for 3000 days.`
fn passed(report: &ProbeReport, days_left: Option<f64>) -> String {
    let mut verdict = String::from("OK: every phase passed");
    if let (Some(ip), Some(connect)) = (report.ip_addr, report.phase_duration(Phase::Connect)) {
        verdict.push_str(&format!(
            "; connected to {ip} in {}",
            human_seconds(connect.as_secs_f64())
        ));
    }
    if let Some(tls) = &report.tls {
        if let Some(version) = tls.version {
            verdict.push_str(&format!("; {version}"));
            if let Some(cipher) = &tls.cipher {
                verdict.push_str(&format!(" with {cipher}"));
            }
        }
    }
    if let Some(days) = days_left {
        verdict.push_str(&format!("; the chain is valid for {days:.0} more days"));
    }
    verdict.push('.');
    verdict
}

/// `FAILED in connect: refused (ECONNREFUSED). <what the evidence shows>.`
fn failed(report: &ProbeReport, phase: Phase, class: FailureClass, detail: Detail) -> String {
    let detail = detail.as_str();
    let mut verdict = format!("FAILED in {phase}: {class}");
    if !detail.is_empty() {
        verdict.push_str(&format!(" ({detail})"));
    }
    verdict.push('.');
    if let Some(evidence) = evidence(report, phase, class) {
        verdict.push(' ');
        verdict.push_str(&evidence);
    }
    verdict
}

/// The sentence the evidence supports, when there is more to say than the class.
fn evidence(report: &ProbeReport, phase: Phase, class: FailureClass) -> Option<String> {
    let spent = report
        .phase_duration(phase)
        .map_or(0.0, |d| d.as_secs_f64());
    let to = report
        .ip_addr
        .map(|ip| format!(" to {ip}"))
        .unwrap_or_default();
    let mut sentence = match (phase, class) {
        (_, FailureClass::UnexpectedSuccess) => format!(
            "Every phase passed{to}, but the module's expect_failure says this probe must fail: \
             the policy it checks no longer holds"
        ),
        (Phase::Connect, FailureClass::Timeout) => {
            let mut s = format!("SYNs{to} went unanswered for {}", human_seconds(spent));
            if let Some(path) = &report.path {
                match path.hops.iter().max_by_key(|h| h.hop) {
                    Some(hop) => s.push_str(&format!(
                        "; packets reach {} (hop {}) and silence begins after it",
                        hop.address, hop.hop
                    )),
                    None => s.push_str("; no hop answered the path trace"),
                }
            }
            s
        }
        (_, FailureClass::Timeout) => {
            format!("Nothing came back in {phase} for {}", human_seconds(spent))
        }
        (_, FailureClass::Refused) => format!(
            "{} answered the SYN with a reset after {}",
            report
                .ip_addr
                .map_or_else(|| "The host".to_string(), |ip| ip.to_string()),
            human_seconds(spent)
        ),
        _ => match &report.icmp {
            Some(icmp) => format!(
                "ICMP {} (type {}, code {}) came from {}",
                icmp.reason, icmp.icmp_type, icmp.code, icmp.from
            ),
            None => match (&report.tls, class) {
                (Some(tls), c) if c.as_str().starts_with("tls_cert") => {
                    let leaf = tls.chain.first()?;
                    let at = report
                        .ip_addr
                        .map(|ip| format!(" at {ip}"))
                        .unwrap_or_default();
                    let mut s = format!("The server{at} presented {}", leaf.subject);
                    if !leaf.issuer.is_empty() {
                        s.push_str(&format!(", issued by {}", leaf.issuer));
                    }
                    if let Some(expiry) = tls.earliest_expiry() {
                        s.push_str(&format!(", earliest notAfter {}", date(expiry)));
                    }
                    s
                }
                _ => return None,
            },
        },
    };
    sentence.push('.');
    Some(sentence)
}

/// `0.4 ms` below a second, `5.0 s` above.
pub(super) fn human_seconds(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{seconds:.1} s")
    }
}

/// Unix seconds as an RFC 3339 UTC time, or the number when it does not fit.
pub(super) fn date(unix: i64) -> String {
    u64::try_from(unix)
        .ok()
        .and_then(|s| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s)))
        .map_or_else(
            || format!("{unix} (unix seconds)"),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_the_target() {
        assert_eq!(
            fill(
                "`nc -vz HOST PORT`, `ss 'sport = :PORT'` HOSTNAME",
                Some(("[::1]", "443"))
            ),
            "`nc -vz ::1 443`, `ss 'sport = :443'` HOSTNAME"
        );
    }

    #[test]
    fn policy_probes_read_as_such() {
        use crate::report::Failure;
        let refused = Failure::bare(Phase::Connect, FailureClass::Refused);
        let met = ProbeReport {
            expectation: Some(Expectation::Met(refused)),
            ..Default::default()
        };
        let o = Outcome::new("db:5432".into(), "closed".into(), met, 14.0, 0);
        assert_eq!(o.status, Status::Ok);
        assert_eq!(
            o.verdict,
            "OK: the probe failed as the module expects. It failed in connect: refused. \
             The host answered the SYN with a reset after 0.0 ms."
        );
        let broken = ProbeReport {
            failure: Some(Failure::bare(
                Phase::Connect,
                FailureClass::UnexpectedSuccess,
            )),
            expectation: Some(Expectation::UnexpectedSuccess),
            ..Default::default()
        };
        let o = Outcome::new("db:5432".into(), "closed".into(), broken, 14.0, 0);
        assert_eq!(o.status, Status::Critical);
        assert!(
            o.verdict
                .starts_with("FAILED in connect: unexpected_success. Every phase passed"),
            "{}",
            o.verdict
        );
        assert_eq!(o.runbook, Some("unexpected_success"));
        assert!(!o.checks.is_empty());
    }

    #[test]
    fn a_revoked_certificate_that_does_not_fail_the_probe_is_a_warning() {
        use crate::report::{CertInfo, CrlCertResult, TlsFacts};
        let revoked = CrlCertResult {
            chain_pos: 0,
            cert: CertInfo {
                subject: "CN=old".into(),
                serial_number: "05".into(),
                ..Default::default()
            },
            crl_url: "http://crl.test/ca.crl".into(),
            available: true,
            revoked: true,
            stale: false,
            next_update: None,
            fetch_time: std::time::Duration::ZERO,
            unavailable: None,
        };
        let report = ProbeReport {
            tls: Some(TlsFacts {
                crl: vec![revoked],
                ..Default::default()
            }),
            ..Default::default()
        };
        let o = Outcome::new("old:443".into(), "crl".into(), report, 14.0, 0);
        assert_eq!(o.status, Status::Warning);
        assert_eq!(
            o.verdict,
            "WARNING: every phase passed, but certificate 0 (CN=old, serial 05) is revoked: \
             http://crl.test/ca.crl lists it (the module does not fail on revocation: \
             tcp.fail_if_revoked)."
        );
        assert_eq!(o.runbook, Some("tls_cert_revoked"));
    }

    #[test]
    fn statuses_order_by_severity() {
        assert!(Status::Ok < Status::Warning && Status::Warning < Status::Critical);
        assert_eq!(Status::Critical.code(), 2);
    }
}
