//! The three ways `probe` prints its outcomes: a per-phase table for a person, JSON with stable
//! fields for a program, and the Nagios plugin line with performance data.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::verdict::{date, human_seconds, Outcome, Status};
use crate::report::{OcspStaple, Phase, ProbeReport};

/// ANSI SGR colour codes (ECMA-48 section 8.3.117).
const RED: &str = "\x1b[1;31m";
const GREEN: &str = "\x1b[1;32m";
const YELLOW: &str = "\x1b[1;33m";
const RESET: &str = "\x1b[0m";

/// The per-phase table, verdict, meaning and first checks of every outcome.
pub(super) fn text(outcomes: &[Outcome], colour: bool) -> String {
    let paint = |s: &str, code: &str| {
        if colour {
            format!("{code}{s}{RESET}")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for (i, o) in outcomes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Writing into a String cannot fail.
        let _ = writeln!(out, "{} (module {})", o.target, o.module);
        let _ = writeln!(
            out,
            "  {:<8} {:<7} {:>10}  EVIDENCE",
            "PHASE", "RESULT", "TIME"
        );
        let failed = o.report.shown_failure().map(|f| f.phase);
        // A policy probe's expected failure is the good outcome: green.
        let failed_code = if o.report.success() { GREEN } else { RED };
        for (phase, time) in &o.report.phases {
            let (result, code) = if failed == Some(*phase) {
                ("FAILED", failed_code)
            } else {
                ("ok", GREEN)
            };
            let _ = writeln!(
                out,
                "  {:<8} {} {:>10}  {}",
                phase.as_str(),
                paint(&format!("{result:<7}"), code),
                human_seconds(time.as_secs_f64()),
                phase_evidence(&o.report, *phase)
            );
        }
        let code = match o.status {
            Status::Ok => GREEN,
            Status::Warning => YELLOW,
            _ => RED,
        };
        let _ = writeln!(out, "{}", paint(&o.verdict, code));
        if let Some(meaning) = &o.meaning {
            let _ = writeln!(out, "What it means: {meaning}");
        }
        if !o.checks.is_empty() {
            let runbook = o.runbook.unwrap_or_default();
            let _ = writeln!(out, "Check first (docs/runbooks/{runbook}.md):");
            for (n, check) in o.checks.iter().enumerate() {
                let _ = writeln!(out, "  {}. {check}", n + 1);
            }
        }
    }
    out
}

/// What the table's evidence column says for `phase`.
fn phase_evidence(report: &ProbeReport, phase: Phase) -> String {
    let failure = report.failure.as_ref().filter(|f| f.phase == phase);
    let mut parts: Vec<String> = Vec::new();
    if let Some(f) = failure {
        let detail = f.detail.as_str();
        parts.push(if detail.is_empty() {
            f.class.to_string()
        } else {
            format!("{} {detail}", f.class)
        });
    }
    match phase {
        Phase::Resolve => {
            if let Some(ip) = report.ip_addr {
                parts.push(format!("address {ip}"));
            }
        }
        Phase::Connect => {
            if let Some(tcp) = report.tcp_info.filter(|_| failure.is_none()) {
                parts.push(format!(
                    "rtt {}, {} SYN retransmits",
                    human_seconds(tcp.rtt.as_secs_f64()),
                    tcp.syn_retransmits
                ));
            }
            if let Some(icmp) = &report.icmp {
                parts.push(format!(
                    "ICMP {} (type {} code {}) from {}",
                    icmp.reason, icmp.icmp_type, icmp.code, icmp.from
                ));
            }
            if let Some(path) = &report.path {
                let hops: Vec<String> = path
                    .hops
                    .iter()
                    .map(|h| format!("{}={}", h.hop, h.address))
                    .collect();
                parts.push(if hops.is_empty() {
                    "path: no hop answered".into()
                } else {
                    format!("path: {}", hops.join(" "))
                });
            }
        }
        Phase::Tls => {
            if let Some(tls) = &report.tls {
                if let Some(version) = tls.version {
                    parts.push(version.to_string());
                }
                if let Some(cipher) = &tls.cipher {
                    parts.push(cipher.clone());
                }
                if let Some(expiry) = tls.earliest_expiry() {
                    parts.push(format!("notAfter {}", date(expiry)));
                }
                if let Some(staple) = &tls.ocsp {
                    parts.push(ocsp_words(staple));
                }
            }
        }
        Phase::Proxy | Phase::Query => {}
    }
    parts.join(", ")
}

/// The stapled OCSP response in a few words: `OCSP good`, `OCSP revoked 2026-01-01T00:00:00Z`, or
/// `OCSP staple not believed (bad_signature)`.
fn ocsp_words(staple: &OcspStaple) -> String {
    match staple {
        OcspStaple::Verified(facts) => match facts.revoked_at {
            Some(at) => format!("OCSP {} {}", facts.status, date(at)),
            None => format!("OCSP {}", facts.status),
        },
        OcspStaple::Rejected(problem) => format!("OCSP staple not believed ({problem})"),
    }
}

/// A stapled OCSP response in the JSON document: `{"verified": false, "problem"}` or
/// `{"verified": true, "status", "produced_at", "this_update", "next_update", "revoked_at"}`
/// (unix seconds, `null` when absent).
fn ocsp_json(staple: &OcspStaple) -> Value {
    match staple {
        OcspStaple::Verified(f) => json!({
            "verified": true,
            "status": f.status.as_str(),
            "produced_at": f.produced_at,
            "this_update": f.this_update,
            "next_update": f.next_update,
            "revoked_at": f.revoked_at,
        }),
        OcspStaple::Rejected(problem) => json!({"verified": false, "problem": problem.as_str()}),
    }
}

/// The JSON document: `{"status", "exit_code", "results": [...]}` (fields in README).
pub(super) fn json(outcomes: &[Outcome], worst: Status) -> String {
    let results: Vec<Value> = outcomes.iter().map(json_outcome).collect();
    let doc = json!({
        "status": worst.as_str(),
        "exit_code": worst.code(),
        "results": results,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

fn json_outcome(o: &Outcome) -> Value {
    let r = &o.report;
    let failed = r.failure.as_ref().map(|f| f.phase);
    json!({
        "target": o.target,
        "module": o.module,
        "status": o.status.as_str(),
        "success": r.success(),
        "verdict": o.verdict,
        "duration_seconds": r.duration.as_secs_f64(),
        "timeout_seconds": r.timeout.as_secs_f64(),
        "failure": r.failure.as_ref().map(|f| json!({
            "phase": f.phase.as_str(),
            "class": f.class.as_str(),
            "detail": f.detail.as_str(),
        })),
        "expected_failure": match r.expectation {
            Some(crate::report::Expectation::Met(f)) => json!({
                "phase": f.phase.as_str(),
                "class": f.class.as_str(),
                "detail": f.detail.as_str(),
            }),
            _ => Value::Null,
        },
        "meaning": o.meaning,
        "runbook": o.runbook.map(|name| format!("docs/runbooks/{name}.md")),
        "checks": o.checks,
        "phases": r.phases.iter().map(|(phase, time)| json!({
            "phase": phase.as_str(),
            "result": if failed == Some(*phase) { "failed" } else { "ok" },
            "seconds": time.as_secs_f64(),
        })).collect::<Vec<_>>(),
        "ip_address": r.ip_addr.map(|ip| ip.to_string()),
        "icmp": r.icmp.as_ref().map(|i| json!({
            "type": i.icmp_type,
            "code": i.code,
            "reason": i.reason,
            "from": i.from.to_string(),
        })),
        "tcp": r.tcp_info.map(|t| json!({
            "rtt_seconds": t.rtt.as_secs_f64(),
            "syn_retransmits": t.syn_retransmits,
        })),
        "path": r.path.as_ref().map(|p| json!({
            "last_responding_hop": p.last_responding_hop(),
            "hops": p.hops.iter().map(|h| json!({"hop": h.hop, "address": h.address.to_string()})).collect::<Vec<_>>(),
        })),
        "addresses": r.addresses.iter().map(|a| json!({
            "address": a.address.to_string(),
            "success": a.failure.is_none(),
            "phase": a.failure.as_ref().map(|f| f.phase.as_str()),
            "class": a.failure.as_ref().map(|f| f.class.as_str()),
            "detail": a.failure.as_ref().map(|f| f.detail.as_str()),
        })).collect::<Vec<_>>(),
        "addresses_not_probed": r.addresses_not_probed,
        "tls": r.tls.as_ref().map(|t| json!({
            "version": t.version.map(|v| v.to_string()),
            "cipher": t.cipher,
            "earliest_expiry": t.earliest_expiry(),
            "ocsp": t.ocsp.as_ref().map(ocsp_json),
            "days_left": o.days_left,
            "chain": t.chain.iter().map(|c| json!({
                "subject": c.subject,
                "issuer": c.issuer,
                "dns_names": c.subject_alternative,
                "serial_number": c.serial_number,
                "not_after": c.not_after,
                "fingerprint_sha256": c.fingerprint_sha256,
            })).collect::<Vec<_>>(),
        })),
        "log": r.log.iter().map(|l| json!({
            "offset_seconds": l.offset.as_secs_f64(),
            "message": l.message,
        })).collect::<Vec<_>>(),
    })
}

/// One plugin line per target: `HANDSHAKE STATUS - target: verdict | perfdata`.
///
/// Performance data (Monitoring Plugins guidelines): `time` is the whole probe, then one value
/// per phase that ran, all in seconds with minimum 0, and `cert_days` when a chain arrived.
pub(super) fn nagios(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let r = &o.report;
        let mut perf = vec![format!("time={:.6}s;;;0", r.duration.as_secs_f64())];
        for (phase, time) in &r.phases {
            perf.push(format!("{}={:.6}s;;;0", phase.as_str(), time.as_secs_f64()));
        }
        if let Some(days) = o.days_left {
            perf.push(format!("cert_days={days:.1};;;"));
        }
        // `|` separates text from performance data: keep it out of the text.
        let verdict = o.verdict.replace('|', "/");
        let _ = writeln!(
            out,
            "HANDSHAKE {} - {}: {} | {}",
            o.status.as_str(),
            o.target,
            verdict,
            perf.join(" ")
        );
    }
    out
}
