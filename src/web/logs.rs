//! `/logs?id=N` and `/logs?target=T&module=M`: one probe's full record — the verdict, the
//! evidence, the phase times, the step log, the metrics it returned and the module it ran with.

use hyper::StatusCode;
use maud::{html, Markup};

use super::{class_cell, layout, ok, problem, seconds, utc, Page};
use crate::history::Record;
use crate::metrics::encode_probe;
use crate::report::{Detail, Expectation, ProbeReport};
use crate::server::State;

/// Finds the record and renders it, or explains in one line why not.
pub(super) fn page(
    id: Option<&str>,
    target: Option<&str>,
    module: Option<&str>,
    state: &State,
) -> Page {
    let history = state.history();
    let record = match (id, target, module) {
        (Some(id), _, _) => {
            let Ok(id) = id.parse::<u64>() else {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "Bad request",
                    &format!("id {id:?} is not a record number"),
                );
            };
            history.get(id).ok_or_else(|| {
                format!(
                    "no record {id}: the history keeps the last {} successes and {} failures",
                    history.limit(),
                    history.limit()
                )
            })
        }
        (None, Some(target), Some(module)) => history
            .latest(target, module)
            .ok_or_else(|| format!("no record of module {module:?} probing {target:?}")),
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "use logs?id=N or logs?target=HOST:PORT&module=NAME",
            )
        }
    };
    match record {
        Ok(record) => ok(render(&record)),
        Err(reason) => problem(StatusCode::NOT_FOUND, "No such record", &reason),
    }
}

/// The record page.
fn render(record: &Record) -> Markup {
    let report = &record.report;
    let metrics =
        encode_probe(report).unwrap_or_else(|err| format!("# failed to encode metrics: {err}\n"));
    let body = html! {
        p { a href="./" { "status" } }
        dl.facts {
            dt { "Time (UTC)" } dd { (utc(record.time)) }
            dt { "Module" } dd { a href=(format!("config#module-{}", record.module_name)) { (record.module_name) } }
            dt { "Target" } dd { (record.target) }
            dt { "Result" } dd {
                @match (&report.failure, report.expectation) {
                    (None, Some(Expectation::Met(_))) => span.ok { "failed as expected" },
                    (None, _) => span.ok { "success" },
                    (Some(_), _) => span.failed { "failed" },
                }
            }
            @if report.expectation.is_some() {
                dt { "Policy" } dd { "this module expects the probe to fail (expect_failure)" }
            }
            dt { "Verdict" } dd.verdict { (crate::cli::verdict(report)) }
            @if let Some(failure) = &report.shown_failure() {
                dt { "Phase" } dd { (failure.phase.as_str()) }
                dt { "Class" } dd { (class_cell(failure.class, "")) }
                @if failure.detail != Detail::None {
                    dt { "Detail" } dd { (failure.detail.as_str()) }
                }
                @if let Some(step) = report.failed_step {
                    dt { "Failed step" } dd { (step.to_string()) }
                }
                dt { "Runbook" } dd { a href=(format!("runbooks/{}", failure.class)) { "what to check first" } }
            }
            dt { "Duration" } dd { (seconds(report.duration)) " of " (seconds(report.timeout)) " allowed" }
            @if let Some(ip) = report.ip_addr {
                dt { "Address" } dd { (ip.to_string()) }
            }
        }
        (phases(report))
        (evidence(report))
        h2 { "Step log" }
        pre.log { code {
            @for line in &report.log {
                (format!("{:>9.6}s  ", line.offset.as_secs_f64())) (line.message) "\n"
            }
        } }
        h2 { "Metrics returned" }
        pre { code { (metrics) } }
        h2 { "Module configuration" }
        pre { code { (record.module.to_yaml()) } }
    };
    layout(&format!("Probe #{}", record.id), body)
}

/// The time of each phase that started.
fn phases(report: &ProbeReport) -> Markup {
    let failed = report.shown_failure().map(|f| f.phase);
    html! {
        h2 { "Phases" }
        table.phases {
            thead { tr { th { "Phase" } th { "Result" } th { "Time" } } }
            tbody {
                @for (phase, time) in &report.phases {
                    tr {
                        td { (phase.as_str()) }
                        @if failed == Some(*phase) { td.failed { "failed" } } @else { td.ok { "ok" } }
                        td { (seconds(*time)) }
                    }
                }
            }
        }
    }
}

/// Everything else the probe learned: ICMP, TCP_INFO, the path, per-address outcomes, TLS.
fn evidence(report: &ProbeReport) -> Markup {
    html! {
        @if report.icmp.is_some() || report.tcp_info.is_some()
            || report.failed_due_to_regex == Some(true) || !report.expect_labels.is_empty() {
            h2 { "Evidence" }
        }
        dl.facts.evidence {
            @if let Some(icmp) = &report.icmp {
                dt { "ICMP" } dd {
                    (icmp.reason) " (type " (icmp.icmp_type) ", code " (icmp.code) ") from "
                    span.icmp-from { (icmp.from.to_string()) }
                }
            }
            @if let Some(tcp) = &report.tcp_info {
                dt { "TCP round trip" } dd { (format!("{:.3} ms", tcp.rtt.as_secs_f64() * 1e3)) }
                dt { "SYN retransmits" } dd { (tcp.syn_retransmits) }
            }
            @if report.failed_due_to_regex == Some(true) {
                dt { "Expect steps" } dd { "a step never matched before the peer closed or the deadline" }
            }
            @for labels in &report.expect_labels {
                dt { "Expect labels" } dd {
                    @for (name, value) in labels { code { (name) "=" (value) } " " }
                }
            }
        }
        @if let Some(path) = &report.path {
            h2 { "Path trace" }
            p.path-summary {
                @if path.hops.is_empty() {
                    "No hop answered: silence begins at the first router."
                } @else {
                    "Packets reach hop " (path.last_responding_hop())
                    @if let Some(hop) = path.hops.iter().max_by_key(|h| h.hop) { " (" (hop.address.to_string()) ")" }
                    "; silence begins after it."
                }
            }
            table.hops {
                thead { tr { th { "Hop" } th { "Address that answered" } } }
                tbody { @for hop in &path.hops { tr { td { (hop.hop) } td { (hop.address.to_string()) } } } }
            }
        }
        @if !report.addresses.is_empty() {
            h2 { "Addresses" }
            table.addresses {
                thead { tr { th { "Address" } th { "Result" } th { "Phase" } th { "Class" } th { "Detail" } } }
                tbody {
                    @for result in &report.addresses {
                        tr {
                            td { (result.address.to_string()) }
                            @match &result.failure {
                                None => { td.ok { "success" } td {} td {} td {} }
                                Some(f) => {
                                    td.failed { "failed" }
                                    td { (f.phase.as_str()) }
                                    td { (class_cell(f.class, "")) }
                                    td { (f.detail.as_str()) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(tls) = &report.tls {
            h2 { "TLS" }
            dl.facts {
                dt { "Version" } dd { (tls.version.map(|v| v.to_string()).unwrap_or_else(|| "handshake not completed".into())) }
                @if let Some(cipher) = &tls.cipher { dt { "Cipher suite" } dd { (cipher) } }
            }
            @for (i, cert) in tls.chain.iter().enumerate() {
                h3 { "Certificate " (i) @if i == 0 { " (leaf)" } }
                dl.facts.cert {
                    dt { "Subject" } dd.subject { (cert.subject) }
                    dt { "Issuer" } dd { (cert.issuer) }
                    dt { "DNS names" } dd { (cert.subject_alternative) }
                    dt { "Serial" } dd { (cert.serial_number) }
                    dt { "Not after" } dd { (not_after(cert.not_after)) }
                    dt { "SHA-256" } dd { code { (cert.fingerprint_sha256) } }
                }
            }
        }
    }
}

/// A notAfter in unix seconds as UTC, with the raw number when it falls outside `SystemTime`.
fn not_after(unix: i64) -> String {
    let time = u64::try_from(unix)
        .ok()
        .and_then(|s| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s)));
    match time {
        Some(time) => utc(time),
        None => format!("{unix} (unix seconds)"),
    }
}
